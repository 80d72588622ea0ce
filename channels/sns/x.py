"""X (Twitter) through tweepy's AsyncClient, with OAuth 1.0a user context from the environment.

tweepy hard-codes ``https://api.twitter.com``; ``client.session`` is replaced by a session that keeps
one aiohttp connection pool and sends tweepy's requests to ``[sns] x_api_base`` (tests point it at a
local fake). The OAuth signature is still computed over the canonical host, as X verifies it.

Errors: a 429 waits until ``x-rate-limit-reset``; 5xx, timeouts and dropped connections are transient;
401, 400 and 403 are permanent. A 403 "duplicate content" is permanent and *not* taken as posted: X does
not say which post it matched, so the thread could not be continued under it, and the same text may be
someone else's old post of ours. The first post of every thread holds the alert's own link, so a
duplicate there means an earlier attempt of ours got through and was lost in a crash: the error says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import tweepy  # type: ignore[import-untyped]
from tweepy.asynchronous import AsyncClient  # type: ignore[import-untyped]
from yarl import URL

from broadcaster.errors import DeliveryError, MissingCredentials, PermanentError, TransientError
from channels.sns.target import COUNTING, CREDENTIALS, PostRef, weighted_length

ENV = CREDENTIALS["x"]
TWEEPY_BASE = "https://api.twitter.com"  # what tweepy puts before every route
LIMIT = COUNTING["x"].limit
DUPLICATE = "duplicate content"


class RewritingSession:
    """What tweepy calls as ``client.session``: one aiohttp session, tweepy's host swapped for ``base``."""

    def __init__(self, base: str, timeout: float) -> None:
        self._base = base.rstrip("/")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        """aiohttp's request context manager for ``url`` on the configured host."""
        target = str(url)
        if target.startswith(TWEEPY_BASE):
            target = self._base + target[len(TWEEPY_BASE) :]
        # tweepy hands over an already percent-encoded URL (it signed that exact form)
        return self._session.request(method, URL(target, encoded=True), **kwargs)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._session.close()


class XTarget:
    """Posts to X; each thread part replies to the one before."""

    name = "x"
    limit = LIMIT
    counts_quota = True  # X's posting cap is scarce: the channel keeps a reserve for disasters

    def __init__(
        self, keys: tuple[str, str, str, str], base: str, timeout: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._base = base
        self._timeout = timeout
        self._clock = clock
        self._client: Any = None  # made on first use: its aiohttp session needs the running loop

    def measure(self, text: str) -> int:
        """X's weighted length."""
        return weighted_length(text)

    async def post(
        self, text: str, *, root: PostRef | None, parent: PostRef | None, key: str, lang: str = "ja"
    ) -> PostRef:
        """Create one post (a reply to ``parent`` when given); returns its id. X takes no language: it detects it."""
        if self._client is None:
            key, secret, token, token_secret = self._keys
            client = AsyncClient(
                consumer_key=key,
                consumer_secret=secret,
                access_token=token,
                access_token_secret=token_secret,
                wait_on_rate_limit=False,  # a 429 goes back to the dispatcher, which waits
            )
            client.session = RewritingSession(self._base, self._timeout)
            self._client = client
        try:
            response = await self._client.create_tweet(text=text, in_reply_to_tweet_id=parent, user_auth=True)
        except tweepy.HTTPException as exc:
            raise self._translate(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"X: {type(exc).__name__}: {exc}") from exc
        data = response.data if isinstance(response.data, dict) else {}
        if not data.get("id"):
            raise TransientError("X: answer without a post id")
        return str(data["id"])

    def _translate(self, exc: Any) -> DeliveryError:
        status = int(getattr(exc.response, "status", 0) or 0)
        detail = "; ".join(str(m) for m in exc.api_messages)[:200] or str(status)
        if isinstance(exc, tweepy.TooManyRequests):
            reset = exc.reset_time
            wait = max(1.0, reset - self._clock()) if reset is not None else 60.0
            return TransientError(f"X: 429 rate limited until x-rate-limit-reset: {detail}", retry_after=wait)
        if isinstance(exc, tweepy.TwitterServerError):
            return TransientError(f"X: {status} {detail}")
        if isinstance(exc, tweepy.Forbidden) and DUPLICATE in detail.lower():
            return PermanentError(f"X: 403 duplicate content (already on X from an earlier attempt?): {detail}")
        return PermanentError(f"X: {status} {detail}")

    async def aclose(self) -> None:
        """Close the session."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.session.close()


def from_env(environ: Mapping[str, str], base: str, timeout: float) -> XTarget:
    """The X target, or MissingCredentials naming the variables that are not set."""
    values = [environ.get(name, "").strip() for name in ENV]
    missing = [name for name, value in zip(ENV, values, strict=True) if not value]
    if missing:
        raise MissingCredentials("x: " + ", ".join(missing) + (" is" if len(missing) == 1 else " are") + " not set")
    return XTarget((values[0], values[1], values[2], values[3]), base, timeout)
