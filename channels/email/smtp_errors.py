"""SMTP errors in one place: what aiosmtplib (or the socket) raised, in words without addresses, and
whether sending again can help.

The rule every SMTP sender here follows (safety mail, subscription mail, the ticker's station mail):
a 5xx reply is permanent, since the same message would be refused again; a 4xx reply, a timeout or a
dropped connection is transient. A refusal of several recipients at once is permanent only when every
one of them got a 5xx. Server replies like to quote addresses back; they are scrubbed before they
reach an error or a log line, because addresses are personal data.
"""

from __future__ import annotations

import re

import aiosmtplib

from broadcaster.errors import DeliveryError, PermanentError, TransientError

ANY_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


def scrub(text: str) -> str:
    """A server reply without the addresses servers like to quote back, cut short."""
    return ANY_ADDRESS.sub("<address>", text)[:200]


def describe_error(exc: BaseException) -> str:
    """An SMTP or socket error in a few words, without addresses."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {scrub(r.message)}" for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {scrub(exc.message)}"
    if isinstance(exc, TimeoutError):  # aiosmtplib's SMTPTimeoutError is one too
        return "timed out"
    text = scrub(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_permanent(exc: BaseException) -> bool:
    """True for a 5xx refusal (of every recipient, when several were refused): sending again cannot help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):  # no code of its own; one per recipient
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """``exc`` as the error the dispatcher acts on: PermanentError or TransientError, ``what`` in front."""
    kind = PermanentError if is_permanent(exc) else TransientError
    return kind(f"{what}: {describe_error(exc)}")
