"""A local fake of a Bluesky PDS: the XRPC methods atproto's AsyncClient calls to log in and post.

createSession (counts logins; 401 for a wrong password), refreshSession (rotates the pair; the old
refresh token is spent), app.bsky.actor.getProfile (the client calls it at login), and
com.atproto.repo.createRecord (the repo must be the account, the record an app.bsky.feed.post of at
most 300 graphemes with createdAt, a reply must name records it holds). Tokens are JWTs with ``exp``,
as the client reads them; a bad or expired access token gets 400 ExpiredToken like a real PDS.
``expire_sessions()`` makes every access token issued so far expired; ``revoke_sessions()`` the
refresh tokens too. Tests inject a 429, a 500 or a hang for the next createRecord calls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from tests.fakes import serve as serve

HANDLE, PASSWORD = "oyama-city.bsky.social", "fake-app-password"
ENVIRON = {"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": PASSWORD}
DID = "did:plc:fakeoyamacity0000000000"
LIMIT = 300  # graphemes
POST = "app.bsky.feed.post"
HANG_LIMIT_S = 60.0


class Fault(StrEnum):
    RATE = "rate"  # 429 with ratelimit-reset
    ERROR = "error"  # 500
    HANG = "hang"  # no answer until released


@dataclass
class Record:
    """One post the fake stored."""

    uri: str
    cid: str
    value: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(scope: str, ttl: float) -> str:
    """A JWT shaped like a PDS's (the fake keeps its own list of valid tokens; the signature is random)."""
    now = int(time.time())
    payload = {"scope": scope, "sub": DID, "iat": now, "exp": now + int(ttl), "jti": secrets.token_hex(8)}
    header = {"typ": "at+jwt" if scope == "com.atproto.access" else "refresh+jwt", "alg": "HS256"}
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(secrets.token_bytes(32)))
    )


def graphemes(text: str) -> int:
    """Graphemes, counted independently of the channel: code points that do not join the one before."""
    count, after_zwj = 0, False
    for ch in text:
        joins = unicodedata.category(ch) in ("Mn", "Me", "Mc") or ch in "\u200d\ufe0f\ufe0e" or after_zwj
        if not (joins or 0x1F3FB <= ord(ch) <= 0x1F3FF):
            count += 1
        after_zwj = ch == "\u200d"
    return count


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)


class FakeBluesky:
    """The fake's state: accounts' tokens, logins, records, and faults still to come."""

    def __init__(self, access_ttl: float = 7200.0) -> None:
        self.access_ttl = access_ttl
        self.logins = 0
        self.refreshes = 0
        self.records: dict[str, Record] = {}
        self._access: set[str] = set()
        self._refresh: set[str] = set()
        self._rkeys = itertools.count(1)
        self._faults: deque[Fault] = deque()
        self._release = asyncio.Event()

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` createRecord calls fail this way."""
        self._faults.extend([fault] * times)

    def release(self) -> None:
        """Let hung requests finish."""
        self._release.set()

    def expire_sessions(self) -> None:
        """Every access token issued so far is expired (refresh tokens still work)."""
        self._access.clear()

    def revoke_sessions(self) -> None:
        """Every token issued so far is refused: only a new login helps."""
        self._access.clear()
        self._refresh.clear()

    def texts(self) -> list[str]:
        """The posts' texts, in order."""
        return [r.value["text"] for r in self.records.values()]

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/xrpc/com.atproto.server.createSession", self.create_session)
        app.router.add_post("/xrpc/com.atproto.server.refreshSession", self.refresh_session)
        app.router.add_get("/xrpc/app.bsky.actor.getProfile", self.get_profile)
        app.router.add_post("/xrpc/com.atproto.repo.createRecord", self.create_record)
        return app

    def _session(self) -> dict[str, Any]:
        access, refresh = make_jwt("com.atproto.access", self.access_ttl), make_jwt("com.atproto.refresh", 86400 * 60)
        self._access.add(access)
        self._refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": HANDLE, "did": DID, "active": True}

    def _bearer(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""

    def _check_access(self, request: web.Request) -> web.Response | None:
        token = self._bearer(request)
        if not token:
            return _error(401, "AuthMissing", "Authentication Required")
        if token not in self._access:
            return _error(400, "ExpiredToken", "Token has expired")
        return None

    async def create_session(self, request: web.Request) -> web.Response:
        """com.atproto.server.createSession."""
        body = await request.json()
        if body.get("identifier") not in (HANDLE, DID) or body.get("password") != PASSWORD:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        return web.json_response(self._session())

    async def refresh_session(self, request: web.Request) -> web.Response:
        """com.atproto.server.refreshSession: the refresh token in the Authorization header is spent."""
        token = self._bearer(request)
        if token not in self._refresh:
            return _error(400, "ExpiredToken", "Token has been revoked")
        self._refresh.discard(token)
        self.refreshes += 1
        return web.json_response(self._session())

    async def get_profile(self, request: web.Request) -> web.Response:
        """app.bsky.actor.getProfile."""
        refused = self._check_access(request)
        if refused is not None:
            return refused
        if request.query.get("actor") not in (HANDLE, DID):
            return _error(400, "InvalidRequest", "Profile not found")
        return web.json_response({"did": DID, "handle": HANDLE, "displayName": "小山市"})

    async def create_record(self, request: web.Request) -> web.Response:
        """com.atproto.repo.createRecord for posts."""
        refused = self._check_access(request)
        if refused is not None:
            return refused
        if self._faults:
            fault = self._faults.popleft()
            if fault == Fault.HANG:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HANG_LIMIT_S):
                        await self._release.wait()
                return _error(503, "Unavailable", "released")
            if fault == Fault.ERROR:
                return _error(500, "InternalServerError", "Internal Server Error")
            reset = str(int(time.time() + 300))
            return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", {"ratelimit-reset": reset})
        body = await request.json()
        problem = self._check_post(body)
        if problem:
            return _error(400, "InvalidRecord", f"Invalid app.bsky.feed.post record: {problem}")
        rkey = f"3l{next(self._rkeys):011d}"
        uri = f"at://{DID}/{POST}/{rkey}"
        cid = "bafyrei" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:52]
        self.records[uri] = Record(uri, cid, body["record"])
        return web.json_response({"uri": uri, "cid": cid, "validationStatus": "valid"})

    def _check_post(self, body: Any) -> str:
        if not isinstance(body, dict) or body.get("repo") not in (DID, HANDLE) or body.get("collection") != POST:
            return "repo must be the account and collection app.bsky.feed.post"
        record = body.get("record")
        if not isinstance(record, dict) or record.get("$type") != POST or not record.get("createdAt"):
            return "Record must have $type and createdAt"
        text = record.get("text")
        if not isinstance(text, str) or graphemes(text) > LIMIT:
            return f"Record/text must not be longer than {LIMIT} graphemes"
        reply = record.get("reply")
        if reply is not None:
            for part in ("root", "parent"):
                ref = reply.get(part) if isinstance(reply, dict) else None
                held = self.records.get(ref.get("uri", "")) if isinstance(ref, dict) else None
                if held is None or held.cid != ref.get("cid"):  # type: ignore[union-attr]
                    return f"Record/reply/{part} must reference a record"
        return ""
