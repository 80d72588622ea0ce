"""Subscribers and their categories, as SQL on a connection.

A contact is stored sealed under the data key and found by its keyed hash (broadcaster/data_key.py):
the SQL never sees an address or a LINE user id, and every function that reads or writes one takes the key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broadcaster.data_key import DATA_KEY_ENV, OLD_KEY_ENV, DataKey, DataKeys
from broadcaster.errors import ConfigError
from broadcaster.models import ContactKind, Subscriber, SubscriberState

PLAIN = ""  # contact_key of a contact stored before migration 11, not yet sealed
MASK_BITS = 63  # districts with a bit in subscribers.district_mask (a signed 64-bit integer)
SEAL_BATCH = 1000


def import_all(conn: sqlite3.Connection, key: DataKey, subscribers: Iterable[Subscriber]) -> int:
    """Insert or update by (channel, contact); the caller's transaction makes it all or nothing."""
    count = 0
    for s in subscribers:
        sid = conn.execute(
            """INSERT INTO subscribers (channel, contact, contact_hash, contact_key, language, state, tester,
                                        whole_city, district_mask, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (channel, contact_hash) DO UPDATE SET language = excluded.language,
                   state = excluded.state, tester = excluded.tester, whole_city = excluded.whole_city,
                   district_mask = excluded.district_mask, updated_at = excluded.updated_at
               RETURNING id""",
            (
                s.channel,
                key.seal(s.channel, s.contact),
                key.lookup(s.channel, s.contact),
                key.key_id,
                s.language,
                s.state,
                int(s.tester),
                int(not s.districts),
                _mask(conn, sorted(s.districts)),
                s.created_at,
                s.updated_at,
            ),
        ).fetchone()[0]
        conn.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (sid,))
        conn.executemany("INSERT INTO subscriptions VALUES (?, ?)", [(c, sid) for c in sorted(s.categories)])
        conn.execute("DELETE FROM subscriber_districts WHERE subscriber_id = ?", (sid,))
        conn.executemany("INSERT INTO subscriber_districts VALUES (?, ?)", [(d, sid) for d in sorted(s.districts)])
        count += 1
    return count


SELECT_ONE = """SELECT s.id, s.channel, s.contact, s.language, s.state, s.tester, s.created_at, s.updated_at,
                      (SELECT group_concat(category, ' ') FROM subscriptions WHERE subscriber_id = s.id),
                      (SELECT group_concat(district, ' ') FROM subscriber_districts WHERE subscriber_id = s.id)
               FROM subscribers s"""


def get(conn: sqlite3.Connection, key: DataKey, channel: str, contact: str) -> Subscriber | None:
    """One subscriber by channel and contact (found by the contact's keyed hash), or None."""
    row = conn.execute(
        f"{SELECT_ONE} WHERE s.channel = ? AND s.contact_hash = ?", (channel, key.lookup(channel, contact))
    ).fetchone()
    return _subscriber(row, key) if row else None


def get_by_id(conn: sqlite3.Connection, key: DataKey, subscriber_id: int) -> Subscriber | None:
    """One subscriber by id, or None."""
    row = conn.execute(f"{SELECT_ONE} WHERE s.id = ?", (subscriber_id,)).fetchone()
    return _subscriber(row, key) if row else None


def delete(conn: sqlite3.Connection, subscriber_id: int) -> bool:
    """Remove one subscriber, contact and categories; False if there is no such subscriber."""
    conn.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,))
    conn.execute("DELETE FROM subscriber_districts WHERE subscriber_id = ?", (subscriber_id,))
    return bool(conn.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,)).rowcount)


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


def export_all(conn: sqlite3.Connection, key: DataKey, write: Callable[[list[Subscriber]], None], batch: int) -> int:
    """Pass every subscriber to ``write`` in id order, ``batch`` at a time, contacts opened; returns how many."""
    last, total = 0, 0
    while rows := conn.execute(f"{SELECT_ONE} WHERE s.id > ? ORDER BY s.id LIMIT ?", (last, batch)).fetchall():
        write([_subscriber(r, key) for r in rows])
        total += len(rows)
        last = rows[-1][0]
    return total


