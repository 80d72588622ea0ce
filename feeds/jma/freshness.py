"""Is a JMA document current? Its age by report time against ``[jma.max_age]``, and its place in its event.

A document's report time (Head/ReportDateTime) says when JMA issued it; the feed's arrival order says
nothing (a retry, a backfill after an outage or a slow mirror reorders documents). So a document is
stale when its report time is older than its family's ``max_age``, and within one event the newest
report wins by (report time, Serial), whatever order they arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from broadcaster.clock import JST
from feeds.jma.report import Report
from feeds.jma.types import family_of

MaxAge = Mapping[Any, float]  # [jma.max_age]: family -> seconds (keys are the families that have a limit)
OrderKey = tuple[float, int]  # (report time in epoch seconds, Serial); stored as a JSON list


def max_age_of(kind: str | None, max_age: MaxAge) -> float | None:
    """Seconds after its report time a document of this type may still be sent; None: no limit set."""
    family = family_of(kind)
    return max_age.get(family) if family else None


def age(report: Report, now: float) -> float:
    """Seconds since the report time (negative for a report time in the future)."""
    return now - report.reported_at.timestamp()


def is_stale(report: Report, max_age: MaxAge, now: float) -> bool:
    """Whether the document is older than its family's max_age by its report time."""
    limit = max_age_of(report.kind, max_age)
    return limit is not None and age(report, now) > limit


def stale_reason(report: Report, max_age: MaxAge, now: float) -> str | None:
    """Why the document must not be sent because of its age, or None if it is current."""
    if not is_stale(report, max_age, now):
        return None
    limit = max_age_of(report.kind, max_age)
    return (
        f"stale: reported {report.reported_at.isoformat()}, {_duration(age(report, now))} ago; "
        f"{family_of(report.kind)} are sent within {_duration(limit or 0)}"
    )


def order_key(report: Report) -> OrderKey:
    """Where the document stands among the reports of its event: report time, then Serial."""
    serial = int(report.serial) if report.serial.isascii() and report.serial.isdigit() else 0
    return report.reported_at.timestamp(), serial


def is_older(key: OrderKey, newest: Sequence[float] | None) -> bool:
    """Whether ``key`` comes before the newest report already applied (None: none applied yet)."""
    return newest is not None and key < (float(newest[0]), int(newest[1]))


def describe(newest: Sequence[float]) -> str:
    """A stored order key in words: its report time (JST) and Serial."""
    stamp = datetime.fromtimestamp(float(newest[0]), JST).isoformat()
    return f"reported {stamp}, serial {int(newest[1])}"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.0f} days"
