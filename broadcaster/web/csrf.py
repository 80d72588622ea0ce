"""CSRF protection for the public forms: a signed double-submit token.

A browser gets a random value in an HttpOnly, SameSite=Strict cookie; each form carries an HMAC
of that value. A post is accepted only when the field matches the cookie's HMAC, which a page on
another site can neither read nor compute (and a cookie planted from a sibling domain has no valid
field without the server's key). Whatever a browser sends is compared as bytes, so a field or a
cookie of any characters is a refusal (403), never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from aiohttp import web

from broadcaster.web.inputs import as_bytes

COOKIE = "csrf"
FIELD = "csrf"
VALUE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # a cookie value as token() makes it (32 characters)


class Csrf:
    """Issues and checks tokens with one secret."""

    def __init__(self, secret: bytes, secure: bool) -> None:
        self._key = hashlib.sha256(b"csrf\0" + secret).digest()  # never the same key as the link tokens
        self.secure = secure  # the cookie only over https when the public URL is https

    def token(self, request: web.Request, response: web.StreamResponse) -> str:
        """The form field for this browser, setting its cookie when it has none yet."""
        value = request.cookies.get(COOKIE, "")
        if not VALUE.fullmatch(value):  # none yet, or not one of ours: a fresh one
            value = secrets.token_urlsafe(24)
            response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", secure=self.secure, path="/")
        return self._field(value)

    def check(self, request: web.Request, field: str) -> bool:
        """Whether a posted form's field belongs to the cookie the browser sent."""
        value = request.cookies.get(COOKIE, "")
        return bool(VALUE.fullmatch(value)) and hmac.compare_digest(as_bytes(field), as_bytes(self._field(value)))

    def _field(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
