"""Planning by district: 300 subscribers spread over the example districts and the whole city, a real store.

Each test computes whom an alert must reach from the seeded rows alone (who chose what, on which
channel, in which state), then compares it with the delivery rows approval wrote, per channel, exactly.
One approval is one transaction: a failure after the rows are written leaves none of them behind.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadcaster import drafts
from broadcaster.drafts import Draft
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, ContactKind, DeliveryState, Outcome, Source, Subscriber, SubscriberState
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from tests.processes import query

CHANNELS = ("email", "line")
# what residents chose: the whole city, one district, two, and an id no district has any more (a district
# the city renamed): that resident is reached by whole-city alerts only
CHOICES = tuple(
    frozenset(c)
    for c in ((), ("east",), ("west",), ("south",), ("north",), ("east", "west"), ("south", "north"), ("renamed",))
)
STATES = (SubscriberState.ACTIVE,) * 6 + (SubscriberState.PAUSED, SubscriberState.PENDING, SubscriberState.GONE)
ACTOR, ORIGIN = "officer", "test"


def residents(n: int = 300) -> list[Subscriber]:
    """``n`` subscribers on email and LINE, spread over the choices, states, testers and categories (seeded)."""
    rng = random.Random(14)
    found = []
    for i in range(n):
        channel = ContactKind.EMAIL if i % 2 else ContactKind.LINE
        contact = f"resident{i}@example.jp" if channel == ContactKind.EMAIL else f"U{i:032x}"
        categories = rng.choice((frozenset({"disaster"}), frozenset({"disaster", "health"}), frozenset({"crime"})))
        found.append(
            Subscriber(
                0,
                channel,
                contact,
                categories,
                language=rng.choice(("ja", "en")),
                state=rng.choice(STATES),
                tester=rng.random() < 0.3,
                districts=CHOICES[i // 2 % len(CHOICES)],  # each choice as often on both channels
            )
        )
    return found


@dataclass
class City:
    """The store, the seeded subscribers, and their stored ids."""

    settings: Settings
    store: SQLiteStore
    db: Path
    seeded: list[Subscriber]
    ids: dict[str, int]  # contact -> subscriber id

    def expected(self, districts: Iterable[str], *, exercise: bool = False) -> dict[str, set[int]]:
        """Whom an alert of the disaster category to ``districts`` (none: the whole city) must reach, by channel.

        Worked out from the seeded rows, not from the store: active, in the category, a tester if it is an
        exercise, and (for districts) a resident who chose the whole city or one of them.
        """
        wanted = set(districts)
        reach: dict[str, set[int]] = {ch: set() for ch in CHANNELS}
        for s in self.seeded:
            if s.state != SubscriberState.ACTIVE or "disaster" not in s.categories or (exercise and not s.tester):
                continue
            if wanted and s.districts and not (s.districts & wanted):
                continue
            reach[s.channel].add(self.ids[s.contact])
        return reach

    def rows(self, alert_id: str) -> dict[str, set[int]]:
        """The recipients of an alert's delivery rows, by channel, read from the database file."""
        found: dict[str, set[int]] = {ch: set() for ch in CHANNELS}
        for channel, recipient in query(
            self.db, "SELECT channel, recipient FROM deliveries WHERE alert_id = ?", alert_id
        ):
            found[channel].add(recipient)
        return found

    def counts(self, alert_id: str) -> dict[str, int]:
        """The pending counts approval wrote beside the rows."""
        sql = "SELECT channel, n FROM delivery_counts WHERE alert_id = ? AND state = 'pending'"
        return dict(query(self.db, sql, alert_id))


@pytest.fixture
async def city(district_settings: Settings) -> AsyncIterator[City]:
    """A real store with the 300 residents imported (contacts sealed, as always)."""
    db = district_settings.path(district_settings.storage.path)
    store = await SQLiteStore.open(db)
    try:
        seeded = residents()
        assert await store.import_subscribers(seeded) == len(seeded)
        stored: list[Subscriber] = []
        await store.export_subscribers(stored.extend)
        yield City(district_settings, store, db, seeded, {s.contact: s.id for s in stored})
    finally:
        await store.aclose()


