"""The SQLite store against a real database file: migrations, the audit log, approval, leases and counts.

Every test that moves delivery rows checks after each step that the delivery_counts table (kept in
step with the rows for cheap progress reads) still equals a GROUP BY over the deliveries themselves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster.errors import InputError
from broadcaster.models import (
    Alert,
    AlertState,
    Claim,
    ContactKind,
    DeliveryState,
    Mode,
    MsgType,
    Outcome,
    Source,
    Subscriber,
    SubscriberState,
)
from broadcaster.state import JMA_ETAG, JMA_LAST_MODIFIED
from broadcaster.store.schema import MIGRATIONS
from broadcaster.store.sqlite import SQLiteStore

ACTOR, ORIGIN = "tanaka", "test 127.0.0.1"
SENT, FAILED, PENDING, SENDING, SUPERSEDED = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.PENDING,
    DeliveryState.SENDING,
    DeliveryState.SUPERSEDED,
)


# -- helpers shared with test_dispatcher ---------------------------------------


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the database file through a separate read-only connection."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, args).fetchall()


def assert_counts_consistent(store: SQLiteStore, after: str = "") -> None:
    """The delivery_counts table equals a GROUP BY over deliveries (zero counts aside)."""
    grouped = Counter(
        {
            (a, c, s): n
            for a, c, s, n in query(
                store.path, "SELECT alert_id, channel, state, count(*) FROM deliveries GROUP BY 1, 2, 3"
            )
        }
    )
    table = {
        (a, c, s): n for a, c, s, n in query(store.path, "SELECT alert_id, channel, state, n FROM delivery_counts") if n
    }
    assert table == dict(grouped), f"delivery_counts drifted from the deliveries table {after}"


def make_alert(
    alert_id: str,
    channels: tuple[str, ...] = ("email", "sns"),
    *,
    mode: Mode = Mode.LIVE,
    msg_type: MsgType = MsgType.ALERT,
    event_key: str = "",
    version: int = 1,
    expires: float | None = None,
    level: int = 3,
) -> Alert:
    """A staff alert in the disaster category, ready for approval."""
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category="disaster",
        level=level,
        title=f"{alert_id} 避難指示",
        body="河川が氾濫するおそれがあります。",
        event_key=event_key,
        version=version,
        msg_type=msg_type,
        mode=mode,
        expires=expires,
        channels=channels,
        state=AlertState.DRAFT,
        created_at=time.time(),
        created_by=ACTOR,
    )


def email_subscriber(
    contact: str, *, tester: bool = False, language: str = "ja", categories: frozenset[str] = frozenset({"disaster"})
) -> Subscriber:
    """An active email subscriber."""
    return Subscriber(
        id=0, channel=ContactKind.EMAIL, contact=contact, categories=categories, language=language, tester=tester
    )


def emails(n: int, prefix: str = "resident") -> list[str]:
    """``n`` distinct email addresses."""
    return [f"{prefix}{i:02d}@example.jp" for i in range(1, n + 1)]


def delivery_rows(store: SQLiteStore, alert_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The alert's delivery rows by (channel, contact or ``*``), each as a dict of its columns."""
    rows = query(
        store.path,
        """SELECT d.channel, coalesce(s.contact, '*'), d.state, d.attempts, d.last_error, d.next_attempt_at,
                  d.lease_until, d.first_attempt_at, d.sent_at, d.queued_at, d.id
           FROM deliveries d LEFT JOIN subscribers s ON s.id = d.recipient AND d.recipient != 0
           WHERE d.alert_id = ?""",
        alert_id,
    )
    names = (
        "state",
        "attempts",
        "last_error",
        "next_attempt_at",
        "lease_until",
        "first_attempt_at",
        "sent_at",
        "queued_at",
        "id",
    )
    key = store.data_key()  # contacts are stored sealed: open them as the store does

    def contact(channel: str, stored: str | bytes) -> str:
        return stored if isinstance(stored, str) else key.open(channel, stored)

    return {(r[0], contact(r[0], r[1])): dict(zip(names, r[2:], strict=True)) for r in rows}


