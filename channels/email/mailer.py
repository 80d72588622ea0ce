"""One-off mails to one resident (confirm a subscription, a link to change settings).

They go through the safety-mail relay of [email], one connection per mail: there are few of them,
and alert fan-out keeps its own pool. Without a relay (or without its credentials) they are written
to the outbox folder instead, with the subscriber id in place of the address, so that a developer
can follow the link and the folder never holds personal data.

Sending happens in the background, so that a form answers in the same time whether or not the
address is registered; a failed mail is tried again a few times and then logged by subscriber id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import NamedTuple, Protocol

import aiosmtplib

from broadcaster.errors import MissingCredentials
from broadcaster.files import write_atomic
from broadcaster.pacing import Backoff
from broadcaster.settings import Settings
from channels.email.channel import smtp_credentials, smtp_factory
from channels.email.pool import abort_connection
from channels.email.smtp_errors import describe_error, is_permanent

log = logging.getLogger("broadcaster.mailer")

# 2 s after the first failure, doubling up to a minute: five waits, a minute in all at most
RETRY = Backoff(base=2.0, cap=60.0)
MAX_ATTEMPTS = 6  # then the mail is given up and logged; the resident can ask for it again


class Mail(NamedTuple):
    """A plain-text mail to one subscriber."""

    subscriber_id: int
    to: str  # personal data
    subject: str
    text: str


class Transport(Protocol):
    """Where mails really go."""

    async def deliver(self, mail: Mail) -> None:
        """Send one mail or raise."""


class Smtp:
    """The configured relay, one connection per mail."""

    def __init__(self, settings: Settings, credentials: tuple[str, str] | None, tls: ssl.SSLContext | None) -> None:
        self.sender = settings.email.sender
        self.domain = settings.email.sender.rpartition("@")[2].rstrip(">") or None
        self.credentials = credentials
        self.factory = smtp_factory(settings.email, tls_context=tls)

    async def deliver(self, mail: Mail) -> None:
        """Connect, log in when configured, send, quit."""
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
        message.set_content(mail.text, charset="utf-8", cte="base64")
        client = self.factory()
        try:
            await client.connect()
            if self.credentials:
                await client.login(*self.credentials)
            await client.send_message(message)
            await client.quit()
        finally:
            abort_connection(client)  # after an error or a cancel too: no socket left behind


class Outbox:
    """var/outbox/subscriptions/<time>-<subscriber id>.txt: subject and text, no address."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "subscriptions"

    async def deliver(self, mail: Mail) -> None:
        """Write the mail atomically."""
        text = f"To: subscriber {mail.subscriber_id}\nSubject: {mail.subject}\n\n{mail.text}\n"
        await asyncio.to_thread(self._write, f"{time.time_ns()}-{mail.subscriber_id}.txt", text.encode())

    def _write(self, name: str, data: bytes) -> None:
        write_atomic(self.folder / name, data)  # no fsync: the resident can ask for the mail again


class Mailer:
    """Queues mails and sends them in the background with a few retries."""

    def __init__(
        self,
        transport: Transport,
        backoff: Backoff = RETRY,
        max_attempts: int = MAX_ATTEMPTS,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.transport = transport
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.rand = rand
        self.sent = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, mail: Mail) -> None:
        """Send ``mail`` soon; returns at once."""
        task = asyncio.create_task(self._send(mail), name=f"mail-{mail.subscriber_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every posted mail is sent or given up (tests, and shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self, grace: float = 10.0) -> None:
        """Give queued mails ``grace`` seconds, then drop the rest (the resident can ask again)."""
        try:
            async with asyncio.timeout(grace):
                await self.drain()
        except TimeoutError:
            unsent = list(self._tasks)
            for task in unsent:
                task.cancel()
            await asyncio.gather(*unsent, return_exceptions=True)
            log.warning("dropped %d unsent subscription mails at shutdown", len(unsent))
        await asyncio.sleep(0)  # aborted transports release their sockets on the loop's next turn

    async def _send(self, mail: Mail) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.transport.deliver(mail)
            except (OSError, aiosmtplib.SMTPException) as exc:
                error = describe_error(exc)
                if attempt == self.max_attempts or is_permanent(exc):
                    self.failed += 1
                    log.error("mail to subscriber %d: gave up at attempt %d: %s", mail.subscriber_id, attempt, error)
                    return
                delay = self.backoff.delay(attempt, self.rand())
                log.warning("mail to subscriber %d failed (%s); again in %.1f s", mail.subscriber_id, error, delay)
                await asyncio.sleep(delay)
            else:
                self.sent += 1
                return


def make_mailer(
    settings: Settings, environ: Mapping[str, str], tls: ssl.SSLContext | None = None
) -> tuple[Mailer, str | None]:
    """The mailer for [email], and a notice when it writes to the outbox instead."""
    outbox = Outbox(settings.path(settings.storage.outbox_dir))
    if not settings.email.host:
        return Mailer(outbox), f"subscription mails: no [email] host; writing to {outbox.folder}"
    try:
        credentials = smtp_credentials(environ)
    except MissingCredentials as exc:
        return Mailer(outbox), f"subscription mails: {exc}; writing to {outbox.folder}"
    return Mailer(Smtp(settings, credentials, tls)), None
