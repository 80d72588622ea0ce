"""The one SMTP error classifier: a table of what aiosmtplib raises and what the dispatcher is told."""

from __future__ import annotations

import aiosmtplib
import pytest

from broadcaster.errors import DeliveryError, PermanentError, TransientError
from channels.email.smtp_errors import delivery_error, describe_error, is_permanent, scrub

RECIPIENT_5XX = aiosmtplib.SMTPRecipientRefused(550, "5.1.1 <a@example.jp> unknown", "a@example.jp")
RECIPIENT_4XX = aiosmtplib.SMTPRecipientRefused(450, "4.2.0 mailbox busy", "b@example.jp")

TABLE: list[tuple[str, BaseException, type[DeliveryError], str]] = [
    ("recipient 5xx", RECIPIENT_5XX, PermanentError, "550 5.1.1 <address> unknown"),
    ("recipient 4xx", RECIPIENT_4XX, TransientError, "450 4.2.0 mailbox busy"),
    ("every recipient 5xx", aiosmtplib.SMTPRecipientsRefused([RECIPIENT_5XX]), PermanentError, "550"),
    ("one recipient of two 4xx", aiosmtplib.SMTPRecipientsRefused([RECIPIENT_5XX, RECIPIENT_4XX]), TransientError,
     "550 5.1.1 <address> unknown; 450"),
    ("sender 5xx", aiosmtplib.SMTPSenderRefused(553, "not ours", "x@example.jp"), PermanentError, "553 not ours"),
    ("sender 4xx", aiosmtplib.SMTPSenderRefused(451, "try later", "x@example.jp"), TransientError, "451"),
    ("wrong password", aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), PermanentError, "535"),
    ("closing", aiosmtplib.SMTPDataError(421, "closing"), TransientError, "421 closing"),
    ("content refused", aiosmtplib.SMTPDataError(554, "spam"), PermanentError, "554 spam"),
    ("dropped", aiosmtplib.SMTPServerDisconnected("gone"), TransientError, "SMTPServerDisconnected: gone"),
    ("timeout", aiosmtplib.SMTPTimeoutError("slow"), TransientError, "timed out"),
    ("refused connection", ConnectionRefusedError(111, "Connection refused"), TransientError, "ConnectionRefusedError"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "kind", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_classifies_and_describes(exc: BaseException, kind: type[DeliveryError], words: str) -> None:
    error = delivery_error(exc, "mail relay")
    assert type(error) is kind
    assert is_permanent(exc) == (kind is PermanentError)
    assert str(error).startswith(f"mail relay: {words}")
    assert "@" not in describe_error(exc)  # never an address


def test_scrub_hides_addresses_and_cuts_long_replies() -> None:
    assert scrub("550 <someone@example.jp> no such user, nobody@example.jp either") == (
        "550 <address> no such user, <address> either"
    )
    assert len(scrub("x" * 500)) == 200
