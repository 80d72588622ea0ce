"""The email channel against a real SMTP server: aiosmtpd in-process, with STARTTLS and AUTH.

The server (tests/smtp_server.py) keeps every message it accepts, as bytes, and misbehaves on
request. Tests read headers, encoding and content back from those bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import logging
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import (
    ConfigError,
    DeliveryError,
    MissingCredentials,
    PartialDelivery,
    PermanentError,
    TransientError,
)
from broadcaster.models import Alert, AlertState, DeliveryState, Message, Mode, Recipient, Source, Text
from broadcaster.pacing import RetryPolicy
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import Signer
from channels.email.channel import EmailChannel, create, smtp_factory
from channels.email.render import BODY, EmailRenderer
from tests.processes import free_port
from tests.smtp_server import PASSWORD, USER, Relay
from tests.test_store import ACTOR, ORIGIN, delivery_rows, email_subscriber

SECRET = "test-secret-key-0123456789abcdef"
PUBLIC_URL = "https://www.city.oyama.example.jp"
MAILTO = "teishi@city.oyama.example.jp"
SENDER = "anshin@city.oyama.example.jp"
ENVIRON = {"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD, "BROADCASTER_SECRET_KEY": SECRET}
POLICY = RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=3600.0)
SiteFactory = Callable[..., Path]


# -- the channel -----------------------------------------------------------------------


class Refusals:
    """The on_refused hook: remembers each call's subscriber ids."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, subscriber_ids: list[int]) -> None:
        self.calls.append(list(subscriber_ids))


def email_settings(site: SiteFactory, relay: Relay, **email_conf: Any) -> Settings:
    """Settings pointing [email] at the relay (storage where the ``store`` fixture has it)."""
    conf = {
        "host": "127.0.0.1",
        "port": relay.port,
        "tls": "starttls",
        "pool": 2,
        "timeout": 5.0,
        "sender": f"小山市 安全安心メール <{SENDER}>",
        "unsubscribe_mailto": MAILTO,
    } | email_conf
    return load_settings(site({"email": conf, "city": {"public_url": PUBLIC_URL}}, name="email.toml"))


ChannelMaker = Callable[..., EmailChannel]


@pytest.fixture
async def make_channel(relay: Relay, site: SiteFactory) -> AsyncIterator[ChannelMaker]:
    """Email channels built by ``create`` as the service builds them; closed after the test."""
    made: list[EmailChannel] = []

    def make(environ: dict[str, str] = ENVIRON, refusals: Refusals | None = None, **email_conf: Any) -> EmailChannel:
        settings = email_settings(site, relay, **email_conf)
        ctx = ChannelContext("email", settings, Renderer(settings), environ)
        channel = create(ctx, on_refused=refusals, tls_context=relay.client_tls)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.aclose()


def make_alert(alert_id: str = "20261126-031500-a1b2c3", mode: Mode = Mode.LIVE, level: int = 4) -> Alert:
    """A staff alert in Japanese with an English translation; 髙 and ① do not fit ISO-2022-JP."""
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category="disaster",
        level=level,
        title="思川の氾濫危険情報　髙椅地区に避難指示",
        body="思川の水位が氾濫危険水位に達しました。\n①髙椅小学校 ②大谷公民館 を開設しました。",
        instruction="直ちに避難してください。",
        translations={"en": Text("Evacuation order for Takahashi", "The Omoi River reached the danger level.")},
        mode=mode,
        channels=("email",),
        created_at=time.time(),
    )


def recipients(n: int, lang: str = "ja", first: int = 1) -> list[Recipient]:
    """``n`` subscribers with ids first.. and distinct addresses."""
    return [Recipient(str(i), f"resident{i:03d}@example.jp", lang) for i in range(first, first + n)]


def unsubscribe_links(header: str) -> tuple[str, str]:
    """The https and mailto URIs of a List-Unsubscribe header."""
    uris = re.findall(r"<([^>]+)>", header)
    https = next(u for u in uris if u.startswith("https:"))
    mailto = next(u for u in uris if u.startswith("mailto:"))
    return https, mailto


