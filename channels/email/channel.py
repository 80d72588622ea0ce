"""Safety mail (安全安心メール): one message per subscriber, over a small pool of SMTP connections.

``render`` (channels/email/render.py) builds the MIME body once per alert and language (UTF-8 text
plus an HTML alternative, base64, with From and Subject) and carries it in the Message as the
attachment ``email.eml``. Per recipient, ``send`` only puts that recipient's header lines in front
of those bytes: To, Message-ID, Date, and the RFC 8058 pair ``List-Unsubscribe`` (https, and mailto
when configured) with ``List-Unsubscribe-Post``, both carrying a signed unsubscribe token.

The Message-ID is derived from the alert and the subscriber, so a message sent again after a crash
has the Message-ID of the first one and mail clients can drop the duplicate.

Errors, per recipient of a batch:

- a 5xx refusal of the recipient (or an address SMTP cannot carry) is permanent, and the subscriber
  ids are passed to ``on_refused``, which counts them towards the bounce threshold;
- a 4xx refusal, or content refused for one message, fails that recipient only;
- a dropped connection, a timeout or any other 4xx is transient for the message in flight; the
  worker reconnects once and goes on, and whatever it could not send comes back transient, so a
  retry never sends twice to someone this call reached;
- failed authentication or a refused sender (a 5xx) is permanent for everyone not yet sent.

Which replies are permanent is decided once for every SMTP sender, in channels/email/smtp_errors.py.

Addresses are personal data: they never appear in logs or in error messages (server replies are
scrubbed of anything that looks like an address).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate, parseaddr

import aiosmtplib

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import ConfigError, DeliveryError, PartialDelivery, PermanentError, TransientError
from broadcaster.models import Alert, Message, Recipient, Recipients
from broadcaster.rendering import Renderer
from broadcaster.settings import Email, Settings
from broadcaster.tokens import SECRET_ENV, Signer
from channels.email.pool import Pool, SmtpFactory
from channels.email.render import BODY, NAME, EmailRenderer, mime_body
from channels.email.smtp_errors import delivery_error, describe_error, is_permanent

log = logging.getLogger("broadcaster.channels.email")

USERNAME_ENV, PASSWORD_ENV = "SMTP_USERNAME", "SMTP_PASSWORD"
UNSUBSCRIBE = "unsubscribe"  # token purpose, shared with the unsubscribe pages
IDLE_CHECK_S = 5.0  # a connection idle longer than this is checked with NOOP before reuse
RECONNECTS = 1  # reconnections a worker makes in one send() after its connection broke
# what this channel puts on an SMTP line and in To: a dot-atom local part and a host name, ASCII only
ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")

RefusalHook = Callable[[list[int]], Awaitable[object]]  # subscriber ids whose address was refused


def smtp_factory(conf: Email, *, tls_context: ssl.SSLContext | None = None, validate_certs: bool = True) -> SmtpFactory:
    """Clients for the configured relay and TLS mode (connect() does STARTTLS too); the pool logs in."""

    def make() -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=conf.host,
            port=conf.port,
            use_tls=conf.tls == "implicit",
            start_tls=conf.tls == "starttls",  # False for "none": no upgrade even when offered
            tls_context=tls_context,
            validate_certs=validate_certs,
            timeout=conf.timeout,
        )

    return make


class _Batch:
    """The shared state of one send(): who is left, who failed, why the workers stopped."""

    def __init__(self, to: Recipients, body: bytes, date: str, budget: float | None) -> None:
        self.left: deque[Recipient] = deque(to)
        self.body = body
        self.date = date
        self.deadline = None if budget is None else time.monotonic() + budget
        self.failures: dict[str, DeliveryError] = {}
        self.refused: list[int] = []
        self.sent = 0
        self.stop: DeliveryError | None = None  # set when nobody else in the batch can be sent to
        self.last_error: DeliveryError | None = None

    def next(self) -> Recipient | None:
        """The next recipient, or None when the batch is done, stopped or out of time."""
        if not self.left or self.stop is not None:
            return None
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stop = TransientError("send time budget used up; the rest is sent on retry", retry_after=0.0)
            return None
        return self.left.popleft()


class EmailChannel:
    """The safety-mail channel: aiosmtplib, a pool of connections, one message per subscriber."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        signer: Signer,
        client_factory: SmtpFactory,
        *,
        credentials: tuple[str, str] | None = None,
        on_refused: RefusalHook | None = None,
        idle_check: float = IDLE_CHECK_S,
    ) -> None:
        conf = settings.email
        self.renderer = EmailRenderer(settings, renderer)
        self.sender = conf.sender
        self.envelope_sender = parseaddr(conf.sender)[1]
        domain = self.envelope_sender.rpartition("@")[2]
        if not ADDRESS.fullmatch(self.envelope_sender) or not domain:
            raise ConfigError(f"email.sender: {conf.sender!r} has no usable address")
        self.domain = domain
        self._timeout = conf.timeout
        self._mail_from = b"FROM:<" + self.envelope_sender.encode("ascii") + b">"
        self.unsubscribe_url = settings.city.public_url.rstrip("/") + "/unsubscribe"
        self.unsubscribe_mailto = conf.unsubscribe_mailto
        self.signer = signer
        self.on_refused = on_refused
        self._pool = Pool(client_factory, conf.pool, credentials, idle_check)
        channel = settings.channels.get(self.name)
        # stop starting messages well before the dispatcher's timeout cancels the whole send(): a
        # cancelled send() counts every recipient as unsent, and those already reached would get it twice
        self._budget = channel.timeout / 2 if channel else None

    # -- rendering --------------------------------------------------------------------

    def render(self, alert: Alert, lang: str) -> Message:
        """The rendered alert, with the MIME body every recipient shares as the attachment ``email.eml``."""
        return self.renderer.render(alert, lang)

    def _body(self, message: Message) -> bytes:
        body = next((data for name, data in message.attachments if name == BODY), None)
        return body if body is not None else mime_body(message, self.sender, self.renderer.settings)

    def headers(self, message: Message, to: Recipient, date: str) -> bytes:
        """The header lines of one recipient's copy; PermanentError when the address cannot be used."""
        if not ADDRESS.fullmatch(to.contact):
            raise PermanentError("address cannot be sent over SMTP (not printable ASCII)")
        try:
            subscriber = int(to.key)
        except ValueError:
            raise PermanentError("recipient is not a subscriber") from None
        token = self.signer.make(UNSUBSCRIBE, subscriber, ttl=None)
        unsubscribe = f"<{self.unsubscribe_url}?t={token}>"
        if self.unsubscribe_mailto:
            unsubscribe += f",\r\n <mailto:{self.unsubscribe_mailto}?subject=unsubscribe%20{token}>"
        alert_id = MSGID_UNSAFE.sub("_", message.alert_id)
        return (
            f"To: {to.contact}\r\n"
            f"Message-ID: <{alert_id}.{subscriber}@{self.domain}>\r\n"
            f"Date: {date}\r\n"
            f"List-Unsubscribe: {unsubscribe}\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        ).encode("ascii")

    # -- sending ------------------------------------------------------------------------

    async def send(self, message: Message, to: Recipients) -> None:
        """One message per recipient over the pool; raises PartialDelivery naming those not reached."""
        if not to:
            return
        batch = _Batch(to, self._body(message), formatdate(localtime=True), self._budget)
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(self._pool.size, len(to))):
                tg.create_task(self._work(message, batch))
        unsent = batch.stop or batch.last_error or TransientError("not sent")
        batch.failures.update((r.key, unsent) for r in batch.left)
        if batch.refused:
            await self._report_refused(batch.refused)
        if not batch.failures:
            return
        log.info(
            "email alert=%s recipients=%d sent=%d failed=%d refused=%d",
            message.alert_id,
            len(to),
            batch.sent,
            len(batch.failures),
            len(batch.refused),
        )
        first = next(iter(batch.failures.values()))
        if len(batch.failures) == len(to) and all(_same(e, first) for e in batch.failures.values()):
            raise first  # one cause for the whole batch (auth, a refused sender, the relay down)
        raise PartialDelivery(batch.failures)

    async def _work(self, message: Message, batch: _Batch) -> None:
        """Send to the batch's next recipients over one connection until the batch is done."""
        reconnects = RECONNECTS
        while batch.left and batch.stop is None:
            async with self._pool.slot() as slot:
                try:
                    client = await self._pool.ready(slot)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    self._pool.discard(slot)
                    login = isinstance(exc, aiosmtplib.SMTPAuthenticationError)
                    what = "SMTP authentication failed" if login else "cannot connect to the SMTP relay"
                    error = delivery_error(exc, what)
                    if isinstance(error, PermanentError):  # wrong credentials: nobody in the batch gets through
                        batch.stop = error
                    else:
                        batch.last_error = error
                        log.warning("SMTP connect failed: %s", describe_error(exc))
                    return
                if not await self._drain(client, message, batch):
                    self._pool.discard(slot)
            if reconnects == 0:
                return
            reconnects -= 1

    async def _drain(self, client: aiosmtplib.SMTP, message: Message, batch: _Batch) -> bool:
        """Send on one connection while it works; False when it broke and must be closed."""
        while (to := batch.next()) is not None:
            try:
                data = self.headers(message, to, batch.date) + batch.body
                await self._transaction(client, to.contact, data)
            except PermanentError as exc:  # the address itself is unusable
                batch.failures[to.key] = exc
                self._refused(batch, to)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused = is_permanent(exc)
                batch.failures[to.key] = delivery_error(exc, "address refused" if refused else "address deferred")
                if refused:
                    self._refused(batch, to)
            except aiosmtplib.SMTPSenderRefused as exc:
                if is_permanent(exc):  # our configuration: nobody else in the batch would be accepted either
                    batch.stop = batch.failures[to.key] = delivery_error(exc, "sender refused")
                    return True
                batch.failures[to.key] = batch.last_error = delivery_error(exc, "sender deferred")
                return False
            except aiosmtplib.SMTPDataError as exc:
                closing = exc.code == 421  # the server is closing the connection
                batch.failures[to.key] = error = delivery_error(exc, "SMTP relay" if closing else "message refused")
                if closing:
                    batch.last_error = error
                    return False
            except _NotSent as exc:  # the connection was gone before MAIL: this recipient goes to the next one
                batch.left.appendleft(to)
                batch.last_error = TransientError(f"SMTP relay: {describe_error(exc.__cause__ or exc)}")
                log.info("SMTP connection was closed before MAIL; reconnecting")
                return False
            except (aiosmtplib.SMTPException, OSError) as exc:
                batch.failures[to.key] = batch.last_error = delivery_error(exc, "SMTP relay")
                log.warning("SMTP connection broke after %d sent in this batch: %s", batch.sent, describe_error(exc))
                return False
            else:
                batch.sent += 1
        return True

    async def _transaction(self, client: aiosmtplib.SMTP, address: str, data: bytes) -> None:
        """What ``sendmail(sender, [address], data)`` does, for bytes that are ready to go.

        At bulk rates sendmail's own work dominated the process's CPU: it parses both addresses
        twice per message with email.utils.parseaddr, re-normalises line endings and dot-stuffs the
        whole message, and arms a timer for every reply. headers() has checked the address, the
        body is CRLF and dot-stuffed once in mime_body(), and one deadline covers the transaction.
        """
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    reply = await client.execute_command(b"MAIL", self._mail_from, timeout=None)
                except aiosmtplib.SMTPServerDisconnected as exc:  # e.g. the server's idle timeout
                    raise _NotSent("connection closed before MAIL") from exc
                if reply.code != 250:
                    raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, self.envelope_sender)
                reply = await client.execute_command(b"RCPT", b"TO:<" + address.encode("ascii") + b">", timeout=None)
                if reply.code not in (250, 251):
                    raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, address)
                reply = await client.execute_command(b"DATA", timeout=None)
                if reply.code != 354:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.message)
                protocol = client.protocol
                if protocol is None:
                    raise aiosmtplib.SMTPServerDisconnected("connection lost")
                protocol.write(data + b".\r\n")
                reply = await protocol.read_response(timeout=None)
                if reply.code != 250:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        except aiosmtplib.SMTPResponseException:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()  # leave the connection ready for the next message, as sendmail does
            raise

    @staticmethod
    def _refused(batch: _Batch, to: Recipient) -> None:
        with contextlib.suppress(ValueError):
            batch.refused.append(int(to.key))

    async def _report_refused(self, subscriber_ids: list[int]) -> None:
        log.info("email refused for subscribers %s", ",".join(map(str, subscriber_ids)))
        if self.on_refused is None:
            return
        try:
            await self.on_refused(subscriber_ids)
        except Exception:  # counting bounces must not undo the record of what was delivered
            log.exception("recording %d refusals failed", len(subscriber_ids))

    async def aclose(self) -> None:
        """Close the pool's connections."""
        await self._pool.aclose()


