"""Forgetting what can no longer be used: ended console sessions and the API's old Idempotency-Keys.

A session is looked up by its cookie and dropped when it is found ended, but a session nobody comes
back to would stay for ever; an Idempotency-Key is kept so a retry finds its draft, and is of no use
once ``[console] idempotency_ttl`` has passed. While the service runs, ``running`` prunes both at
start-up and every ``EVERY_S`` seconds after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from broadcaster.settings import Console
from broadcaster.store import Store

EVERY_S = 3600.0  # an hour: the tables grow by a login or a draft at a time, so pruning is never urgent

log = logging.getLogger("broadcaster.prune")


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many of each were forgotten."""

    sessions: int
    idempotency_keys: int


async def prune(store: Store, policy: Console, now: float) -> Pruned:
    """Drop sessions past ``idle_timeout`` or ``session_lifetime`` and Idempotency-Keys past ``idempotency_ttl``."""
    sessions = await store.expire_sessions(now, policy.idle_timeout, policy.session_lifetime)
    keys = await store.forget_idempotency_keys(now - policy.idempotency_ttl)
    return Pruned(sessions, keys)


async def run(store: Store, policy: Console, every: float = EVERY_S) -> None:
    """Prune every ``every`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(every)
        await _round(store, policy)


async def _round(store: Store, policy: Console) -> None:
    try:
        pruned = await prune(store, policy, time.time())
    except Exception:  # the next round may well succeed (a busy database); the service must go on
        log.exception("pruning sessions and idempotency keys failed; trying again in %g s", EVERY_S)
        return
    if pruned.sessions or pruned.idempotency_keys:
        log.info("pruned %d ended sessions, %d old idempotency keys", pruned.sessions, pruned.idempotency_keys)


@contextlib.asynccontextmanager
async def running(store: Store, policy: Console) -> AsyncIterator[None]:
    """Prune once on entry, then in the background every ``EVERY_S`` seconds while the block runs."""
    await _round(store, policy)
    task = asyncio.create_task(run(store, policy), name="prune")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