def states(store: SQLiteStore, alert_id: str) -> dict[tuple[str, str], str]:
    """(channel, contact or ``*``) -> delivery state, for one alert."""
    return {key: row["state"] for key, row in delivery_rows(store, alert_id).items()}


def table_sizes(db: Path) -> dict[str, int]:
    """Row counts of the tables an approval writes."""
    return {
        t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("deliveries", "delivery_counts", "audit", "alerts")
    }


# -- local helpers ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def opened(path: Path) -> AsyncIterator[SQLiteStore]:
    """A store on ``path``, closed on the way out."""
    store = await SQLiteStore.open(path)
    try:
        yield store
    finally:
        await store.aclose()


async def approved(store: SQLiteStore, alert: Alert, contacts: list[str]) -> float:
    """Import ``contacts`` as subscribers, create and approve ``alert``; returns when its rows were queued."""
    await store.import_subscribers(email_subscriber(c) for c in contacts)
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    assert_counts_consistent(store)
    queued = {float(row["queued_at"]) for row in delivery_rows(store, alert.id).values()}
    assert len(queued) == 1, "one approval queues every row at one instant"
    return queued.pop()


def outcomes(claims: list[Claim], state: DeliveryState, error: str = "", at: float = 0.0) -> list[Outcome]:
    """The same outcome for every claim."""
    return [Outcome(c.id, c.alert_id, state, error, at) for c in claims]


# -- schema --------------------------------------------------------------------


async def test_migrations_set_user_version_and_reopening_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "var" / "fresh.db"
    async with opened(db) as store:
        await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)
    schema = query(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    assert query(db, "PRAGMA user_version") == [(len(MIGRATIONS),)]

    for _ in range(2):  # re-running a migration would fail on CREATE TABLE, or duplicate nothing silently
        async with opened(db) as store:
            alert = await store.get_alert("a1")
            assert alert is not None and alert.title == "a1 避難指示"
    assert query(db, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert query(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
    assert query(db, "SELECT count(*) FROM alerts") == [(1,)]


async def test_wal_mode_is_on(store: SQLiteStore) -> None:
    assert query(store.path, "PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE audit SET actor = 'someone else'", id="update"),
        pytest.param("DELETE FROM audit", id="delete"),
    ],
)
async def test_audit_log_is_append_only(store: SQLiteStore, statement: str) -> None:
    await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)
    await store.audit(ACTOR, "login", "console", "", ORIGIN)
    before = query(store.path, "SELECT * FROM audit ORDER BY id")
    assert [r[3] for r in before] == ["create", "login"]

    with (
        contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as conn,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        conn.execute(statement)

    assert query(store.path, "SELECT * FROM audit ORDER BY id") == before
    entries = await store.audit_log()
    assert [(e.actor, e.action, e.target, e.origin) for e in entries] == [
        (ACTOR, "login", "console", ORIGIN),
        (ACTOR, "create", "a1", ORIGIN),
    ]


# -- approval ------------------------------------------------------------------


async def test_approve_writes_rows_state_and_audit_together(store: SQLiteStore) -> None:
    await store.import_subscribers(email_subscriber(c) for c in emails(3))
    await store.import_subscribers([email_subscriber("other@example.jp", categories=frozenset({"health"}))])
    await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)

    planned = await store.approve("a1", "suzuki", ORIGIN)

    assert planned == {"email": 3, "sns": 1}
    assert set(states(store, "a1")) == {("email", c) for c in emails(3)} | {("sns", "*")}
    assert set(states(store, "a1").values()) == {PENDING}
    alert = await store.get_alert("a1")
    assert alert is not None and alert.state == AlertState.APPROVED
    last = (await store.audit_log(1))[0]
    assert (last.actor, last.action, last.target, last.detail) == ("suzuki", "approve", "a1", '{"email": 3, "sns": 1}')
    assert_counts_consistent(store)


