"""A real SMTP server for tests: aiosmtpd in-process, requiring STARTTLS and AUTH.

``Mailbox`` keeps every message it accepts, as bytes, and misbehaves on request: it refuses chosen
addresses, drops the connection mid-batch (once, or staying down), hangs, or closes connections
after each message. The ``relay`` fixture (tests/conftest.py) runs one per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.processes import free_port

USER, PASSWORD = "anshin-mail", "correct horse battery staple"


@dataclasses.dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: bytes | None

    def parsed(self) -> EmailMessage:
        """The message as the email package reads it."""
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class Mailbox:
    """An aiosmtpd handler (it runs on the server's thread) that records and misbehaves on request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()  # RCPT of these gets 550
        self.drop_after: int | None = None  # once this many are accepted, the next DATA is dropped unanswered
        self.stay_down = False  # after that drop, drop every connection at MAIL until cleared
        self.down = False
        self.hang = False  # DATA never answers
        self.close_after_data = False  # accept, then close the connection (an idle timeout, sooner)
        self.noops = 0
        self._lock = threading.Condition()  # notified on each accepted message

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept USER/PASSWORD; handled=False makes aiosmtpd answer 535 (handled=True would never answer)."""
        if isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.down:
            server.transport.close()
            return "421 4.3.2 going down"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            # real servers quote the address back: the channel must keep it out of errors and logs
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.hang:
            await asyncio.Event().wait()
        with self._lock:
            if self.down or (self.drop_after is not None and len(self.received) >= self.drop_after):
                self.drop_after = None
                self.down = self.stay_down
                server.transport.close()
                return "421 4.3.2 dropped"
            assert isinstance(envelope.original_content, bytes) and envelope.mail_from is not None
            login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
            self.received.append(
                Received(
                    envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    envelope.original_content,
                    session.ssl is not None,
                    login,
                )
            )
            self._lock.notify_all()
        if self.close_after_data:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply is written
        return "250 2.0.0 OK queued"

    async def handle_NOOP(self, server: SMTPServer, session: Session, envelope: Envelope, arg: str) -> str:
        self.noops += 1
        return "250 OK"

    def wait(self, n: int, timeout: float) -> bool:
        """Block until ``n`` messages were accepted (False after ``timeout`` seconds); for a worker thread."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.received) >= n, timeout)

    def to(self) -> list[str]:
        """The envelope recipients of every accepted message, in order."""
        return [r for m in self.received for r in m.rcpt_tos]


@dataclasses.dataclass
class Relay:
    """A running aiosmtpd with its mailbox, and a client TLS context that trusts its certificate."""

    port: int
    mailbox: Mailbox
    client_tls: ssl.SSLContext


@contextlib.contextmanager
def running_relay(ca: trustme.CA) -> Iterator[Relay]:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticate,
    )
    controller.start()
    try:
        yield Relay(controller.port, mailbox, client_tls)
    finally:
        controller.stop()
