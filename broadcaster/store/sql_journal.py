"""The append-only audit log and the feeds' memory, as SQL on a connection.

The audit log is a hash chain (schema migration 12): each line's ``hash`` is the SHA-256 of the line
before it's hash and its own fields, written canonically (``entry_hash``); the first line's "hash
before" is ''. Changing, removing or inserting a line in the middle breaks the chain at that line or
the one after it, which ``audit_verify`` names. Triggers refuse UPDATE and DELETE besides; someone who
can drop them and rewrite every later hash is not stopped by the chain alone, so ``run.py audit
verify`` prints the newest hash, for a copy kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from broadcaster.models import AuditEntry

HASH_FUNCTION = "audit_hash"  # the SQL name of entry_hash, which migration 12 calls to fill in the old lines


def entry_hash(
    previous: str, entry_id: int, at: float, actor: str, action: str, target: str, detail: str, origin: str
) -> str:
    """The chain's hash of one line: SHA-256 (hex) of a JSON array of the previous hash and the line's fields."""
    canonical = json.dumps(
        [previous, int(entry_id), float(at), actor, action, target, detail, origin],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``audit_verify`` found: how many lines, the first that breaks the chain, the newest hash."""

    entries: int
    broken: int | None  # the id of the first line whose hash does not follow; None when the chain holds
    last_hash: str  # '' for an empty log


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def audit(conn: sqlite3.Connection, at: float, actor: str, action: str, target: str, detail: str, origin: str) -> None:
    """Append one line chained to the one before; the caller holds a write transaction (so no other line
    can come between the read of the last hash and the insert). Triggers refuse any UPDATE or DELETE."""
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    previous_id, previous = (int(last[0]), str(last[1])) if last else (0, "")
    entry_id = previous_id + 1
    digest = entry_hash(previous, entry_id, at, actor, action, target, detail, origin)
    conn.execute(
        "INSERT INTO audit (id, at, actor, action, target, detail, origin, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (entry_id, at, actor, action, target, detail, origin, digest),
    )


def audit_verify(conn: sqlite3.Connection, batch: int = 1000) -> ChainCheck:
    """Recompute the chain line by line in id order; the first line whose stored hash differs breaks it."""
    cursor = conn.execute("SELECT id, at, actor, action, target, detail, origin, hash FROM audit ORDER BY id")
    previous, n = "", 0
    while rows := cursor.fetchmany(batch):
        for entry_id, at, actor, action, target, detail, origin, stored in rows:
            n += 1
            if entry_hash(previous, entry_id, at, actor, action, target, detail, origin) != stored:
                return ChainCheck(n, int(entry_id), previous)
            previous = str(stored)
    return ChainCheck(n, None, previous)


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
