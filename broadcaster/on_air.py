"""What the public website shows: the alerts the website channel carried, grouped into events.

One read of ``store.published("website", …)`` makes a Snapshot; every page and feed is rendered from
it, so the served pages and the static export always agree.

- An event is the alerts sharing an event_key (an alert without one is an event of its own), per
  mode: exercise and live chains never mix.
- An event is *cancelled* when its latest carried version is a cancel, *expired* when that version's
  ``expires`` has passed, and *current* otherwise. Older versions of an event are *superseded*.
- Exercise alerts are left out unless ``[website] show_exercises`` is on.
- Current events are listed most severe first (level, then CAP severity), newest first within that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from broadcaster.models import Alert, AlertId, Mode, MsgType, Published, Severity, Timestamp
from broadcaster.rendering import EXERCISE_PREFIX
from broadcaster.settings import Settings
from broadcaster.store import Store

CHANNEL = "website"
DAY = 86_400.0
MAX_ALERTS = 2000  # alerts read per snapshot; far above what a city issues in history_days
MAX_CHAIN = 50  # versions followed back through ``references``
CANCEL_TAG, UPDATE_TAG = "【取消】", "【更新】"
SEVERITY_RANK = {Severity.EXTREME: 4, Severity.SEVERE: 3, Severity.MODERATE: 2, Severity.MINOR: 1}


class Status(StrEnum):
    CURRENT = "current"  # 発表中: in force and on the current page
    SUPERSEDED = "superseded"  # 更新済み: a newer version of the event replaced it
    CANCELLED = "cancelled"  # 取消: the event was retracted
    EXPIRED = "expired"  # 期限切れ: its expiry time has passed


STATUS_NAMES = {
    Status.CURRENT: "発表中",
    Status.SUPERSEDED: "更新済み",
    Status.CANCELLED: "取消",
    Status.EXPIRED: "期限切れ",
}


@dataclass(frozen=True, slots=True)
class Event:
    """The carried versions of one event, oldest first, and what became of it."""

    key: str
    versions: tuple[Published, ...]
    status: Status

    @property
    def latest(self) -> Published:
        """The newest carried version (a cancel, when the event was cancelled)."""
        return self.versions[-1]

    @property
    def shown(self) -> Alert:
        """The version whose words stand for the event: the newest that is not a cancel."""
        for p in reversed(self.versions):
            if p.alert.msg_type != MsgType.CANCEL:
                return p.alert
        return self.latest.alert

    @property
    def sent_at(self) -> Timestamp:
        """When the event last changed."""
        return self.latest.sent_at


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the website shows at ``now``."""

    now: Timestamp
    events: tuple[Event, ...]  # every event, newest change first
    current: tuple[Event, ...]  # current events, most severe first
    by_id: dict[AlertId, tuple[Published, Event]]  # every carried alert
    known: dict[AlertId, Alert]  # carried alerts and the earlier versions they refer to

    def status(self, alert_id: AlertId) -> Status:
        """What became of one carried alert version."""
        published, event = self.by_id[alert_id]
        if event.status != Status.CANCELLED and published is not event.latest:
            return Status.SUPERSEDED
        return event.status

    def earlier(self, alert: Alert) -> list[Alert]:
        """The versions an update or cancel refers to, oldest first (through ``references``)."""
        chain: list[Alert] = []
        ref = alert.references
        while ref and ref in self.known and len(chain) < MAX_CHAIN:
            chain.append(self.known[ref])
            ref = self.known[ref].references
        return chain[::-1]

    def entries(self) -> list[Published]:
        """Every carried alert version, latest sent first."""
        return sorted((p for p, _ in self.by_id.values()), key=lambda p: (-p.sent_at, p.alert.id))


def _event_status(versions: Sequence[Published], now: Timestamp) -> Status:
    latest = versions[-1].alert
    if latest.msg_type == MsgType.CANCEL:
        return Status.CANCELLED
    if latest.expires is not None and latest.expires < now:
        return Status.EXPIRED
    return Status.CURRENT


def severity_key(event: Event) -> tuple[int, int, float]:
    """Sort key: higher level, then graver CAP severity, then the newest first."""
    alert = event.shown
    return (-alert.level, -SEVERITY_RANK.get(alert.severity, 0), -event.sent_at)


def build_snapshot(
    published: Iterable[Published], settings: Settings, now: Timestamp, referenced: Iterable[Alert] = ()
) -> Snapshot:
    """Group carried alerts into events and judge each; pure."""
    show_exercises = settings.website.show_exercises
    groups: dict[tuple[str, str], list[Published]] = {}
    seen: set[AlertId] = set()
    for p in published:
        if p.alert.id in seen or (p.alert.mode == Mode.EXERCISE and not show_exercises):
            continue
        seen.add(p.alert.id)
        groups.setdefault((p.alert.mode, p.alert.event_key or f"id:{p.alert.id}"), []).append(p)
    events: list[Event] = []
    by_id: dict[AlertId, tuple[Published, Event]] = {}
    for (_, key), versions in groups.items():
        versions.sort(key=lambda p: (p.alert.version, p.sent_at))
        event = Event(key, tuple(versions), _event_status(versions, now))
        events.append(event)
        by_id.update((p.alert.id, (p, event)) for p in versions)
    events.sort(key=lambda e: (-e.sent_at, e.key))
    current = sorted((e for e in events if e.status == Status.CURRENT), key=severity_key)
    known = {a.id: a for a in referenced}
    known.update((alert_id, p.alert) for alert_id, (p, _) in by_id.items())
    return Snapshot(now, tuple(events), tuple(current), by_id, known)


async def load_snapshot(store: Store, settings: Settings, now: Timestamp, sending: Alert | None = None) -> Snapshot:
    """Read what the website carried in the last ``history_days``; ``sending`` counts as carried at ``now``.

    ``sending`` is the alert the channel is publishing: its row becomes 'sent' only after send() returns,
    and the static export written during send() must already show it.
    """
    since = now - settings.website.history_days * DAY
    published = await store.published(CHANNEL, since, MAX_ALERTS)
    if sending is not None:
        published = [Published(sending, now), *published]
    present = {p.alert.id for p in published}
    referenced: list[Alert] = []
    wanted = [p.alert.references for p in published if p.alert.references and p.alert.references not in present]
    for _ in range(MAX_CHAIN):  # earlier versions carried before the window, for CAP references
        if not wanted:
            break
        ref = wanted.pop()
        found = await store.get_alert(ref)
        if found is None or ref in present:
            continue
        present.add(ref)
        referenced.append(found)
        if found.references and found.references not in present:
            wanted.append(found.references)
    return build_snapshot(published, settings, now, referenced)


def headline(alert: Alert, settings: Settings) -> str:
    """The alert's title with its tags: 【訓練】, 【取消】 or 【更新】, and the level from 3 up."""
    title = alert.title.removeprefix(EXERCISE_PREFIX).lstrip()
    tags = EXERCISE_PREFIX if alert.mode == Mode.EXERCISE else ""
    if alert.msg_type == MsgType.CANCEL and not title.startswith(CANCEL_TAG):
        tags += CANCEL_TAG
    elif alert.msg_type == MsgType.UPDATE and not title.startswith(UPDATE_TAG):
        tags += UPDATE_TAG
    if alert.level >= 3:
        tags += f"【{settings.levels[alert.level - 1].name}】"
    return tags + title
