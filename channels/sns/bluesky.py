"""Bluesky through atproto's AsyncClient: an optional extra SNS target.

createSession is limited to 30 per 5 minutes and a few hundred a day per handle, so the session is
kept in the store (``SNS_SESSION``, key "bluesky") and reused across posts and restarts;
the client refreshes it as it nears expiry, and every new or refreshed session is stored again. A fresh
login with the app password happens only when there is no stored session or the server refuses it.
Posts hold at most 300 grapheme clusters, which atproto's model does not check, so they are counted
here. Links and hashtags get facets, or Bluesky would show them as plain text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from atproto_client import AsyncClient, models  # type: ignore[import-untyped]
from atproto_client.client.session import SessionEvent  # type: ignore[import-untyped]
from atproto_client.exceptions import (  # type: ignore[import-untyped]
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest  # type: ignore[import-untyped]
from atproto_client.utils.facet_detection import detect_facets  # type: ignore[import-untyped]
from atproto_core.exceptions import AtProtocolError  # type: ignore[import-untyped]

from broadcaster.errors import DeliveryError, MissingCredentials, PermanentError, TransientError
from broadcaster.state import SNS_SESSION
from broadcaster.store import Store
from channels.sns.target import COUNTING, CREDENTIALS, PostRef, graphemes

HANDLE_ENV, PASSWORD_ENV = CREDENTIALS["bluesky"]
SESSION_KEY = "bluesky"  # the SNS_SESSION row
LIMIT = COUNTING["bluesky"].limit
REFUSED = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}  # the session is no good

log = logging.getLogger("broadcaster.channels.bluesky")


class BlueskyTarget:
    """Posts in Japanese with link and hashtag facets; thread parts reply to the one before."""

    name = "bluesky"
    limit = LIMIT
    counts_quota = False

    def __init__(self, base_url: str, handle: str, password: str, store: Store, timeout: float) -> None:
        self._base_url = base_url
        self._handle = handle
        self._password = password
        self._store = store
        self._timeout = timeout
        self._client: Any = None
        self.logins = 0  # password logins since start (each costs createSession budget)

    def measure(self, text: str) -> int:
        """Bluesky's length: grapheme clusters."""
        return graphemes(text)

    async def post(
        self, text: str, *, root: PostRef | None, parent: PostRef | None, key: str, lang: str = "ja"
    ) -> PostRef:
        """Create one post (a reply in ``root``'s thread to ``parent`` when given); returns {"uri", "cid"} as JSON."""
        reply = None
        if root is not None and parent is not None:
            reply = models.AppBskyFeedPost.ReplyRef(root=_strong_ref(root), parent=_strong_ref(parent))
        try:
            client = await self._connect()
            try:
                created = await self._send(client, text, reply, lang)
            except AtProtocolError as exc:
                if not _refused(exc):
                    raise
                # the server no longer takes the stored session: one fresh login, then the same post
                log.info("bluesky session refused (%s); logging in again", _detail(exc))
                await self._login(client)
                created = await self._send(client, text, reply, lang)
        except AtProtocolError as exc:
            raise _translate(exc) from exc
        return json.dumps({"uri": created.uri, "cid": created.cid})

    @staticmethod
    async def _send(client: Any, text: str, reply: Any, lang: str) -> Any:
        return await client.send_post(text=text, reply_to=reply, langs=[lang], facets=detect_facets(text) or None)

    async def _connect(self) -> Any:
        """The logged-in client: the stored session when the server still takes it, else a fresh login."""
        if self._client is not None:
            return self._client
        client = AsyncClient(base_url=self._base_url, request=AsyncRequest(timeout=self._timeout))
        client.on_session_change(self._persist)
        try:
            saved = await self._store.get_state(SNS_SESSION, SESSION_KEY)
            try:
                if saved is None:
                    raise LoginRequiredError
                await client.login(session_string=saved)  # also fetches the profile: proves the session works
            except (AtProtocolError, ValueError) as exc:  # ValueError: a stored string that does not parse
                if not (_refused(exc) or isinstance(exc, ValueError)):
                    raise
                await self._login(client)
        except BaseException:
            await client.request.close()
            raise
        self._client = client
        return client

    async def _login(self, client: Any) -> None:
        self.logins += 1
        await client.login(self._handle, self._password)

    async def _persist(self, event: Any, session: Any) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            await self._store.put_state(SNS_SESSION, SESSION_KEY, session.export())

    async def aclose(self) -> None:
        """Close the HTTP client; the session stays stored for the next start."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.request.close()


def _strong_ref(ref: PostRef) -> Any:
    data = json.loads(ref)
    return models.ComAtprotoRepoStrongRef.Main(uri=data["uri"], cid=data["cid"])


def _detail(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    return ": ".join(str(p) for p in (error, message) if p) or type(exc).__name__


def _refused(exc: Exception) -> bool:
    """True when the server refuses the session itself (expired, revoked, missing), not the post."""
    if isinstance(exc, LoginRequiredError | UnauthorizedError):
        return True
    if isinstance(exc, BadRequestError):
        content = getattr(exc.response, "content", None)
        return getattr(content, "error", None) in REFUSED
    return False


def _translate(exc: Exception) -> DeliveryError:
    detail = _detail(exc)
    if isinstance(exc, RateLimitExceededError):
        reset = exc.reset_at
        wait = exc.retry_after or (max(1.0, reset.timestamp() - time.time()) if reset else 60.0)
        return TransientError(f"bluesky: 429 {detail}", retry_after=wait)
    if isinstance(exc, NetworkError):  # timeouts, dropped connections, 502
        return TransientError(f"bluesky: {detail}")
    if isinstance(exc, RequestErrorBase) and exc.response is not None and exc.response.status_code >= 500:
        return TransientError(f"bluesky: {exc.response.status_code} {detail}")
    return PermanentError(f"bluesky: {detail}")


def from_env(environ: Mapping[str, str], base_url: str, store: Store, timeout: float) -> BlueskyTarget:
    """The Bluesky target, or MissingCredentials naming what is not set."""
    handle, password = (environ.get(n, "").strip() for n in (HANDLE_ENV, PASSWORD_ENV))
    missing = [n for n, v in ((HANDLE_ENV, handle), (PASSWORD_ENV, password)) if not v]
    if missing:
        raise MissingCredentials(
            "bluesky: " + ", ".join(missing) + (" is" if len(missing) == 1 else " are") + " not set"
        )
    return BlueskyTarget(base_url, handle, password, store, timeout)
