"""A local fake of Mastodon's POST /api/v1/statuses that checks requests the way Mastodon does.

It checks the bearer token (401), the status text (422 when empty or over 500 characters, counted as
grapheme clusters with each URL as 23), the visibility, and that a reply names a status it holds (404).
An ``Idempotency-Key`` seen before gets the status made for it, and no new one. Tests inject a 429
(with ``X-RateLimit-Reset``), a 500, or a hang for the next requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from tests.fakes import serve as serve

TOKEN = "fake-mastodon-token"
LIMIT = 500
URL = re.compile(r"https?://\S+")
VISIBILITIES = ("public", "unlisted", "private", "direct")
HANG_LIMIT_S = 60.0


class Fault(StrEnum):
    RATE = "rate"  # 429 with X-RateLimit-Reset
    ERROR = "error"  # 500
    HANG = "hang"  # no answer until released


@dataclass
class Status:
    """One status the fake made."""

    id: str
    text: str
    visibility: str
    language: str | None
    in_reply_to_id: str | None


def characters(text: str) -> int:
    """Mastodon's count, done independently of the channel: code points that start a cluster, URLs as 23."""
    text = URL.sub("x" * 23, text)
    count, after_zwj = 0, False
    for ch in text:
        joins = unicodedata.combining(ch) or unicodedata.category(ch) == "Mn" or ch in "\u200d\ufe0f\ufe0e"
        if not (joins or after_zwj or 0x1F3FB <= ord(ch) <= 0x1F3FF):
            count += 1
        after_zwj = ch == "\u200d"
    return count


class FakeMastodon:
    """The fake's state: statuses made, keys seen, and the faults still to come."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.statuses: dict[str, Status] = {}
        self.keys: dict[str, str] = {}  # Idempotency-Key -> status id
        self.answered: list[int] = []
        self._ids = itertools.count(110_000_000_000_000_001)
        self._faults: deque[Fault] = deque()
        self._release = asyncio.Event()

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` requests fail this way."""
        self._faults.extend([fault] * times)

    def release(self) -> None:
        """Let hung requests finish."""
        self._release.set()

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/api/v1/statuses", self.post_status)
        return app

    async def post_status(self, request: web.Request) -> web.Response:
        """POST /api/v1/statuses."""
        response = await self._answer(request)
        self.answered.append(response.status)
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        if self._faults:
            fault = self._faults.popleft()
            if fault == Fault.HANG:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HANG_LIMIT_S):
                        await self._release.wait()
                return web.json_response({"error": "released"}, status=503)
            if fault == Fault.ERROR:
                return web.json_response({"error": "Internal server error"}, status=500)
            reset = datetime.fromtimestamp(time.time() + 300, UTC).isoformat()
            return web.json_response({"error": "Too many requests"}, status=429, headers={"X-RateLimit-Reset": reset})
        key = request.headers.get("Idempotency-Key")
        if key and key in self.keys:
            return web.json_response(self._json(self.statuses[self.keys[key]]))
        try:
            body: Any = await request.json()
        except ValueError:
            return web.json_response({"error": "The body is not JSON"}, status=400)
        text = body.get("status") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "Validation failed: Text can't be blank"}, status=422)
        if characters(text) > LIMIT:
            return web.json_response(
                {"error": f"Validation failed: Text character limit of {LIMIT} exceeded"}, status=422
            )
        visibility = body.get("visibility", "public")
        if visibility not in VISIBILITIES:
            return web.json_response({"error": "Validation failed: Visibility is not included in the list"}, status=422)
        reply_to = body.get("in_reply_to_id")
        if reply_to is not None and reply_to not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        status = Status(str(next(self._ids)), text, visibility, body.get("language"), reply_to)
        self.statuses[status.id] = status
        if key:
            self.keys[key] = status.id
        return web.json_response(self._json(status))

    @staticmethod
    def _json(status: Status) -> dict[str, Any]:
        return {
            "id": status.id,
            "content": f"<p>{status.text}</p>",
            "visibility": status.visibility,
            "language": status.language,
            "in_reply_to_id": status.in_reply_to_id,
            "created_at": datetime.now(UTC).isoformat(),
        }
