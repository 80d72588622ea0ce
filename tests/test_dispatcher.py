"""The dispatcher with a real SQLite store: retries, isolation, supersede, exercise routing, limits, shutdown.

Channels here are FakeChannels (tests/channels_for_tests.py) standing in for third-party services at
the channel seam. Tests wait on the workers' ``progress`` events and the store's state, never on sleeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from broadcaster.channel import ChannelSet
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import PartialDelivery, PermanentError, TransientError
from broadcaster.models import AlertState, ContactKind, DeliveryState, Mode, MsgType, Source, Subscriber
from broadcaster.pacing import RetryPolicy, TokenBucket
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from tests.channels_for_tests import PUBLIC, Call, FakeChannel, Gate, Step, deliver, script
from tests.test_store import (
    ACTOR,
    ORIGIN,
    assert_counts_consistent,
    delivery_rows,
    email_subscriber,
    emails,
    make_alert,
    states,
)

SENT, FAILED, PENDING, SENDING, SUPERSEDED = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.PENDING,
    DeliveryState.SENDING,
    DeliveryState.SUPERSEDED,
)
FINAL = {SENT, FAILED, SUPERSEDED}
POLICY = RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=3600.0)
Check = Callable[[], Awaitable[bool]]
SiteFactory = Callable[..., Path]  # the conftest `site` fixture


# -- helpers -------------------------------------------------------------------


def channel_set(*live: FakeChannel, exercise: tuple[FakeChannel, ...] | None = None) -> ChannelSet:
    """Channels by name; exercise sinks default to the live ones."""
    sinks = {ch.name: ch for ch in live}
    drills = sinks if exercise is None else {ch.name: ch for ch in exercise}
    return ChannelSet(live=dict(sinks), exercise=dict(drills), notices=[])


async def until(d: Dispatcher, check: Check, within: float = 10.0) -> None:
    """Wait on the workers' progress until ``check`` holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        await d.wait_until(check)


async def reached(event: asyncio.Event, within: float = 10.0) -> None:
    """Wait for an event a test channel sets; fail after ``within`` seconds rather than at the test timeout."""
    async with asyncio.timeout(within):
        await event.wait()


def done(store: SQLiteStore, *alert_ids: str, state: AlertState = AlertState.DONE) -> Check:
    """True once every alert is in ``state``."""

    async def check() -> bool:
        alerts = [await store.get_alert(a) for a in alert_ids]
        return all(a is not None and a.state == state for a in alerts)

    return check


def holds(predicate: Callable[[], bool]) -> Check:
    """A synchronous predicate (typically over delivery_rows) as a Check."""

    async def check() -> bool:
        return predicate()

    return check


async def create(store: SQLiteStore, *alerts_: tuple[str, tuple[str, ...]]) -> None:
    """Create plain live alerts given as (id, channels)."""
    for alert_id, channels in alerts_:
        await store.create_alert(make_alert(alert_id, channels), ACTOR, ORIGIN)


async def alert_state(store: SQLiteStore, alert_id: str) -> AlertState:
    """The alert's state; it must exist."""
    alert = await store.get_alert(alert_id)
    assert alert is not None
    return alert.state


def custom(site: SiteFactory, sections: dict[str, dict[str, object]]) -> Settings:
    """Settings with extra site sections (storage stays where the ``store`` fixture has it)."""
    return load_settings(site(sections, name="custom.toml"))


def line_subscriber(user_id: str, *, tester: bool = False) -> Subscriber:
    """An active LINE subscriber in the disaster category."""
    return Subscriber(
        id=0, channel=ContactKind.LINE, contact=user_id, categories=frozenset({"disaster"}), tester=tester
    )


# -- retries -------------------------------------------------------------------

