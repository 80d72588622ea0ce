"""Console accounts (their contacts for approval notices), their sessions, the API tokens, and the
approval queue as the staff see it (who may not approve what), as SQL on a connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from broadcaster import scopes
from broadcaster.errors import InputError
from broadcaster.models import AlertState, Mode, Role, Session, User, Waiting
from broadcaster.scopes import ApiToken, Scope
from broadcaster.state import API_IDEMPOTENCY
from broadcaster.store import USER_KEY, Gate, SecondFactor, sql_alerts, sql_journal

USER_COLUMNS = "name, role, password_hash, must_change, failures, locked_until, disabled, created_at, email, line_id"
SESSION_COLUMNS = "id, user, mode, lang, created_at, seen_at, origin"
TOKEN_COLUMNS = "name, scopes, created_at, revoked_at"


def _user(row: tuple[Any, ...]) -> User:
    name, role, password_hash, must_change, failures, locked_until, disabled, created_at, email, line_id = row
    return User(name, Role(role), password_hash, bool(must_change), failures, locked_until, bool(disabled), created_at,
                email, line_id)  # fmt: skip


def add_user(conn: sqlite3.Connection, user: User, actor: str, origin: str) -> None:
    """Insert an account; InputError if the name is taken."""
    try:
        conn.execute(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user.name, user.role, user.password_hash, int(user.must_change), 0, 0.0, 0, user.created_at,
             user.email, user.line_id),
        )  # fmt: skip
    except sqlite3.IntegrityError:
        raise InputError(
            f"there is already an account named {user.name!r}", code="account_exists", name=user.name
        ) from None
    detail = f"role={user.role} {_contacts(user.email, user.line_id)}"
    sql_journal.audit(conn, user.created_at, actor, "user.add", user.name, detail, origin)


def _contacts(email: str, line_id: str) -> str:
    """Which contacts an account has, for the audit log: never the contacts themselves."""
    return f"email={'set' if email else 'none'} line={'set' if line_id else 'none'}"


def get_user(conn: sqlite3.Connection, name: str) -> User | None:
    """One account, or None."""
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row) if row else None


def list_users(conn: sqlite3.Connection) -> list[User]:
    """Every account, by name."""
    return [_user(row) for row in conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY name")]


def set_password(
    conn: sqlite3.Connection, name: str, password_hash: str, must_change: bool, actor: str, origin: str, now: float
) -> None:
    """Replace an account's password, unlock it (its name's login throttle too), and end its sessions."""
    changed = conn.execute(
        "UPDATE users SET password_hash = ?, must_change = ?, failures = 0, locked_until = 0 WHERE name = ?",
        (password_hash, int(must_change), name),
    ).rowcount
    if not changed:
        raise InputError(f"no account named {name!r}", code="no_account", name=name)
    conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    conn.execute("DELETE FROM login_throttle WHERE key = ?", (USER_KEY + name,))  # a new password: a fresh start
    action = "user.reset_password" if must_change else "user.change_password"
    sql_journal.audit(conn, now, actor, action, name, "", origin)


def update_user(
    conn: sqlite3.Connection, name: str, role: Role | None, disabled: bool | None, actor: str, origin: str, now: float
) -> None:
    """Change an account's role or switch it off; a disabled account loses its sessions."""
    user = get_user(conn, name)
    if user is None:
        raise InputError(f"no account named {name!r}", code="no_account", name=name)
    new_role = role or user.role
    new_disabled = user.disabled if disabled is None else disabled
    conn.execute("UPDATE users SET role = ?, disabled = ? WHERE name = ?", (new_role, int(new_disabled), name))
    if new_disabled or new_role != user.role:
        conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    detail = f"role={new_role} disabled={new_disabled}"
    sql_journal.audit(conn, now, actor, "user.update", name, detail, origin)


def _throttle_row(conn: sqlite3.Connection, key: str, now: float, forget: float) -> tuple[int, float, bool]:
    """(failures, next_at, locked) of a throttle key; a count unlocked and quiet for ``forget`` s starts again."""
    row = conn.execute("SELECT failures, next_at, locked, seen_at FROM login_throttle WHERE key = ?", (key,)).fetchone()
    if row is None:
        return 0, 0.0, False
    failures, next_at, locked, seen_at = row
    if not locked and now - seen_at > forget:
        return 0, 0.0, False
    return int(failures), float(next_at), bool(locked)


