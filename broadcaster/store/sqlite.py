"""The embedded store: one SQLite file in WAL mode, driven from one dedicated thread.

Every call runs on a single worker thread that owns the connection, so the event loop never
blocks on disk and transactions never interleave. Rows move in batches: the hot path (claim,
record) costs a few statements per thousand deliveries.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from broadcaster.errors import InputError
from broadcaster.models import (
    BROADCAST_KEY,
    Alert,
    AlertId,
    AlertState,
    AuditEntry,
    Certainty,
    ChannelName,
    ChannelReport,
    Claim,
    ContactKind,
    DeliveryState,
    Mode,
    MsgType,
    Outcome,
    Severity,
    Source,
    Subscriber,
    SubscriberState,
    Text,
    Timestamp,
    Urgency,
)
from broadcaster.store.schema import MIGRATIONS

T = TypeVar("T")
PENDING, SENDING, SENT, FAILED, SUPERSEDED = (s.value for s in DeliveryState)
CORRECTION_PRIORITY = 10  # corrections and cancels jump the queue


def _percentile(conn: sqlite3.Connection, where: str, args: tuple[Any, ...], n: int, q: float) -> float:
    offset = min(n - 1, int(q * n))
    row = conn.execute(
        f"SELECT sent_at - queued_at AS l FROM deliveries WHERE {where} ORDER BY l LIMIT 1 OFFSET ?",
        (*args, offset),
    ).fetchone()
    return float(row[0])


class SQLiteStore:
    """The Store protocol on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> SQLiteStore:
        """Open (creating and migrating as needed) the database at ``path``."""
        store = cls(path)
        await store._run(store._open)
        return store

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (SIGKILL); only power loss can undo the last commits.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-16000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits first, so the migration and its version bump are one explicit transaction
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def aclose(self) -> None:
        """Close the connection and the thread."""
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    # -- alerts --------------------------------------------------------------

    async def create_alert(self, alert: Alert, actor: str, origin: str) -> None:
        """Store a new alert and audit it, in one transaction."""
        await self._run(self._create_alert, alert, actor, origin)

    def _create_alert(self, alert: Alert, actor: str, origin: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)",
                (
                    alert.id,
                    alert.source,
                    alert.category,
                    alert.level,
                    alert.title,
                    alert.body,
                    alert.instruction,
                    alert.kind,
                    alert.severity,
                    alert.urgency,
                    alert.certainty,
                    json.dumps(alert.areas, ensure_ascii=False),
                    json.dumps(
                        {k: [t.title, t.body, t.instruction] for k, t in alert.translations.items()},
                        ensure_ascii=False,
                    ),
                    alert.event_key,
                    alert.version,
                    alert.msg_type,
                    alert.mode,
                    alert.expires,
                    json.dumps(alert.channels),
                    alert.state,
                    alert.created_at,
                    alert.created_by,
                    alert.references,
                ),
            )
            self._audit(conn, actor, "create", alert.id, f"{alert.mode} {alert.msg_type} {alert.category}", origin)

    async def get_alert(self, alert_id: AlertId) -> Alert | None:
        """One alert, or None."""
        return await self._run(self._get_alert, alert_id)

    def _get_alert(self, alert_id: AlertId) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None

    async def list_alerts(self, limit: int = 50) -> list[Alert]:
        """The newest alerts first."""
        return await self._run(self._list_alerts, limit)

    def _list_alerts(self, limit: int) -> list[Alert]:
        rows = self.conn.execute("SELECT * FROM alerts ORDER BY created_at DESC LIMIT ?", (limit,))
        return [_alert(row) for row in rows]

    # -- approval and planning ----------------------------------------------

    async def approve(self, alert_id: AlertId, actor: str, origin: str) -> dict[ChannelName, int]:
        """Approve and plan deliveries, superseding older versions, in one transaction."""
        return await self._run(self._approve, alert_id, actor, origin, time.time())

    def _approve(self, alert_id: AlertId, actor: str, origin: str, now: float) -> dict[ChannelName, int]:
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise InputError(f"no alert {alert_id}")
            alert = _alert(row)
            if alert.state not in (AlertState.DRAFT, AlertState.PENDING_APPROVAL):
                raise InputError(f"alert {alert_id} is {alert.state}, not awaiting approval")
            older = self._supersede(conn, alert) if alert.event_key else []
            priority = alert.level + (CORRECTION_PRIORITY if alert.msg_type != MsgType.ALERT else 0)
            base = (alert.id, PENDING, priority, now, now)
            if alert.msg_type != MsgType.CANCEL:
                for channel in alert.channels:
                    self._plan_audience(conn, alert, channel, base)
            if older:
                # whoever got an earlier version gets this one too, on the same channels
                marks = ",".join("?" * len(older))
                conn.execute(
                    f"""INSERT OR IGNORE INTO deliveries
                        (alert_id, channel, recipient, lang, state, priority, queued_at, next_attempt_at)
                        SELECT ?, channel, recipient, lang, ?, ?, ?, ? FROM deliveries
                        WHERE alert_id IN ({marks}) AND state IN ('sent', 'sending')""",
                    (*base, *older),
                )
            planned = dict(
                conn.execute(
                    "SELECT channel, count(*) FROM deliveries WHERE alert_id = ? GROUP BY channel", (alert.id,)
                ).fetchall()
            )
            conn.executemany(
                "INSERT INTO delivery_counts VALUES (?, ?, 'pending', ?)",
                [(alert.id, ch, n) for ch, n in planned.items()],
            )
            state = AlertState.APPROVED if planned else AlertState.DONE
            conn.execute(
                "UPDATE alerts SET state = ?, approved_by = ?, approved_at = ? WHERE id = ?",
                (state, actor, now, alert.id),
            )
            self._audit(conn, actor, "approve", alert.id, json.dumps(planned), origin)
            return planned

    def _plan_audience(self, conn: sqlite3.Connection, alert: Alert, channel: str, base: tuple[Any, ...]) -> None:
        if channel not in ContactKind.__members__.values():
            conn.execute(
                """INSERT OR IGNORE INTO deliveries
                   (alert_id, channel, recipient, lang, state, priority, queued_at, next_attempt_at)
                   VALUES (?, ?, 0, 'ja', ?, ?, ?, ?)""",
                (alert.id, channel, *base[1:]),
            )
            return
        testers_only = "AND s.tester = 1" if alert.mode == Mode.EXERCISE else ""
        conn.execute(
            f"""INSERT OR IGNORE INTO deliveries
                (alert_id, channel, recipient, lang, state, priority, queued_at, next_attempt_at)
                SELECT ?, ?, s.id, s.language, ?, ?, ?, ?
                FROM subscriptions c JOIN subscribers s ON s.id = c.subscriber_id
                WHERE c.category = ? AND s.channel = ? AND s.state = 'active' {testers_only}""",
            (alert.id, channel, *base[1:], alert.category, channel),
        )

    def _supersede(self, conn: sqlite3.Connection, alert: Alert) -> list[AlertId]:
        """Mark older versions' pending rows superseded; returns the older alert ids."""
        older = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM alerts WHERE event_key = ? AND id != ? AND state IN (?, ?, ?)",
                (alert.event_key, alert.id, AlertState.APPROVED, AlertState.DISPATCHING, AlertState.DONE),
            )
        ]
        for old in older:
            conn.execute("UPDATE deliveries SET state = ? WHERE alert_id = ? AND state = ?", (SUPERSEDED, old, PENDING))
            conn.execute(
                """INSERT INTO delivery_counts SELECT alert_id, channel, ?, n FROM delivery_counts
                   WHERE alert_id = ? AND state = ? AND n > 0
                   ON CONFLICT DO UPDATE SET n = n + excluded.n""",
                (SUPERSEDED, old, PENDING),
            )
            conn.execute("UPDATE delivery_counts SET n = 0 WHERE alert_id = ? AND state = ?", (old, PENDING))
            new_state = AlertState.CANCELLED if alert.msg_type == MsgType.CANCEL else None
            self._finish_if_closed(conn, old, new_state)
        return older

    def _finish_if_closed(self, conn: sqlite3.Connection, alert_id: AlertId, state: AlertState | None = None) -> bool:
        """Set ``state``, or DONE once nothing is left open; True if DONE was set now."""
        if state is not None:
            conn.execute("UPDATE alerts SET state = ? WHERE id = ?", (state, alert_id))
            return False
        open_rows = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM delivery_counts WHERE alert_id = ? AND state IN (?, ?)",
            (alert_id, PENDING, SENDING),
        ).fetchone()[0]
        if open_rows:
            return False
        return bool(
            conn.execute(
                "UPDATE alerts SET state = ? WHERE id = ? AND state IN (?, ?)",
                (AlertState.DONE, alert_id, AlertState.APPROVED, AlertState.DISPATCHING),
            ).rowcount
        )

    # -- the delivery hot path ---------------------------------------------

    async def claim(self, channel: ChannelName, limit: int, lease_until: Timestamp, now: Timestamp) -> list[Claim]:
        """Lease up to ``limit`` due rows of ``channel``, most urgent first."""
        return await self._run(self._claim, channel, limit, lease_until, now)

    def _claim(self, channel: ChannelName, limit: int, lease_until: float, now: float) -> list[Claim]:
        with self._tx() as conn:  # BEGIN IMMEDIATE: no other writer between the select and the update
            rows = conn.execute(
                """SELECT d.id, d.alert_id, CASE d.recipient WHEN 0 THEN ? ELSE CAST(d.recipient AS TEXT) END,
                          coalesce(s.contact, ''), d.lang, d.attempts + 1, d.queued_at
                   FROM deliveries d LEFT JOIN subscribers s ON s.id = d.recipient AND d.recipient != 0
                   WHERE d.channel = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
                   ORDER BY d.priority DESC, d.id LIMIT ?""",
                (BROADCAST_KEY, channel, now, limit),
            ).fetchall()
            if not rows:
                return []
            conn.execute(
                """UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = ?,
                       first_attempt_at = coalesce(first_attempt_at, ?)
                   WHERE id IN (SELECT value FROM json_each(?))""",
                (lease_until, now, json.dumps([r[0] for r in rows])),
            )
            per_alert = Counter(r[1] for r in rows)
            self._move(conn, channel, per_alert, PENDING, SENDING)
            conn.executemany(
                "UPDATE alerts SET state = ? WHERE id = ? AND state = ?",
                [(AlertState.DISPATCHING, a, AlertState.APPROVED) for a in per_alert],
            )
        return list(map(Claim._make, rows))

    def _move(self, conn: sqlite3.Connection, channel: str, per_alert: Mapping[str, int], src: str, dst: str) -> None:
        conn.executemany(
            "UPDATE delivery_counts SET n = n - ? WHERE alert_id = ? AND channel = ? AND state = ?",
            [(n, a, channel, src) for a, n in per_alert.items()],
        )
        conn.executemany(
            """INSERT INTO delivery_counts VALUES (?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET n = n + excluded.n""",
            [(a, channel, dst, n) for a, n in per_alert.items()],
        )

    async def record(self, channel: ChannelName, outcomes: Sequence[Outcome], now: Timestamp) -> list[AlertId]:
        """Record outcomes of claimed rows; returns the alerts this closed (nothing left open)."""
        if not outcomes:
            return []
        return await self._run(self._record, channel, outcomes, now)

    def _record(self, channel: ChannelName, outcomes: Sequence[Outcome], now: float) -> list[AlertId]:
        by_state: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_state[o.state].append(o)
        with self._tx() as conn:
            for state, group in by_state.items():
                sql, params = _RECORD[state](group, now)
                if conn.executemany(sql, params).rowcount == len(group):
                    changed = Counter(o.alert_id for o in group)
                else:  # some leases were lost to another worker: count only the rows we moved
                    changed = self._recount(conn, group, state)
                self._move(conn, channel, changed, SENDING, state)
            return [a for a in dict.fromkeys(o.alert_id for o in outcomes) if self._finish_if_closed(conn, a)]

    @staticmethod
    def _recount(conn: sqlite3.Connection, group: list[Outcome], state: str) -> Counter[str]:
        rows = conn.execute(
            """SELECT alert_id, count(*) FROM deliveries
               WHERE id IN (SELECT value FROM json_each(?)) AND state = ? GROUP BY alert_id""",
            (json.dumps([o.id for o in group]), state),
        )
        return Counter(dict(rows.fetchall()))

    async def release(self, channel: ChannelName, ids: Sequence[int]) -> None:
        """Give claimed rows back unsent; their attempt does not count."""
        if ids:
            await self._run(self._release, channel, ids)

    def _release(self, channel: ChannelName, ids: Sequence[int]) -> None:
        with self._tx() as conn:
            rows = conn.execute(
                """UPDATE deliveries SET state = 'pending', attempts = attempts - 1, lease_until = NULL
                   WHERE id IN (SELECT value FROM json_each(?)) AND state = 'sending' RETURNING alert_id""",
                (json.dumps(list(ids)),),
            ).fetchall()
            self._move(conn, channel, Counter(r[0] for r in rows), SENDING, PENDING)

    async def next_due(self, channel: ChannelName) -> Timestamp | None:
        """When the earliest pending row of ``channel`` is due."""
        return await self._run(self._next_due, channel)

    def _next_due(self, channel: ChannelName) -> Timestamp | None:
        row = self.conn.execute(
            "SELECT min(next_attempt_at) FROM deliveries WHERE channel = ? AND state = 'pending'", (channel,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    async def recover(self, now: Timestamp, all_leases: bool) -> int:
        """Make claimed rows of dead workers claimable again."""
        return await self._run(self._recover, now, all_leases)

    def _recover(self, now: float, all_leases: bool) -> int:
        cutoff = float("inf") if all_leases else now
        with self._tx() as conn:
            rows = conn.execute(
                """UPDATE deliveries SET state = 'pending', lease_until = NULL
                   WHERE state = 'sending' AND lease_until < ? RETURNING alert_id, channel""",
                (cutoff,),
            ).fetchall()
            per_channel: dict[str, Counter[str]] = defaultdict(Counter)
            for alert_id, channel in rows:
                per_channel[channel][alert_id] += 1
            for channel, per_alert in per_channel.items():
                self._move(conn, channel, per_alert, SENDING, PENDING)
        return len(rows)

    # -- reports -----------------------------------------------------------

    async def report(self, alert_id: AlertId) -> list[ChannelReport]:
        """Per channel: counts by state, first/last sent, latency p50/p95, last error."""
        return await self._run(self._report, alert_id)

    def _report(self, alert_id: AlertId) -> list[ChannelReport]:
        conn = self.conn
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for channel, state, n in conn.execute(
            "SELECT channel, state, n FROM delivery_counts WHERE alert_id = ? ORDER BY channel", (alert_id,)
        ):
            counts[channel][state] = n
        reports = []
        for channel, by_state in counts.items():
            where = "alert_id = ? AND channel = ? AND state = 'sent'"
            args = (alert_id, channel)
            first, last = conn.execute(
                f"SELECT min(sent_at), max(sent_at) FROM deliveries WHERE {where}", args
            ).fetchone()
            n_sent = by_state.get(SENT, 0)
            err = conn.execute(
                """SELECT last_error FROM deliveries WHERE alert_id = ? AND channel = ? AND last_error != ''
                   ORDER BY coalesce(sent_at, first_attempt_at) DESC LIMIT 1""",
                args,
            ).fetchone()
            reports.append(
                ChannelReport(
                    channel=channel,
                    counts={s.value: by_state.get(s.value, 0) for s in DeliveryState},
                    first_sent=first,
                    last_sent=last,
                    latency_p50=_percentile(conn, where, args, n_sent, 0.50) if n_sent else None,
                    latency_p95=_percentile(conn, where, args, n_sent, 0.95) if n_sent else None,
                    last_error=err[0] if err else "",
                )
            )
        return reports

    async def counts(self) -> dict[tuple[ChannelName, str], int]:
        """Deliveries by (channel, state) over all alerts."""
        return await self._run(self._counts)

    def _counts(self) -> dict[tuple[ChannelName, str], int]:
        rows = self.conn.execute("SELECT channel, state, sum(n) FROM delivery_counts GROUP BY channel, state")
        return {(c, s): n for c, s, n in rows}

    # -- subscribers ---------------------------------------------------------

    async def import_subscribers(self, subscribers: Iterable[Subscriber]) -> int:
        """Insert or update by (channel, contact) in one transaction; any error imports nothing."""
        return await self._run(self._import_subscribers, subscribers)

    def _import_subscribers(self, subscribers: Iterable[Subscriber]) -> int:
        count = 0
        with self._tx() as conn:
            for s in subscribers:
                sid = conn.execute(
                    """INSERT INTO subscribers (channel, contact, language, state, tester, created_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (channel, contact) DO UPDATE SET language = excluded.language,
                           state = excluded.state, tester = excluded.tester, updated_at = excluded.updated_at
                       RETURNING id""",
                    (s.channel, s.contact, s.language, s.state, int(s.tester), s.created_at, s.updated_at),
                ).fetchone()[0]
                conn.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (sid,))
                conn.executemany("INSERT INTO subscriptions VALUES (?, ?)", [(c, sid) for c in sorted(s.categories)])
                count += 1
        return count

    async def export_subscribers(self, write: Callable[[list[Subscriber]], None], batch: int = 1000) -> int:
        """Pass every subscriber to ``write`` in id order, ``batch`` at a time; returns how many."""
        return await self._run(self._export_subscribers, write, batch)

    def _export_subscribers(self, write: Callable[[list[Subscriber]], None], batch: int) -> int:
        last, total = 0, 0
        while True:
            rows = self.conn.execute(
                """SELECT s.id, s.channel, s.contact, s.language, s.state, s.tester, s.created_at,
                          s.updated_at, (SELECT group_concat(category) FROM subscriptions WHERE subscriber_id = s.id)
                   FROM subscribers s WHERE s.id > ? ORDER BY s.id LIMIT ?""",
                (last, batch),
            ).fetchall()
            if not rows:
                return total
            write(
                [
                    Subscriber(
                        id=r[0],
                        channel=ContactKind(r[1]),
                        contact=r[2],
                        language=r[3],
                        state=SubscriberState(r[4]),
                        tester=bool(r[5]),
                        created_at=r[6],
                        updated_at=r[7],
                        categories=frozenset(r[8].split(",")) if r[8] else frozenset(),
                    )
                    for r in rows
                ]
            )
            total += len(rows)
            last = rows[-1][0]

    async def audience(self, alert: Alert) -> dict[ChannelName, int]:
        """How many recipients each of the alert's channels would reach now (1 for a public channel)."""
        return await self._run(self._audience, alert)

    def _audience(self, alert: Alert) -> dict[ChannelName, int]:
        testers_only = "AND s.tester = 1" if alert.mode == Mode.EXERCISE else ""
        sizes = {}
        for channel in alert.channels:
            if channel not in ContactKind.__members__.values():
                sizes[channel] = 1
                continue
            sizes[channel] = self.conn.execute(
                f"""SELECT count(*) FROM subscriptions c JOIN subscribers s ON s.id = c.subscriber_id
                    WHERE c.category = ? AND s.channel = ? AND s.state = 'active' {testers_only}""",
                (alert.category, channel),
            ).fetchone()[0]
        return sizes

    async def subscriber_counts(self) -> Mapping[tuple[str, str, str], int]:
        """Subscribers by (channel, category, state)."""
        return await self._run(self._subscriber_counts)

    def _subscriber_counts(self) -> Mapping[tuple[str, str, str], int]:
        rows = self.conn.execute(
            """SELECT s.channel, c.category, s.state, count(*) FROM subscriptions c
               JOIN subscribers s ON s.id = c.subscriber_id GROUP BY 1, 2, 3"""
        )
        return {(ch, cat, st): n for ch, cat, st, n in rows}

    # -- audit ---------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str, detail: str, origin: str) -> None:
        """Append one line to the audit log."""
        await self._run(self._audit_tx, actor, action, target, detail, origin)

    def _audit_tx(self, *args: str) -> None:
        with self._tx() as conn:
            self._audit(conn, *args)

    @staticmethod
    def _audit(conn: sqlite3.Connection, actor: str, action: str, target: str, detail: str, origin: str) -> None:
        conn.execute(
            "INSERT INTO audit (at, actor, action, target, detail, origin) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), actor, action, target, detail, origin),
        )

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit lines first."""
        return await self._run(self._audit_log, limit)

    def _audit_log(self, limit: int) -> list[AuditEntry]:
        rows = self.conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [AuditEntry(*row) for row in rows]

    # -- feed state ----------------------------------------------------------

    async def feed_get(self, feed: str, key: str) -> str | None:
        """A remembered feed value, or None."""
        return await self._run(self._feed_get, feed, key)

    def _feed_get(self, feed: str, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM feed_state WHERE feed = ? AND key = ?", (feed, key)).fetchone()
        return row[0] if row else None

    async def feed_set(self, feed: str, key: str, value: str) -> None:
        """Remember a feed value."""
        await self._run(self._feed_set, feed, key, value)

    def _feed_set(self, feed: str, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?)", (feed, key, value))

    async def mark_seen(self, feed: str, entry_ids: Sequence[str], now: Timestamp) -> list[str]:
        """Remember entries; returns those not seen before, in the order given."""
        return await self._run(self._mark_seen, feed, entry_ids, now)

    def _mark_seen(self, feed: str, entry_ids: Sequence[str], now: float) -> list[str]:
        fresh = []
        with self._tx() as conn:
            for entry_id in entry_ids:
                cur = conn.execute("INSERT OR IGNORE INTO feed_seen VALUES (?, ?, ?)", (feed, entry_id, now))
                if cur.rowcount:
                    fresh.append(entry_id)
        return fresh


_Statement = tuple[str, Any]
_OURS = "AND state = 'sending'"  # a row whose lease we lost is not ours to move
_RECORD: dict[str, Callable[[list[Outcome], float], _Statement]] = {
    # all rows of a batch share one outcome here, so one statement moves them all
    SENT: lambda group, now: (
        f"UPDATE deliveries SET state = 'sent', sent_at = ? WHERE id IN (SELECT value FROM json_each(?)) {_OURS}",
        [(now, json.dumps([o.id for o in group]))],
    ),
    FAILED: lambda group, now: (
        f"UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ? {_OURS}",
        [(o.error, o.id) for o in group],
    ),
    PENDING: lambda group, now: (
        f"UPDATE deliveries SET state = 'pending', last_error = ?, next_attempt_at = ? WHERE id = ? {_OURS}",
        [(o.error, o.next_attempt_at, o.id) for o in group],
    ),
}


def _alert(row: sqlite3.Row | tuple[Any, ...]) -> Alert:
    translations = {k: Text(*v) for k, v in json.loads(row[12]).items()}
    return Alert(
        id=row[0],
        source=Source(row[1]),
        category=row[2],
        level=row[3],
        title=row[4],
        body=row[5],
        instruction=row[6],
        kind=row[7],
        severity=Severity(row[8]),
        urgency=Urgency(row[9]),
        certainty=Certainty(row[10]),
        areas=tuple(json.loads(row[11])),
        translations=translations,
        event_key=row[13],
        version=row[14],
        msg_type=MsgType(row[15]),
        mode=Mode(row[16]),
        expires=row[17],
        channels=tuple(json.loads(row[18])),
        state=AlertState(row[19]),
        created_at=row[20],
        created_by=row[21],
        references=row[22],
    )