RETRY_CASES = [
    pytest.param(
        lambda: (TransientError("503 service unavailable"), TransientError("503 service unavailable"), None),
        POLICY,
        SENT,
        3,
        "503 service unavailable",
        id="transient-twice-then-sent",
    ),
    pytest.param(
        lambda: (PermanentError("403 account suspended"),),
        POLICY,
        FAILED,
        1,
        "403 account suspended",
        id="permanent-never-retried",
    ),
    pytest.param(
        lambda: (TransientError("503 service unavailable"),),
        RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0),
        FAILED,
        3,
        "gave up after 3 attempts: 503 service unavailable",
        id="bounded-by-max-attempts",
    ),
    pytest.param(
        lambda: (TransientError("429 too many requests", retry_after=60.0),),
        RetryPolicy(max_attempts=8, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=30.0),
        FAILED,
        1,
        "gave up after 1 attempts: 429 too many requests",
        id="bounded-by-deadline-via-retry-after",
    ),
    pytest.param(
        lambda: (TransientError("503 service unavailable"),),
        RetryPolicy(max_attempts=8, base_delay=100.0, max_delay=100.0, jitter=0.0, deadline=30.0),
        FAILED,
        1,
        "gave up after 1 attempts: 503 service unavailable",
        id="bounded-by-deadline-via-backoff",
    ),
    pytest.param(
        lambda: (RuntimeError("boom"),),
        POLICY,
        FAILED,
        1,
        "internal error: RuntimeError('boom')",
        id="channel-bug-is-permanent",
    ),
]


@pytest.mark.parametrize(("steps", "policy", "state", "attempts", "last_error"), RETRY_CASES)
async def test_send_outcomes_and_retries(
    store: SQLiteStore,
    settings: Settings,
    steps: Callable[[], tuple[Step, ...]],
    policy: RetryPolicy,
    state: DeliveryState,
    attempts: int,
    last_error: str,
) -> None:
    sns = FakeChannel("sns", script(*steps()))
    await create(store, ("a1", ("sns",)))

    async with Dispatcher(store, channel_set(sns), settings, policy=policy) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await until(d, done(store, "a1"))

    row = delivery_rows(store, "a1")[("sns", "*")]
    assert (row["state"], row["attempts"], row["last_error"]) == (state, attempts, last_error)
    assert len(sns.calls) == attempts  # one send() per attempt, so a permanent error is sent once
    [report] = await store.report("a1")
    assert (report.counts[state], report.last_error) == (1, last_error)
    assert_counts_consistent(store)


async def test_retry_after_is_a_floor_for_the_next_attempt(store: SQLiteStore, settings: Settings) -> None:
    started: list[float] = []

    async def rate_limited(call: Call) -> None:
        started.append(time.time())
        raise TransientError("429 too many requests", retry_after=0.3)

    async def accept(call: Call) -> None:
        started.append(time.time())

    sns = FakeChannel("sns", script(rate_limited, accept))
    await create(store, ("a1", ("sns",)))
    async with Dispatcher(store, channel_set(sns), settings, policy=POLICY) as d:  # POLICY waits 0 s itself
        await d.approve("a1", ACTOR, ORIGIN)
        await until(d, done(store, "a1"))

    row = delivery_rows(store, "a1")[("sns", "*")]
    assert (row["state"], row["attempts"], row["last_error"]) == (SENT, 2, "429 too many requests")
    failed_at, retried_at = started
    assert row["next_attempt_at"] >= failed_at + 0.3
    assert retried_at >= row["next_attempt_at"]  # the worker's timer, not a poll, brought it back when due


async def test_partial_delivery_retries_or_fails_only_the_failed_recipients(
    store: SQLiteStore, settings: Settings
) -> None:
    ok, greylisted, unknown = emails(3)

    async def some_fail(call: Call) -> None:
        errors = {greylisted: TransientError("421 greylisted"), unknown: PermanentError("550 no such user")}
        raise PartialDelivery({r.key: errors[r.contact] for r in call.to if r.contact in errors})

    email = FakeChannel("email", script(some_fail, None))
    await store.import_subscribers(email_subscriber(c) for c in (ok, greylisted, unknown))
    await create(store, ("a1", ("email",)))

    async with Dispatcher(store, channel_set(email), settings, policy=POLICY) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await until(d, done(store, "a1"))

    rows = delivery_rows(store, "a1")
    assert {
        c: (rows["email", c]["state"], rows["email", c]["attempts"], rows["email", c]["last_error"]) for c in emails(3)
    } == {
        ok: (SENT, 1, ""),
        greylisted: (SENT, 2, "421 greylisted"),
        unknown: (FAILED, 1, "550 no such user"),
    }
    assert [sorted(c.contacts) for c in email.calls] == [sorted(emails(3)), [greylisted]]
    assert_counts_consistent(store)


