"""Japan Standard Time, the clock every page, feed, channel and CLI line speaks in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# Japan has no daylight saving time, so a fixed offset is exact.
JST = timezone(timedelta(hours=9), "JST")


def jst(ts: float) -> datetime:
    """A Unix timestamp as an aware datetime in JST."""
    return datetime.fromtimestamp(ts, JST)


def iso_jst(ts: float) -> str:
    """A Unix timestamp as ISO 8601 in JST, to the second, with its +09:00 offset."""
    return jst(ts).isoformat(timespec="seconds")
