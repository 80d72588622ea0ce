"""How fast and how often: the retry policy and the token bucket."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from broadcaster.settings import Retry


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

    def next_attempt(self, attempts: int, queued_at: float, now: float, retry_after: float | None) -> float | None:
        """When to try again after ``attempts`` failures, or None to give up."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        delay *= 1 - self.jitter * random.random()
        if retry_after is not None:
            delay = max(delay, retry_after)
        at = now + delay
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