async def test_approving_twice_raises_and_writes_nothing(store: SQLiteStore) -> None:
    await approved(store, make_alert("a1"), emails(2))
    before = table_sizes(store.path)

    with pytest.raises(InputError, match="not awaiting approval"):
        await store.approve("a1", ACTOR, ORIGIN)

    assert table_sizes(store.path) == before
    assert_counts_consistent(store)


async def test_approving_an_unknown_alert_raises_and_writes_nothing(store: SQLiteStore) -> None:
    before = table_sizes(store.path)
    with pytest.raises(InputError, match="no alert nope"):
        await store.approve("nope", ACTOR, ORIGIN)
    assert table_sizes(store.path) == before


async def test_approve_is_one_transaction_when_it_fails_midway(store: SQLiteStore) -> None:
    """A failure after the delivery rows are inserted rolls back the rows, the state change and the audit line."""
    await store.import_subscribers(email_subscriber(c) for c in emails(2))
    await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)
    # a stray count row makes approve's own INSERT INTO delivery_counts fail, after the deliveries are written
    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as conn:
        conn.execute("INSERT INTO delivery_counts VALUES ('a1', 'email', 'pending', 0)")
    before = table_sizes(store.path)

    with pytest.raises(sqlite3.IntegrityError):
        await store.approve("a1", ACTOR, ORIGIN)

    assert table_sizes(store.path) == before
    alert = await store.get_alert("a1")
    assert alert is not None and alert.state == AlertState.DRAFT


async def test_exercise_alert_plans_testers_only(store: SQLiteStore) -> None:
    await store.import_subscribers(
        [email_subscriber("tester@example.jp", tester=True), email_subscriber("resident@example.jp")]
    )
    await store.create_alert(make_alert("x1", mode=Mode.EXERCISE), ACTOR, ORIGIN)
    assert await store.approve("x1", ACTOR, ORIGIN) == {"email": 1, "sns": 1}
    assert set(states(store, "x1")) == {("email", "tester@example.jp"), ("sns", "*")}


# -- leases --------------------------------------------------------------------


async def test_claim_leases_rows_and_a_second_claim_skips_them(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("email",)), emails(3))
    now = queued + 1

    first = await store.claim("email", 2, now + 60, now)

    assert [c.attempts for c in first] == [1, 1]
    rows = delivery_rows(store, "a1")
    leased = {key: row for key, row in rows.items() if key[1] in {c.contact for c in first}}
    assert len(leased) == 2
    for row in leased.values():
        assert (row["state"], row["attempts"], row["lease_until"], row["first_attempt_at"]) == (
            SENDING,
            1,
            now + 60,
            now,
        )
    alert = await store.get_alert("a1")
    assert alert is not None and alert.state == AlertState.DISPATCHING
    assert_counts_consistent(store)

    second = await store.claim("email", 10, now + 60, now)
    assert len(second) == 1 and second[0].id not in {c.id for c in first}
    assert await store.claim("email", 10, now + 60, now) == []
    assert_counts_consistent(store)


async def test_claim_waits_for_next_attempt_at_and_next_due_reports_it(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("sns",)), [])
    assert await store.next_due("sns") == queued
    claims = await store.claim("sns", 10, queued + 60, queued)
    await store.record("sns", outcomes(claims, PENDING, "429 too many requests", queued + 30), queued + 1)
    assert_counts_consistent(store)

    assert await store.next_due("sns") == queued + 30
    assert await store.claim("sns", 10, queued + 90, queued + 29) == []
    again = await store.claim("sns", 10, queued + 90, queued + 30)
    assert [c.attempts for c in again] == [2]
    assert await store.next_due("sns") is None
    assert_counts_consistent(store)