async def test_a_failed_batch_is_retried_as_the_same_batch(store: SQLiteStore, settings: Settings) -> None:
    # Channels key idempotency on a batch's recipients (LINE's retry key), so the batch must stay whole.
    jittery = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.05, jitter=1.0, deadline=3600.0)
    email = FakeChannel("email", script(TransientError("503 try later"), None))
    await store.import_subscribers(email_subscriber(c) for c in emails(5))
    await create(store, ("a1", ("email",)))

    async with Dispatcher(store, channel_set(email), settings, policy=jittery) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await until(d, done(store, "a1"))

    rows = delivery_rows(store, "a1")
    assert len({rows["email", c]["next_attempt_at"] for c in emails(5)}) == 1  # one retry time, jitter or not
    assert [sorted(c.contacts) for c in email.calls] == [sorted(emails(5))] * 2


async def test_a_send_that_times_out_counts_as_transient(store: SQLiteStore, site: SiteFactory) -> None:
    never = asyncio.Event()

    async def hang(call: Call) -> None:
        await never.wait()

    sns = FakeChannel("sns", script(hang, None))
    await create(store, ("a1", ("sns",)))
    settings = custom(site, {"channels.sns": {"timeout": 0.2}})

    async with Dispatcher(store, channel_set(sns), settings, policy=POLICY) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await until(d, done(store, "a1"))

    row = delivery_rows(store, "a1")[("sns", "*")]
    assert (row["state"], row["attempts"], row["last_error"]) == (SENT, 2, "timed out after 0.2 s")
    assert [c.outcome for c in sns.calls] == ["cancelled", "sent"]  # the timeout cancelled the hanging send


async def test_expired_alerts_are_not_sent(store: SQLiteStore, settings: Settings) -> None:
    sns, email = FakeChannel("sns"), FakeChannel("email")
    await store.import_subscribers([email_subscriber("taro@example.jp")])
    await store.create_alert(make_alert("old", ("sns", "email"), expires=time.time() - 60), ACTOR, ORIGIN)

    async with Dispatcher(store, channel_set(sns, email), settings, policy=POLICY) as d:
        await d.approve("old", ACTOR, ORIGIN)
        await until(d, done(store, "old"))

    rows = delivery_rows(store, "old")
    assert {k: (r["state"], r["last_error"]) for k, r in rows.items()} == {
        ("sns", "*"): (FAILED, "expired before delivery"),
        ("email", "taro@example.jp"): (FAILED, "expired before delivery"),
    }
    assert sns.calls == email.calls == []


# -- isolation and waking --------------------------------------------------------


async def test_a_slow_and_a_failing_channel_do_not_hold_back_another(store: SQLiteStore, settings: Settings) -> None:
    events: list[str] = []
    gate = Gate()
    slow = FakeChannel("sns", gate, events)
    failing = FakeChannel("ticker", script(TransientError("station link down")), events)
    fast = FakeChannel("website", deliver, events)
    await create(store, ("slow", ("sns",)), ("failing", ("ticker",)), ("fast", ("website",)))
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0)
    mark = "test: fast and failing are done"

    async with Dispatcher(store, channel_set(slow, failing, fast), settings, policy=policy) as d:
        await d.approve("slow", ACTOR, ORIGIN)
        await reached(gate.entered)
        await d.approve("failing", ACTOR, ORIGIN)
        await d.approve("fast", ACTOR, ORIGIN)
        await until(d, done(store, "fast", "failing"))
        events.append(mark)
        assert await alert_state(store, "slow") == AlertState.DISPATCHING
        gate.open()
        await until(d, done(store, "slow"))

    assert events.index("sns:slow:start") < events.index("website:fast:sent") < events.index(mark)
    assert events.index(mark) < events.index("sns:slow:sent")
    assert [e for e in events[: events.index(mark)] if e.startswith("ticker:")] == [
        "ticker:failing:start",
        "ticker:failing:TransientError",
    ] * 3
    assert states(store, "fast") == {("website", "*"): SENT}
    assert delivery_rows(store, "failing")["ticker", "*"]["last_error"] == "gave up after 3 attempts: station link down"