def _subscriber(
    r: tuple[int, str, bytes, str, str, int, float, float, str | None, str | None], key: DataKey
) -> Subscriber:
    return Subscriber(
        id=r[0],
        channel=ContactKind(r[1]),
        contact=key.open(r[1], r[2]),
        language=r[3],
        state=SubscriberState(r[4]),
        tester=bool(r[5]),
        created_at=r[6],
        updated_at=r[7],
        categories=frozenset(r[8].split()) if r[8] else frozenset(),
        districts=frozenset(r[9].split()) if r[9] else frozenset(),
    )


def any_contact(conn: sqlite3.Connection) -> bool:
    """Whether any contact is stored, sealed or not."""
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM subscribers)").fetchone()[0])


@dataclass(frozen=True, slots=True)
class Sealed:
    """What bringing every contact under the current key did."""

    plain: int  # contacts stored before migration 11, sealed now
    rotated: int  # contacts moved from the old key to the current one


def check_keys(conn: sqlite3.Connection, keys: DataKeys, rotate: bool) -> None:
    """ConfigError, one line, unless every stored contact is plain, under the current key, or (``rotate``)
    under the old one."""
    key = keys.require()
    old = keys.old.key_id if keys.old else None
    allowed = [PLAIN, key.key_id, *([old] if rotate and old else [])]
    found = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT contact_key FROM subscribers WHERE contact_key NOT IN ({','.join('?' * len(allowed))})",
            allowed,
        )
    ]
    if not found:
        return
    if found == [old]:
        raise ConfigError(
            f"the subscriber contacts are under {OLD_KEY_ENV} (key id {old}), not {DATA_KEY_ENV} "
            f"(key id {key.key_id}): run `run.py keys rotate` with both set"
        )
    raise ConfigError(
        f"{DATA_KEY_ENV} (key id {key.key_id}) is not the key the subscriber contacts are encrypted with "
        f"(key id {', '.join(found)}): set it to that key, or that key in {OLD_KEY_ENV} to rotate"
    )


def _to_seal(keys: DataKeys, rotate: bool) -> list[str]:
    """The key ids of contacts ``seal`` rewrites: plain ones, and with ``rotate`` the old key's."""
    return [PLAIN, *([keys.old.key_id] if rotate and keys.old else [])]


def unsealed(conn: sqlite3.Connection, keys: DataKeys, rotate: bool) -> bool:
    """Whether ``seal`` has anything to do (without a write lock: most opens have nothing)."""
    ids = _to_seal(keys, rotate)
    row = conn.execute(f"SELECT 1 FROM subscribers WHERE contact_key IN ({','.join('?' * len(ids))}) LIMIT 1", ids)
    return row.fetchone() is not None


def seal(conn: sqlite3.Connection, keys: DataKeys, rotate: bool) -> Sealed:
    """Seal every plain contact under the current key, and with ``rotate`` move those under the old key to it;
    contact hashes rewritten with them. The caller's transaction makes it all or nothing; run ``check_keys`` first.
    """
    key = keys.require()
    old = keys.old if rotate else None
    moved = dict.fromkeys(_to_seal(keys, rotate), 0)
    last = 0
    while rows := conn.execute(
        f"""SELECT id, channel, contact, contact_key FROM subscribers
            WHERE contact_key IN ({",".join("?" * len(moved))}) AND id > ? ORDER BY id LIMIT ?""",
        (*moved, last, SEAL_BATCH),
    ).fetchall():
        updates = []
        for sid, channel, stored, key_id in rows:
            contact = stored if key_id == PLAIN else _old(old).open(channel, stored)
            updates.append((key.seal(channel, contact), key.lookup(channel, contact), key.key_id, sid))
            moved[key_id] += 1
        conn.executemany("UPDATE subscribers SET contact = ?, contact_hash = ?, contact_key = ? WHERE id = ?", updates)
        last = rows[-1][0]
    return Sealed(plain=moved[PLAIN], rotated=sum(moved.values()) - moved[PLAIN])


