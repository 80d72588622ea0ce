"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): SHA-1, 6 digits, 30-second steps.

What every authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP …) makes from a
shared secret. A code is accepted one step either side of now, so a phone clock half a minute off
still works; the caller remembers the step it accepted last so a code is never taken twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import urllib.parse

DIGITS = 6
PERIOD = 30  # seconds per step
WINDOW = 1  # steps accepted either side of now
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for SHA-1


def new_secret() -> str:
    """A random shared secret, as the base32 an authenticator app takes (no padding)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    compact = secret.replace(" ", "").upper()
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226's HOTP value of ``counter`` under ``key`` (dynamic truncation), ``digits`` long."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step(now: float) -> int:
    """The time step ``now`` falls in."""
    return int(now // PERIOD)


def code(secret: str, now: float) -> str:
    """The code an authenticator app shows at ``now`` for a base32 ``secret``."""
    return hotp(_key(secret), step(now))


def verify(secret: str, given: str, now: float, after: int = 0) -> int | None:
    """The step whose code ``given`` is (within WINDOW of now, later than step ``after``), or None.

    Spaces in ``given`` are ignored; anything other than DIGITS digits is simply wrong.
    """
    given = given.replace(" ", "")
    if len(given) != DIGITS or not (given.isascii() and given.isdigit()):
        return None
    key, now_step = _key(secret), step(now)
    for candidate in range(now_step - WINDOW, now_step + WINDOW + 1):
        # compare_digest: how much of a wrong code matched must not show in the time taken
        if candidate > after and hmac.compare_digest(hotp(key, candidate), given):
            return candidate
    return None


def uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code or pasted) to add the account."""
    label = urllib.parse.quote(f"{issuer}:{account}", safe="")
    query = urllib.parse.urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": PERIOD},
        quote_via=urllib.parse.quote,
    )
    return f"otpauth://totp/{label}?{query}"


def spaced(secret: str) -> str:
    """A secret in groups of four, easier to type by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
