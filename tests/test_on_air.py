"""What is on air: the one rule the website, the ticker and FM share (broadcaster.on_air), as a table."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from broadcaster.models import Alert, AlertState, Mode, MsgType, Published, Severity, Source
from broadcaster.on_air import STATUS_NAMES, UNTIMED_ON_AIR, Status, build_snapshot, on_air
from broadcaster.settings import Settings

NOW = 1_800_000_000.0
HOUR = 3600.0


def alert(alert_id: str, **changes: Any) -> Alert:
    """A live level-3 alert made an hour ago, an event of its own unless ``event_key`` is given."""
    base = Alert(
        id=alert_id,
        source=Source.STAFF,
        category="disaster",
        level=3,
        title=f"{alert_id} 避難指示",
        body="河川が氾濫するおそれがあります。",
        mode=Mode.LIVE,
        state=AlertState.DONE,
        created_at=NOW - HOUR,
    )
    return dataclasses.replace(base, **changes)


def carried(alert_id: str, sent_ago: float = 60.0, **changes: Any) -> Published:
    """``alert`` as a channel carried it ``sent_ago`` seconds before NOW."""
    return Published(alert(alert_id, **changes), NOW - sent_ago)


CASES = [
    pytest.param([carried("a")], {}, ["a"], id="one-alert"),
    pytest.param([], {}, [], id="nothing-carried"),
    pytest.param(
        [carried("v1", event_key="river"), carried("v2", event_key="river", version=2, msg_type=MsgType.UPDATE)],
        {},
        ["v2"],
        id="the-latest-version-of-an-event",
    ),
    pytest.param(
        # a later version carried before an earlier one (a retry) still wins: versions decide, not send times
        [carried("v2", 300, event_key="river", version=2), carried("v1", 60, event_key="river")],
        {},
        ["v2"],
        id="version-before-send-time",
    ),
    pytest.param(
        [carried("a", event_key="quake"), carried("x", event_key="quake", version=2, msg_type=MsgType.CANCEL)],
        {},
        [],
        id="a-cancel-takes-its-event-off",
    ),
    pytest.param(
        [carried("a", event_key="river"), carried("l", event_key="river", version=2, msg_type=MsgType.LIFT)],
        {},
        [],
        id="a-lift-takes-its-event-off",
    ),
    pytest.param(
        [carried("a", event_key="river"), carried("c", event_key="river", version=2, msg_type=MsgType.CORRECTION)],
        {},
        ["c"],
        id="a-correction-stays-on",
    ),
    pytest.param(
        [carried("a", state=AlertState.CANCELLED), carried("b")],
        {},
        ["b"],
        id="an-approved-cancel-not-yet-carried-takes-it-off",
    ),
    pytest.param(
        [carried("gone", expires=NOW - 1), carried("now", expires=NOW), carried("later", expires=NOW + 1)],
        {},
        ["later"],
        id="expired-at-its-expiry",
    ),
    pytest.param(
        [carried("old", created_at=NOW - UNTIMED_ON_AIR), carried("young", created_at=NOW - UNTIMED_ON_AIR + 1)],
        {},
        ["young"],
        id="untimed-leaves-a-day-after-it-was-made",
    ),
    pytest.param(
        [carried("old", created_at=NOW - 30 * UNTIMED_ON_AIR)],
        {"untimed": None},
        ["old"],
        id="untimed-stays-when-asked",
    ),
    pytest.param(
        [carried("old", 3 * HOUR, created_at=NOW - 3 * HOUR)],
        {"untimed": 2 * HOUR},
        [],
        id="untimed-for-a-given-time",
    ),
    pytest.param([carried("drill", mode=Mode.EXERCISE), carried("real")], {}, ["real"], id="no-exercises"),
    pytest.param(
        [carried("drill", mode=Mode.EXERCISE, event_key="k"), carried("real", event_key="k")],
        {"exercises": True},
        ["drill", "real"],
        id="exercise-and-live-chains-never-mix",
    ),
    pytest.param(
        [
            carried("l3-new", 10, level=3),
            carried("l5", 300, level=5),
            carried("l3-old", 200, level=3),
            carried("l4-severe", 100, level=4, severity=Severity.EXTREME),
            carried("l4-minor", 50, level=4, severity=Severity.MINOR),
        ],
        {},
        ["l5", "l4-severe", "l4-minor", "l3-new", "l3-old"],
        id="most-severe-first-then-latest-carried",
    ),
    pytest.param([carried("a", 60), carried("a", 30)], {}, ["a"], id="each-alert-once"),
]


@pytest.mark.parametrize(("published", "options", "expected"), CASES)
def test_on_air(published: list[Published], options: dict[str, Any], expected: list[str]) -> None:
    assert [p.alert.id for p in on_air(published, NOW, **options)] == expected


@pytest.mark.parametrize(("published", "options", "expected"), CASES)
def test_the_website_lists_as_current_what_is_on_air_with_no_end_for_untimed(
    published: list[Published], options: dict[str, Any], expected: list[str], settings: Settings
) -> None:
    exercises = options.get("exercises", False)
    website = settings.model_copy(update={"website": settings.website.model_copy(update={"show_exercises": exercises})})
    current = [event.latest.alert.id for event in build_snapshot(published, website, NOW).current]
    assert current == [p.alert.id for p in on_air(published, NOW, exercises=exercises, untimed=None)]


def test_a_cancel_approved_but_not_carried_has_no_cancel_time_yet(settings: Settings) -> None:
    pending = build_snapshot([carried("a", event_key="e", state=AlertState.CANCELLED)], settings, NOW)
    [event] = pending.events
    assert (event.status, event.cancelled_at) == (Status.CANCELLED, None)
    done = build_snapshot(
        [carried("a", 90, event_key="e"), carried("x", 30, event_key="e", version=2, msg_type=MsgType.CANCEL)],
        settings,
        NOW,
    )
    [event] = done.events
    assert (event.status, event.cancelled_at) == (Status.CANCELLED, NOW - 30)


def test_a_lifted_event_is_lifted_not_cancelled_in_every_version(settings: Settings) -> None:
    snap = build_snapshot(
        [carried("a", 90, event_key="e"), carried("l", 30, event_key="e", version=2, msg_type=MsgType.LIFT)],
        settings,
        NOW,
    )
    [event] = snap.events
    assert (event.status, event.cancelled_at, snap.current) == (Status.LIFTED, None, ())
    assert (snap.status("a"), snap.status("l")) == (Status.LIFTED, Status.LIFTED)
    assert STATUS_NAMES[Status.LIFTED] == "解除" != STATUS_NAMES[Status.CANCELLED]
