"""SNS: each alert as a thread on X, and on Mastodon and Bluesky where configured.

Rendering is channels/sns/render.py's (no SDK there): the template's text split per target into a
reply thread that fits the target's own count, in the first of ``[sns] languages`` with a reply in each
other, travelling in the Message as ``sns.json``.

The targets are posted one after another by channels/targets.py's ``Fanout``. Idempotency per
(alert, target) survives crashes and retries: after each post its id is added to the store's
``SNS_POSTED`` row "<alert>:<target>" (under ``asyncio.shield``, so a timeout cannot lose it), and a
target whose thread is complete is skipped, so X posted and Mastodon 500 never posts twice to X. A
half-posted thread continues under its last post. Mastodon also gets an Idempotency-Key per (alert,
part) for the window between its answer and our record. A permanent refusal is remembered in
``SNS_FAILED`` and not tried again.

X's posting cap is scarce. ``[sns] daily_quota`` posts per rolling 24 h are counted durably (the
times in ``SNS_QUOTA``), and ``reserve`` of them only serve alerts of level ≥ 4 and earthquakes.
A thread that does not fit now is a TransientError with ``retry_after`` until enough posts age out; one
that could never fit (more posts than its share of the cap) is a PermanentError, since waiting cannot help.
Other targets are posted meanwhile. Errors: transient if any target's failure is transient (the
retry skips what is done); permanent when every failure is permanent and nothing was posted; when some
target carried the alert and the others failed for good, the send succeeds and the failures are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import MissingCredentials, PermanentError, TransientError
from broadcaster.models import Alert, AlertId, Message, Recipients
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.state import SNS_FAILED, SNS_POSTED, SNS_QUOTA
from broadcaster.store import Store
from channels.sns.render import NAME, Payload, SnsRenderer
from channels.sns.target import PostRef, Target
from channels.targets import Fanout, Leg

log = logging.getLogger("broadcaster.channels.sns")

QUOTA_KEY = "x"  # the SNS_QUOTA row: only X's posts are counted
DAY = 86_400.0
REQUEST_TIMEOUT = 10.0  # per call; the dispatcher's channel timeout bounds the whole thread
KEYS = uuid.UUID("0b7d54a1-3c4e-4f0e-9a52-6d1f1c2b8e37")  # uuid5 namespace of idempotency keys; never change it


def idempotency_key(alert_id: AlertId, target: str, part: int) -> str:
    """The key of one post: the same (alert, target, part) always gives the same key."""
    return str(uuid.uuid5(KEYS, f"{alert_id}\n{target}\n{part}"))


# -- the X quota --------------------------------------------------------------------


class Quota:
    """X posts per rolling 24 h, counted in the store, with a reserve for priority alerts."""

    def __init__(self, store: Store, limit: int, reserve: int, clock: Callable[[], float] = time.time) -> None:
        self.store, self.limit, self.reserve, self.clock = store, limit, min(reserve, limit), clock

    async def recent(self) -> list[float]:
        """Times of the posts of the last 24 h, oldest first."""
        now = self.clock()
        return sorted(t for t in await self.store.get_state(SNS_QUOTA, QUOTA_KEY) or [] if t > now - DAY)

    async def check(self, posts: int, priority: bool) -> None:
        """Raise unless ``posts`` more fit now; TransientError says when they will."""
        cap = self.limit if priority else self.limit - self.reserve
        if posts > cap:
            raise PermanentError(f"X quota: a thread of {posts} posts can never fit in {cap} posts a day")
        recent = await self.recent()
        excess = len(recent) + posts - cap
        if excess > 0:
            wait = max(1.0, recent[excess - 1] + DAY - self.clock())
            kind = "the whole quota" if priority else f"the quota less the reserve of {self.reserve}"
            raise TransientError(f"X quota: {len(recent)} posts in 24 h, {kind} is {cap}", retry_after=wait)

    async def spend(self) -> None:
        """Count one post now."""
        recent = await self.recent()
        recent.append(self.clock())
        await self.store.put_state(SNS_QUOTA, QUOTA_KEY, recent)


# -- the channel --------------------------------------------------------------------


class SnsChannel:
    """Posts each alert as a thread to every configured SNS target that has credentials."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(
        self,
        targets: Sequence[Target],
        settings: Settings,
        renderer: Renderer,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = list(targets)
        self.settings = settings
        self.renderer = SnsRenderer(settings, renderer, [t.name for t in self.targets])
        self.store = store
        self.quota = Quota(store, settings.sns.daily_quota, settings.sns.reserve, clock)
        self._quota_lock = asyncio.Lock()  # check-then-spend for X must not interleave
        # a thread that went out somewhere is sent, though another target refused it for good
        self.fanout = Fanout(NAME, store, refused=SNS_FAILED, enough_if_carried=True, log=log)

    def render(self, alert: Alert, lang: str) -> Message:
        """The template's text, and each target's thread in the ``sns.json`` attachment (see render.py)."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Post the alert's thread to each target not yet done; raises DeliveryError (see the module doc)."""
        payload = Payload.decode(message)
        if payload is None:
            raise PermanentError("sns: the message was not rendered by the sns channel (no sns.json)")
        alert_id, threads, priority = message.alert_id, payload.threads, payload.priority
        legs = [
            Leg(t.name, functools.partial(self._thread, t, alert_id, threads.get(t.name), priority, payload))
            for t in self.targets
        ]
        await self.fanout.send(alert_id, legs)

    async def _thread(
        self, target: Target, alert_id: AlertId, parts: list[str] | None, priority: bool, payload: Payload
    ) -> None:
        if not parts:
            raise PermanentError(f"sns: no thread rendered for {target.name}")
        key = f"{alert_id}:{target.name}"
        posted: list[PostRef] = await self.store.get_state(SNS_POSTED, key) or []
        if len(posted) >= len(parts):
            return
        async with self._quota_lock if target.counts_quota else contextlib.nullcontext():
            if target.counts_quota:
                await self.quota.check(len(parts) - len(posted), priority)
            for index in range(len(posted), len(parts)):
                root, parent = (posted[0], posted[-1]) if posted else (None, None)
                ref = await target.post(
                    parts[index],
                    root=root,
                    parent=parent,
                    key=idempotency_key(alert_id, target.name, index),
                    lang=payload.lang(target.name, index),
                )
                posted.append(ref)
                # once posted it must be recorded, even if the dispatcher's timeout cancels us right now
                await asyncio.shield(self._record(key, posted, target.counts_quota))
        log.info("sns alert=%s target=%s posted %d part(s)", alert_id, target.name, len(parts))

    async def _record(self, key: str, posted: list[PostRef], counts_quota: bool) -> None:
        await self.store.put_state(SNS_POSTED, key, posted)
        if counts_quota:
            await self.quota.spend()

    async def aclose(self) -> None:
        """Close every target's connection."""
        for target in self.targets:
            await target.aclose()


