"""The cable-TV ticker (L字 / 文字スーパー): one full-width line per alert, for the stations' equipment.

The line: the ``ticker`` block of templates/ticker/, on one line, ASCII and half-width kana turned
full-width (jaconv), control characters and runs of spaces made one full-width space, at most
``[ticker] max_length`` characters (cut with …). Tags come from the renderer (broadcaster/tags), once
each and in their fixed order: 【訓練】, 【更新】/【訂正】/【解除】/【取消】, and the badge (【警戒レベルＮ】,
【震度５弱】 …) where one belongs. An alert for some districts names them after the city; when the line
with every name is longer than ``max_length``, it counts them instead (「市内3地区」: the website's
alert page lists them), so the places are not what the cut takes. ``render_ticker`` makes it; the
poll endpoints (broadcaster/web/ticker.py) call the same function, so every way of delivery airs the
same words.

With ``[ticker] english = true`` an English line follows the Japanese one (``english_line``, from
templates/ticker/default.en.j2 with the city's English name): one line, half-width text as English is
written (not widened), at most twice ``max_length`` columns, a full-width character counting two. It
goes wherever the Japanese line goes: after it in the station mail, in the slot ``<key>~en`` of the TCP
push, and after it in the poll endpoints. An alert without English words has no English line.

Each line sits in a *slot* named by its key: the alert's event key, or its id when it has none. An
update of the event replaces the line in its slot; a cancel removes it. A line stays on air until
its alert expires; one without an expiry stays ``UNTIMED_TTL`` after the alert was created.

The stations take the line three ways; ``send`` does the two that push, each only when configured
(with neither, ``send`` succeeds at once and the poll endpoints are the delivery):

1. Mail to ``[ticker] station_email`` through the [email] relay. Subject ``【<city>】L字 <alert id>``;
   the plain-text UTF-8 body, which the station's equipment cuts at the markers::

       ==START==
       <the line>
       <the English line>     (only with [ticker] english)
       ==END==
       ACTION: ADD            (DEL for a cancel: take the line of KEY off the air)
       KEY: <slot key>
       ID: <alert id>
       EXPIRES: 2026-11-26T18:00:00+09:00

2. A TCP push to ``[ticker] tcp_host``:``tcp_port``. One connection per command; the command is one
   UTF-8 line ending in CRLF, and the station answers one line::

       ADD <key> <expires> <line>\\r\\n    show <line> in slot <key> (replacing what is there) until
                                         <expires>, seconds since the epoch (UTC)
       DEL <key>\\r\\n                    take slot <key> off the air (an unknown key is not an error)
       reply: OK[ <text>]               done
              ERR <reason>              refused; the same command will be refused again
              anything else, nothing within the time budget, or a closed connection: try again later

   ``<key>`` is percent-encoded (RFC 3986 unreserved characters stay), so it never holds a space.
   Both commands are idempotent, so a command sent again after a restart changes nothing. The
   English line is a second command for the slot ``<key>~en`` (added and taken off with the first).

Every broadcast channel airs an alert at most once: the dispatcher keeps one delivery row per
(alert, channel), and ``send`` (channels/targets.py's ``Fanout``) remembers in the store
(``TICKER_DONE``) which of the two pushes has succeeded for an alert, so a retry after one of them
failed repeats only the other. A crash between a station's
acceptance and that note can repeat a push once; ADD is idempotent, and a repeated mail has the same
subject. Errors: connection refused, timeouts, 4xx and an unexpected reply are TransientError; a 5xx
refusal from the relay or ERR from the TCP station is PermanentError. Exercise alerts never reach
this channel (the core sends them to the outbox); should one arrive, it is refused before any I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import re
import ssl
import unicodedata
import urllib.parse
from typing import NamedTuple, Protocol

import aiosmtplib
import jaconv

from broadcaster import districts
from broadcaster.channel import ChannelContext, Fit, RunsAs, render_plain
from broadcaster.clock import iso_jst
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.models import Alert, AlertId, Message, Mode, MsgType, Recipients, Timestamp
from broadcaster.on_air import UNTIMED_ON_AIR
from broadcaster.rendering import Limits, Renderer, fit
from broadcaster.settings import Settings
from broadcaster.state import TICKER_DONE
from broadcaster.store import Store
from channels.email.channel import ADDRESS
from channels.email.mailer import Mail, Smtp
from channels.email.smtp_errors import delivery_error, describe_error
from channels.targets import Fanout, Leg

NAME = "ticker"
ORDER = "ticker.json"  # the Message attachment holding what send() pushes
UNTIMED_TTL = UNTIMED_ON_AIR  # how long a line without an expiry stays on air, from the alert's creation
MAX_REPLY = 1024  # bytes of a station's reply line
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SPACES = re.compile(r"\s+")
ENGLISH = "en"
ENGLISH_SLOT = "{key}~en"  # the TCP slot of an alert's English line ("~" stays as it is in a percent-encoded key)


def japanese(settings: Settings, lang: str) -> bool:
    """Whether a line in ``lang`` is written as the station's Japanese line is (full-width)."""
    book = settings.phrasebook
    return lang not in book.languages or book.languages[lang].japanese


