"""How fast and how often: the one backoff computation, the dispatcher's retry policy and the token bucket."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from broadcaster.settings import Retry

MAX_DOUBLINGS = 64  # far past any cap; 2.0 ** 1024 would overflow after a very long outage


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait after failures: ``base`` doubling per failure up to ``cap``, up to ``jitter`` of it less.

    The one backoff computation of the service: the dispatcher's retries (through RetryPolicy), the JMA
    poller's feeds and documents, and the subscription mailer each hold one with their own figures.
    """

    base: float
    cap: float
    jitter: float = 0.5  # the fraction of each wait that may be taken off at random, spreading retries out

    def delay(self, failures: int, rand: float, retry_after: float | None = None) -> float:
        """Seconds to wait after ``failures`` failures in a row; ``rand`` in [0, 1) picks the jitter.

        ``retry_after`` (a server's Retry-After) is a floor: the wait is never shorter.
        """
        full = min(self.cap, self.base * 2.0 ** min(failures - 1, MAX_DOUBLINGS))
        wait = full * (1 - self.jitter * rand)
        return wait if retry_after is None else max(wait, retry_after)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts, a deadline, exponential backoff with jitter, retry_after as a floor."""

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 300.0
    jitter: float = 0.5
    deadline: float = 3600.0

    @classmethod
    def from_settings(cls, retry: Retry) -> RetryPolicy:
        """The policy the config describes."""
        return cls(retry.max_attempts, retry.base_delay, retry.max_delay, retry.jitter, retry.deadline)

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts."""
        return Backoff(self.base_delay, self.max_delay, self.jitter)

    def next_attempt(self, attempts: int, queued_at: float, now: float, retry_after: float | None) -> float | None:
        """When to try again after ``attempts`` failures, or None to give up."""
        if attempts >= self.max_attempts:
            return None
        at = now + self.backoff.delay(attempts, random.random(), retry_after)
        return at if at <= queued_at + self.deadline else None


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; take() waits for one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        """Wait until a token is free, then use it."""
        async with self._lock:  # first come, first served
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