def failures_of(error: DeliveryError, to: list[Recipient]) -> dict[str, DeliveryError]:
    """Failures by recipient key, whether the channel raised one error for all or a PartialDelivery."""
    return error.failures if isinstance(error, PartialDelivery) else {r.key: error for r in to}


def token_of(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["t"][0]


# -- content, headers, encoding ----------------------------------------------------------


async def test_content_headers_and_encoding_read_back(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel()
    alert = make_alert()
    message = channel.render(alert, "ja")
    to = recipients(3)

    await channel.send(message, to)

    box = relay.mailbox
    assert sorted(box.to()) == sorted(r.contact for r in to)
    signer = Signer(SECRET.encode())
    message_ids = set()
    for got in box.received:
        assert got.tls and got.login == USER.encode()  # STARTTLS, then AUTH, on every connection
        assert got.mail_from == SENDER
        assert got.data.isascii()  # 7-bit clean: UTF-8 travels as encoded-words and base64
        [rcpt] = got.rcpt_tos
        subscriber = next(r for r in to if r.contact == rcpt)
        msg = got.parsed()
        assert msg["To"] == rcpt
        assert msg["From"].addresses[0].display_name == "小山市 安全安心メール"
        assert msg["Subject"] == "【警戒レベル４】思川の氾濫危険情報　髙椅地区に避難指示" == message.subject
        assert parsedate_to_datetime(msg["Date"]).timestamp() == pytest.approx(time.time(), abs=60)
        assert re.fullmatch(r"<[^<>@\s]+@city\.oyama\.example\.jp>", msg["Message-ID"])
        message_ids.add(msg["Message-ID"])
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert plain is not None and html is not None
        for part in (plain, html):
            assert part.get_content_charset() == "utf-8"
            assert part["Content-Transfer-Encoding"] == "base64"
        assert plain.get_content().replace("\r\n", "\n").strip() == message.text
        assert "①髙椅小学校" in plain.get_content()
        assert "<h1>【警戒レベル４】思川の氾濫危険情報　髙椅地区に避難指示</h1>" in html.get_content()
        # RFC 8058: https one-click plus mailto, both carrying this subscriber's token
        https, mailto = unsubscribe_links(str(msg["List-Unsubscribe"]))
        assert https.startswith(f"{PUBLIC_URL}/unsubscribe?t=")
        assert signer.check(token_of(https), "unsubscribe") == int(subscriber.key)
        assert mailto == f"mailto:{MAILTO}?subject=unsubscribe%20{token_of(https)}"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(message_ids) == len(to)  # one Message-ID per recipient


async def test_a_translation_goes_out_in_english(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel()
    message = channel.render(make_alert(), "en")

    await channel.send(message, recipients(1, "en"))

    [got] = relay.mailbox.received
    msg = got.parsed()
    assert msg["Subject"] == "[Alert Level 4] Evacuation order for Takahashi"
    plain = msg.get_body(("plain",))
    assert plain is not None and "The Omoi River reached the danger level." in plain.get_content()


@pytest.mark.parametrize(
    ("lang", "words", "page"),
    [
        ("ja", "配信の変更・停止：", f"{PUBLIC_URL}/subscribe"),
        ("en", "To change or stop these messages: ", f"{PUBLIC_URL}/subscribe?lang=en"),
    ],
)
async def test_the_body_says_where_to_change_or_stop_the_mails(
    make_channel: ChannelMaker, relay: Relay, lang: str, words: str, page: str
) -> None:
    channel = make_channel()
    await channel.send(channel.render(make_alert(), lang), recipients(2, lang))
    for got in relay.mailbox.received:
        msg = got.parsed()
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n").strip().endswith(words + page)  # visible, not only a header
        assert f'<a href="{page}">{page}</a>' in html.get_content()
        # the body is every recipient's: the page, where an address asks for its own link; no token in it
        assert not re.search(r"[?&;]t=", plain.get_content() + html.get_content())
        assert "/unsubscribe?t=" in str(msg["List-Unsubscribe"])  # the personal one-click link stays in the header


@pytest.mark.parametrize("lang", ["ja", "ja-x-easy", "en", "pt-BR", "vi", "zh-Hans"])
def test_the_html_part_is_marked_with_its_language(settings: Settings, lang: str) -> None:
    renderer = EmailRenderer(settings, Renderer(settings))
    message = renderer.render(dataclasses.replace(make_alert(), translations={}), lang)
    assert f'<html lang="{settings.phrasebook.languages[lang].html}">' in message.html


def test_easy_japanese_shows_furigana_as_ruby_in_html_and_in_brackets_in_text(settings: Settings) -> None:
    easy = Text(
        "{避難|ひなん}してください", "{川|かわ}の {水|みず}が {多|おお}く なりました。", "すぐに {逃|に}げてください。"
    )
    alert = dataclasses.replace(make_alert(), translations={"ja-x-easy": easy})
    message = EmailRenderer(settings, Renderer(settings)).render(alert, "ja-x-easy")
    assert "<h1>【レベル4】<ruby>避難<rp>（</rp><rt>ひなん</rt><rp>）</rp></ruby>してください</h1>" in message.html
    assert "<ruby>逃<rp>（</rp><rt>に</rt><rp>）</rp></ruby>げてください。" in message.html
    assert "<title>【レベル4】避難（ひなん）してください</title>" in message.html
    assert message.subject == "【レベル4】避難（ひなん）してください"
    assert "川（かわ）の 水（みず）が 多（おお）く なりました。" in message.text.splitlines()
    assert not any(c in part for part in (message.subject, message.text, message.html) for c in "{|}")
    assert "小山市" in message.text  # やさしい日本語 names the city as Japanese does


async def test_the_body_is_built_once_and_only_headers_differ(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel()
    message = channel.render(make_alert(), "ja")
    body = dict(message.attachments)[BODY]
    to = recipients(4)

    await channel.send(message, to[:2])
    await channel.send(message, to[2:])

    names = ["To", "Message-ID", "Date", "List-Unsubscribe", "List-Unsubscribe-Post"]
    for got in relay.mailbox.received:
        assert got.data.endswith(body)  # the shared bytes, untouched
        head = email.message_from_bytes(got.data[: -len(body)] + b"\r\n", policy=email.policy.default)
        assert list(head.keys()) == names  # and in front of them only this recipient's header lines


async def test_exercise_alerts_carry_the_prefix_once(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel()
    typed_by_the_officer = "【訓練】思川の氾濫危険情報"
    alert = dataclasses.replace(make_alert(mode=Mode.EXERCISE), title=typed_by_the_officer)
    message = channel.render(alert, "ja")

    await channel.send(message, recipients(1))

    [got] = relay.mailbox.received
    msg = got.parsed()
    assert msg["Subject"] == "【訓練】【警戒レベル４】思川の氾濫危険情報"
    plain = msg.get_body(("plain",))
    assert plain is not None and "これは訓練です" in plain.get_content()


async def test_an_exercise_message_without_the_prefix_gets_it(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel()
    message = Message("drill-1", "email", "ja", Mode.EXERCISE, subject="避難指示", text="訓練です。")

    await channel.send(message, recipients(1))

    assert relay.mailbox.received[0].parsed()["Subject"] == "【訓練】避難指示"


# -- refusals, drops, timeouts, auth -------------------------------------------------------


async def test_partial_refusals_fail_exactly_the_refused(make_channel: ChannelMaker, relay: Relay) -> None:
    refusals = Refusals()
    channel = make_channel(refusals=refusals)
    to = recipients(6)
    refused = [to[1], to[4]]
    relay.mailbox.refuse = {r.contact for r in refused}

    with pytest.raises(PartialDelivery) as caught:
        await channel.send(channel.render(make_alert(), "ja"), to)

    failures = caught.value.failures
    assert sorted(failures) == sorted(r.key for r in refused)
    assert all(isinstance(e, PermanentError) for e in failures.values())
    assert all("550" in str(e) and "@" not in str(e) for e in failures.values())
    assert sorted(relay.mailbox.to()) == sorted(r.contact for r in to if r not in refused)
    assert refusals.calls == [sorted(int(r.key) for r in refused)]


async def test_everyone_refused_is_permanent_for_everyone(make_channel: ChannelMaker, relay: Relay) -> None:
    refusals = Refusals()
    channel = make_channel(refusals=refusals)
    to = recipients(3)
    relay.mailbox.refuse = {r.contact for r in to}

    with pytest.raises(DeliveryError) as caught:
        await channel.send(channel.render(make_alert(), "ja"), to)

    failures = failures_of(caught.value, to)
    assert sorted(failures) == sorted(r.key for r in to)
    assert all(isinstance(e, PermanentError) and "550" in str(e) for e in failures.values())
    assert [sorted(c) for c in refusals.calls] == [[1, 2, 3]]
    assert relay.mailbox.received == []


async def test_an_address_smtp_cannot_carry_is_refused_before_sending(make_channel: ChannelMaker, relay: Relay) -> None:
    refusals = Refusals()
    channel = make_channel(refusals=refusals)
    to = [*recipients(1), Recipient("7", "bad\r\nBcc: x@example.jp", "ja"), Recipient("8", "髙橋@example.jp", "ja")]

    with pytest.raises(PartialDelivery) as caught:
        await channel.send(channel.render(make_alert(), "ja"), to)

    assert {k: type(e) for k, e in caught.value.failures.items()} == {"7": PermanentError, "8": PermanentError}
    assert relay.mailbox.to() == [to[0].contact]
    assert refusals.calls == [[7, 8]]


async def test_a_connection_dropped_once_is_reopened_and_the_batch_goes_on(
    make_channel: ChannelMaker, relay: Relay
) -> None:
    channel = make_channel(pool=1)
    message = channel.render(make_alert(), "ja")
    to = recipients(8)
    relay.mailbox.drop_after = 3

    with pytest.raises(PartialDelivery) as caught:
        await channel.send(message, to)

    [(key, error)] = caught.value.failures.items()
    assert key == to[3].key and isinstance(error, TransientError)
    assert len(relay.mailbox.received) == 7  # reconnected and went on with the rest

    await channel.send(message, [r for r in to if r.key == key])  # the dispatcher's retry

    assert sorted(relay.mailbox.to()) == sorted(r.contact for r in to)  # everyone, nobody twice


async def test_a_relay_going_down_mid_batch_leaves_the_rest_transient_and_a_retry_sends_it(
    make_channel: ChannelMaker, relay: Relay
) -> None:
    channel = make_channel(pool=2)
    message = channel.render(make_alert(), "ja")
    to = recipients(12)
    relay.mailbox.drop_after, relay.mailbox.stay_down = 5, True

    with pytest.raises(PartialDelivery) as caught:
        await channel.send(message, to)

    failed = set(caught.value.failures)
    delivered = {r.key for r in to if r.contact in relay.mailbox.to()}
    assert len(delivered) == 5
    assert failed == {r.key for r in to} - delivered  # every recipient either reached or handed back
    assert all(isinstance(e, TransientError) for e in caught.value.failures.values())

    relay.mailbox.down = False  # the relay is back; the channel reconnects
    await channel.send(message, [r for r in to if r.key in failed])

    assert Counter(relay.mailbox.to()) == Counter(r.contact for r in to)  # everyone exactly once


@pytest.mark.parametrize("idle_check", [0.0, 3600.0], ids=["noop-before-reuse", "noop-only-after-long-idle"])
async def test_a_connection_the_server_closed_while_idle_is_replaced(
    relay: Relay, site: SiteFactory, idle_check: float
) -> None:
    settings = email_settings(site, relay, pool=1)
    signer = Signer(SECRET.encode())
    factory = smtp_factory(settings.email, tls_context=relay.client_tls)
    channel = EmailChannel(
        settings, Renderer(settings), signer, factory, credentials=(USER, PASSWORD), idle_check=idle_check
    )
    message = channel.render(make_alert(), "ja")
    try:
        await channel.send(message, recipients(2))
        await channel.send(message, recipients(1, first=3))
        assert relay.mailbox.noops == (1 if idle_check == 0.0 else 0)  # checked before reuse (and alive)

        relay.mailbox.close_after_data = True
        await channel.send(message, recipients(1, first=4))
        relay.mailbox.close_after_data = False
        # whether the channel notices the closed connection before MAIL or at MAIL, nothing fails
        await channel.send(message, recipients(2, first=5))
    finally:
        await channel.aclose()

    assert Counter(relay.mailbox.to()) == Counter(r.contact for r in recipients(6))


async def test_a_silent_server_times_out_as_transient(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel(timeout=0.3)
    relay.mailbox.hang = True

    async with asyncio.timeout(10):
        with pytest.raises(TransientError, match="timed out"):
            await channel.send(channel.render(make_alert(), "ja"), recipients(1))


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        pytest.param(ENVIRON | {"SMTP_PASSWORD": "wrong"}, PermanentError, "authentication failed: 535", id="wrong-pw"),
        pytest.param({"BROADCASTER_SECRET_KEY": SECRET}, PermanentError, "530", id="no-auth-but-required"),
    ],
)
async def test_authentication_problems_are_permanent_and_do_not_hang(
    make_channel: ChannelMaker, relay: Relay, environ: dict[str, str], error: type[Exception], message: str
) -> None:
    channel = make_channel(environ=environ)

    async with asyncio.timeout(10):  # aiosmtpd's handled=True would leave the client waiting
        with pytest.raises(error, match=message):
            await channel.send(channel.render(make_alert(), "ja"), recipients(3))

    assert relay.mailbox.received == []


async def test_a_relay_that_is_not_there_is_transient(make_channel: ChannelMaker, relay: Relay) -> None:
    channel = make_channel(port=free_port())

    with pytest.raises(TransientError, match="cannot connect"):
        await channel.send(channel.render(make_alert(), "ja"), recipients(2))


async def test_no_address_reaches_the_logs(
    make_channel: ChannelMaker, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = make_channel(refusals=Refusals(), pool=1)
    message = channel.render(make_alert(), "ja")
    to = recipients(6)
    relay.mailbox.refuse = {to[0].contact}
    relay.mailbox.drop_after = 2

    with pytest.raises(PartialDelivery) as caught:
        await channel.send(message, to)
    relay.mailbox.drop_after, relay.mailbox.stay_down = 0, True
    with pytest.raises(TransientError):  # the relay is down: one error for everyone
        await channel.send(message, to[1:])

    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # mail.log is the test server's
    assert any(r.name == "broadcaster.channels.email" for r in ours)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in ours)
    assert "@" not in logged
    assert not any("@" in str(e) for e in caught.value.failures.values())


# -- the factory -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email_conf", "environ", "message"),
    [
        pytest.param({}, ENVIRON, r"no \[email\] host configured", id="no-host"),
        pytest.param({"host": "127.0.0.1"}, {}, "BROADCASTER_SECRET_KEY", id="no-secret"),
        pytest.param(
            {"host": "127.0.0.1"},
            {"SMTP_USERNAME": USER, "BROADCASTER_SECRET_KEY": SECRET},
            "SMTP_USERNAME is set but SMTP_PASSWORD is not",
            id="half-the-credentials",
        ),
    ],
)
def test_the_factory_says_what_is_missing(
    site: SiteFactory, email_conf: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    settings = load_settings(site({"email": email_conf}))
    with pytest.raises(MissingCredentials, match=message):
        create(ChannelContext("email", settings, Renderer(settings), environ))


def test_a_short_secret_is_a_config_error_not_a_missing_one(site: SiteFactory) -> None:
    settings = load_settings(site({"email": {"host": "127.0.0.1"}}))
    with pytest.raises(ConfigError, match="BROADCASTER_SECRET_KEY"):
        create(ChannelContext("email", settings, Renderer(settings), {"BROADCASTER_SECRET_KEY": "short"}))


def test_without_smtp_credentials_it_sends_unauthenticated(site: SiteFactory) -> None:
    settings = load_settings(site({"email": {"host": "127.0.0.1"}}))
    channel = create(ChannelContext("email", settings, Renderer(settings), {"BROADCASTER_SECRET_KEY": SECRET}))
    assert channel.name == "email" and channel.envelope_sender == "anshin@example.jp"


# -- end to end through the dispatcher ---------------------------------------------------------


async def run_alert(store: SQLiteStore, settings: Settings, channel: EmailChannel, alert: Alert) -> None:
    """Create, approve and dispatch one alert until every delivery row is final."""
    await store.create_alert(alert, ACTOR, ORIGIN)

    async def done() -> bool:
        got = await store.get_alert(alert.id)
        return got is not None and got.state == AlertState.DONE

    sinks = ChannelSet(live={"email": channel}, exercise={"email": channel}, notices=[])
    async with Dispatcher(store, sinks, settings, policy=POLICY) as dispatcher:
        await dispatcher.approve(alert.id, ACTOR, ORIGIN)
        async with asyncio.timeout(30):
            await dispatcher.wait_until(done)


@pytest.mark.parametrize("drop", [False, True], ids=["clean", "dropped-mid-batch"])
async def test_end_to_end_through_the_dispatcher(
    store: SQLiteStore, relay: Relay, site: SiteFactory, drop: bool
) -> None:
    settings = load_settings(
        site(
            {
                "email": {
                    "host": "127.0.0.1",
                    "port": relay.port,
                    "pool": 3,
                    "timeout": 5.0,
                    "sender": f"小山市 安全安心メール <{SENDER}>",
                },
                "city": {"public_url": PUBLIC_URL},
                "channels.email": {"batch_size": 20, "concurrency": 2, "rate_per_s": 1000.0, "burst": 100},
            },
            name="e2e.toml",
        )
    )
    contacts = [f"resident{i:03d}@example.jp" for i in range(50)]
    languages = ["en" if i % 5 == 0 else "ja" for i in range(len(contacts))]
    await store.import_subscribers(email_subscriber(c, language=lg) for c, lg in zip(contacts, languages, strict=True))
    ctx = ChannelContext("email", settings, Renderer(settings), ENVIRON)
    channel = create(
        ctx,
        on_refused=lambda ids: store.note_refusals(ids, settings.email.refusal_threshold),
        tls_context=relay.client_tls,
    )
    relay.mailbox.drop_after = 17 if drop else None
    try:
        await run_alert(store, settings, channel, make_alert("e2e-1"))
    finally:
        await channel.aclose()

    rows = delivery_rows(store, "e2e-1")
    assert {c: rows["email", c]["state"] for c in contacts} == dict.fromkeys(contacts, DeliveryState.SENT)
    assert Counter(relay.mailbox.to()) == Counter(contacts)  # everyone exactly once
    retried = [c for c in contacts if rows["email", c]["attempts"] > 1]
    assert len(retried) == (1 if drop else 0)
    subjects = {m.rcpt_tos[0]: m.parsed()["Subject"] for m in relay.mailbox.received}
    assert subjects[contacts[0]] == "[Alert Level 4] Evacuation order for Takahashi"
    assert subjects[contacts[1]].startswith("【警戒レベル４】")
