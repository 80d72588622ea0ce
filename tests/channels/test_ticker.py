"""The ticker channel: the line's format, the station mail through a real aiosmtpd relay, the TCP push.

The TCP station is a small asyncio server in this file that records each command line and answers
as told (OK, ERR, garbage, or nothing). The mail goes through tests/smtp_server.py (STARTTLS + AUTH).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.clock import JST
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.models import Alert, AlertState, Message, Mode, MsgType, Recipient, Source, Text
from broadcaster.pacing import RetryPolicy
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels.outbox import OutboxChannel
from channels.ticker import ORDER, UNTIMED_TTL, TickerChannel, columns, create, fullwidth
from tests.processes import free_port
from tests.smtp_server import PASSWORD, USER, Relay
from tests.test_store import ACTOR, ORIGIN, delivery_rows

SiteFactory = Callable[..., Path]
STATION = "super@catv.example.jp"
ENVIRON = {"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}
PUBLIC = [Recipient("*", "", "ja")]
POLICY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=3600.0)


def ticker_alert(
    alert_id: str = "20261126-031500-t1",
    *,
    level: int = 4,
    mode: Mode = Mode.LIVE,
    msg_type: MsgType = MsgType.ALERT,
    title: str = "思川 ﾚﾍﾞﾙ4 River 避難指示",
    body: str = "思川の水位が\n氾濫危険水位に達しました。",
    instruction: str = "直ちに避難してください。",
    event_key: str = "omoigawa-2026-11-26",
    version: int = 1,
    expires: float | None = None,
    translations: dict[str, Text] | None = None,
) -> Alert:
    """A live staff alert for the ticker, with ASCII, half-width kana and a newline to normalise."""
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category="disaster",
        level=level,
        title=title,
        body=body,
        instruction=instruction,
        event_key=event_key,
        version=version,
        msg_type=msg_type,
        mode=mode,
        expires=expires,
        translations=translations or {},
        channels=("ticker",),
        created_at=time.time(),
        created_by=ACTOR,
    )


def make_channel(settings: Settings, store: SQLiteStore | None = None, relay: Relay | None = None) -> TickerChannel:
    """The channel as the registry builds it."""
    ctx = ChannelContext("ticker", settings, Renderer(settings), ENVIRON, store)
    return create(ctx, tls_context=relay.client_tls if relay else None)


def ticker_settings(site: SiteFactory, relay: Relay | None = None, port: int = 0, **ticker: Any) -> Settings:
    """Settings with the station mail through ``relay`` and the TCP push to ``port`` (each when given)."""
    sections: dict[str, dict[str, Any]] = {"ticker": dict(ticker), "channels.ticker": {"timeout": 3.0}}
    if relay is not None:
        sections["email"] = {"host": "127.0.0.1", "port": relay.port, "tls": "starttls", "timeout": 5.0}
        sections["ticker"]["station_email"] = STATION
    if port:
        sections["ticker"] |= {"tcp_host": "127.0.0.1", "tcp_port": port}
    return load_settings(site(sections, name="ticker.toml"))


def is_fullwidth(line: str) -> bool:
    """No ASCII and no half-width kana."""
    return not any(c.isascii() or "\uff61" <= c <= "\uff9f" for c in line)


# -- the line ------------------------------------------------------------------------------


def test_the_line_is_one_full_width_line_with_the_level_tag(settings: Settings) -> None:
    line = make_channel(settings).render(ticker_alert(), "ja").ticker
    assert line.startswith("【警戒レベル４】小山市　思川　レベル４　Ｒｉｖｅｒ　避難指示　")
    assert "\n" not in line and "\r" not in line
    assert is_fullwidth(line), line
    assert len(line) <= 60


def test_a_long_alert_is_cut_with_an_ellipsis_at_the_configured_length(site: SiteFactory) -> None:
    alert = ticker_alert(instruction="直ちに安全な場所へ避難してください。" * 10)
    default = make_channel(load_settings(site())).render(alert, "ja").ticker
    assert default.endswith("…") and len(default) == 60
    short = make_channel(ticker_settings(site, max_length=20)).render(alert, "ja").ticker
    assert short == "【警戒レベル４】小山市　思川　レベル４…"
    assert len(short) == 20


@pytest.mark.parametrize(
    ("changes", "starts"),
    [
        ({"level": 5}, "【警戒レベル５】小山市"),
        ({"level": 3}, "【警戒レベル３】小山市"),
        ({"level": 2}, "【警戒レベル２】小山市　思川"),
        ({"level": 1}, "小山市　思川"),  # 警戒レベル１ is no call to act: no tag
        ({"category": "crime"}, "小山市　思川"),  # daily life has no 警戒レベル, whatever its level
        ({"kind": "earthquake", "badge": "震度５弱"}, "【震度５弱】小山市"),
        ({"mode": Mode.EXERCISE}, "【訓練】【警戒レベル４】小山市"),
        # a cancel or a lift carries no badge: a level on it would read as a level in force
        ({"msg_type": MsgType.CANCEL, "version": 2}, "【取消】小山市"),
        ({"msg_type": MsgType.LIFT, "version": 2}, "【解除】小山市"),
        ({"msg_type": MsgType.UPDATE, "version": 2}, "【更新】【警戒レベル４】小山市"),
        ({"msg_type": MsgType.CORRECTION, "version": 2}, "【訂正】【警戒レベル４】小山市"),
        ({"mode": Mode.EXERCISE, "msg_type": MsgType.CANCEL}, "【訓練】【取消】小山市"),
    ],
    ids=[
        "level5",
        "level3",
        "level2",
        "level1",
        "crime",
        "earthquake",
        "exercise",
        "cancel",
        "lift",
        "update",
        "correction",
        "exercise-cancel",
    ],
)
def test_tags(settings: Settings, changes: dict[str, Any], starts: str) -> None:
    line = make_channel(settings).render(dataclasses.replace(ticker_alert(), **changes), "ja").ticker
    assert line.startswith(starts), line
    assert is_fullwidth(line)


def test_control_characters_and_odd_spaces_never_reach_the_line(settings: Settings) -> None:
    alert = ticker_alert(title="避難\r指示\x1b[2J\u2028発令\t\u00a0 中", body="ｱｲｳ\x00")
    line = make_channel(settings).render(alert, "ja").ticker
    # CR and U+2028 are line breaks (a space on the line); ESC is removed as at intake
    assert line.startswith("【警戒レベル４】小山市　避難　指示［２Ｊ　発令　中　直ちに避難")
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u00a0]", line)
    assert fullwidth("ｶﾞｯｺｳ  ABC  ") == "ガッコウ　ＡＢＣ"


# -- the English line ----------------------------------------------------------------------

ENGLISH = Text("Evacuation order for the Omoi River", "The Omoi River reached the danger level.", "Evacuate now.")


def english_of(message: Message) -> str:
    """The English line the stations' order carries ("" for none)."""
    return str(json.loads(dict(message.attachments)[ORDER])["english"])