def columns(text: str) -> int:
    """The width of ``text`` on the ticker: a full-width (or wide) character takes two columns, others one."""
    return sum(2 if unicodedata.east_asian_width(c) in ("F", "W") else 1 for c in text)


def limits_for(settings: Settings, lang: str = "ja") -> Limits:
    """The ticker's limits: one line of at most ``[ticker] max_length`` characters.

    A line in another language (the English line) is as wide: ``max_length`` full-width characters,
    that is twice as many columns, a full-width character taking two.
    """
    if japanese(settings, lang):
        return Limits(ticker=settings.ticker.max_length, single_line=True)
    return Limits(ticker=2 * settings.ticker.max_length, single_line=True, measure=columns)


def fullwidth(text: str) -> str:
    """One line of full-width text: ASCII and half-width kana widened, controls and space runs one 「　」."""
    text = jaconv.h2z(CONTROLS.sub(" ", text), kana=True, ascii=True, digit=True)
    return SPACES.sub("\u3000", text).strip()


def one_line(text: str) -> str:
    """One line of text as written (the English line): controls and space runs one space."""
    return SPACES.sub(" ", CONTROLS.sub(" ", text)).strip()


def uncut(renderer: Renderer, alert: Alert, lang: str, limits: Limits) -> tuple[Message, str]:
    """The rendering and its line before the cut: the districts by name if that line fits, else counted.

    A Japanese line (やさしい日本語 too) is widened; a line in another language is kept as it is written.
    """
    shape = fullwidth if japanese(renderer.settings, lang) else one_line
    whole = dataclasses.replace(limits, ticker=None)
    message = render_plain(renderer, NAME, alert, lang, whole)
    line = shape(message.ticker)
    # by the line's real length, not the number of districts: a long title leaves room for fewer names;
    # one district is its name either way
    too_long = limits.ticker is not None and limits.measure(line) > limits.ticker
    if too_long and len(districts.chosen(alert.districts, renderer.settings)) > 1:
        message = render_plain(renderer, NAME, alert, lang, whole, counted=True)
        line = shape(message.ticker)
    return message, line


def render_ticker(renderer: Renderer, alert: Alert, lang: str, limits: Limits) -> Message:
    """The alert rendered for the ticker: its full-width line in ``ticker``, within ``limits``."""
    # fitted once, after widening: a half-width kana and its sound mark become one character
    message, line = uncut(renderer, alert, lang, limits)
    return dataclasses.replace(message, ticker=fit(line, limits.ticker, limits.measure))


def english_line(renderer: Renderer, alert: Alert) -> str:
    """The English line after the Japanese one: "" unless ``[ticker] english`` is on and the alert has English."""
    settings = renderer.settings
    if not settings.ticker.english or ENGLISH not in alert.languages:
        return ""
    return render_ticker(renderer, alert, ENGLISH, limits_for(settings, ENGLISH)).ticker