def alert(settings: Settings, districts: tuple[str, ...], *, exercise: bool = False) -> Alert:
    """A draft disaster alert on email and LINE to ``districts``, checked as every source's drafts are."""
    draft = Draft(
        category="disaster",
        level=4,
        title="避難指示",
        body="川の水位が上がっています。",
        districts=districts,
        channels=CHANNELS,
        mode="exercise" if exercise else "live",
    )
    return drafts.build(settings, draft, ACTOR, Source.STAFF)


async def approved(city: City, districts: tuple[str, ...], *, exercise: bool = False) -> tuple[Alert, dict[str, int]]:
    """Store a draft to ``districts`` and approve it; the alert and what approve() says it planned."""
    draft = alert(city.settings, districts, exercise=exercise)
    await city.store.create_alert(draft, ACTOR, ORIGIN)
    return draft, await city.store.approve(draft.id, ACTOR, ORIGIN)


def sizes(reach: dict[str, set[int]]) -> dict[str, int]:
    return {ch: len(ids) for ch, ids in reach.items() if ids}


def test_the_seeded_city_covers_every_case(district_settings: Settings) -> None:
    seeded = residents()
    for channel in ContactKind:
        active = [s for s in seeded if s.channel == channel and s.state == SubscriberState.ACTIVE]
        # every choice, on each channel, among active subscribers of the category, testers and not
        for choice in CHOICES:
            chose = [s for s in active if s.districts == choice and "disaster" in s.categories]
            assert any(s.tester for s in chose) and any(not s.tester for s in chose), (channel, sorted(choice))
        assert any(s.state != SubscriberState.ACTIVE and s.districts == {"east"} for s in seeded)
        assert any("disaster" not in s.categories and s.districts == {"east"} for s in active)
    assert {d.id for d in district_settings.districts} == {"east", "west", "south", "north"}


@pytest.mark.parametrize(
    ("districts", "exercise"),
    [(("east",), False), (("south", "north"), False), ((), False), (("west",), True)],
    ids=["one-district", "two-districts", "whole-city", "exercise-one-district"],
)
async def test_an_alert_plans_exactly_the_residents_of_its_districts_and_the_whole_citys(
    city: City, districts: tuple[str, ...], exercise: bool
) -> None:
    expected = city.expected(districts, exercise=exercise)
    assert all(expected.values())  # someone on each channel, and (below) not everyone
    everyone = city.expected(())
    if districts or exercise:
        assert all(expected[ch] < everyone[ch] for ch in CHANNELS)

    draft = alert(city.settings, districts, exercise=exercise)
    assert await city.store.reach(draft) == sizes(expected)  # the console's reach: approval's own count
    await city.store.create_alert(draft, ACTOR, ORIGIN)
    planned = await city.store.approve(draft.id, ACTOR, ORIGIN)

    assert city.rows(draft.id) == expected
    assert planned == sizes(expected) == city.counts(draft.id)
    stored = await city.store.get_alert(draft.id)
    assert stored is not None and stored.state == "approved" and stored.districts == districts
    entry = (await city.store.audit_log(1))[0]
    assert (entry.action, entry.target, json.loads(entry.detail)) == ("approve", draft.id, planned)