def login_delay(failures: int, delay: float, delay_max: float) -> float:
    """Seconds before the next try after ``failures`` in a row: none after the first, then delay, 2×, 4× … max."""
    if failures < 2:
        return 0.0
    return min(delay_max, delay * 2.0 ** min(failures - 2, 64))


def begin_login(
    conn: sqlite3.Connection,
    user_key: str,
    client_key: str,
    now: float,
    delay: float,
    delay_max: float,
    lock_after: int,
    forget: float,
) -> Gate:
    """Let one login attempt through the throttle of a name and a client, or say how long to wait.

    An attempt let through counts as a failure at once (two at the same moment cannot both slip past
    the wait); ``undo_login_attempt`` or ``clear_login_throttle`` take it back when it succeeds. A name
    whose last ``lock_after`` attempts all failed is locked.
    """
    conn.execute("DELETE FROM login_throttle WHERE locked = 0 AND seen_at < ?", (now - forget,))
    user = _throttle_row(conn, user_key, now, forget)
    client = _throttle_row(conn, client_key, now, forget)
    wait = max(user[1], client[1]) - now
    if wait > 0:
        return Gate(wait, user[2])
    locked = user[2] or user[0] >= lock_after
    for key, (failures, _, was_locked) in ((user_key, user), (client_key, client)):
        failures += 1
        conn.execute(
            "INSERT INTO login_throttle (key, failures, next_at, locked, seen_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, next_at = excluded.next_at, "
            "locked = excluded.locked, seen_at = excluded.seen_at",
            (key, failures, now + login_delay(failures, delay, delay_max),
             int(locked if key == user_key else was_locked), now),
        )  # fmt: skip
    return Gate(0.0, locked)


def undo_login_attempt(conn: sqlite3.Connection, keys: Sequence[str]) -> None:
    """Take back the failure ``begin_login`` counted for an attempt that turned out right (no wait follows)."""
    for key in keys:
        conn.execute("UPDATE login_throttle SET failures = max(failures - 1, 0), next_at = 0 WHERE key = ?", (key,))


def clear_login_throttle(conn: sqlite3.Connection, keys: Sequence[str]) -> bool:
    """Forget the failures (and a lock) of the keys after a complete login; True if a name was locked."""
    placeholders = ", ".join("?" * len(keys))
    was_locked = conn.execute(
        f"SELECT 1 FROM login_throttle WHERE key IN ({placeholders}) AND locked = 1", tuple(keys)
    ).fetchone()
    conn.execute(f"DELETE FROM login_throttle WHERE key IN ({placeholders})", tuple(keys))
    return was_locked is not None


def unlock_user(conn: sqlite3.Connection, name: str, actor: str, origin: str, now: float) -> bool:
    """An admin lifts an account's lock and its wait; True if it was locked. InputError if no such account."""
    if get_user(conn, name) is None:
        raise InputError(f"no account named {name!r}", code="no_account", name=name)
    was_locked = clear_login_throttle(conn, [USER_KEY + name])
    sql_journal.audit(conn, now, actor, "user.unlock", name, "was locked" if was_locked else "was not locked", origin)
    return was_locked


def locked_names(conn: sqlite3.Connection) -> set[str]:
    """The accounts whose name is locked."""
    rows = conn.execute(
        "SELECT u.name FROM users u JOIN login_throttle t ON t.key = ? || u.name WHERE t.locked = 1", (USER_KEY,)
    )
    return {str(row[0]) for row in rows}