def create(ctx: ChannelContext) -> SnsChannel:
    """The SNS channel with every configured target that has credentials; MissingCredentials if none has."""
    if ctx.store is None:
        raise MissingCredentials("sns needs the store to remember what it posted (build_channels got none)")
    s = ctx.settings.sns
    conf = ctx.settings.channels.get(ctx.name)
    timeout = min(REQUEST_TIMEOUT, conf.timeout) if conf else REQUEST_TIMEOUT
    targets: list[Target] = []
    missing: list[str] = []
    for name in dict.fromkeys(s.targets):
        try:
            # each target's module loads its SDK, so only the configured ones are imported
            if name == "x":
                from channels.sns import x

                targets.append(x.from_env(ctx.environ, s.x_api_base, timeout))
            elif name == "mastodon":
                from channels.sns import mastodon

                targets.append(mastodon.from_env(ctx.environ, s.mastodon_url, timeout))
            else:
                from channels.sns import bluesky

                targets.append(bluesky.from_env(ctx.environ, s.bluesky_url, ctx.store, timeout))
        except MissingCredentials as exc:
            missing.append(str(exc))
    if not targets:
        raise MissingCredentials("; ".join(missing) or "[sns] targets is empty")
    for reason in missing:
        log.warning("sns: %s; posting to the other targets only", reason)
    return SnsChannel(targets, ctx.settings, ctx.renderer, ctx.store)