async def test_planning_is_one_transaction_a_failure_after_the_rows_leaves_none(city: City) -> None:
    draft = alert(city.settings, ("east",))
    await city.store.create_alert(draft, ACTOR, ORIGIN)
    # a real failure inside the approval, after its delivery rows are written and before their counts are:
    # the trigger fires only if this alert's rows already exist in the transaction, and says so
    with contextlib.closing(sqlite3.connect(city.db)) as conn:
        conn.execute(
            """CREATE TRIGGER fail_midway BEFORE INSERT ON delivery_counts
               WHEN (SELECT count(*) FROM deliveries WHERE alert_id = NEW.alert_id) > 0
               BEGIN SELECT RAISE(ABORT, 'rows were written, then the approval failed'); END"""
        )
        conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="rows were written, then the approval failed"):
        await city.store.approve(draft.id, ACTOR, ORIGIN)

    assert city.rows(draft.id) == {ch: set() for ch in CHANNELS}
    assert city.counts(draft.id) == {}
    stored = await city.store.get_alert(draft.id)
    assert stored is not None and stored.state == "draft"
    assert [e.action for e in await city.store.audit_log(5) if e.target == draft.id] == ["create"]

    with contextlib.closing(sqlite3.connect(city.db)) as conn:
        conn.execute("DROP TRIGGER fail_midway")
        conn.commit()
    planned = await city.store.approve(draft.id, ACTOR, ORIGIN)  # the same approval, whole this time
    assert city.rows(draft.id) == city.expected(("east",))
    assert planned == city.counts(draft.id) == sizes(city.expected(("east",)))


async def mark_sent(city: City, channel: str, recipients: set[int]) -> None:
    """Claim every pending row of ``channel`` as a worker would: those of ``recipients`` sent, the rest released."""
    now = time.time()
    claims = await city.store.claim(channel, 10_000, now + 60, now)
    sent = [Outcome(c.id, c.alert_id, DeliveryState.SENT) for c in claims if int(c.key) in recipients]
    await city.store.record(channel, sent, now)
    await city.store.release(channel, [c.id for c in claims if int(c.key) not in recipients])


async def test_a_correction_to_more_districts_reaches_who_got_the_original_and_the_new_districts(city: City) -> None:
    original, _ = await approved(city, ("east",))
    got = city.rows(original.id)
    # after the original went out: a resident of east moves to south, and a new resident chooses west
    mover = next(
        s for s in city.seeded if s.districts == {"east"} and s.state == "active" and "disaster" in s.categories
    )
    await city.store.save_subscriber(
        Subscriber(0, mover.channel, mover.contact, mover.categories, districts=frozenset({"south"}))
    )
    newcomer = await city.store.save_subscriber(
        Subscriber(0, ContactKind.EMAIL, "newcomer@example.jp", frozenset({"disaster"}), districts=frozenset({"west"}))
    )

    changes = Draft(
        category="disaster", level=4, title="避難指示（対象地区を追加）", body="東部地区と西部地区に避難指示。"
    )
    correction = drafts.correction(city.settings, original, changes, ACTOR, districts=("east", "west"))
    planned = await city.store.create_alert(correction, ACTOR, ORIGIN, approve=True)

    now_reached = city.expected(("east", "west"))
    now_reached[mover.channel].discard(city.ids[mover.contact])  # chose south since: only the original reached them
    now_reached["email"].add(newcomer.id)
    expected = {ch: got[ch] | now_reached[ch] for ch in CHANNELS}
    assert city.ids[mover.contact] in expected[mover.channel]
    assert city.rows(correction.id) == expected
    assert planned == sizes(expected)
    south_only = {city.ids[s.contact] for s in city.seeded if s.districts == {"south"}}
    assert not south_only & (expected["email"] | expected["line"])


async def test_a_cancel_reaches_exactly_who_got_the_alert(city: City) -> None:
    original, _ = await approved(city, ("south", "north"))
    planned = city.rows(original.id)
    # the workers got part of the way: every other recipient on email, the first ten on LINE
    delivered = {"email": set(sorted(planned["email"])[::2]), "line": set(sorted(planned["line"])[:10])}
    for channel in CHANNELS:
        await mark_sent(city, channel, delivered[channel])

    released = await Lifecycle(city.store, city.settings).cancel(original, ACTOR, "誤報", ORIGIN)
    assert not released.waiting
    assert city.rows(released.alert_id) == delivered
    assert released.planned == sizes(delivered)