async def test_corrections_are_claimed_before_older_work(store: SQLiteStore) -> None:
    await store.import_subscribers(email_subscriber(c) for c in emails(2))
    for alert in (make_alert("news", ("email",), level=1), make_alert("urgent", ("email",), level=5, event_key="ev")):
        await store.create_alert(alert, ACTOR, ORIGIN)
        await store.approve(alert.id, ACTOR, ORIGIN)
    now = time.time()
    claims = await store.claim("email", 2, now + 60, now)
    assert [c.alert_id for c in claims] == ["urgent", "urgent"]
    await store.record("email", outcomes(claims, SENT), now)
    # a level-1 update outranks level-5 news because corrections jump the queue
    await store.create_alert(
        make_alert("u1", ("email",), msg_type=MsgType.UPDATE, event_key="ev", version=2, level=1), ACTOR, ORIGIN
    )
    assert await store.approve("u1", ACTOR, ORIGIN) == {"email": 2}
    claims = await store.claim("email", 4, now + 60, now + 1)
    assert [c.alert_id for c in claims] == ["u1", "u1", "news", "news"]
    assert_counts_consistent(store)


async def test_recover_resets_expired_leases_or_all(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("email",)), emails(3))
    t = queued + 1
    short = await store.claim("email", 2, t + 10, t)
    long = await store.claim("email", 1, t + 100, t)
    assert_counts_consistent(store)

    assert await store.recover(t + 50, all_leases=False) == 2
    rows = {row["id"]: row for row in delivery_rows(store, "a1").values()}
    for c in short:
        assert (rows[c.id]["state"], rows[c.id]["lease_until"], rows[c.id]["attempts"]) == (PENDING, None, 1)
    assert rows[long[0].id]["state"] == SENDING
    assert_counts_consistent(store)

    assert await store.recover(t + 50, all_leases=False) == 0
    assert await store.recover(t + 50, all_leases=True) == 1
    assert set(states(store, "a1").values()) == {PENDING}
    assert_counts_consistent(store)
    assert len(await store.claim("email", 10, t + 200, t + 60)) == 3


async def test_release_returns_rows_without_counting_the_attempt(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("email",)), emails(2))
    now = queued + 1
    kept, released = await store.claim("email", 2, now + 60, now)

    await store.release("email", [released.id])

    rows = {row["id"]: row for row in delivery_rows(store, "a1").values()}
    assert (rows[released.id]["state"], rows[released.id]["attempts"], rows[released.id]["lease_until"]) == (
        PENDING,
        0,
        None,
    )
    assert (rows[kept.id]["state"], rows[kept.id]["attempts"]) == (SENDING, 1)
    assert_counts_consistent(store)
    [again] = await store.claim("email", 10, now + 60, now)
    assert (again.id, again.attempts) == (released.id, 1)

    await store.record("email", outcomes([kept], SENT), now)
    await store.release("email", [kept.id])  # a sent row is not the releaser's to give back
    assert delivery_rows(store, "a1")[("email", kept.contact)]["state"] == SENT
    assert_counts_consistent(store)


async def test_record_closes_the_alert_when_nothing_is_open(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("email",)), emails(3))
    now = queued + 1
    a, b, c = await store.claim("email", 3, now + 60, now)

    assert await store.record("email", [*outcomes([a], SENT), *outcomes([b], PENDING, "421 busy", now)], now) == []
    assert_counts_consistent(store)
    [b2] = await store.claim("email", 3, now + 60, now)
    assert await store.record("email", outcomes([b2], FAILED, "550 no such user"), now) == []
    assert await store.record("email", outcomes([c], SENT), now) == ["a1"]

    rows = {row["id"]: row for row in delivery_rows(store, "a1").values()}
    assert [(rows[x.id]["state"], rows[x.id]["attempts"]) for x in (a, b, c)] == [(SENT, 1), (FAILED, 2), (SENT, 1)]
    assert rows[b.id]["last_error"] == "550 no such user"
    alert = await store.get_alert("a1")
    assert alert is not None and alert.state == AlertState.DONE
    assert_counts_consistent(store)