class TickerRenderer:
    """The ticker's line of an alert, with the stations' order (``ticker.json``) beside it."""

    name = NAME
    reaches_people = False

    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.limits = limits_for(settings)
        self.max_length = settings.ticker.max_length
        self.renderer = renderer

    def render(self, alert: Alert, lang: str) -> Message:
        """The line, with the stations' order (and the English line, when on) as the attachment ``ticker.json``."""
        message = render_ticker(self.renderer, alert, lang, limits_for(self.settings, lang))
        english = english_line(self.renderer, alert) if lang != ENGLISH else ""
        order = Order.of(alert, message.ticker, english)
        return dataclasses.replace(
            message, attachments=((ORDER, json.dumps(order._asdict(), ensure_ascii=False).encode()),)
        )

    def fits(self, alert: Alert) -> list[Fit]:
        """The Japanese line as it airs before the cut (widened, districts counted if need be), against max_length.

        With the English line on, that line too, in columns against twice max_length.
        """
        _, line = uncut(self.renderer, alert, "ja", self.limits)
        out = [Fit("line", "ja", len(line), self.max_length)]
        if english_line(self.renderer, alert):
            _, english = uncut(self.renderer, alert, ENGLISH, limits_for(self.settings, ENGLISH))
            out.append(Fit("line", ENGLISH, columns(english), 2 * self.max_length))
        return out


def line_key(alert: Alert) -> str:
    """The slot an alert's line occupies: its event, or the alert alone."""
    return alert.event_key or alert.id


def expires_at(alert: Alert) -> Timestamp:
    """When the alert's line leaves the air."""
    return alert.expires if alert.expires is not None else alert.created_at + UNTIMED_TTL


def iso(ts: Timestamp) -> str:
    """A time as ISO 8601 in Japan time, to the second (e.g. 2026-11-26T18:00:00+09:00)."""
    return iso_jst(ts)


class Order(NamedTuple):
    """What the stations are told about one alert: put a line in a slot, or take the slot off."""

    action: str  # "ADD" or "DEL"
    key: str
    alert_id: AlertId
    expires: Timestamp
    line: str
    english: str = ""  # the English line after it ([ticker] english), "" for none

    @classmethod
    def of(cls, alert: Alert, line: str, english: str = "") -> Order:
        """The order for an alert and its rendered line (and English line)."""
        action = "DEL" if alert.msg_type in (MsgType.CANCEL, MsgType.LIFT) else "ADD"  # both take it off the air
        return cls(action, line_key(alert), alert.id, expires_at(alert), line, english)

    def command(self, key: str | None = None, line: str | None = None) -> bytes:
        """The TCP command line: for the alert's slot, or ``key`` with ``line``."""
        slot = urllib.parse.quote(self.key if key is None else key, safe="")
        words = self.line if line is None else line
        text = f"DEL {slot}" if self.action == "DEL" else f"ADD {slot} {int(self.expires)} {words}"
        return (text + "\r\n").encode("utf-8")

    def commands(self) -> list[bytes]:
        """Every TCP command of the order: the line's, then the English line's slot when there is one."""
        out = [self.command()]
        if self.english:
            out.append(self.command(ENGLISH_SLOT.format(key=self.key), self.english))
        return out

    def mail(self, city: str, to: str) -> Mail:
        """The mail to the station's ingest address (fixed format, see the module docstring)."""
        lines = "\n".join(p for p in (self.line, self.english) if p)
        body = (
            f"==START==\n{lines}\n==END==\n"
            f"ACTION: {self.action}\nKEY: {self.key}\nID: {self.alert_id}\nEXPIRES: {iso(self.expires)}\n"
        )
        return Mail(0, to, f"【{city}】L字 {self.alert_id}", body)


class MailTransport(Protocol):
    """broadcaster.mailer.Smtp: one connection per mail through the [email] relay."""

    async def deliver(self, mail: Mail) -> None:
        """Send one mail or raise the SMTP or socket error."""