def _old(old: DataKey | None) -> DataKey:
    assert old is not None, "only rows under the old key have a key id other than ''"
    return old


def audience_sql(testers_only: bool, where: str = "") -> str:
    """FROM/WHERE of the active subscribers of one category on one contact channel (two parameters).

    ``where`` narrows it further (``district_filter``'s condition, its parameters after those two). The
    join order is fixed (CROSS JOIN): subscribers are read in id order, so the delivery rows are
    written to their index in order too; with a district condition SQLite would otherwise choose to
    scan subscribers by contact hash, several times slower at a million.
    """
    testers = " AND s.tester = 1" if testers_only else ""
    return f"""FROM subscriptions c CROSS JOIN subscribers s ON s.id = c.subscriber_id
               WHERE c.category = ? AND s.channel = ? AND s.state = 'active'{testers}{where}"""


def district_filter(conn: sqlite3.Connection, districts: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """The condition (for ``audience_sql``) and parameters that keep subscribers of the whole city or of ``districts``.

    No districts: no condition (a whole-city alert reaches everyone). A district with a bit is tested in
    the mask; one without is either chosen by nobody yet (left out) or beyond the 63 bits, whose
    subscribers are looked up in subscriber_districts.
    """
    if not districts:
        return "", ()
    bits = dict(
        conn.execute(
            f"SELECT district, bit FROM district_bits WHERE district IN ({', '.join('?' * len(districts))})",
            tuple(districts),
        )
    )
    mask = sum(1 << bit for bit in bits.values())
    beyond = [d for d in districts if d not in bits] if _bits_full(conn) else []
    where = " AND (s.whole_city = 1 OR (s.district_mask & ?) != 0"
    params: tuple[Any, ...] = (mask,)
    if beyond:
        marks = ", ".join("?" * len(beyond))
        where += f" OR s.id IN (SELECT subscriber_id FROM subscriber_districts WHERE district IN ({marks}))"
        params += tuple(beyond)
    return where + ")", params


def _bits_full(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT count(*) >= ? FROM district_bits", (MASK_BITS,)).fetchone()[0])


def _mask(conn: sqlite3.Connection, districts: Iterable[str]) -> int:
    """The mask of a subscriber's districts, giving each district seen for the first time a free bit."""
    mask = 0
    for district in districts:
        row = conn.execute("SELECT bit FROM district_bits WHERE district = ?", (district,)).fetchone()
        if row is None:
            row = conn.execute(
                """INSERT INTO district_bits SELECT ?, coalesce(max(bit) + 1, 0) FROM district_bits
                   HAVING count(*) < ? RETURNING bit""",
                (district, MASK_BITS),
            ).fetchone()
        if row is not None:  # None: past the 63rd district, found through subscriber_districts alone
            mask |= 1 << row[0]
    return mask


def district_counts(conn: sqlite3.Connection) -> Mapping[str, int]:
    """Active subscribers by district chosen (one who chose two counts in both); "" for the whole city."""
    rows = conn.execute(
        """SELECT d.district, count(*) FROM subscriber_districts d JOIN subscribers s ON s.id = d.subscriber_id
           WHERE s.state = 'active' GROUP BY 1
           UNION ALL SELECT '', count(*) FROM subscribers WHERE state = 'active' AND whole_city = 1"""
    )
    return dict(rows)


def counts(conn: sqlite3.Connection) -> Mapping[tuple[str, str, str], int]:
    """Subscribers by (channel, category, state)."""
    rows = conn.execute(
        """SELECT s.channel, c.category, s.state, count(*) FROM subscriptions c
           JOIN subscribers s ON s.id = c.subscriber_id GROUP BY 1, 2, 3"""
    )
    return {(ch, cat, st): n for ch, cat, st, n in rows}