async def test_delivery_counts_follow_every_operation(store: SQLiteStore) -> None:
    """Approve, claim, record, release, recover, update and cancel: the counts agree after each step."""
    queued = await approved(store, make_alert("v1", ("email", "sns"), event_key="ev"), emails(6))
    t = queued + 1

    async def step(name: str) -> None:
        assert_counts_consistent(store, after=name)

    sent = await store.claim("email", 2, t + 60, t)
    await step("claim")
    await store.record("email", [*outcomes(sent[:1], SENT), *outcomes(sent[1:], FAILED, "550")], t)
    await step("record sent+failed")
    retry, back = await store.claim("email", 2, t + 60, t)
    await store.record("email", outcomes([retry], PENDING, "421", t), t)
    await step("record retry")
    await store.release("email", [back.id])
    await step("release")
    await store.claim("sns", 1, t + 10, t)
    await store.claim("email", 1, t + 10, t)
    await step("claim with short leases")
    assert await store.recover(t + 20, all_leases=False) == 2
    await step("recover")
    in_flight = await store.claim("email", 1, t + 60, t)
    await step("claim before update")

    await store.create_alert(
        make_alert("v2", ("email",), msg_type=MsgType.UPDATE, event_key="ev", version=2), ACTOR, ORIGIN
    )
    await store.approve("v2", ACTOR, ORIGIN)
    await step("approve update")
    await store.record("email", outcomes(in_flight, SENT), t)
    await step("record after update")
    v2 = await store.claim("email", 3, t + 60, t + 1)
    await store.record("email", outcomes(v2, SENT), t + 1)
    await step("record update")

    await store.create_alert(
        make_alert("v3", ("email",), msg_type=MsgType.CANCEL, event_key="ev", version=3), ACTOR, ORIGIN
    )
    await store.approve("v3", ACTOR, ORIGIN)
    await step("approve cancel")
    await store.record("email", outcomes(await store.claim("email", 100, t + 60, t + 2), SENT), t + 2)
    await step("record cancel")

    assert set(states(store, "v1").values()) <= {SENT, FAILED, SUPERSEDED}
    assert {(a.id, a.state) for a in await store.list_alerts()} >= {
        ("v1", AlertState.CANCELLED),
        ("v2", AlertState.CANCELLED),
    }


@pytest.mark.parametrize(
    ("second_worker", "late"),
    [
        pytest.param(SENT, SENT, id="both-sent"),
        pytest.param(None, PENDING, id="late-retry-of-a-recovered-row"),
        pytest.param(None, SENT, id="late-sent-of-a-recovered-row"),
    ],
)
async def test_a_late_record_after_losing_the_lease_keeps_counts_right(
    store: SQLiteStore, second_worker: DeliveryState | None, late: DeliveryState
) -> None:
    """Worker 1's lease runs out, the row is recovered (and maybe finished by worker 2), then worker 1 reports."""
    queued = await approved(store, make_alert("a1", ("sns",)), [])
    t = queued + 1
    first = await store.claim("sns", 1, t + 10, t)
    assert await store.recover(t + 20, all_leases=False) == 1
    if second_worker is not None:
        second = await store.claim("sns", 1, t + 80, t + 20)
        await store.record("sns", outcomes(second, second_worker, "boom", t + 30), t + 21)
    assert_counts_consistent(store)
    row_before = delivery_rows(store, "a1")[("sns", "*")]

    await store.record("sns", outcomes(first, late, "boom", t + 30), t + 25)

    assert_counts_consistent(store)
    if second_worker is not None:
        assert delivery_rows(store, "a1")[("sns", "*")]["state"] == row_before["state"]


# -- subscribers -----------------------------------------------------------------


async def test_import_is_all_or_nothing_when_the_iterable_fails(store: SQLiteStore) -> None:
    await store.import_subscribers([email_subscriber("taro@example.jp", language="ja")])

    def rows_then_error() -> Iterator[Subscriber]:
        yield email_subscriber("taro@example.jp", language="en", tester=True)  # an update of an existing one
        yield email_subscriber("hanako@example.jp")
        raise ValueError("line 3: bad row")

    with pytest.raises(ValueError, match="line 3"):
        await store.import_subscribers(rows_then_error())

    exported: list[Subscriber] = []
    assert await store.export_subscribers(exported.extend) == 1
    [taro] = exported
    assert (taro.contact, taro.language, taro.tester, taro.categories) == (
        "taro@example.jp",
        "ja",
        False,
        frozenset({"disaster"}),
    )
    assert await store.subscriber_counts() == {("email", "disaster", SubscriberState.ACTIVE): 1}


