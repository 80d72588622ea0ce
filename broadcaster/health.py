"""What counts as healthy: the one rule behind /healthz and the console's dashboard.

The service is ``ok`` only when everything configured works. It is ``degraded`` (it still serves, and
says why) when

- a channel the site configured (a relay host, a credential) runs as the outbox: what it is given
  goes to a folder instead of to people;
- a channel is failing: its last ``[health] channel_failures`` send() calls in a row did not reach
  its service (a refused recipient, a "partial" send, is the recipient's problem, not the channel's);
- a JMA feed has kept failing for more than ``[health] feed_failing_after`` seconds.

A channel nobody configured that runs as the outbox (a town without a LINE account) is what the site
asked for, and not a problem. FM needs no credentials: its drop folder is its configuration, so FM
running as the outbox (Open JTalk missing) is always a problem.

Reasons are plain words naming the channel or feed and what is missing, never a value of a setting
or variable and never anyone's contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from broadcaster.channel import RunsAs
from broadcaster.metrics import FeedState
from broadcaster.settings import Health


class Status(StrEnum):
    """The service's health in one word."""

    OK = "ok"
    DEGRADED = "degraded"


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the running service knows about one channel, gathered at the moment of asking."""

    name: str
    runs_as: RunsAs
    sink: str  # what it runs as, in words: "smtp relay mail.example.jp:587", "outbox var/outbox/line (…)"
    configured: tuple[str, ...]  # what the site gave it to reach somewhere: setting and variable names, never values
    outbox_reason: str  # why it runs as the outbox, what is missing named; "" when it runs for real
    failed_in_a_row: int  # send() calls in a row that did not reach its service


@dataclass(frozen=True, slots=True)
class Verdict:
    """One channel's or feed's health: ok, or the reason it is not."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """The service's health: its status, every reason, and each channel's and feed's verdict."""

    status: Status
    reasons: tuple[str, ...]
    channels: dict[str, tuple[ChannelFacts, Verdict]]
    feeds: dict[str, tuple[FeedState, Verdict]]  # by URL


def channel_verdict(facts: ChannelFacts, conf: Health) -> Verdict:
    """Whether one channel works as configured."""
    if facts.runs_as == RunsAs.OUTBOX and facts.configured:
        why = f": {facts.outbox_reason}" if facts.outbox_reason else ""
        return Verdict(False, f"channel {facts.name} runs as the outbox although {_listed(facts.configured)} set{why}")
    if failing(facts.failed_in_a_row, conf):
        return Verdict(False, f"channel {facts.name} is failing: its last {facts.failed_in_a_row} sends failed")
    return Verdict(True)


def failing(failed_in_a_row: int, conf: Health) -> bool:
    """Whether a channel whose last ``failed_in_a_row`` send() calls failed counts as failing."""
    return failed_in_a_row >= conf.channel_failures


def feed_verdict(feed: FeedState, now: float, conf: Health) -> Verdict:
    """Whether one JMA feed reads, or has failed for no longer than ``[health] feed_failing_after``."""
    since = feed.failing_since
    if not feed.failures or since is None or now - since <= conf.feed_failing_after:
        return Verdict(True)
    minutes = int((now - since) // 60)
    return Verdict(False, f"JMA feed {feed.url} has failed for {minutes} min ({feed.failures} reads in a row failed)")


def judge(channels: Sequence[ChannelFacts], feeds: Sequence[FeedState], now: float, conf: Health) -> Report:
    """The service's health from what it knows about its channels and its feeds at ``now``."""
    judged_channels = {c.name: (c, channel_verdict(c, conf)) for c in channels}
    judged_feeds = {f.url: (f, feed_verdict(f, now, conf)) for f in feeds}
    reasons = tuple(v.reason for _, v in (*judged_channels.values(), *judged_feeds.values()) if not v.ok)
    return Report(Status.DEGRADED if reasons else Status.OK, reasons, judged_channels, judged_feeds)


def _listed(names: tuple[str, ...]) -> str:
    return (", ".join(names[:-1]) + " and " + names[-1] + " are") if len(names) > 1 else f"{names[0]} is"