async def test_the_worker_wakes_on_new_work_without_a_timer(store: SQLiteStore, settings: Settings) -> None:
    events: list[str] = []
    sns = FakeChannel("sns", deliver, events)
    await create(store, ("first", ("sns",)), ("second", ("sns",)))

    async with Dispatcher(store, channel_set(sns), settings, policy=POLICY) as d:
        await d.approve("first", ACTOR, ORIGIN)
        await until(d, done(store, "first"))
        assert await store.next_due("sns") is None  # nothing scheduled: no timer can wake the idle worker
        events.append("test: approve second")
        await d.approve("second", ACTOR, ORIGIN)
        await until(d, done(store, "second"), within=5.0)

    assert events == [
        "sns:first:start",
        "sns:first:sent",
        "test: approve second",
        "sns:second:start",
        "sns:second:sent",
    ]


# -- supersede: cancel and update ------------------------------------------------


async def test_cancel_supersedes_pending_rows_and_reaches_exactly_who_got_the_original(
    store: SQLiteStore, site: SiteFactory
) -> None:
    # one row per claim and one chunk at a time, so the email fan-out can be held halfway
    settings = custom(
        site, {"dispatcher": {"claim_size": 1, "inflight_chunks": 1}, "channels.email": {"batch_size": 1}}
    )
    gate = Gate()
    email: FakeChannel

    async def hold_second_original(call: Call) -> None:
        if call.alert_id == "orig" and len(email.calls_for("orig")) == 2:
            await gate(call)

    email = FakeChannel("email", hold_second_original)
    sns = FakeChannel("sns")
    ticker = FakeChannel("ticker", script(TransientError("station busy", retry_after=60.0), None))
    await store.import_subscribers(email_subscriber(c) for c in emails(4))
    channels = ("email", "sns", "ticker")
    await store.create_alert(make_alert("orig", channels, event_key="ev"), ACTOR, ORIGIN)
    await store.create_alert(
        make_alert("cancel", channels, msg_type=MsgType.CANCEL, event_key="ev", version=2), ACTOR, ORIGIN
    )

    async with Dispatcher(store, channel_set(email, sns, ticker), settings, policy=POLICY) as d:
        await d.approve("orig", ACTOR, ORIGIN)
        await reached(gate.entered)
        [first], [second] = (c.contacts for c in email.calls_for("orig"))

        def halfway() -> bool:
            rows = delivery_rows(store, "orig")
            return (
                rows["email", first]["state"] == SENT
                and rows["sns", "*"]["state"] == SENT
                and (rows["ticker", "*"]["state"], rows["ticker", "*"]["attempts"]) == (PENDING, 1)
            )

        await until(d, holds(halfway))

        assert await d.approve("cancel", ACTOR, ORIGIN) == {"email": 2, "sns": 1}

        never_reached = {("email", c) for c in emails(4)} - {("email", first), ("email", second)}
        assert states(store, "orig") == {
            ("email", first): SENT,
            ("email", second): SENDING,
            **dict.fromkeys(never_reached, SUPERSEDED),
            ("sns", "*"): SENT,
            ("ticker", "*"): SUPERSEDED,
        }
        assert await alert_state(store, "orig") == AlertState.CANCELLED
        assert set(states(store, "cancel")) == {("email", first), ("email", second), ("sns", "*")}
        gate.open()
        await until(d, done(store, "cancel"))

    assert email.delivered("cancel") == sorted([first, second])
    assert sns.delivered("cancel") == PUBLIC
    assert ticker.calls_for("cancel") == []
    assert email.delivered("orig") == sorted([first, second])  # the superseded rows were never sent
    assert len(ticker.calls_for("orig")) == 1
    assert states(store, "orig")["email", second] == SENT
    assert await alert_state(store, "orig") == AlertState.CANCELLED
    assert_counts_consistent(store)