# -- feed state ----------------------------------------------------------------


async def test_mark_seen_returns_new_ids_only_and_persists(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    async with opened(db) as store:
        assert await store.mark_seen("extra", ["a", "b", "a"], 1.0) == ["a", "b"]
        assert await store.mark_seen("extra", ["b", "c"], 2.0) == ["c"]
        assert await store.mark_seen("eqvol", ["a"], 2.0) == ["a"]  # each feed remembers on its own
    async with opened(db) as store:
        assert await store.mark_seen("extra", ["c", "d", "a"], 3.0) == ["d"]
        assert await store.mark_seen("eqvol", ["a"], 3.0) == []


async def test_state_get_and_put(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    async with opened(db) as store:
        assert await store.get_state(JMA_LAST_MODIFIED, "extra") is None
        await store.put_state(JMA_LAST_MODIFIED, "extra", "Mon, 01 Jan 2024 00:00:00 GMT")
        await store.put_state(JMA_LAST_MODIFIED, "extra", "Tue, 02 Jan 2024 00:00:00 GMT")
        await store.put_state(JMA_LAST_MODIFIED, "eqvol", "Wed, 03 Jan 2024 00:00:00 GMT")
        assert await store.get_state(JMA_LAST_MODIFIED, "extra") == "Tue, 02 Jan 2024 00:00:00 GMT"
        assert await store.get_state(JMA_ETAG, "extra") is None
    async with opened(db) as store:
        assert await store.get_state(JMA_LAST_MODIFIED, "eqvol") == "Wed, 03 Jan 2024 00:00:00 GMT"


# -- reports -------------------------------------------------------------------


async def test_report_gives_latency_percentiles_and_last_error(store: SQLiteStore) -> None:
    contacts = emails(22)
    queued = await approved(store, make_alert("a1", ("email",)), contacts)
    claims = await store.claim("email", 100, queued + 60, queued + 0.5)
    *to_send, bounced = claims
    for latency, claim in enumerate(to_send, start=1):  # latencies 1 s … 21 s
        await store.record("email", outcomes([claim], SENT), queued + latency)
    await store.record("email", outcomes([bounced], FAILED, "550 5.1.1 user unknown"), queued + 22)
    assert_counts_consistent(store)

    [report] = await store.report("a1")

    assert report.channel == "email"
    assert {k: v for k, v in report.counts.items() if v} == {"sent": 21, "failed": 1}
    assert report.first_sent == pytest.approx(queued + 1)
    assert report.last_sent == pytest.approx(queued + 21)
    assert report.latency_p50 == pytest.approx(11.0)
    assert report.latency_p95 == pytest.approx(20.0)
    assert report.last_error == "550 5.1.1 user unknown"


async def test_report_of_an_alert_with_nothing_sent(store: SQLiteStore) -> None:
    queued = await approved(store, make_alert("a1", ("sns",)), [])
    claims = await store.claim("sns", 1, queued + 60, queued)
    await store.record("sns", outcomes(claims, FAILED, "403 account suspended"), queued + 1)
    [report] = await store.report("a1")
    assert (report.latency_p50, report.latency_p95, report.first_sent) == (None, None, None)
    assert report.counts["failed"] == 1 and report.last_error == "403 account suspended"


async def test_one_subscriber_saved_found_changed_and_bounced(store: SQLiteStore) -> None:
    new = Subscriber(0, ContactKind.EMAIL, "taro@example.jp", frozenset({"disaster"}), "ja", SubscriberState.PENDING)
    saved = await store.save_subscriber(new)
    assert saved.id > 0 and saved.state == SubscriberState.PENDING and saved.categories == {"disaster"}
    assert await store.get_subscriber("email", "taro@example.jp") == saved
    assert await store.get_subscriber_by_id(saved.id) == saved
    assert await store.get_subscriber("email", "hanako@example.jp") is None
    changed = await store.save_subscriber(dataclasses.replace(new, categories=frozenset({"crime", "health"})))
    assert changed.id == saved.id and changed.categories == {"crime", "health"}
    assert await store.set_subscriber_state(saved.id, SubscriberState.ACTIVE)
    assert not await store.set_subscriber_state(saved.id + 1000, SubscriberState.ACTIVE)
    assert await store.note_refusals([saved.id], threshold=2) == []
    assert await store.note_refusals([saved.id], threshold=2) == [saved.id]
    bounced = await store.get_subscriber_by_id(saved.id)
    assert bounced is not None and bounced.state == SubscriberState.BOUNCED
    assert await store.note_refusals([saved.id], threshold=2) == []  # already bounced: reported once


async def test_published_lists_what_a_public_channel_carried_latest_first(store: SQLiteStore) -> None:
    first, second = make_alert("20261129-100000-aaaaaa", ("email", "sns")), make_alert("20261129-100100-bbbbbb")
    for alert in (first, second):
        await approved(store, alert, [])
    assert await store.published("sns", since=0.0) == []  # approved is not yet carried

    claims = await store.claim("sns", 10, time.time() + 60, time.time())
    assert [c.alert_id for c in claims] == [first.id, second.id]
    await store.record("sns", [Outcome(claims[0].id, first.id, SENT)], 1000.0)
    await store.record("sns", [Outcome(claims[1].id, second.id, FAILED, "quota")], 1001.0)
    [only] = await store.published("sns", since=0.0)
    assert only.alert.id == first.id and only.alert.title == first.title and only.sent_at == 1000.0
    assert await store.published("sns", since=1000.5) == []
    assert await store.published("email", since=0.0) == []  # subscriber channels have no public row


async def test_seen_entries_are_forgotten_after_a_month(store: SQLiteStore) -> None:
    day = 86_400.0
    assert await store.mark_seen("jma", ["old", "recent"], now=1_000 * day) == ["old", "recent"]
    assert await store.mark_seen("jma", ["recent"], now=1_025 * day) == []  # within the month: remembered
    # a month and more later the first ones are forgotten (once an hour the store prunes)
    assert await store.mark_seen("jma", ["old", "new"], now=1_031 * day) == ["old", "new"]
    assert query(store.path, "SELECT count(*) FROM feed_seen") == [(2,)]


async def test_an_officers_correction_reaches_whom_the_event_reached_or_was_reaching_and_newcomers(
    store: SQLiteStore,
) -> None:
    got, *on_the_way = emails(3)
    t = await approved(store, make_alert("v1", ("email", "sns"), event_key="ev"), [got, *on_the_way])
    claims = await store.claim("email", 3, t + 60, t)
    await store.record("email", outcomes([c for c in claims if c.contact == got], SENT), t)
    await store.release("email", [c.id for c in claims if c.contact != got])  # the rest still on their way
    await store.record("sns", outcomes(await store.claim("sns", 1, t + 60, t), SENT), t)
    await store.import_subscribers([email_subscriber("newcomer@example.jp")])  # joined after the original
    await store.create_alert(make_alert("v2", ("email", "sns"), msg_type=MsgType.CORRECTION, event_key="ev", version=2),
                             ACTOR, ORIGIN)  # fmt: skip
    assert await store.reach(await store.get_alert("v2")) == {"email": 4, "sns": 1}  # type: ignore[arg-type]
    assert await store.approve("v2", ACTOR, ORIGIN) == {"email": 4, "sns": 1}
    everyone = (got, *on_the_way, "newcomer@example.jp")
    assert set(states(store, "v2")) == {("email", c) for c in everyone} | {("sns", "*")}
    assert {k: v for k, v in states(store, "v1").items() if k[1] in on_the_way} == {
        ("email", c): SUPERSEDED for c in on_the_way
    }
    assert_counts_consistent(store)
