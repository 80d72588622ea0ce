"""Shutdown: every resource a process opened is closed, even when closing another one fails.

A channel whose ``aclose`` raises must not leave the store open or the instance lock held, so each
close runs on its own: a failure is logged with what failed, and the closes after it still run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from broadcaster.channel import ChannelSet

log = logging.getLogger("broadcaster.shutdown")

Close = Callable[[], Awaitable[None]]


async def close_logged(what: str, close: Close) -> None:
    """Await ``close``; an error is logged, naming ``what``, instead of raised."""
    try:
        await close()
    except Exception:
        log.exception("closing %s failed; closing the rest", what)


def close_channels_on_exit(stack: contextlib.AsyncExitStack, channels: ChannelSet) -> None:
    """Have ``stack`` close each channel of the set once (live and exercise may share one), each on its own."""
    seen: set[int] = set()
    for kind, named in (("live", channels.live), ("exercise", channels.exercise)):
        for name, channel in named.items():
            if id(channel) not in seen:
                seen.add(id(channel))
                stack.push_async_callback(close_logged, f"{kind} channel {name}", channel.aclose)
