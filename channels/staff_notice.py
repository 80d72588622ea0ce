"""Approval notices to staff (broadcaster/approval_notice.py's Notifier): mail and LINE push.

Mail goes through the [email] relay, one connection per notice (there are few). LINE is a push
message to the account's own LINE user id, from the city's LINE official account, with an
``X-Line-Retry-Key`` derived from the notice, so a retry after a lost answer never pushes twice. A
medium without its relay or credentials writes the notice to the outbox folder instead
(``<outbox>/staff/<time>-<account>.<medium>.txt``), naming the account, never its address.

Errors become DeliveryError here, once: a LINE 4xx other than 429, or an SMTP refusal the mail
channel's classifier calls permanent, is permanent; 429, 5xx, timeouts and lost connections are
transient. Mail
addresses and LINE user ids are personal data: they never appear in an error, a log line or the
outbox.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

import aiohttp
import aiosmtplib

from broadcaster.approval_notice import Medium, Notice
from broadcaster.errors import MissingCredentials, PermanentError, TransientError
from broadcaster.files import write_atomic
from broadcaster.settings import Settings
from channels.email.channel import smtp_credentials, smtp_factory
from channels.email.pool import abort_connection
from channels.email.smtp_errors import delivery_error
from channels.line import TOKEN_ENV

LINE_API = "https://api.line.me"  # when [line] api_host is empty
PUSH_PATH = "/v2/bot/message/push"
LINE_TEXT_LIMIT = 5000  # characters of one text message
RETRY_KEYS = uuid.UUID("0d6f3f5e-9f1a-4c51-9d55-3b0f2c7f8a11")  # uuid5 namespace of push retry keys; never change it


class StaffNotifier:
    """Sends approval notices by mail and LINE, or writes them to the outbox where a medium is not set up."""

    def __init__(self, settings: Settings, environ: Mapping[str, str], tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.outbox = settings.path(settings.storage.outbox_dir) / "staff"
        self.notices: list[str] = []  # what runs as the outbox, and why, for the start-up log
        self._credentials: tuple[str, str] | None = None
        self._mail = bool(settings.email.host)
        if not self._mail:
            self.notices.append(f"approval notices by mail: no [email] host; writing to {self.outbox}")
        else:
            try:
                self._credentials = smtp_credentials(environ)
            except MissingCredentials as exc:
                self._mail = False
                self.notices.append(f"approval notices by mail: {exc}; writing to {self.outbox}")
        self._smtp = smtp_factory(settings.email, tls_context=tls)
        self._token = environ.get(TOKEN_ENV, "").strip()
        if not self._token:
            self.notices.append(f"approval notices by LINE: {TOKEN_ENV} is not set; writing to {self.outbox}")
        self._push_url = (settings.line.api_host or LINE_API).rstrip("/") + PUSH_PATH
        self._timeout = aiohttp.ClientTimeout(total=settings.line.request_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, notice: Notice) -> None:
        """Send one notice, or write it to the outbox; DeliveryError when it did not go."""
        if notice.medium == Medium.MAIL:
            await (self._send_mail(notice) if self._mail else self._write(notice))
        else:
            await (self._push(notice) if self._token else self._write(notice))

    async def _send_mail(self, notice: Notice) -> None:
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = self.settings.email.sender
        message["To"] = notice.address
        message["Subject"] = notice.subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.settings.email.sender.rpartition("@")[2].rstrip(">") or None)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
        message.set_content(notice.text, charset="utf-8", cte="base64")
        client = self._smtp()
        try:
            await client.connect()
            if self._credentials:
                await client.login(*self._credentials)
            await client.send_message(message)
            await client.quit()
        except (OSError, aiosmtplib.SMTPException) as exc:
            raise delivery_error(exc, "mail") from exc  # scrubbed of addresses
        finally:
            abort_connection(client)

    async def _push(self, notice: Notice) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        text = f"{notice.subject}\n\n{notice.text}"[:LINE_TEXT_LIMIT]
        body = {"to": notice.address, "messages": [{"type": "text", "text": text}]}
        headers = {
            "Authorization": f"Bearer {self._token}",
            "X-Line-Retry-Key": str(uuid.uuid5(RETRY_KEYS, notice.key)),
        }
        try:
            async with self._session.post(self._push_url, json=body, headers=headers) as response:
                status = response.status
                await response.read()
        except TimeoutError as exc:
            raise TransientError("LINE push: no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"LINE push: {type(exc).__name__}") from exc
        if status < 300 or status == 409:  # 409: this retry key was accepted before
            return
        if status == 429 or status >= 500:
            raise TransientError(f"LINE push: {status}")
        raise PermanentError(f"LINE push: {status}")  # the answer's body may quote the user id: not kept

    async def _write(self, notice: Notice) -> None:
        text = f"To: account {notice.account} ({notice.medium})\nSubject: {notice.subject}\n\n{notice.text}"
        name = f"{time.time_ns()}-{notice.account}.{notice.medium}.txt"
        try:
            await asyncio.to_thread(write_atomic, self.outbox / name, text.encode())
        except OSError as exc:
            raise TransientError(f"outbox: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        """Close the LINE session."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
