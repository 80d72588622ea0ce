"""What is on air: the one rule for the website, the ticker and community FM, and the website's snapshot.

Each public channel reads what it carried (``store.published(channel, …)``) and judges it here:

- An event is the alerts sharing an event_key (an alert without one is an event of its own), per
  mode: exercise and live chains never mix. Its latest version is the highest version carried.
- An event is *cancelled* when its latest version is a cancel, or was cancelled (an approved cancel
  takes it off the air at once, before the cancel itself is carried); *lifted* (解除: the order or
  warning is over, not a mistake) when its latest version is a lift; *expired* when that version's
  ``expires`` has passed (an alert without one lasts ``untimed`` seconds from its creation, or, on the
  website, until it is cancelled); and *current* otherwise. Older versions are *superseded*.
- Exercise alerts are left out unless asked for (``[website] show_exercises``; never on the air).
- What is on air, the latest version of each current event, is listed most severe first (level, then
  CAP severity), the latest carried first within that.

``on_air`` gives that list to the ticker and FM endpoints. For the website, one read makes a Snapshot
of every event and its status; every page and feed is rendered from it, so the served pages and the
static export always agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from broadcaster import tags
from broadcaster.models import Alert, AlertId, AlertState, Mode, MsgType, Published, Severity, Timestamp
from broadcaster.settings import Settings
from broadcaster.store import Store

CHANNEL = "website"
DAY = 86_400.0
MAX_ALERTS = 2000  # alerts read per snapshot; far above what a city issues in history_days
MAX_CHAIN = 50  # versions followed back through ``references``
SEVERITY_RANK = {Severity.EXTREME: 4, Severity.SEVERE: 3, Severity.MODERATE: 2, Severity.MINOR: 1}
UNTIMED_ON_AIR = 86_400.0  # the ticker and FM: an alert without ``expires`` leaves the air a day after it was made


class Status(StrEnum):
    CURRENT = "current"  # 発表中: in force and on the current page
    SUPERSEDED = "superseded"  # 更新済み: a newer version of the event replaced it
    CANCELLED = "cancelled"  # 取消: the event was retracted
    LIFTED = "lifted"  # 解除: the order or warning is over
    EXPIRED = "expired"  # 期限切れ: its expiry time has passed


STATUS_NAMES = {
    Status.CURRENT: "発表中",
    Status.SUPERSEDED: "更新済み",
    Status.CANCELLED: "取消",
    Status.LIFTED: "解除",
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
        """The newest carried version (a cancel, once the cancel of a cancelled event is carried)."""
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

    @property
    def cancelled_at(self) -> Timestamp | None:
        """When its cancel was carried; None if it is not cancelled, or its approved cancel is not carried yet."""
        latest = self.latest
        return latest.sent_at if latest.alert.msg_type == MsgType.CANCEL else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the website shows at ``now``."""

    now: Timestamp
    events: tuple[Event, ...]  # every event, newest change first
    current: tuple[Event, ...]  # current events, most severe first
    by_id: dict[AlertId, tuple[Published, Event]]  # every carried alert
    known: dict[AlertId, Alert]  # carried alerts and the earlier versions they refer to

    def status(self, alert_id: AlertId) -> Status:
        """What became of one carried alert version: a cancelled or lifted event's versions all say so."""
        published, event = self.by_id[alert_id]
        if event.status not in (Status.CANCELLED, Status.LIFTED) and published is not event.latest:
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


def ends_at(alert: Alert, untimed: float | None) -> Timestamp | None:
    """When the alert stops being current: its ``expires``, else ``untimed`` after its creation; None for never."""
    if alert.expires is not None:
        return alert.expires
    return None if untimed is None else alert.created_at + untimed


def judge(latest: Alert, now: Timestamp, untimed: float | None) -> Status:
    """What became of an event, from its latest carried version: cancelled, lifted, expired or current."""
    if latest.msg_type == MsgType.CANCEL or latest.state == AlertState.CANCELLED:
        return Status.CANCELLED
    if latest.msg_type == MsgType.LIFT:
        return Status.LIFTED
    ends = ends_at(latest, untimed)
    return Status.EXPIRED if ends is not None and ends <= now else Status.CURRENT


def group_events(published: Iterable[Published], exercises: bool) -> list[tuple[str, list[Published]]]:
    """Carried alerts as (event key, versions oldest first), each alert once; exercises only if asked."""
    groups: dict[tuple[str, str], list[Published]] = {}
    seen: set[AlertId] = set()
    for p in published:
        if p.alert.id in seen or (p.alert.mode == Mode.EXERCISE and not exercises):
            continue
        seen.add(p.alert.id)
        groups.setdefault((p.alert.mode, p.alert.event_key or f"id:{p.alert.id}"), []).append(p)
    for versions in groups.values():
        versions.sort(key=lambda p: (p.alert.version, p.sent_at))
    return [(key, versions) for (_, key), versions in groups.items()]


def on_air_order(p: Published) -> tuple[int, int, float, str]:
    """Sort key: higher level, then graver CAP severity, then the latest carried first."""
    alert = p.alert
    return (-alert.level, -SEVERITY_RANK.get(alert.severity, 0), -p.sent_at, alert.id)


def on_air(
    published: Iterable[Published], now: Timestamp, *, exercises: bool = False, untimed: float | None = UNTIMED_ON_AIR
) -> list[Published]:
    """The latest version of every event neither cancelled nor expired at ``now``, most severe first."""
    latest = (versions[-1] for _, versions in group_events(published, exercises))
    return sorted((p for p in latest if judge(p.alert, now, untimed) == Status.CURRENT), key=on_air_order)


def build_snapshot(
    published: Iterable[Published], settings: Settings, now: Timestamp, referenced: Iterable[Alert] = ()
) -> Snapshot:
    """Group carried alerts into events and judge each by the on-air rule (no end for untimed alerts); pure."""
    events: list[Event] = []
    by_id: dict[AlertId, tuple[Published, Event]] = {}
    for key, versions in group_events(published, settings.website.show_exercises):
        event = Event(key, tuple(versions), judge(versions[-1].alert, now, untimed=None))
        events.append(event)
        by_id.update((p.alert.id, (p, event)) for p in versions)
    events.sort(key=lambda e: (-e.sent_at, e.key))
    current = sorted((e for e in events if e.status == Status.CURRENT), key=lambda e: on_air_order(e.latest))
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
    """The alert's Japanese title with its tags, once each in their fixed order (broadcaster/tags)."""
    return tags.headline(alert, settings, "ja")
