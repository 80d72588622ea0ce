"""The delivery rows' hot path and reports, as SQL on a connection.

``delivery_counts`` moves in step with ``deliveries`` inside the same transactions, so progress,
metrics and "is this alert done?" never scan the rows. Rows move in batches: a claim or a record
of a thousand deliveries costs a handful of statements.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from broadcaster.data_key import NO_KEY, DataKey
from broadcaster.errors import ConfigError
from broadcaster.models import (
    BROADCAST_KEY,
    AlertId,
    AlertState,
    ChannelName,
    ChannelReport,
    Claim,
    DeliveryState,
    Outcome,
)

PENDING, SENDING, SENT, FAILED, SUPERSEDED = (s.value for s in DeliveryState)
IDS = "(SELECT value FROM json_each(?))"  # a JSON array of row ids as one parameter


def move(conn: sqlite3.Connection, channel: str, per_alert: Mapping[str, int], src: str, dst: str) -> None:
    """Move counts of ``channel`` rows from state ``src`` to ``dst``, per alert."""
    conn.executemany(
        "UPDATE delivery_counts SET n = n - ? WHERE alert_id = ? AND channel = ? AND state = ?",
        [(n, a, channel, src) for a, n in per_alert.items() if n],
    )
    conn.executemany(
        "INSERT INTO delivery_counts VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n",
        [(a, channel, dst, n) for a, n in per_alert.items() if n],
    )


def finish_if_closed(conn: sqlite3.Connection, alert_id: AlertId) -> bool:
    """Mark the alert done once none of its rows is open; True if that happened now."""
    open_rows = conn.execute(
        "SELECT coalesce(sum(n), 0) FROM delivery_counts WHERE alert_id = ? AND state IN (?, ?)",
        (alert_id, PENDING, SENDING),
    ).fetchone()[0]
    if open_rows:
        return False
    done = conn.execute(
        "UPDATE alerts SET state = ? WHERE id = ? AND state IN (?, ?)",
        (AlertState.DONE, alert_id, AlertState.APPROVED, AlertState.DISPATCHING),
    )
    return bool(done.rowcount)


def claim(
    conn: sqlite3.Connection, key: DataKey | None, channel: ChannelName, limit: int, lease_until: float, now: float
) -> list[Claim]:
    """Lease up to ``limit`` due rows, most urgent first, contacts opened with ``key``; the caller holds a write
    transaction. ConfigError without a key when a row has a contact."""
    rows = conn.execute(
        """SELECT d.id, d.alert_id, CASE d.recipient WHEN 0 THEN ? ELSE CAST(d.recipient AS TEXT) END,
                  s.contact, d.lang, d.attempts + 1, d.queued_at
           FROM deliveries d LEFT JOIN subscribers s ON s.id = d.recipient AND d.recipient != 0
           WHERE d.channel = ? AND d.state = 'pending' AND d.next_attempt_at <= ?
           ORDER BY d.priority DESC, d.id LIMIT ?""",
        (BROADCAST_KEY, channel, now, limit),
    ).fetchall()
    if not rows:
        return []
    conn.execute(
        f"""UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = ?,
                first_attempt_at = coalesce(first_attempt_at, ?)
            WHERE id IN {IDS}""",
        (lease_until, now, json.dumps([r[0] for r in rows])),
    )
    per_alert = Counter(r[1] for r in rows)
    move(conn, channel, per_alert, PENDING, SENDING)
    conn.executemany(
        "UPDATE alerts SET state = ? WHERE id = ? AND state = ?",
        [(AlertState.DISPATCHING, a, AlertState.APPROVED) for a in per_alert],
    )
    # a public channel's row has no subscriber; a subscriber's contact is opened here, on the store's thread
    reveal = _no_key if key is None else key.open
    return [Claim(i, a, k, "" if c is None else reveal(channel, c), lang, n, q) for i, a, k, c, lang, n, q in rows]


def _no_key(channel: str, sealed: bytes) -> str:
    raise ConfigError(NO_KEY)


# Each statement touches only rows still 'sending': a row whose lease went to another worker is not ours.
_Statement = tuple[str, list[tuple[Any, ...]]]
_RECORD: dict[str, Callable[[list[Outcome], float], _Statement]] = {
    # the common case: a whole batch sent, one statement
    SENT: lambda group, now: (
        f"UPDATE deliveries SET state = 'sent', sent_at = ? WHERE id IN {IDS} AND state = 'sending'",
        [(now, json.dumps([o.id for o in group]))],
    ),
    FAILED: lambda group, now: (
        "UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ? AND state = 'sending'",
        [(o.error, o.id) for o in group],
    ),
    PENDING: lambda group, now: (
        "UPDATE deliveries SET state = 'pending', last_error = ?, next_attempt_at = ? "
        "WHERE id = ? AND state = 'sending'",
        [(o.error, o.next_attempt_at, o.id) for o in group],
    ),
    SUPERSEDED: lambda group, now: (
        "UPDATE deliveries SET state = 'superseded', last_error = ? WHERE id = ? AND state = 'sending'",
        [(o.error, o.id) for o in group],
    ),
}


def record(conn: sqlite3.Connection, channel: ChannelName, outcomes: Sequence[Outcome], now: float) -> list[AlertId]:
    """Record outcomes of claimed rows; returns the alerts this left with nothing open."""
    by_state: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_state[o.state].append(o)
    _no_retry_after_a_newer_version(conn, by_state)
    for state, group in by_state.items():
        if conn.executemany(*_RECORD[state](group, now)).rowcount == len(group):
            move(conn, channel, Counter(o.alert_id for o in group), SENDING, state)
        else:  # some leases were lost to another worker: count from the rows themselves
            for alert_id in {o.alert_id for o in group}:
                _recount(conn, alert_id, channel)
    return [a for a in dict.fromkeys(o.alert_id for o in outcomes) if finish_if_closed(conn, a)]


def _recount(conn: sqlite3.Connection, alert_id: AlertId, channel: ChannelName) -> None:
    conn.execute("DELETE FROM delivery_counts WHERE alert_id = ? AND channel = ?", (alert_id, channel))
    conn.execute(
        """INSERT INTO delivery_counts SELECT alert_id, channel, state, count(*) FROM deliveries
           WHERE alert_id = ? AND channel = ? GROUP BY state""",
        (alert_id, channel),
    )


def _no_retry_after_a_newer_version(conn: sqlite3.Connection, by_state: dict[str, list[Outcome]]) -> None:
    """A row sent while its update or cancel was approved must not be retried after it."""
    retry = by_state.get(PENDING)
    if not retry:
        return
    alerts = json.dumps(sorted({o.alert_id for o in retry}))
    stale = {
        r[0] for r in conn.execute(f"SELECT id FROM alerts WHERE id IN {IDS} AND superseded_by IS NOT NULL", (alerts,))
    }
    if not stale:
        return
    by_state[PENDING] = [o for o in retry if o.alert_id not in stale]
    by_state[SUPERSEDED] = [o._replace(state=DeliveryState.SUPERSEDED) for o in retry if o.alert_id in stale]
    if not by_state[PENDING]:
        del by_state[PENDING]


def release(conn: sqlite3.Connection, channel: ChannelName, ids: Sequence[int]) -> None:
    """Give claimed rows back unsent; their attempt does not count."""
    rows = conn.execute(
        f"""UPDATE deliveries SET state = 'pending', attempts = attempts - 1, lease_until = NULL
            WHERE id IN {IDS} AND state = 'sending' RETURNING alert_id""",
        (json.dumps(list(ids)),),
    ).fetchall()
    move(conn, channel, Counter(r[0] for r in rows), SENDING, PENDING)


def next_due(conn: sqlite3.Connection, channel: ChannelName) -> float | None:
    """When the earliest pending row of ``channel`` becomes due."""
    row = conn.execute(
        "SELECT min(next_attempt_at) FROM deliveries WHERE channel = ? AND state = 'pending'", (channel,)
    ).fetchone()
    return None if row[0] is None else float(row[0])


def recover(conn: sqlite3.Connection, now: float, all_leases: bool) -> int:
    """Make rows claimed by dead workers pending again; returns how many."""
    rows = conn.execute(
        """UPDATE deliveries SET state = 'pending', lease_until = NULL
           WHERE state = 'sending' AND lease_until < ? RETURNING alert_id, channel""",
        (float("inf") if all_leases else now,),
    ).fetchall()
    per_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for alert_id, channel in rows:
        per_channel[channel][alert_id] += 1
    for channel, per_alert in per_channel.items():
        move(conn, channel, per_alert, SENDING, PENDING)
    return len(rows)


def counts(conn: sqlite3.Connection) -> dict[tuple[ChannelName, str], int]:
    """Deliveries by (channel, state) over all alerts."""
    rows = conn.execute("SELECT channel, state, sum(n) FROM delivery_counts GROUP BY channel, state")
    return {(c, s): n for c, s, n in rows}


def report(conn: sqlite3.Connection, alert_id: AlertId) -> list[ChannelReport]:
    """Per channel: counts by state, first/last sent, latency p50/p95, last error."""
    counted: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, state, n in conn.execute(
        "SELECT channel, state, n FROM delivery_counts WHERE alert_id = ? ORDER BY channel", (alert_id,)
    ):
        counted[channel][state] = n
    reports = []
    for channel, by_state in counted.items():
        args = (alert_id, channel)
        first, last = conn.execute(
            "SELECT min(sent_at), max(sent_at) FROM deliveries WHERE alert_id = ? AND channel = ? AND state = 'sent'",
            args,
        ).fetchone()
        error = conn.execute(
            """SELECT last_error FROM deliveries WHERE alert_id = ? AND channel = ? AND last_error != ''
               ORDER BY coalesce(sent_at, first_attempt_at) DESC LIMIT 1""",
            args,
        ).fetchone()
        retry = conn.execute(
            """SELECT min(next_attempt_at) FROM deliveries
               WHERE alert_id = ? AND channel = ? AND state = 'pending' AND attempts > 0""",
            args,
        ).fetchone()
        n_sent = by_state.get(SENT, 0)
        reports.append(
            ChannelReport(
                channel=channel,
                counts={s.value: by_state.get(s.value, 0) for s in DeliveryState},
                first_sent=first,
                last_sent=last,
                latency_p50=_latency(conn, args, n_sent, 0.50),
                latency_p95=_latency(conn, args, n_sent, 0.95),
                last_error=error[0] if error else "",
                next_retry=retry[0],
            )
        )
    return reports


def _latency(conn: sqlite3.Connection, args: tuple[str, str], n_sent: int, q: float) -> float | None:
    """The q-quantile of queued-to-sent seconds over the sent rows (nearest rank)."""
    if not n_sent:
        return None
    row = conn.execute(
        """SELECT sent_at - queued_at AS latency FROM deliveries
           WHERE alert_id = ? AND channel = ? AND state = 'sent' ORDER BY latency LIMIT 1 OFFSET ?""",
        (*args, min(n_sent - 1, int(q * n_sent))),
    ).fetchone()
    return float(row[0])
