"""The one-off mailer (confirmations, settings links) and the form limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.pacing import Backoff
from broadcaster.settings import Settings, load_settings
from broadcaster.web.ratelimit import WindowLimiter
from channels.email.mailer import Mail, Mailer, Outbox, Smtp, make_mailer
from tests.processes import free_port
from tests.smtp_server import PASSWORD, USER, Relay

SiteFactory = Callable[..., Path]
NO_WAIT = Backoff(base=0.0, cap=0.0)
MAIL = Mail(7, "jiro@example.jp", "登録の確認", "次のリンクを開いてください。\nhttps://example.jp/x\n")


def relay_settings(site: SiteFactory, port: int) -> Settings:
    return load_settings(site({"email": {"host": "127.0.0.1", "port": port, "timeout": 5.0}}, name="mailer.toml"))


async def test_a_mail_goes_through_the_relay_in_utf8(site: SiteFactory, relay: Relay) -> None:
    mailer = Mailer(Smtp(relay_settings(site, relay.port), (USER, PASSWORD), relay.client_tls))
    mailer.post(MAIL)
    await mailer.drain()
    [received] = relay.mailbox.received
    msg = received.parsed()
    assert received.rcpt_tos == ("jiro@example.jp",) and received.tls
    assert msg["Subject"] == "登録の確認" and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"] and msg["Date"]
    assert msg.get_content_charset() == "utf-8" and "次のリンク" in msg.get_content()
    assert (mailer.sent, mailer.failed) == (1, 0)


async def test_a_relay_that_is_down_is_tried_again_then_given_up(
    site: SiteFactory, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = Mailer(Smtp(relay_settings(site, free_port()), None, None), NO_WAIT, max_attempts=3)
    mailer.post(MAIL)
    await mailer.drain()
    assert (mailer.sent, mailer.failed) == (0, 1)
    messages = [r.getMessage() for r in caplog.records if r.name == "broadcaster.mailer"]
    assert len(messages) == 3 and "gave up at attempt 3" in messages[-1]
    assert "jiro" not in caplog.text


async def test_a_refused_address_is_not_tried_again(site: SiteFactory, relay: Relay) -> None:
    relay.mailbox.refuse.add("jiro@example.jp")
    minute = Backoff(base=60.0, cap=60.0, jitter=0.0)
    mailer = Mailer(Smtp(relay_settings(site, relay.port), (USER, PASSWORD), relay.client_tls), minute, max_attempts=2)
    mailer.post(MAIL)
    await mailer.drain()  # a retry would wait a minute: the test's timeout would tell
    assert (mailer.sent, mailer.failed) == (0, 1)


async def test_without_a_relay_mails_go_to_the_outbox_without_the_address(site: SiteFactory) -> None:
    settings = load_settings(site())
    mailer, notice = make_mailer(settings, {})
    assert isinstance(mailer.transport, Outbox) and notice and "no [email] host" in notice
    mailer.post(MAIL)
    await mailer.drain()
    [written] = (settings.path(settings.storage.outbox_dir) / "subscriptions").iterdir()
    text = written.read_text(encoding="utf-8")
    assert "To: subscriber 7" in text and "https://example.jp/x" in text and "jiro" not in text


def test_half_the_smtp_credentials_falls_back_to_the_outbox_and_says_why(site: SiteFactory) -> None:
    settings = relay_settings(site, 25)
    mailer, notice = make_mailer(settings, {"SMTP_USERNAME": USER})
    assert isinstance(mailer.transport, Outbox)
    assert notice and "SMTP_USERNAME is set but SMTP_PASSWORD is not" in notice
    mailer, notice = make_mailer(settings, {"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD})
    assert isinstance(mailer.transport, Smtp) and notice is None


async def test_shutdown_drops_what_cannot_be_sent_in_the_grace_time(
    site: SiteFactory, caplog: pytest.LogCaptureFixture
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # greets and answers EHLO, then never answers MAIL: a relay that hangs mid-transaction
        held.append(writer)
        writer.write(b"220 hangs.example.jp ESMTP\r\n")
        while line := await reader.readline():
            if line.upper().startswith((b"EHLO", b"HELO")):
                writer.write(b"250 hangs.example.jp\r\n")

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = load_settings(site({"email": {"host": "127.0.0.1", "port": port, "tls": "none"}}, name="hang.toml"))
        mailer = Mailer(Smtp(settings, None, None))
        mailer.post(MAIL)
        await mailer.aclose(grace=0.5)
        assert "dropped 1 unsent" in caplog.text and (mailer.sent, mailer.failed) == (0, 0)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def test_the_window_limiter_counts_per_key_and_forgets_old_windows() -> None:
    limiter = WindowLimiter(limit=2, period=10.0, max_keys=3)
    assert [limiter.hit("a", now=0.0) for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", now=1.0)  # another key has its own window
    assert limiter.hit("a", now=10.0)  # a new window
    for i, key in enumerate("cdef"):
        limiter.hit(key, now=11.0 + i)
    assert len(limiter._windows) <= 3  # bounded however many keys come
