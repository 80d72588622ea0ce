"""Signed, expiring tokens for links in messages and pages (confirm, manage, unsubscribe).

A token is ``payload.signature``: the payload is base64url JSON {p: purpose, s: subscriber id,
e: expiry}, the signature HMAC-SHA256 over it with BROADCASTER_SECRET_KEY. A token made for one
purpose never passes for another, and nothing in it is personal data. A token is checked as bytes,
so one of any characters is an invalid link (InputError), never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from broadcaster.errors import ConfigError, InputError

SECRET_ENV = "BROADCASTER_SECRET_KEY"
MIN_SECRET_BYTES = 16


@dataclass(frozen=True, slots=True)
class Signer:
    """Makes and checks tokens with one secret."""

    secret: bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, required: bool = True) -> Signer | None:
        """The signer for BROADCASTER_SECRET_KEY; ConfigError if it is required and missing or short."""
        value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
        if len(value.encode()) < MIN_SECRET_BYTES:
            if required:
                raise ConfigError(f"{SECRET_ENV} must be set to at least {MIN_SECRET_BYTES} bytes of secret")
            return None
        return cls(value.encode())

    def make(self, purpose: str, subscriber_id: int, ttl: float | None, now: float | None = None) -> str:
        """A token for ``purpose`` and one subscriber, valid for ``ttl`` seconds (None: no expiry)."""
        expiry = None if ttl is None else int((now if now is not None else time.time()) + ttl)
        payload = json.dumps({"p": purpose, "s": subscriber_id, "e": expiry}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        return f"{body.decode()}.{self._sign(body)}"

    def check(self, token: str, purpose: str, now: float | None = None) -> int:
        """The subscriber id in a valid token for ``purpose``; InputError otherwise (no detail on why)."""
        # surrogatepass: a str may hold lone surrogates (bytes that were not UTF-8); they compare as unequal
        body, _, signature = token.encode("utf-8", "surrogatepass").partition(b".")
        if not body or not hmac.compare_digest(signature, self._sign(body).encode()):
            raise InputError("this link is not valid")
        try:
            data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except ValueError:
            raise InputError("this link is not valid") from None
        if not isinstance(data, dict) or data.get("p") != purpose or not isinstance(data.get("s"), int):
            raise InputError("this link is not valid")
        expiry = data.get("e")
        if expiry is not None and (now if now is not None else time.time()) > expiry:
            raise InputError("this link has expired")
        return int(data["s"])

    def _sign(self, body: bytes) -> str:
        digest = hmac.new(self.secret, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
