"""One send loop for the channels that carry an alert to several targets: SNS (X, Mastodon, Bluesky)
and the ticker (the stations' TCP push and mail).

A channel says once how it fans out (a ``Fanout``): where the store remembers, per (alert, target),
that a target is done or refused for good; how long one target may take; and whether one target
carrying the alert is enough. For each alert it hands ``Fanout.send`` its targets in order, each a
``Leg``: the target's name and a coroutine doing that target's part.

Each target in turn:

- refused for good before (its reason is in ``refused``): PermanentError with that reason, and the
  service is not asked again;
- done before (``done`` holds when): skipped, so a retry never airs the alert there twice;
- otherwise its leg runs, within ``budget`` seconds when one is set (past it, a TransientError). A
  success is noted in ``done`` and a PermanentError in ``refused``, under ``asyncio.shield`` so the
  dispatcher's timeout cannot lose the note. A channel whose legs keep finer progress of their own
  (SNS: each post of a thread) leaves ``done`` unset; its leg returns at once when nothing is left.

Then, if any target failed:

- any failure transient: TransientError naming every failure, with the earliest ``retry_after`` any
  asked for (None when one asked for none); the retry skips what is done;
- every failure permanent: PermanentError, unless ``enough_if_carried`` and some target carried the
  alert (now or before), in which case the send succeeds and the failures are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from broadcaster.errors import DeliveryError, PermanentError, TransientError
from broadcaster.models import AlertId
from broadcaster.state import Namespace
from broadcaster.store import Store

LOG = logging.getLogger("broadcaster.channels")


@dataclass(frozen=True, slots=True)
class Leg:
    """One target's part of sending one alert."""

    name: str  # the target, in the store's keys ("<alert>:<name>") and in error messages
    deliver: Callable[[], Awaitable[None]]  # does the target's part; raises DeliveryError


@dataclass(frozen=True, slots=True)
class Fanout:
    """How a channel with several targets sends one alert (see the module docstring)."""

    channel: str
    store: Store | None  # None: nothing is remembered, every target runs every time
    done: Namespace[float] | None = None  # "<alert>:<target>" -> when it succeeded
    refused: Namespace[str] | None = None  # "<alert>:<target>" -> why it was refused for good
    budget: float | None = None  # seconds one target may take
    enough_if_carried: bool = False  # permanent failures elsewhere do not fail a send some target carried
    log: logging.Logger = LOG

    async def send(self, alert_id: AlertId, legs: Sequence[Leg]) -> None:
        """Run each leg not yet done; raises the DeliveryError the failures add up to."""
        errors: list[DeliveryError] = []
        carried = False
        for leg in legs:
            try:
                await self._run(f"{alert_id}:{leg.name}", leg)
                carried = True
            except DeliveryError as exc:
                errors.append(exc)
        if not errors:
            return
        summary = "; ".join(str(e) for e in errors)
        waits = [e.retry_after for e in errors if isinstance(e, TransientError)]
        if waits:
            raise TransientError(summary, retry_after=None if None in waits else min(w for w in waits if w is not None))
        if not (carried and self.enough_if_carried):
            raise PermanentError(summary)
        self.log.error("%s alert=%s carried, but not everywhere: %s", self.channel, alert_id, summary)

    async def _run(self, key: str, leg: Leg) -> None:
        if self.store is not None and self.refused is not None:
            reason = await self.store.get_state(self.refused, key)
            if reason is not None:
                raise PermanentError(reason)
        if self.store is not None and self.done is not None and await self.store.get_state(self.done, key) is not None:
            return
        budget = asyncio.timeout(self.budget)
        try:
            async with budget:
                await leg.deliver()
        except TimeoutError:
            if not budget.expired():
                raise
            raise TransientError(f"{leg.name}: no answer within {self.budget:g} s") from None
        except PermanentError as exc:
            if self.store is not None and self.refused is not None:
                await asyncio.shield(self.store.put_state(self.refused, key, str(exc)))
            raise
        if self.store is not None and self.done is not None:
            await asyncio.shield(self.store.put_state(self.done, key, time.time()))