async def test_update_supersedes_pending_rows_and_reaches_who_got_the_older_version(
    store: SQLiteStore, settings: Settings
) -> None:
    """A feed's update (JMA) also reaches whoever subscribed since; an officer's correction does not
    (tests/console/test_alert_flow.py)."""
    got_v1, *greylisted = emails(3)

    async def some_later(call: Call) -> None:
        raise PartialDelivery(
            {r.key: TransientError("421 greylisted", retry_after=60.0) for r in call.to if r.contact in greylisted}
        )

    email = FakeChannel("email", script(some_later, None))
    sns = FakeChannel("sns")
    await store.import_subscribers(email_subscriber(c) for c in emails(3))
    await store.create_alert(make_alert("v1", ("email", "sns"), event_key="ev"), ACTOR, ORIGIN)
    # the update is not posted to sns itself, yet reaches it because v1 went there
    v2 = make_alert("v2", ("email",), msg_type=MsgType.UPDATE, event_key="ev", version=2)
    await store.create_alert(dataclasses.replace(v2, source=Source.JMA), ACTOR, ORIGIN)

    async with Dispatcher(store, channel_set(email, sns), settings, policy=POLICY) as d:
        await d.approve("v1", ACTOR, ORIGIN)

        def v1_halfway() -> bool:
            s = states(store, "v1")
            return (
                s["email", got_v1] == SENT
                and s["sns", "*"] == SENT
                and {s["email", c] for c in greylisted} == {PENDING}
            )

        await until(d, holds(v1_halfway))
        newcomer = "newcomer@example.jp"
        await store.import_subscribers([email_subscriber(newcomer)])

        assert await d.approve("v2", ACTOR, ORIGIN) == {"email": 4, "sns": 1}
        assert states(store, "v1") == {
            ("email", got_v1): SENT,
            **{("email", c): SUPERSEDED for c in greylisted},
            ("sns", "*"): SENT,
        }
        await until(d, done(store, "v2"))

    assert email.delivered("v2") == sorted([*emails(3), newcomer])
    assert sns.delivered("v2") == PUBLIC
    assert email.delivered("v1") == [got_v1]
    assert len(email.calls_for("v1")) == 1  # the superseded rows were not retried
    assert await alert_state(store, "v1") == AlertState.DONE
    assert_counts_consistent(store)


async def test_a_row_in_flight_when_cancelled_is_not_sent_after_the_cancel(
    store: SQLiteStore, settings: Settings
) -> None:
    """The original's send is in flight when the cancel is approved, then fails transiently: it must not be retried."""
    gate = Gate()

    async def busy(call: Call) -> None:
        await gate(call)
        raise TransientError("503 service unavailable", retry_after=0.05)

    sns = FakeChannel("sns", script(busy, None))
    await store.create_alert(make_alert("orig", ("sns",), event_key="ev"), ACTOR, ORIGIN)
    await store.create_alert(
        make_alert("cancel", ("sns",), msg_type=MsgType.CANCEL, event_key="ev", version=2), ACTOR, ORIGIN
    )

    async with Dispatcher(store, channel_set(sns), settings, policy=POLICY) as d:
        await d.approve("orig", ACTOR, ORIGIN)
        await reached(gate.entered)
        assert await d.approve("cancel", ACTOR, ORIGIN) == {"sns": 1}
        gate.open()
        await until(
            d,
            holds(lambda: states(store, "orig")["sns", "*"] in FINAL and states(store, "cancel")["sns", "*"] in FINAL),
        )

    assert [(c.alert_id, c.outcome) for c in sns.calls] == [("orig", "TransientError"), ("cancel", "sent")]
    assert states(store, "orig") == {("sns", "*"): SUPERSEDED}
    assert_counts_consistent(store)


# -- exercise --------------------------------------------------------------------


async def test_exercise_alerts_reach_only_testers_through_exercise_sinks(
    store: SQLiteStore, settings: Settings
) -> None:
    tester_line, resident_line = "U" + "0" * 32, "U" + "f" * 32
    await store.import_subscribers(
        [
            email_subscriber("tester@example.jp", tester=True),
            email_subscriber("resident@example.jp"),
            line_subscriber(tester_line, tester=True),
            line_subscriber(resident_line),
        ]
    )
    live = tuple(FakeChannel(n) for n in ("email", "line", "sns"))
    drill = tuple(FakeChannel(n) for n in ("email", "line", "sns"))
    await store.create_alert(make_alert("drill", ("email", "line", "sns"), mode=Mode.EXERCISE), ACTOR, ORIGIN)
    await store.create_alert(make_alert("real", ("email", "line", "sns")), ACTOR, ORIGIN)

    async with Dispatcher(store, channel_set(*live, exercise=drill), settings, policy=POLICY) as d:
        await d.approve("drill", ACTOR, ORIGIN)
        await d.approve("real", ACTOR, ORIGIN)
        await until(d, done(store, "drill", "real"))

    x_email, x_line, x_sns = drill
    assert (x_email.delivered("drill"), x_line.delivered("drill"), x_sns.delivered("drill")) == (
        ["tester@example.jp"],
        [tester_line],
        PUBLIC,
    )
    assert {c.mode for ch in drill for c in ch.calls} == {Mode.EXERCISE}
    assert [c for ch in live for c in ch.calls_for("drill")] == []
    l_email, l_line, l_sns = live
    assert (l_email.delivered("real"), l_line.delivered("real"), l_sns.delivered("real")) == (
        ["resident@example.jp", "tester@example.jp"],
        sorted([tester_line, resident_line]),
        PUBLIC,
    )


