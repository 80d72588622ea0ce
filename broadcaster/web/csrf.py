"""CSRF protection for the public forms: a signed double-submit token.

A browser gets a random value in an HttpOnly, SameSite=Strict cookie; each form carries an HMAC
of that value. A post is accepted only when the field matches the cookie's HMAC, which a page on
another site can neither read nor compute (and a cookie planted from a sibling domain has no valid
field without the server's key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

COOKIE = "csrf"
FIELD = "csrf"


class Csrf:
    """Issues and checks tokens with one secret."""

    def __init__(self, secret: bytes, secure: bool) -> None:
        self._key = hashlib.sha256(b"csrf\0" + secret).digest()  # never the same key as the link tokens
        self.secure = secure  # the cookie only over https when the public URL is https

    def token(self, request: web.Request, response: web.StreamResponse) -> str:
        """The form field for this browser, setting its cookie when it has none yet."""
        value = request.cookies.get(COOKIE, "")
        if len(value) < 16:
            value = secrets.token_urlsafe(24)
            response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", secure=self.secure, path="/")
        return self._field(value)

    def check(self, request: web.Request, field: str) -> bool:
        """Whether a posted form's field belongs to the cookie the browser sent."""
        value = request.cookies.get(COOKIE, "")
        return len(value) >= 16 and hmac.compare_digest(field, self._field(value))

    def _field(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
