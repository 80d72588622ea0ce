"""Fixed-window counters per key, for the public forms (per client address, per email address).

Memory stays bounded: a key's window is forgotten once it is over, and past ``max_keys`` live
keys the oldest windows go first (an attacker cycling keys then gains a fresh window, but cannot
grow the process).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from aiohttp import web


class WindowLimiter:
    """At most ``limit`` hits per key in each window of ``period`` seconds."""

    def __init__(self, limit: int, period: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.period = period
        self.max_keys = max_keys
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (window start, hits)

    def hit(self, key: str, now: float | None = None) -> bool:
        """Count one hit for ``key``; False when that is over the limit (the hit still counts)."""
        now = time.monotonic() if now is None else now
        self._forget(now)
        start, hits = self._windows.get(key, (now, 0))
        if now - start >= self.period or hits == 0:
            # a new window goes to the end, so the dict stays in order of window start
            self._windows.pop(key, None)
            start, hits = now, 0
        self._windows[key] = (start, hits + 1)  # an existing key keeps its place
        if len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        return hits < self.limit

    def _forget(self, now: float) -> None:
        while self._windows:
            key, (start, _) = next(iter(self._windows.items()))
            if now - start < self.period:
                return
            del self._windows[key]


def client_address(request: web.Request, trust_forwarded: bool) -> str:
    """Whom a request comes from: the peer, or behind our own proxy the last X-Forwarded-For hop."""
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()  # the hop our own proxy added; earlier ones are forgeable
    return request.remote or "?"