async def test_an_exercise_update_in_a_live_event_chain_never_reaches_residents(
    store: SQLiteStore, settings: Settings
) -> None:
    """Exercise alerts can only reach exercise sinks, even when their event key matches a live alert's."""
    await store.import_subscribers(
        [email_subscriber("tester@example.jp", tester=True), email_subscriber("resident@example.jp")]
    )
    live, drill = FakeChannel("email"), FakeChannel("email")
    await store.create_alert(make_alert("real", ("email",), event_key="ev"), ACTOR, ORIGIN)
    await store.create_alert(
        make_alert("drill", ("email",), mode=Mode.EXERCISE, msg_type=MsgType.UPDATE, event_key="ev", version=2),
        ACTOR,
        ORIGIN,
    )

    async with Dispatcher(store, channel_set(live, exercise=(drill,)), settings, policy=POLICY) as d:
        await d.approve("real", ACTOR, ORIGIN)
        await until(d, done(store, "real"))
        await d.approve("drill", ACTOR, ORIGIN)
        await until(d, done(store, "drill"))

    assert live.delivered("real") == ["resident@example.jp", "tester@example.jp"]
    assert drill.delivered("drill") == ["tester@example.jp"]
    assert set(states(store, "drill")) == {("email", "tester@example.jp")}


# -- limits and shutdown -----------------------------------------------------------


async def test_concurrency_cap_and_batch_size_are_respected(store: SQLiteStore, site: SiteFactory) -> None:
    cap, batch, people = 2, 3, 20
    settings = custom(site, {"channels.email": {"batch_size": batch, "concurrency": cap}})
    full, gate = asyncio.Event(), Gate()
    email: FakeChannel

    async def hold_until_full(call: Call) -> None:
        if email.in_flight >= cap:
            full.set()
        await gate(call)

    email = FakeChannel("email", hold_until_full)
    await store.import_subscribers(email_subscriber(c) for c in emails(people))
    await create(store, ("a1", ("email",)))

    async with Dispatcher(store, channel_set(email), settings, policy=POLICY) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await reached(full)
        # every row is claimed in one chunk, yet only `cap` sends run; the store round trip lets the others queue up
        assert (await store.counts())["email", SENDING] == people
        assert email.in_flight == cap
        gate.open()
        await until(d, done(store, "a1"))

    assert email.max_in_flight == cap
    assert max(len(c.to) for c in email.calls) == batch
    assert len(email.calls) == -(-people // batch)
    assert email.delivered("a1") == sorted(emails(people))  # everyone exactly once


async def test_shutdown_cancels_a_stuck_send_and_hands_its_row_back(store: SQLiteStore, site: SiteFactory) -> None:
    settings = custom(site, {"dispatcher": {"shutdown_grace": 0.2}, "channels.email": {"batch_size": 1}})
    quick, stuck_contact = emails(2)
    stuck, quick_sent = Gate(), asyncio.Event()

    async def one_hangs(call: Call) -> None:
        if call.contacts == (stuck_contact,):
            await stuck(call)  # never opened
        quick_sent.set()

    email = FakeChannel("email", one_hangs)
    await store.import_subscribers(email_subscriber(c) for c in (quick, stuck_contact))
    await create(store, ("a1", ("email",)))

    async with Dispatcher(store, channel_set(email), settings, policy=POLICY) as d:
        await d.approve("a1", ACTOR, ORIGIN)
        await reached(stuck.entered)
        await reached(quick_sent)

    assert {c.contacts[0]: c.outcome for c in email.calls} == {quick: "sent", stuck_contact: "cancelled"}
    rows = delivery_rows(store, "a1")
    assert (rows["email", quick]["state"], rows["email", quick]["attempts"]) == (SENT, 1)
    assert (rows["email", stuck_contact]["state"], rows["email", stuck_contact]["attempts"]) == (PENDING, 0)
    assert rows["email", stuck_contact]["lease_until"] is None
    assert await alert_state(store, "a1") == AlertState.DISPATCHING
    assert_counts_consistent(store)
    now = time.time()
    [again] = await store.claim("email", 10, now + 60, now)
    assert (again.contact, again.attempts) == (stuck_contact, 1)


# -- pacing ----------------------------------------------------------------------

BACKOFF = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=300.0, jitter=0.0, deadline=3600.0)


