"""Console accounts (their contacts for approval notices), their sessions, the API tokens, and the
approval queue as the staff see it (who may not approve what), as SQL on a connection."""

from __future__ import annotations

import sqlite3
from typing import Any

from broadcaster.errors import InputError
from broadcaster.models import AlertState, Mode, Role, Session, User, Waiting
from broadcaster.store import sql_alerts, sql_journal

USER_COLUMNS = "name, role, password_hash, must_change, failures, locked_until, disabled, created_at, email, line_id"
SESSION_COLUMNS = "id, user, mode, lang, created_at, seen_at, origin"


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
        raise InputError(f"there is already an account named {user.name!r}") from None
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
    """Replace an account's password, unlock it, and end its sessions (all but none: a new login follows)."""
    changed = conn.execute(
        "UPDATE users SET password_hash = ?, must_change = ?, failures = 0, locked_until = 0 WHERE name = ?",
        (password_hash, int(must_change), name),
    ).rowcount
    if not changed:
        raise InputError(f"no account named {name!r}")
    conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    action = "user.reset_password" if must_change else "user.change_password"
    sql_journal.audit(conn, now, actor, action, name, "", origin)


def update_user(
    conn: sqlite3.Connection, name: str, role: Role | None, disabled: bool | None, actor: str, origin: str, now: float
) -> None:
    """Change an account's role or switch it off; a disabled account loses its sessions."""
    user = get_user(conn, name)
    if user is None:
        raise InputError(f"no account named {name!r}")
    new_role = role or user.role
    new_disabled = user.disabled if disabled is None else disabled
    conn.execute("UPDATE users SET role = ?, disabled = ? WHERE name = ?", (new_role, int(new_disabled), name))
    if new_disabled or new_role != user.role:
        conn.execute("DELETE FROM sessions WHERE user = ?", (name,))
    detail = f"role={new_role} disabled={new_disabled}"
    sql_journal.audit(conn, now, actor, "user.update", name, detail, origin)


def note_login(conn: sqlite3.Connection, name: str, ok: bool, max_failures: int, lockout: float, now: float) -> int:
    """Count a login attempt; returns the failures in a row. Reaching ``max_failures`` locks the account."""
    if ok:
        conn.execute("UPDATE users SET failures = 0, locked_until = 0 WHERE name = ?", (name,))
        return 0
    row = conn.execute("UPDATE users SET failures = failures + 1 WHERE name = ? RETURNING failures", (name,)).fetchone()
    if row is None:
        return 0
    if row[0] >= max_failures:
        conn.execute("UPDATE users SET locked_until = ?, failures = 0 WHERE name = ?", (now + lockout, name))
    return int(row[0])


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


def add_token(conn: sqlite3.Connection, token_id: str, name: str, actor: str, origin: str, now: float) -> None:
    """Store an API token's hash under a name; InputError if the name is taken."""
    try:
        conn.execute("INSERT INTO api_tokens (id, name, created_at) VALUES (?, ?, ?)", (token_id, name, now))
    except sqlite3.IntegrityError:
        raise InputError(f"there is already a token named {name!r}") from None
    sql_journal.audit(conn, now, actor, "token.add", name, "", origin)


def revoke_token(conn: sqlite3.Connection, name: str, actor: str, origin: str, now: float) -> None:
    """Make a token stop working."""
    if not conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
    ).rowcount:
        raise InputError(f"no working token named {name!r}")
    sql_journal.audit(conn, now, actor, "token.revoke", name, "", origin)


def token_name(conn: sqlite3.Connection, token_id: str) -> str | None:
    """The name of a working token, by its hash; None if unknown or revoked."""
    row = conn.execute("SELECT name FROM api_tokens WHERE id = ? AND revoked_at IS NULL", (token_id,)).fetchone()
    return None if row is None else str(row[0])


def set_contacts(
    conn: sqlite3.Connection, name: str, email: str | None, line_id: str | None, actor: str, origin: str, now: float
) -> None:
    """Change an account's mail address or LINE user id (None: unchanged); the audit says which, not what."""
    user = get_user(conn, name)
    if user is None:
        raise InputError(f"no account named {name!r}")
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
