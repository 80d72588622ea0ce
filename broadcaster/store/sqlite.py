"""The embedded store: one SQLite file in WAL mode, driven from one dedicated thread.

Every call runs on a single worker thread that owns the connection, so the event loop never
blocks on disk and transactions never interleave. The SQL lives in the sql_* modules, one
concept each; this class only decides what runs in which transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from broadcaster.data_key import DataKey, DataKeys
from broadcaster.files import create_private
from broadcaster.models import (
    Alert,
    AlertId,
    AlertState,
    AuditEntry,
    ChannelName,
    ChannelReport,
    Claim,
    Mode,
    Outcome,
    Published,
    Role,
    Session,
    Subscriber,
    Timestamp,
    User,
    Waiting,
)
from broadcaster.scopes import ApiToken, Scope
from broadcaster.state import Namespace, StateRow, made_rows
from broadcaster.store import (
    ApprovalRecord,
    Gate,
    SecondFactor,
    sql_accounts,
    sql_alerts,
    sql_deliveries,
    sql_journal,
    sql_subscribers,
)
from broadcaster.store.schema import MIGRATIONS

SEEN_DAYS = 30  # how long mark_seen remembers an entry
PRUNE_EVERY_S = 3600.0

T = TypeVar("T")
P = ParamSpec("P")
Sql = Callable[Concatenate[sqlite3.Connection, P], T]


class SQLiteStore:
    """The Store protocol on one SQLite file."""

    def __init__(self, path: Path, keys: DataKeys) -> None:
        self.path = path
        self.keys = keys
        self.sealed = sql_subscribers.Sealed(plain=0, rotated=0)  # what opening did to the stored contacts
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._seen_pruned_at = 0.0

    @classmethod
    async def open(cls, path: Path, keys: DataKeys | None = None, *, rotate: bool = False) -> SQLiteStore:
        """Open (creating and migrating as needed) the database at ``path``.

        ``keys`` seal and open subscriber contacts (None: BROADCASTER_DATA_KEY from the environment). With
        a key, contacts still in plain text are sealed now, and with ``rotate`` those under the old key move
        to the current one; ConfigError if contacts are under another key. Without one the store opens, and
        whatever needs a contact raises ConfigError naming BROADCASTER_DATA_KEY.
        """
        store = cls(path, DataKeys.from_env() if keys is None else keys)
        try:
            await store._call(store._open, rotate)
        except BaseException:
            await store.aclose()
            raise
        return store

    def _open(self, rotate: bool) -> None:
        # owner-only whatever the umask: SQLite gives its -wal and -shm files the main file's permissions
        create_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.create_function(sql_journal.HASH_FUNCTION, 8, sql_journal.entry_hash, deterministic=True)
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
        if self.keys.current is not None:
            self._seal(rotate)

    def _seal(self, rotate: bool) -> None:
        """Bring every stored contact under the current key, leaving no copy of what it replaced in the file."""
        conn = self.conn
        sql_subscribers.check_keys(conn, self.keys, rotate)
        if not sql_subscribers.unsealed(conn, self.keys, rotate):
            return
        # zeroes what an update frees, so the old bytes are not left in free space in the file
        secure_delete = ("OFF", "ON", "FAST")[conn.execute("PRAGMA secure_delete").fetchone()[0]]
        conn.execute("PRAGMA secure_delete=ON")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self.sealed = sql_subscribers.seal(conn, self.keys, rotate)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.execute(f"PRAGMA secure_delete={secure_delete}")
        if self.sealed.plain or self.sealed.rotated:
            # the WAL still holds the pages as they were: copy it into the database and empty it
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection; use it only from the store's thread."""
        assert self._conn is not None, "store is not open"
        return self._conn

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _read(self, sql: Sql[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._call(lambda: sql(self.conn, *args, **kwargs))

    async def _write(self, sql: Sql[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``sql`` in one write transaction: all of it commits, or none of it."""

        def transaction() -> T:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = sql(conn, *args, **kwargs)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._call(transaction)

    async def aclose(self) -> None:
        """Close the connection and the thread."""
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    # -- alerts and approval -------------------------------------------------

    async def create_alert(
        self, alert: Alert, actor: str, origin: str, *, approve: bool = False, state: Sequence[StateRow] = ()
    ) -> dict[ChannelName, int]:
        """Store a new alert and audit it; with ``approve`` plan it; remember ``state``; one transaction."""
        return await self._write(sql_alerts.create, alert, actor, origin, time.time(), approve, made_rows(state))

    async def update_draft(self, alert: Alert, actor: str, origin: str) -> None:
        """Replace a draft's words and choices (id, mode and event stay); InputError if it is no longer a draft."""
        await self._write(sql_alerts.update_draft, alert, actor, origin, time.time())

    async def get_alert(self, alert_id: AlertId) -> Alert | None:
        """One alert, or None."""
        return await self._read(sql_alerts.get, alert_id)

    async def list_alerts(self, limit: int = 50) -> list[Alert]:
        """The newest alerts first."""
        return await self._read(sql_alerts.newest, limit)

    async def published(self, channel: ChannelName, since: Timestamp, limit: int = 500) -> list[Published]:
        """Alerts ``channel`` has carried since ``since``, the latest sent first."""
        return await self._read(sql_alerts.published, channel, since, limit)

    async def latest_alert(self, event_key: str, mode: str) -> Alert | None:
        """The newest version of an event in one mode, or None."""
        return await self._read(sql_alerts.latest, event_key, mode)

    async def approve(self, alert_id: AlertId, actor: str, origin: str) -> dict[ChannelName, int]:
        """Approve and plan deliveries, superseding older versions, in one transaction."""
        return await self._write(sql_alerts.approve, alert_id, actor, origin, time.time())

    async def reach(self, alert: Alert) -> dict[ChannelName, int]:
        """The delivery rows approving ``alert`` now would write, by channel: approve's own planning, undone."""
        return await self._write(sql_alerts.reach, alert, "reach", time.time())

    async def request_approval(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str | None = None
    ) -> None:
        """Move a draft to the approval queue, remembering who asked and when (Stale if not ``fingerprint``)."""
        await self._write(sql_alerts.request_approval, alert_id, actor, origin, time.time(), fingerprint)

    async def approve_pending(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str
    ) -> dict[ChannelName, int]:
        """A second person's approval of the version ``fingerprint`` (an approver, neither an author nor the
        requester), checked and planned in one transaction."""
        return await self._write(sql_alerts.approve_pending, alert_id, actor, origin, time.time(), fingerprint)

    async def reject(self, alert_id: AlertId, actor: str, reason: str, origin: str) -> None:
        """Send a pending alert back as a draft with its reason, or discard a draft."""
        await self._write(sql_alerts.reject, alert_id, actor, reason, origin, time.time())

    async def people(self, alert_id: AlertId) -> tuple[str, str, str, Timestamp | None]:
        """Author, requester and approver of an alert ('' for nobody), and when it was approved."""
        return await self._read(sql_alerts.people, alert_id)

    async def alerts_in_state(self, state: AlertState, limit: int = 200) -> list[Alert]:
        """Alerts in one state, the oldest first."""
        return await self._read(sql_alerts.in_state, state, limit)

    async def search_alerts(self, text: str = "", mode: str = "", limit: int = 50, offset: int = 0) -> list[Alert]:
        """Alerts whose id, title or body contain ``text``, in ``mode`` ('' for both), the newest first."""
        return await self._read(sql_alerts.search, text, mode, limit, offset)

    async def versions(self, event_key: str, mode: str) -> list[Alert]:
        """Every version of an event in one mode, in order."""
        return await self._read(sql_alerts.versions, event_key, mode)

    # -- deliveries ----------------------------------------------------------

    async def claim(self, channel: ChannelName, limit: int, lease_until: Timestamp, now: Timestamp) -> list[Claim]:
        """Lease up to ``limit`` due rows of ``channel``, most urgent first."""
        return await self._write(sql_deliveries.claim, self.keys.current, channel, limit, lease_until, now)

    async def record(self, channel: ChannelName, outcomes: Sequence[Outcome], now: Timestamp) -> list[AlertId]:
        """Record outcomes of claimed rows; returns the alerts this closed (nothing left open)."""
        return await self._write(sql_deliveries.record, channel, outcomes, now) if outcomes else []

    async def release(self, channel: ChannelName, ids: Sequence[int]) -> None:
        """Give claimed rows back unsent; their attempt does not count."""
        if ids:
            await self._write(sql_deliveries.release, channel, ids)

    async def next_due(self, channel: ChannelName) -> Timestamp | None:
        """When the earliest pending row of ``channel`` is due."""
        return await self._read(sql_deliveries.next_due, channel)

    async def recover(self, now: Timestamp, all_leases: bool) -> int:
        """Make claimed rows of dead workers claimable again."""
        return await self._write(sql_deliveries.recover, now, all_leases)

    async def report(self, alert_id: AlertId) -> list[ChannelReport]:
        """Per channel: counts by state, first/last sent, latency p50/p95, last error."""
        return await self._read(sql_deliveries.report, alert_id)

    async def counts(self) -> dict[tuple[ChannelName, str], int]:
        """Deliveries by (channel, state) over all alerts."""
        return await self._read(sql_deliveries.counts)

    # -- subscribers ---------------------------------------------------------

    def data_key(self) -> DataKey:
        """The key contacts are sealed with; ConfigError (one line naming BROADCASTER_DATA_KEY) without one."""
        return self.keys.require()

    async def check_data_key(self) -> None:
        """ConfigError naming BROADCASTER_DATA_KEY if contacts are stored and there is no key to open them."""
        if self.keys.current is None and await self._read(sql_subscribers.any_contact):
            self.keys.require()

    async def import_subscribers(self, subscribers: Iterable[Subscriber]) -> int:
        """Insert or update by (channel, contact) in one transaction; any error imports nothing."""
        return await self._write(sql_subscribers.import_all, self.data_key(), subscribers)

    async def export_subscribers(self, write: Callable[[list[Subscriber]], None], batch: int = 1000) -> int:
        """Pass every subscriber to ``write`` in id order, ``batch`` at a time; returns how many."""
        return await self._read(sql_subscribers.export_all, self.data_key(), write, batch)

    async def get_subscriber(self, channel: str, contact: str) -> Subscriber | None:
        """One subscriber by channel and contact, or None."""
        return await self._read(sql_subscribers.get, self.data_key(), channel, contact)

    async def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        """One subscriber by id, or None."""
        return await self._read(sql_subscribers.get_by_id, self.data_key(), subscriber_id)

    async def save_subscriber(self, subscriber: Subscriber) -> Subscriber:
        """Insert or update one subscriber by (channel, contact), categories included; returns it as stored."""
        await self._write(sql_subscribers.import_all, self.data_key(), [subscriber])
        stored = await self.get_subscriber(subscriber.channel, subscriber.contact)
        assert stored is not None
        return stored

    async def delete_subscriber(self, subscriber_id: int, actor: str, origin: str) -> bool:
        """Remove one subscriber and audit it (never the contact), in one transaction; False if there is none."""

        def delete(conn: sqlite3.Connection) -> bool:
            gone = sql_subscribers.delete(conn, subscriber_id)
            if gone:
                target = f"subscriber:{subscriber_id}"
                sql_journal.audit(conn, time.time(), actor, "subscriber.delete", target, "1 deleted", origin)
            return gone

        return await self._write(delete)

    async def set_subscriber_state(self, subscriber_id: int, state: str) -> bool:
        """Change one subscriber's state; False if there is no such subscriber."""
        return await self._write(sql_subscribers.set_state, subscriber_id, state, time.time())

    async def note_refusals(self, subscriber_ids: Sequence[int], threshold: int) -> list[int]:
        """Count a refusal for each; returns those that reached ``threshold`` and are now bounced."""
        return await self._write(sql_subscribers.note_refusals, subscriber_ids, threshold, time.time())

    async def subscriber_counts(self) -> Mapping[tuple[str, str, str], int]:
        """Subscribers by (channel, category, state)."""
        return await self._read(sql_subscribers.counts)

    async def district_counts(self) -> Mapping[str, int]:
        """Active subscribers by district chosen; "" counts those who chose the whole city."""
        return await self._read(sql_subscribers.district_counts)

    # -- audit log and feed state --------------------------------------------

    async def audit(self, actor: str, action: str, target: str, detail: str, origin: str) -> None:
        """Append one line to the audit log."""
        await self._write(sql_journal.audit, time.time(), actor, action, target, detail, origin)

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit lines first."""
        return await self._read(sql_journal.audit_log, limit)

    async def audit_search(self, text: str = "", limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Audit lines containing ``text``, newest first, older than ``before_id`` (for paging)."""
        return await self._read(sql_journal.audit_search, text, limit, before_id)

    async def audit_export(self, write: Callable[[list[AuditEntry]], None], batch: int = 1000) -> int:
        """Pass every audit line to ``write`` in order (called on the store's thread); returns how many."""
        return await self._read(sql_journal.audit_export, write, batch)

    async def audit_verify(self) -> sql_journal.ChainCheck:
        """Check the audit log's hash chain from its first line: how many, the first broken one, the newest hash."""
        return await self._read(sql_journal.audit_verify)

    # -- console accounts ----------------------------------------------------

    async def add_user(self, user: User, actor: str, origin: str) -> None:
        """Create an account; InputError if the name is taken."""
        await self._write(sql_accounts.add_user, user, actor, origin)

    async def get_user(self, name: str) -> User | None:
        """One account, or None."""
        return await self._read(sql_accounts.get_user, name)

    async def list_users(self) -> list[User]:
        """Every account, by name."""
        return await self._read(sql_accounts.list_users)

    async def set_password(self, name: str, password_hash: str, must_change: bool, actor: str, origin: str) -> None:
        """Replace a password (unlocking the account and ending its sessions)."""
        await self._write(sql_accounts.set_password, name, password_hash, must_change, actor, origin, time.time())

    async def update_user(self, name: str, role: Role | None, disabled: bool | None, actor: str, origin: str) -> None:
        """Change an account's role, or switch it off or on."""
        await self._write(sql_accounts.update_user, name, role, disabled, actor, origin, time.time())

    async def begin_login(
        self,
        user_key: str,
        client_key: str,
        now: Timestamp,
        delay: float,
        delay_max: float,
        lock_after: int,
        forget: float,
    ) -> Gate:
        """Let a login attempt through the throttle of a name and a client, or say how long to wait."""
        return await self._write(
            sql_accounts.begin_login, user_key, client_key, now, delay, delay_max, lock_after, forget
        )

    async def undo_login_attempt(self, keys: Sequence[str]) -> None:
        """Take back the failure counted for an attempt whose password was right (a code is to come)."""
        await self._write(sql_accounts.undo_login_attempt, keys)

    async def clear_login_throttle(self, keys: Sequence[str]) -> bool:
        """Forget failures and a lock after a complete login; True if the name was locked."""
        return await self._write(sql_accounts.clear_login_throttle, keys)

    async def unlock_user(self, name: str, actor: str, origin: str) -> bool:
        """An admin lifts an account's lock; True if it was locked; InputError for no such account."""
        return await self._write(sql_accounts.unlock_user, name, actor, origin, time.time())

    async def locked_names(self) -> set[str]:
        """The accounts whose name is locked."""
        return await self._read(sql_accounts.locked_names)

    async def second_factor(self, name: str) -> SecondFactor | None:
        """An account's TOTP state, or None for no such account."""
        return await self._read(sql_accounts.second_factor, name)

    async def begin_totp(self, name: str, secret: str) -> None:
        """Remember a TOTP secret being set up, until a code confirms it."""
        await self._write(sql_accounts.begin_totp, name, secret)

    async def enable_totp(self, name: str, secret: str, code_ids: Sequence[str], actor: str, origin: str) -> None:
        """Make ``secret`` the account's second factor, with new recovery codes (hashes)."""
        await self._write(sql_accounts.enable_totp, name, secret, code_ids, actor, origin, time.time())

    async def disable_totp(self, name: str, actor: str, origin: str) -> None:
        """Remove an account's second factor and recovery codes."""
        await self._write(sql_accounts.disable_totp, name, actor, origin, time.time())

    async def use_totp_step(self, name: str, step: int) -> bool:
        """Take a TOTP step as used; False if it or a later one already was."""
        return await self._write(sql_accounts.use_totp_step, name, step)

    async def use_recovery_code(self, name: str, code_id: str) -> bool:
        """Spend a recovery code by its hash; False if there is no such unused code."""
        return await self._write(sql_accounts.use_recovery_code, name, code_id)

    async def add_pending_login(self, pending_id: str, name: str, now: Timestamp, origin: str, ttl: float) -> None:
        """Remember a login whose password was right and whose code is to come."""
        await self._write(sql_accounts.add_pending_login, pending_id, name, now, origin, ttl)

    async def pending_login(self, pending_id: str, since: Timestamp) -> str | None:
        """The account of a login waiting for its code, begun after ``since``."""
        return await self._read(sql_accounts.pending_login, pending_id, since)

    async def end_pending_login(self, pending_id: str) -> None:
        """Forget a login waiting for its code."""
        await self._write(sql_accounts.end_pending_login, pending_id)

    async def add_session(self, session: Session) -> None:
        """Store a new session."""
        await self._write(sql_accounts.add_session, session)

    async def touch_session(self, session_id: str, idle: float, lifetime: float) -> tuple[Session, User] | None:
        """A live session and its account, seen now; None once it has ended (idle, too old, account off)."""
        return await self._write(sql_accounts.touch_session, session_id, time.time(), idle, lifetime)

    async def update_session(self, session_id: str, mode: Mode | None = None, lang: str | None = None) -> None:
        """Change a session's mode switch or language."""
        await self._write(sql_accounts.update_session, session_id, mode, lang)

    async def end_session(self, session_id: str) -> None:
        """Log out."""
        await self._write(sql_accounts.end_session, session_id)

    async def forget_sessions(self, before: Timestamp) -> int:
        """Drop sessions unused since ``before``; returns how many."""
        return await self._write(sql_accounts.forget_sessions, before)

    async def add_token(self, token_id: str, name: str, granted: frozenset[Scope], actor: str, origin: str) -> None:
        """Store an API token's hash with its scopes (at least one)."""
        await self._write(sql_accounts.add_token, token_id, name, granted, actor, origin, time.time())

    async def revoke_token(self, name: str, actor: str, origin: str) -> None:
        """Stop a token working."""
        await self._write(sql_accounts.revoke_token, name, actor, origin, time.time())

    async def working_token(self, token_id: str) -> ApiToken | None:
        """A working API token (its name and scopes) by its hash, or None."""
        return await self._read(sql_accounts.working_token, token_id)

    async def list_tokens(self) -> list[ApiToken]:
        """Every API token, revoked ones too, by name."""
        return await self._read(sql_accounts.list_tokens)

    async def expire_sessions(self, now: Timestamp, idle: float, lifetime: float) -> int:
        """Drop sessions unused for ``idle`` seconds or older than ``lifetime`` at ``now``; returns how many."""
        return await self._write(sql_accounts.expire_sessions, now, idle, lifetime)

    async def forget_idempotency_keys(self, before: Timestamp) -> int:
        """Drop the API's Idempotency-Keys remembered before ``before``; returns how many."""
        return await self._write(sql_accounts.forget_idempotency_keys, before)

    async def set_contacts(self, name: str, email: str | None, line_id: str | None, actor: str, origin: str) -> None:
        """Change an account's mail address or LINE user id for approval notices (None: unchanged)."""
        await self._write(sql_accounts.set_contacts, name, email, line_id, actor, origin, time.time())

    async def approval_queue(self, limit: int = 200) -> list[Waiting]:
        """The alerts awaiting approval, the longest waiting first: since when, and who may not approve each."""
        return await self._read(sql_accounts.approval_queue, limit)

    async def get_state(self, namespace: Namespace[T], key: str) -> T | None:
        """The value remembered under ``key`` (see broadcaster/state.py), or None."""
        text = await self._read(sql_journal.feed_get, *namespace.address(key))
        return None if text is None else namespace.decode(text)

    async def put_state(self, namespace: Namespace[T], key: str, value: T) -> None:
        """Remember ``value`` under ``key``; TypeError, before any write, if it is not the namespace's type."""
        await self._write(sql_journal.feed_set, *namespace.entry(key, value))

    async def put_states(self, rows: Sequence[StateRow]) -> None:
        """Remember several values (each made by ``Namespace.entry``) in one transaction."""
        if made_rows(rows):
            await self._write(sql_journal.feed_set_many, rows)

    async def approve_confirmed(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str
    ) -> dict[ChannelName, int]:
        """Plan a confirmed draft if it is still the version ``fingerprint``, checked and planned in one transaction."""
        return await self._write(sql_alerts.approve_confirmed, alert_id, actor, origin, time.time(), fingerprint)

    async def approval_record(self, alert_id: AlertId) -> ApprovalRecord:
        """Authors, requester, approver and rejection of an alert."""
        return await self._read(sql_alerts.approval_record, alert_id)

    async def mark_seen(self, feed: str, entry_ids: Sequence[str], now: Timestamp) -> list[str]:
        """Remember entries; returns those not seen before, in the order given. Forgets those past SEEN_DAYS."""
        if now - self._seen_pruned_at > PRUNE_EVERY_S:
            # feeds list an entry for days at most, so month-old ids can never come back; without this the
            # table grows by every JMA document and webhook event for ever
            self._seen_pruned_at = now
            await self._write(sql_journal.forget_seen, now - SEEN_DAYS * 86_400)
        return await self._write(sql_journal.mark_seen, feed, entry_ids, now)