def test_the_english_line_follows_when_configured(site: SiteFactory) -> None:
    alert = ticker_alert(translations={"en": ENGLISH})
    assert english_of(make_channel(load_settings(site())).render(alert, "ja")) == ""  # off by default
    channel = make_channel(ticker_settings(site, english=True))
    message = channel.render(alert, "ja")
    assert is_fullwidth(message.ticker)  # the station's Japanese line as it was
    assert english_of(message) == (
        "[Alert Level 4] Oyama City – Evacuation order for the Omoi River – Evacuate now."
    )  # written as English is: not widened
    assert english_of(channel.render(ticker_alert(), "ja")) == ""  # no English words: no English line


def test_a_long_english_line_is_cut_at_twice_the_length_in_columns(site: SiteFactory) -> None:
    long = dataclasses.replace(ENGLISH, instruction="Move to a safe place now. " * 10)
    channel = make_channel(ticker_settings(site, english=True, max_length=20))
    english = english_of(channel.render(ticker_alert(translations={"en": long}), "ja"))
    assert len(english) == 40 and english.endswith("…")  # 20 full-width characters' width
    fits = channel.renderer.fits(ticker_alert(translations={"en": long}))
    assert [(f.lang, f.over) for f in fits] == [("ja", True), ("en", True)] and fits[1].limit == 40
    assert columns("小山市 Oyama") == 12


async def test_the_english_line_goes_with_the_japanese_one_to_both_stations(
    site: SiteFactory, station: Station, relay: Relay
) -> None:
    channel = make_channel(ticker_settings(site, relay, port=station.port, english=True), relay=relay)
    alert = ticker_alert(expires=1_800_000_000.0, translations={"en": ENGLISH})
    message = channel.render(alert, "ja")
    await channel.send(message, PUBLIC)
    english = english_of(message)
    assert station.commands == [
        f"ADD omoigawa-2026-11-26 1800000000 {message.ticker}\r\n",
        f"ADD omoigawa-2026-11-26~en 1800000000 {english}\r\n",
    ]
    body = relay.mailbox.received[0].parsed().get_content().replace("\r\n", "\n")
    assert body.startswith(f"==START==\n{message.ticker}\n{english}\n==END==\n")
    cancel = ticker_alert("A2", msg_type=MsgType.CANCEL, version=2, translations={"en": ENGLISH})
    await channel.send(channel.render(cancel, "ja"), PUBLIC)
    assert station.commands[2:] == ["DEL omoigawa-2026-11-26\r\n", "DEL omoigawa-2026-11-26~en\r\n"]


# -- the TCP push --------------------------------------------------------------------------