def second_factor(conn: sqlite3.Connection, name: str) -> SecondFactor | None:
    """An account's TOTP state and its unused recovery codes, or None for no such account."""
    row = conn.execute("SELECT totp_secret, totp_pending, totp_step FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    (left,) = conn.execute("SELECT count(*) FROM recovery_codes WHERE user = ?", (name,)).fetchone()
    return SecondFactor(row[0], row[1], int(row[2]), int(left))


def begin_totp(conn: sqlite3.Connection, name: str, secret: str) -> None:
    """Remember a secret being set up (a code from it confirms it); the account's current one still works."""
    conn.execute("UPDATE users SET totp_pending = ? WHERE name = ?", (secret, name))


def enable_totp(
    conn: sqlite3.Connection, name: str, secret: str, code_ids: Sequence[str], actor: str, origin: str, now: float
) -> None:
    """Make ``secret`` the account's second factor, with new recovery codes (their hashes) instead of the old."""
    conn.execute("UPDATE users SET totp_secret = ?, totp_pending = '', totp_step = 0 WHERE name = ?", (secret, name))
    conn.execute("DELETE FROM recovery_codes WHERE user = ?", (name,))
    conn.executemany("INSERT INTO recovery_codes (user, id) VALUES (?, ?)", [(name, code) for code in code_ids])
    sql_journal.audit(conn, now, actor, "user.totp_on", name, f"{len(code_ids)} recovery codes", origin)


def disable_totp(conn: sqlite3.Connection, name: str, actor: str, origin: str, now: float) -> None:
    """Remove an account's second factor and recovery codes; InputError if no such account."""
    if not conn.execute(
        "UPDATE users SET totp_secret = '', totp_pending = '', totp_step = 0 WHERE name = ?", (name,)
    ).rowcount:
        raise InputError(f"no account named {name!r}", code="no_account", name=name)
    conn.execute("DELETE FROM recovery_codes WHERE user = ?", (name,))
    sql_journal.audit(conn, now, actor, "user.totp_off", name, "", origin)


def use_totp_step(conn: sqlite3.Connection, name: str, step: int) -> bool:
    """Take a TOTP step as used; False if it (or a later one) was used already: a code works once."""
    used = conn.execute("UPDATE users SET totp_step = ? WHERE name = ? AND totp_step < ?", (step, name, step))
    return bool(used.rowcount)


def use_recovery_code(conn: sqlite3.Connection, name: str, code_id: str) -> bool:
    """Spend a recovery code by its hash; False if the account has no such unused code."""
    return bool(conn.execute("DELETE FROM recovery_codes WHERE user = ? AND id = ?", (name, code_id)).rowcount)


def add_pending_login(
    conn: sqlite3.Connection, pending_id: str, name: str, now: float, origin: str, ttl: float
) -> None:
    """Remember a login whose password was right and whose code is to come (and forget stale ones)."""
    conn.execute("DELETE FROM login_pending WHERE created_at < ?", (now - ttl,))
    conn.execute(
        "INSERT INTO login_pending (id, user, created_at, origin) VALUES (?, ?, ?, ?)", (pending_id, name, now, origin)
    )


def pending_login(conn: sqlite3.Connection, pending_id: str, since: float) -> str | None:
    """The account of a login waiting for its code, if it began after ``since``."""
    row = conn.execute(
        "SELECT user FROM login_pending WHERE id = ? AND created_at >= ?", (pending_id, since)
    ).fetchone()
    return None if row is None else str(row[0])


def end_pending_login(conn: sqlite3.Connection, pending_id: str) -> None:
    """Forget a login waiting for its code."""
    conn.execute("DELETE FROM login_pending WHERE id = ?", (pending_id,))


def add_session(conn: sqlite3.Connection, session: Session) -> None:
    """Store a new session."""
    conn.execute(
        f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (session.id, session.user, session.mode, session.lang, session.created_at, session.seen_at, session.origin),
    )


def touch_session(
    conn: sqlite3.Connection, session_id: str, now: float, idle: float, lifetime: float
) -> tuple[Session, User] | None:
    """The live session and its account, marked as seen now; None (and the row gone) if it has ended."""
    row = conn.execute(
        f"SELECT {', '.join('s.' + c.strip() for c in SESSION_COLUMNS.split(','))}, "
        f"{', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))} "
        "FROM sessions s JOIN users u ON u.name = s.user WHERE s.id = ?",
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    session = Session(row[0], row[1], Mode(row[2]), row[3], row[4], row[5], row[6])
    user = _user(row[7:])
    if user.disabled or now - session.seen_at > idle or now - session.created_at > lifetime:
        conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return None
    conn.execute("UPDATE sessions SET seen_at = ? WHERE id = ?", (now, session_id))
    return session, user


def update_session(conn: sqlite3.Connection, session_id: str, mode: Mode | None, lang: str | None) -> None:
    """Change a session's mode switch or language."""
    if mode is not None:
        conn.execute("UPDATE sessions SET mode = ? WHERE id = ?", (mode, session_id))
    if lang is not None:
        conn.execute("UPDATE sessions SET lang = ? WHERE id = ?", (lang, session_id))


def end_session(conn: sqlite3.Connection, session_id: str) -> None:
    """Log out."""
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def forget_sessions(conn: sqlite3.Connection, before: float) -> int:
    """Drop sessions unused since ``before``; returns how many."""
    return conn.execute("DELETE FROM sessions WHERE seen_at < ?", (before,)).rowcount


def add_token(
    conn: sqlite3.Connection,
    token_id: str,
    name: str,
    granted: frozenset[Scope],
    actor: str,
    origin: str,
    now: float,
) -> None:
    """Store an API token's hash and scopes under a name; InputError if the name is taken or no scope given."""
    if not granted:
        raise InputError(f"a token needs at least one scope: {', '.join(scopes.VALID)}")
    try:
        conn.execute(
            "INSERT INTO api_tokens (id, name, created_at, scopes) VALUES (?, ?, ?, ?)",
            (token_id, name, now, scopes.encode(granted)),
        )
    except sqlite3.IntegrityError:
        raise InputError(f"there is already a token named {name!r}") from None
    sql_journal.audit(conn, now, actor, "token.add", name, f"scopes={scopes.encode(granted)}", origin)


def revoke_token(conn: sqlite3.Connection, name: str, actor: str, origin: str, now: float) -> None:
    """Make a token stop working."""
    if not conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
    ).rowcount:
        raise InputError(f"no working token named {name!r}")
    sql_journal.audit(conn, now, actor, "token.revoke", name, "", origin)


def _token(row: tuple[Any, ...]) -> ApiToken:
    name, granted, created_at, revoked_at = row
    return ApiToken(name, scopes.decode(granted), created_at, revoked_at)


def working_token(conn: sqlite3.Connection, token_id: str) -> ApiToken | None:
    """A working token, by its hash; None if unknown or revoked."""
    row = conn.execute(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ? AND revoked_at IS NULL", (token_id,)
    ).fetchone()
    return None if row is None else _token(row)


def list_tokens(conn: sqlite3.Connection) -> list[ApiToken]:
    """Every token, revoked ones too, by name."""
    return [_token(row) for row in conn.execute(f"SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name")]


def forget_idempotency_keys(conn: sqlite3.Connection, before: float) -> int:
    """Drop the API's Idempotency-Keys remembered before ``before``; returns how many.

    A key is remembered in the transaction that makes its draft, so the draft's ``created_at`` is when
    the key was stored (the value starts with the draft's id): no second clock is kept. A key whose
    draft is gone cannot replay anything and goes too.
    """
    feed, _ = API_IDEMPOTENCY.address("")
    return conn.execute(
        """DELETE FROM feed_state WHERE feed = ? AND NOT EXISTS (
               SELECT 1 FROM alerts a
               WHERE a.id = substr(feed_state.value, 1, instr(feed_state.value || ' ', ' ') - 1)
                 AND a.created_at >= ?)""",
        (feed, before),
    ).rowcount


def expire_sessions(conn: sqlite3.Connection, now: float, idle: float, lifetime: float) -> int:
    """Drop sessions that have ended: unused for ``idle`` seconds, or older than ``lifetime``; returns how many."""
    return conn.execute(
        "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?", (now - idle, now - lifetime)
    ).rowcount


def set_contacts(
    conn: sqlite3.Connection, name: str, email: str | None, line_id: str | None, actor: str, origin: str, now: float
) -> None:
    """Change an account's mail address or LINE user id (None: unchanged); the audit says which, not what."""
    user = get_user(conn, name)
    if user is None:
        raise InputError(f"no account named {name!r}", code="no_account", name=name)
    new_email = user.email if email is None else email
    new_line = user.line_id if line_id is None else line_id
    conn.execute("UPDATE users SET email = ?, line_id = ? WHERE name = ?", (new_email, new_line, name))
    sql_journal.audit(conn, now, actor, "user.contacts", name, _contacts(new_email, new_line), origin)


def approval_queue(conn: sqlite3.Connection, limit: int) -> list[Waiting]:
    """The alerts awaiting approval, the longest waiting first, with who may not approve each."""
    alerts = sql_alerts.in_state(conn, AlertState.PENDING_APPROVAL, limit)
    found = []
    for alert in alerts:
        since, requested_by = conn.execute(
            "SELECT COALESCE(requested_at, created_at), COALESCE(requested_by, '') FROM alerts WHERE id = ?",
            (alert.id,),
        ).fetchone()
        authors = {row[0] for row in conn.execute("SELECT name FROM alert_authors WHERE alert_id = ?", (alert.id,))}
        cannot = frozenset({*authors, alert.created_by, requested_by} - {""})
        found.append(Waiting(alert, float(since), requested_by, cannot))
    return sorted(found, key=lambda w: w.since)