@pytest.mark.parametrize(
    ("policy", "attempts", "queued_at", "now", "retry_after", "expected"),
    [
        pytest.param(BACKOFF, 1, 0.0, 100.0, None, 101.0, id="first-retry-after-base-delay"),
        pytest.param(BACKOFF, 2, 0.0, 100.0, None, 102.0, id="doubles"),
        pytest.param(BACKOFF, 4, 0.0, 100.0, None, 108.0, id="doubles-again"),
        pytest.param(BACKOFF, 5, 0.0, 100.0, None, None, id="attempts-exhausted"),
        pytest.param(BACKOFF, 6, 0.0, 100.0, None, None, id="attempts-beyond-max"),
        pytest.param(
            RetryPolicy(max_attempts=20, max_delay=10.0, jitter=0.0),
            9,
            0.0,
            100.0,
            None,
            110.0,
            id="capped-by-max-delay",
        ),
        pytest.param(BACKOFF, 1, 0.0, 3599.0, None, 3600.0, id="deadline-inclusive"),
        pytest.param(BACKOFF, 1, 0.0, 3599.5, None, None, id="past-the-deadline"),
        pytest.param(BACKOFF, 1, 0.0, 100.0, 30.0, 130.0, id="retry-after-above-backoff"),
        pytest.param(BACKOFF, 4, 0.0, 100.0, 1.0, 108.0, id="retry-after-is-a-floor-not-a-ceiling"),
        pytest.param(BACKOFF, 1, 0.0, 3500.0, 200.0, None, id="retry-after-beyond-the-deadline"),
        pytest.param(
            RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0),
            1,
            0.0,
            100.0,
            None,
            100.0,
            id="zero-waits-for-tests",
        ),
    ],
)
def test_retry_policy_next_attempt(
    policy: RetryPolicy, attempts: int, queued_at: float, now: float, retry_after: float | None, expected: float | None
) -> None:
    assert policy.next_attempt(attempts, queued_at, now, retry_after) == expected


@pytest.mark.parametrize(
    ("jitter", "retry_after", "low", "high"),
    [
        pytest.param(0.5, None, 4.0, 8.0, id="half-jitter"),
        pytest.param(1.0, None, 0.0, 8.0, id="full-jitter"),
        pytest.param(1.0, 5.0, 5.0, 8.0, id="jitter-never-below-retry-after"),
    ],
)
def test_retry_policy_jitter_bounds(jitter: float, retry_after: float | None, low: float, high: float) -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=2.0, max_delay=300.0, jitter=jitter)
    delays = [policy.next_attempt(3, 0.0, 100.0, retry_after) for _ in range(500)]  # backoff 2 × 2² = 8 s
    assert all(d is not None and low <= d - 100.0 <= high for d in delays)
    assert len(set(delays)) > 1  # it is random


async def test_token_bucket_burst_is_immediate_then_it_waits() -> None:
    bucket = TokenBucket(rate=0.001, burst=3)  # refilling one token takes 1,000 s
    async with asyncio.timeout(5):
        for _ in range(3):
            await bucket.take()
    fourth = asyncio.create_task(bucket.take())
    for _ in range(10):  # let it run as far as it can: to its wait for the next token, 1,000 s away
        await asyncio.sleep(0)
    assert not fourth.done()
    fourth.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fourth


async def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=50.0, burst=1)
    before = time.monotonic()
    await bucket.take()
    await bucket.take()
    assert time.monotonic() - before >= 1 / 50