class Station:
    """A station's TCP ingest: records each command and answers ``reply`` (None: never answers)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.reply: bytes | None = b"OK\r\n"
        self.release = asyncio.Event()
        self.handlers: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            self.commands.append((await reader.readline()).decode("utf-8"))
            if self.reply is None:
                await self.release.wait()
            else:
                writer.write(self.reply)
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def station() -> AsyncIterator[Station]:
    """A listening Station on a free port; stopped after the test."""
    s = Station()
    server = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    s.port = server.sockets[0].getsockname()[1]
    yield s
    s.release.set()
    server.close()
    await server.wait_closed()
    await asyncio.gather(*s.handlers, return_exceptions=True)


async def test_push_sends_one_add_line_and_takes_ok(site: SiteFactory, station: Station) -> None:
    channel = make_channel(ticker_settings(site, port=station.port))
    alert = ticker_alert(expires=1_800_000_000.5)
    message = channel.render(alert, "ja")
    await channel.send(message, PUBLIC)
    assert station.commands == [f"ADD omoigawa-2026-11-26 1800000000 {message.ticker}\r\n"]


async def test_a_key_with_spaces_is_percent_encoded(site: SiteFactory, station: Station) -> None:
    channel = make_channel(ticker_settings(site, port=station.port))
    await channel.send(channel.render(ticker_alert(event_key="VPWW55 思川/1"), "ja"), PUBLIC)
    key = station.commands[0].split(" ")[1]
    assert key == "VPWW55%20%E6%80%9D%E5%B7%9D%2F1" and urllib.parse.unquote(key) == "VPWW55 思川/1"


async def test_an_untimed_alert_is_pushed_with_a_day_of_air(site: SiteFactory, station: Station) -> None:
    channel = make_channel(ticker_settings(site, port=station.port))
    alert = ticker_alert()
    await channel.send(channel.render(alert, "ja"), PUBLIC)
    assert int(station.commands[0].split(" ")[2]) == int(alert.created_at + UNTIMED_TTL)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"ERR line too long\r\n", PermanentError),
        (b"HELLO\r\n", TransientError),
        (b"", TransientError),  # closed without a word
        (None, TransientError),  # no answer within the budget
    ],
    ids=["err", "garbage", "closed", "silent"],
)
async def test_station_replies_map_to_errors(
    site: SiteFactory, station: Station, reply: bytes | None, error: type[Exception]
) -> None:
    station.reply = reply
    settings = load_settings(
        site(
            {
                "ticker": {"tcp_host": "127.0.0.1", "tcp_port": station.port},
                "channels.ticker": {"timeout": 0.6},  # a third of it for the push: the silent case gives up soon
            }
        )
    )
    channel = make_channel(settings)
    with pytest.raises(error):
        await channel.send(channel.render(ticker_alert(), "ja"), PUBLIC)
    assert len(station.commands) == 1


async def test_connection_refused_is_transient(site: SiteFactory) -> None:
    channel = make_channel(ticker_settings(site, port=free_port()))  # nothing listens there
    with pytest.raises(TransientError, match=r"ticker station 127\.0\.0\.1"):
        await channel.send(channel.render(ticker_alert(), "ja"), PUBLIC)


async def test_add_then_del_on_cancel_through_the_dispatcher(
    site: SiteFactory, store: SQLiteStore, station: Station
) -> None:
    settings = ticker_settings(site, port=station.port)
    channel = make_channel(settings, store)
    outbox = OutboxChannel(settings.path(settings.storage.outbox_dir), channel.renderer)
    sinks = ChannelSet(live={"ticker": channel}, exercise={"ticker": outbox}, notices=[])
    first = ticker_alert("A1")
    update = dataclasses.replace(
        ticker_alert("A2", msg_type=MsgType.UPDATE, version=2, title="思川 避難指示 継続"), references="A1"
    )
    cancel = dataclasses.replace(ticker_alert("A3", msg_type=MsgType.CANCEL, version=3), references="A2")
    async with Dispatcher(store, sinks, settings, policy=POLICY) as dispatcher:
        for alert in (first, update, cancel):
            await store.create_alert(alert, ACTOR, ORIGIN)
            await dispatcher.approve(alert.id, ACTOR, ORIGIN)

            async def done(alert_id: str = alert.id) -> bool:
                got = await store.get_alert(alert_id)
                return got is not None and got.state == AlertState.DONE

            async with asyncio.timeout(10):
                await dispatcher.wait_until(done)
    key = "omoigawa-2026-11-26"
    assert [c.split(" ")[:2] for c in station.commands] == [["ADD", key], ["ADD", key], ["DEL", f"{key}\r\n"]]
    assert "【更新】" in station.commands[1]
    assert delivery_rows(store, "A3")[("ticker", "*")]["state"] == "sent"


async def test_an_exercise_never_goes_on_the_air(site: SiteFactory, station: Station, relay: Relay) -> None:
    channel = make_channel(ticker_settings(site, relay, port=station.port), relay=relay)
    with pytest.raises(PermanentError, match="exercise"):
        await channel.send(channel.render(ticker_alert(mode=Mode.EXERCISE), "ja"), PUBLIC)
    assert station.commands == [] and relay.mailbox.received == []


async def test_without_station_email_or_tcp_send_succeeds(settings: Settings) -> None:
    channel = make_channel(settings)
    assert channel.mail_transport is None and channel.line_push is None
    await channel.send(channel.render(ticker_alert(), "ja"), PUBLIC)


async def test_a_message_from_elsewhere_is_refused(settings: Settings) -> None:
    message = Message("A1", "ticker", "ja", Mode.LIVE, ticker="【警戒レベル４】")
    with pytest.raises(PermanentError, match=r"ticker\.json"):
        await make_channel(settings).send(message, PUBLIC)


@pytest.mark.parametrize(
    ("ticker", "email", "error"),
    [
        ({"station_email": STATION}, {}, r"\[email\] host is empty"),
        ({"station_email": "L字 <super@catv>"}, {"host": "127.0.0.1"}, "not a plain ASCII address"),
        ({"tcp_host": "127.0.0.1"}, {}, "set both"),
        ({"tcp_port": 7000}, {}, "set both"),
    ],
    ids=["mail-without-relay", "bad-address", "host-without-port", "port-without-host"],
)
def test_configuration_errors_name_the_key(
    site: SiteFactory, ticker: dict[str, Any], email: dict[str, Any], error: str
) -> None:
    settings = load_settings(site({"ticker": ticker, "email": email}))
    with pytest.raises(ConfigError, match=error):
        make_channel(settings)


# -- the station mail ------------------------------------------------------------------------


async def test_the_station_mail_has_the_fixed_format(site: SiteFactory, relay: Relay) -> None:
    channel = make_channel(ticker_settings(site, relay), relay=relay)
    alert = ticker_alert(expires=datetime(2026, 11, 26, 18, 0, tzinfo=JST).timestamp())
    message = channel.render(alert, "ja")
    await channel.send(message, PUBLIC)
    [mail] = relay.mailbox.received
    assert mail.rcpt_tos == (STATION,) and mail.tls and mail.login == USER.encode()
    parsed = mail.parsed()
    assert parsed["Subject"] == f"【小山市】L字 {alert.id}"
    assert parsed.get_content().replace("\r\n", "\n") == (
        f"==START==\n{message.ticker}\n==END==\n"
        "ACTION: ADD\nKEY: omoigawa-2026-11-26\n"
        f"ID: {alert.id}\nEXPIRES: 2026-11-26T18:00:00+09:00\n"
    )


async def test_a_cancel_mails_del(site: SiteFactory, relay: Relay) -> None:
    channel = make_channel(ticker_settings(site, relay), relay=relay)
    await channel.send(channel.render(ticker_alert("A2", msg_type=MsgType.CANCEL, version=2), "ja"), PUBLIC)
    body = relay.mailbox.received[0].parsed().get_content().replace("\r\n", "\n")
    assert "\n【取消】小山市" in body and "\nACTION: DEL\n" in body


async def test_a_refused_station_address_is_permanent(site: SiteFactory, relay: Relay) -> None:
    relay.mailbox.refuse = {STATION}
    channel = make_channel(ticker_settings(site, relay), relay=relay)
    with pytest.raises(PermanentError, match="550"):
        await channel.send(channel.render(ticker_alert(), "ja"), PUBLIC)


async def test_a_relay_that_drops_the_connection_is_transient(site: SiteFactory, relay: Relay) -> None:
    relay.mailbox.down = True
    channel = make_channel(ticker_settings(site, relay), relay=relay)
    with pytest.raises(TransientError, match="mail relay"):
        await channel.send(channel.render(ticker_alert(), "ja"), PUBLIC)


async def test_a_retry_repeats_only_the_push_that_failed(site: SiteFactory, relay: Relay, store: SQLiteStore) -> None:
    port = free_port()
    channel = make_channel(ticker_settings(site, relay, port=port), store, relay)
    message = channel.render(ticker_alert(), "ja")
    with pytest.raises(TransientError, match="ticker station"):
        await channel.send(message, PUBLIC)  # the mail goes, the station is not listening yet
    assert len(relay.mailbox.received) == 1
    station = Station()
    server = await asyncio.start_server(station.handle, "127.0.0.1", port)
    try:
        await channel.send(message, PUBLIC)
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.gather(*station.handlers)
    assert [c.split(" ")[0] for c in station.commands] == ["ADD"]
    assert len(relay.mailbox.received) == 1  # not mailed twice