class LinePush:
    """The TCP line push: one connection per command, one reply line."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def push(self, command: bytes) -> None:
        """Send one command and read the station's reply; raises a DeliveryError."""
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_REPLY)
            writer.write(command)
            await writer.drain()
            reply = await reader.readline()
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            raise TransientError(f"ticker station {self.host}:{self.port}: {describe_error(exc)}") from exc
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        answer = reply.decode("utf-8", "replace").strip()
        if answer == "OK" or answer.startswith("OK "):
            return
        if answer.startswith("ERR"):
            raise PermanentError(f"ticker station refused the line: {answer[:200]}")
        raise TransientError(
            f"ticker station: unexpected reply {answer[:80]!r}" if answer else "ticker station: no reply"
        )


class TickerChannel:
    """The ticker channel: renders the line; pushes it by mail and TCP where configured."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        *,
        mail: MailTransport | None = None,
        push: LinePush | None = None,
        store: Store | None = None,
    ) -> None:
        self.renderer = TickerRenderer(settings, renderer)
        self.city = settings.city.name
        self.station_email = settings.ticker.station_email
        self.mail_transport = mail
        self.line_push = push
        self.store = store
        channel = settings.channels.get(NAME)
        # both pushes must fit inside the dispatcher's timeout, which would cancel the whole send();
        # one push refused for good fails the row though the other went out: the report must show it
        budget = (channel.timeout if channel else 30.0) / 3
        self.fanout = Fanout(NAME, store, done=TICKER_DONE, budget=budget)

    def render(self, alert: Alert, lang: str) -> Message:
        """The line, with the stations' order as the attachment ``ticker.json``; no I/O."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Mail and push the order; each target that succeeds is not repeated by a retry."""
        if message.mode != Mode.LIVE:
            raise PermanentError("an exercise alert never goes on the air")
        order = self._order(message)
        legs: list[Leg] = []
        if self.line_push is not None:
            legs.append(Leg("tcp", functools.partial(self._push, order)))
        if self.mail_transport is not None:
            legs.append(Leg("mail", functools.partial(self._mail, order)))
        # one that can succeed later keeps the row open; the permanent one is then reported by the last attempt
        await self.fanout.send(order.alert_id, legs)

    @staticmethod
    def _order(message: Message) -> Order:
        data = next((d for name, d in message.attachments if name == ORDER), None)
        if data is None:
            raise PermanentError("message was not rendered by the ticker channel (no ticker.json)")
        return Order(**json.loads(data))

    async def _push(self, order: Order) -> None:
        assert self.line_push is not None
        for command in order.commands():  # each idempotent: a retry sends them all again
            await self.line_push.push(command)

    async def _mail(self, order: Order) -> None:
        assert self.mail_transport is not None
        try:
            await self.mail_transport.deliver(order.mail(self.city, self.station_email))
        except (aiosmtplib.SMTPException, OSError) as exc:
            refused = isinstance(exc, aiosmtplib.SMTPRecipientsRefused)
            raise delivery_error(exc, "station address refused" if refused else "mail relay") from exc

    async def aclose(self) -> None:
        """Nothing is kept open between sends."""


def create(ctx: ChannelContext, *, tls_context: ssl.SSLContext | None = None) -> TickerChannel:
    """The ticker channel; needs no credentials of its own (the station mail uses the [email] relay's)."""
    from channels.email.channel import smtp_credentials

    settings = ctx.settings
    conf = settings.ticker
    mail: MailTransport | None = None
    if conf.station_email:
        if not ADDRESS.fullmatch(conf.station_email):
            raise ConfigError(f"ticker.station_email: {conf.station_email!r} is not a plain ASCII address")
        if not settings.email.host:
            raise ConfigError("ticker.station_email is set but [email] host is empty: the mail needs a relay")
        mail = Smtp(settings, smtp_credentials(ctx.environ), tls_context)
    push = None
    if conf.tcp_host or conf.tcp_port:
        if not (conf.tcp_host and conf.tcp_port):
            raise ConfigError("ticker.tcp_host and ticker.tcp_port: set both for the TCP push, or neither")
        push = LinePush(conf.tcp_host, conf.tcp_port)
    return TickerChannel(settings, ctx.renderer, mail=mail, push=push, store=ctx.store)
