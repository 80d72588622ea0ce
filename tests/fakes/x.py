"""A local fake of X's POST /2/tweets that checks requests the way X does.

It checks the OAuth 1.0a Authorization header: every required parameter, HMAC-SHA1, the consumer key
and token, a fresh nonce, and the signature itself, computed over the canonical
``https://api.twitter.com`` URL that tweepy signs (401 otherwise). It checks the JSON body, the weighted
length with twitter-text (≤ 280), that a reply names a post it made, and refuses a text identical to
one already posted with X's 403 "duplicate content". Tests inject a 429 (with ``x-rate-limit-reset``),
a 500, or a hang for the next requests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import itertools
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature  # type: ignore[import-untyped]
from twitter_text import parse_tweet  # type: ignore[import-untyped]

from tests.fakes import serve as serve

CONSUMER_KEY, CONSUMER_SECRET = "fake-x-api-key", "fake-x-api-secret"
ACCESS_TOKEN, ACCESS_SECRET = "fake-x-access-token", "fake-x-access-token-secret"
ENVIRON = {
    "X_API_KEY": CONSUMER_KEY,
    "X_API_SECRET": CONSUMER_SECRET,
    "X_ACCESS_TOKEN": ACCESS_TOKEN,
    "X_ACCESS_TOKEN_SECRET": ACCESS_SECRET,
}
SIGNED_HOST = "https://api.twitter.com"  # OAuth signs the URL the client meant, not the fake's
REQUIRED = ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method", "oauth_timestamp")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
HANG_LIMIT_S = 60.0


class Fault(StrEnum):
    RATE = "rate"  # 429 with x-rate-limit-reset
    ERROR = "error"  # 500
    HANG = "hang"  # no answer until released (the client times out)


@dataclass
class Tweet:
    """One post the fake accepted."""

    id: str
    text: str
    reply_to: str | None
    accepted_at: float = 0.0  # time.time() when the fake accepted it (bench/broadcast_latency.py)


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
    return web.json_response(body, status=status, headers=headers)


class FakeX:
    """The fake's state: accepted posts, answered statuses, and the faults still to come."""

    def __init__(self, reset_in: float = 900.0) -> None:
        self.tweets: dict[str, Tweet] = {}
        self.statuses: list[int] = []
        self.reset_in = reset_in  # a 429's x-rate-limit-reset is this far ahead
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self._nonces: set[str] = set()
        self._faults: deque[Fault | None] = deque()  # None: that request is served normally
        self._release = asyncio.Event()

    def inject(self, fault: Fault, times: int = 1, after: int = 0) -> None:
        """Make ``times`` post requests fail this way, once ``after`` more have been served."""
        self._faults.extend([None] * after + [fault] * times)

    def release(self) -> None:
        """Let hung requests finish."""
        self._release.set()

    def texts(self) -> list[str]:
        """The texts posted, in order."""
        return [t.text for t in self.tweets.values()]

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/2/tweets", self.create_tweet)
        return app

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        try:
            params = dict(
                signature.collect_parameters(headers={"Authorization": header}, exclude_oauth_signature=False)
            )
        except ValueError:
            return False
        if any(not params.get(k) for k in REQUIRED) or params.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        if params.get("oauth_version", "1.0") != "1.0" or params["oauth_consumer_key"] != CONSUMER_KEY:
            return False
        if params.get("oauth_token") != ACCESS_TOKEN or params["oauth_nonce"] in self._nonces:
            return False
        if abs(int(params["oauth_timestamp"]) - time.time()) > 300:
            return False
        signed = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        signed += [(unquote(k), unquote(v)) for k, v in request.url.query.items()]
        base = signature.signature_base_string(
            request.method,
            signature.base_string_uri(SIGNED_HOST + request.path),
            signature.normalize_parameters(signed),
        )
        key = f"{quote(CONSUMER_SECRET, safe='~')}&{quote(ACCESS_SECRET, safe='~')}".encode()
        expected = base64.b64encode(hmac.digest(key, base.encode(), "sha1")).decode()
        if not hmac.compare_digest(expected, params["oauth_signature"]):
            return False
        self._nonces.add(params["oauth_nonce"])
        return True

    async def create_tweet(self, request: web.Request) -> web.Response:
        """POST /2/tweets."""
        response = await self._answer(request)
        self.statuses.append(response.status)
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _problem(401, "Unauthorized", "Unauthorized")
        fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            if fault == Fault.HANG:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HANG_LIMIT_S):
                        await self._release.wait()
                return _problem(503, "Service Unavailable", "released")
            if fault == Fault.ERROR:
                return _problem(500, "Internal Server Error", "Internal error")
            reset = str(int(time.time() + self.reset_in))
            return _problem(429, "Too Many Requests", "Too Many Requests", {"x-rate-limit-reset": reset})
        try:
            body: Any = await request.json()
        except ValueError:
            return _problem(400, "Invalid Request", "The request body is not JSON")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
        parsed = parse_tweet(text)
        if not parsed.valid:
            return _problem(400, "Invalid Request", f"text is too long (weighted length {parsed.weightedLength})")
        reply = body.get("reply")
        reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if reply is not None and reply_to not in self.tweets:
            return _problem(
                403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        if any(t.text == text for t in self.tweets.values()):
            return _problem(403, "Forbidden", DUPLICATE)
        tweet = Tweet(str(next(self._ids)), text, reply_to, time.time())
        self.tweets[tweet.id] = tweet
        data = {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}
        return web.json_response({"data": data}, status=201)
