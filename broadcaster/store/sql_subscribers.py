"""Subscribers and their categories, as SQL on a connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping

from broadcaster.models import ContactKind, Subscriber, SubscriberState


def import_all(conn: sqlite3.Connection, subscribers: Iterable[Subscriber]) -> int:
    """Insert or update by (channel, contact); the caller's transaction makes it all or nothing."""
    count = 0
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


SELECT_ONE = """SELECT s.id, s.channel, s.contact, s.language, s.state, s.tester, s.created_at, s.updated_at,
                      (SELECT group_concat(category, ' ') FROM subscriptions WHERE subscriber_id = s.id)
               FROM subscribers s"""


def get(conn: sqlite3.Connection, channel: str, contact: str) -> Subscriber | None:
    """One subscriber by channel and contact, or None."""
    row = conn.execute(f"{SELECT_ONE} WHERE s.channel = ? AND s.contact = ?", (channel, contact)).fetchone()
    return _subscriber(row) if row else None


def get_by_id(conn: sqlite3.Connection, subscriber_id: int) -> Subscriber | None:
    """One subscriber by id, or None."""
    row = conn.execute(f"{SELECT_ONE} WHERE s.id = ?", (subscriber_id,)).fetchone()
    return _subscriber(row) if row else None


def set_state(conn: sqlite3.Connection, subscriber_id: int, state: str, now: float) -> bool:
    """Change a subscriber's state (confirming, pausing, unsubscribing); False if there is no such subscriber."""
    cur = conn.execute("UPDATE subscribers SET state = ?, updated_at = ? WHERE id = ?", (state, now, subscriber_id))
    return bool(cur.rowcount)


def note_refusals(conn: sqlite3.Connection, subscriber_ids: Iterable[int], threshold: int, now: float) -> list[int]:
    """Count one refusal each; subscribers reaching ``threshold`` become bounced. Returns those just bounced."""
    bounced = []
    for sid in subscriber_ids:
        row = conn.execute(
            "UPDATE subscribers SET refusals = refusals + 1 WHERE id = ? RETURNING refusals, state", (sid,)
        ).fetchone()
        if row and row[0] >= threshold and row[1] == "active":
            conn.execute("UPDATE subscribers SET state = 'bounced', updated_at = ? WHERE id = ?", (now, sid))
            bounced.append(sid)
    return bounced


def export_all(conn: sqlite3.Connection, write: Callable[[list[Subscriber]], None], batch: int) -> int:
    """Pass every subscriber to ``write`` in id order, ``batch`` at a time; returns how many."""
    last, total = 0, 0
    while rows := conn.execute(
        """SELECT s.id, s.channel, s.contact, s.language, s.state, s.tester, s.created_at, s.updated_at,
                  (SELECT group_concat(category, ' ') FROM subscriptions WHERE subscriber_id = s.id)
           FROM subscribers s WHERE s.id > ? ORDER BY s.id LIMIT ?""",
        (last, batch),
    ).fetchall():
        write([_subscriber(r) for r in rows])
        total += len(rows)
        last = rows[-1][0]
    return total


def _subscriber(r: tuple[int, str, str, str, str, int, float, float, str | None]) -> Subscriber:
    return Subscriber(
        id=r[0],
        channel=ContactKind(r[1]),
        contact=r[2],
        language=r[3],
        state=SubscriberState(r[4]),
        tester=bool(r[5]),
        created_at=r[6],
        updated_at=r[7],
        categories=frozenset(r[8].split()) if r[8] else frozenset(),
    )


def audience_sql(testers_only: bool) -> str:
    """FROM/WHERE of the active subscribers of one category on one contact channel (two parameters)."""
    testers = " AND s.tester = 1" if testers_only else ""
    return f"""FROM subscriptions c JOIN subscribers s ON s.id = c.subscriber_id
               WHERE c.category = ? AND s.channel = ? AND s.state = 'active'{testers}"""


def counts(conn: sqlite3.Connection) -> Mapping[tuple[str, str, str], int]:
    """Subscribers by (channel, category, state)."""
    rows = conn.execute(
        """SELECT s.channel, c.category, s.state, count(*) FROM subscriptions c
           JOIN subscribers s ON s.id = c.subscriber_id GROUP BY 1, 2, 3"""
    )
    return {(ch, cat, st): n for ch, cat, st, n in rows}
