"""The append-only audit log and the feeds' memory, as SQL on a connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from broadcaster.models import AuditEntry


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


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


def audit_search(conn: sqlite3.Connection, text: str, limit: int, before_id: int | None) -> list[AuditEntry]:
    """Lines whose actor, action, target, detail or origin contain ``text``, newest first, older than ``before_id``."""
    pattern = like_pattern(text)
    rows = conn.execute(
        """SELECT id, at, actor, action, target, detail, origin FROM audit
           WHERE id < ?2 AND (actor || ' ' || action || ' ' || target || ' ' || detail || ' ' || origin)
                 LIKE ?1 ESCAPE '\\'
           ORDER BY id DESC LIMIT ?3""",
        (pattern, before_id if before_id is not None else 2**63 - 1, limit),
    )
    return [AuditEntry(*row) for row in rows]


def audit_export(conn: sqlite3.Connection, write: Callable[[list[AuditEntry]], None], batch: int) -> int:
    """Pass every line to ``write`` in id order, ``batch`` at a time; returns how many."""
    n = 0
    cursor = conn.execute("SELECT id, at, actor, action, target, detail, origin FROM audit ORDER BY id")
    while rows := cursor.fetchmany(batch):
        write([AuditEntry(*row) for row in rows])
        n += len(rows)
    return n


def feed_get(conn: sqlite3.Connection, feed: str, key: str) -> str | None:
    """A remembered value, or None."""
    row = conn.execute("SELECT value FROM feed_state WHERE feed = ? AND key = ?", (feed, key)).fetchone()
    return None if row is None else str(row[0])


def feed_set(conn: sqlite3.Connection, feed: str, key: str, value: str) -> None:
    """Remember a value."""
    conn.execute("INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?)", (feed, key, value))


def feed_set_many(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Remember several values: (feed, key, value) each."""
    conn.executemany("INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?)", rows)


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
