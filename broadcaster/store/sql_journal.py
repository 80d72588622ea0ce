"""The append-only audit log and the feeds' memory, as SQL on a connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from broadcaster.models import AuditEntry


def audit(conn: sqlite3.Connection, at: float, actor: str, action: str, target: str, detail: str, origin: str) -> None:
    """Append one line; triggers refuse any UPDATE or DELETE of the table."""
    conn.execute(
        "INSERT INTO audit (at, actor, action, target, detail, origin) VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor, action, target, detail, origin),
    )


def audit_log(conn: sqlite3.Connection, limit: int) -> list[AuditEntry]:
    """The newest lines first."""
    rows = conn.execute(
        "SELECT id, at, actor, action, target, detail, origin FROM audit ORDER BY id DESC LIMIT ?", (limit,)
    )
    return [AuditEntry(*row) for row in rows]


def feed_get(conn: sqlite3.Connection, feed: str, key: str) -> str | None:
    """A remembered value, or None."""
    row = conn.execute("SELECT value FROM feed_state WHERE feed = ? AND key = ?", (feed, key)).fetchone()
    return None if row is None else str(row[0])


def feed_set(conn: sqlite3.Connection, feed: str, key: str, value: str) -> None:
    """Remember a value."""
    conn.execute("INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?)", (feed, key, value))


def mark_seen(conn: sqlite3.Connection, feed: str, entry_ids: Sequence[str], now: float) -> list[str]:
    """Remember entries; returns those not seen before, in the order given."""
    return [
        entry_id
        for entry_id in entry_ids
        if conn.execute("INSERT OR IGNORE INTO feed_seen VALUES (?, ?, ?)", (feed, entry_id, now)).rowcount
    ]


def forget_seen(conn: sqlite3.Connection, before: float) -> int:
    """Forget entries first seen before ``before``; returns how many."""
    return conn.execute("DELETE FROM feed_seen WHERE seen_at < ?", (before,)).rowcount
