"""Mastodon through its HTTP API (POST /api/v1/statuses) with aiohttp: an optional extra SNS target.

Each post carries an ``Idempotency-Key`` derived from (alert, part), so a retry after a lost answer
gets the status Mastodon already made instead of a second one (Mastodon keeps keys for an hour; the
channel's own record covers longer gaps). Length is counted as Mastodon does: grapheme clusters,
every URL as 23.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from broadcaster.errors import DeliveryError, MissingCredentials, PermanentError, TransientError
from channels.sns.target import COUNTING, CREDENTIALS, PostRef, mastodon_length

(TOKEN_ENV,) = CREDENTIALS["mastodon"]
LIMIT = COUNTING["mastodon"].limit


def iso639(tag: str) -> str:
    """A status's ``language``: Mastodon takes ISO 639 codes, so "pt-BR" is "pt" and "zh-Hans" is "zh"."""
    return tag.split("-")[0].lower()


class MastodonTarget:
    """Posts public statuses, each in its language; thread parts reply to the one before."""

    name = "mastodon"
    limit = LIMIT
    counts_quota = False

    def __init__(self, base_url: str, token: str, timeout: float, clock: Callable[[], float] = time.time) -> None:
        self._url = base_url.rstrip("/") + "/api/v1/statuses"
        self._token = token
        self._timeout = timeout
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def measure(self, text: str) -> int:
        """Mastodon's length."""
        return mastodon_length(text)

    async def post(
        self, text: str, *, root: PostRef | None, parent: PostRef | None, key: str, lang: str = "ja"
    ) -> PostRef:
        """Create one status (a reply to ``parent`` when given) under ``key``; returns its id."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        body: dict[str, Any] = {"status": text, "visibility": "public", "language": iso639(lang)}
        if parent is not None:
            body["in_reply_to_id"] = parent
        headers = {"Authorization": f"Bearer {self._token}", "Idempotency-Key": key}
        try:
            async with self._session.post(self._url, json=body, headers=headers) as response:
                data = await response.json(content_type=None) if response.content_length != 0 else None
                if response.status == 200 and isinstance(data, dict) and data.get("id"):
                    return str(data["id"])
                raise self._translate(response.status, response.headers, data)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # ValueError: a body that is not JSON
            raise TransientError(f"mastodon: {type(exc).__name__}: {exc}") from exc

    def _translate(self, status: int, headers: Mapping[str, str], data: object) -> DeliveryError:
        detail = str(data.get("error", "")) if isinstance(data, dict) else ""
        detail = f"{status} {detail[:200]}".strip()
        if status == 429:
            return TransientError(f"mastodon: {detail}", retry_after=self._reset_in(headers))
        if status >= 500 or status == 200:  # a 200 without a status id: try again with the same key
            return TransientError(f"mastodon: {detail}")
        return PermanentError(f"mastodon: {detail}")

    def _reset_in(self, headers: Mapping[str, str]) -> float:
        """Seconds until X-RateLimit-Reset (an ISO 8601 time), at least 1."""
        try:
            reset = datetime.fromisoformat(headers.get("X-RateLimit-Reset", "").replace("Z", "+00:00"))
        except ValueError:
            return 60.0
        return max(1.0, reset.timestamp() - self._clock())

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def from_env(environ: Mapping[str, str], base_url: str, timeout: float) -> MastodonTarget:
    """The Mastodon target, or MissingCredentials when the instance or the token is missing."""
    if not base_url:
        raise MissingCredentials("mastodon: [sns] mastodon_url is not set")
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise MissingCredentials(f"mastodon: {TOKEN_ENV} is not set")
    return MastodonTarget(base_url, token, timeout)