class _NotSent(Exception):
    """The connection broke before a transaction began: nothing of the message reached the server."""


def _same(a: DeliveryError, b: DeliveryError) -> bool:
    return type(a) is type(b) and str(a) == str(b)


def create(
    ctx: ChannelContext,
    *,
    on_refused: RefusalHook | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> EmailChannel:
    """The email channel; MissingCredentials without a relay host or BROADCASTER_SECRET_KEY."""
    from broadcaster.errors import MissingCredentials

    conf = ctx.settings.email
    if not conf.host:
        raise MissingCredentials("no [email] host configured")
    if not ctx.environ.get(SECRET_ENV):
        raise MissingCredentials(f"{SECRET_ENV} is not set (it signs the unsubscribe links)")
    signer = Signer.from_env(ctx.environ)  # ConfigError when set but too short: a mistake, not an absence
    assert signer is not None  # required=True never returns None
    factory = smtp_factory(conf, tls_context=tls_context)
    credentials = smtp_credentials(ctx.environ)
    return EmailChannel(ctx.settings, ctx.renderer, signer, factory, credentials=credentials, on_refused=on_refused)


def smtp_credentials(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """SMTP_USERNAME and SMTP_PASSWORD, or None when the relay needs no login; MissingCredentials if one is missing."""
    from broadcaster.errors import MissingCredentials

    username = environ.get(USERNAME_ENV) or None
    password = environ.get(PASSWORD_ENV) or None
    if (username is None) != (password is None):
        given, missing = (USERNAME_ENV, PASSWORD_ENV) if username else (PASSWORD_ENV, USERNAME_ENV)
        raise MissingCredentials(f"{given} is set but {missing} is not")
    return (username, password) if username and password else None
