"""The Store protocol: everything the service remembers. SQLite is the embedded default."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from broadcaster.errors import InputError
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
from broadcaster.state import Namespace, StateRow
from broadcaster.store.sql_journal import ChainCheck

T = TypeVar("T")
USER_KEY = "user:"  # the login throttle's key of a name tried (an account or not)
CLIENT_KEY = "client:"  # … and of a client address


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """Who had a hand in an alert: for its page, and for the rule that an author never approves."""

    authors: tuple[str, ...]  # everyone who changed its content (its creation, every edit), the first first
    requester: str  # who asked for the approval it waits for or got ('' for nobody)
    requested_at: Timestamp | None
    approver: str  # '' until approved (or sent without approval: then the sender)
    approved_at: Timestamp | None
    rejection: str  # why an approver sent it back, until it is put forward again ('' for none)

    def second_person(self, name: str) -> None:
        """InputError unless ``name`` is a second person: none of the authors, not the requester."""
        if name in self.authors or name == self.requester:
            raise InputError(
                "a live alert needs a second person: you cannot approve one you wrote, edited or requested"
            )


@dataclass(frozen=True, slots=True)
class Gate:
    """What the login throttle says of an attempt about to be checked."""

    wait: float  # seconds before any attempt for this name or from this client is checked (0: go on)
    locked: bool  # the name is locked: only an admin or its owner's second factor lets it in


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """An account's TOTP second factor."""

    secret: str  # base32; "" while the account has none
    pending: str  # a secret being set up, waiting for a code to confirm it ("" for none)
    last_step: int  # the last TOTP time step accepted (a code is taken once)
    recovery_codes: int  # unused recovery codes left

    @property
    def enrolled(self) -> bool:
        """Whether login asks for a code after the password."""
        return bool(self.secret)


class Store(Protocol):
    """Durable state. Writes that belong together happen in one transaction."""

    async def create_alert(
        self, alert: Alert, actor: str, origin: str, *, approve: bool = False, state: Sequence[StateRow] = ()
    ) -> dict[ChannelName, int]:
        """Store a new alert (draft or pending approval) and audit it; one transaction with what follows.

        ``approve`` plans it as ``approve`` does (returns the rows by channel; {} otherwise), and the
        ``state`` rows are remembered as ``put_states`` does: a source's memory of the decision commits
        with the alert it made, or not at all.
        """

    async def update_draft(self, alert: Alert, actor: str, origin: str) -> None:
        """Replace a draft's words and choices; InputError if it is no longer a draft."""

    async def get_alert(self, alert_id: AlertId) -> Alert | None:
        """One alert, or None."""

    async def list_alerts(self, limit: int = 50) -> list[Alert]:
        """The newest alerts first."""

    async def published(self, channel: ChannelName, since: Timestamp, limit: int = 500) -> list[Published]:
        """Alerts a public channel has carried (its row sent) since ``since``, the latest sent first."""

    async def latest_alert(self, event_key: str, mode: str) -> Alert | None:
        """The newest version of an event in one mode, or None."""

    async def approve(self, alert_id: AlertId, actor: str, origin: str) -> dict[ChannelName, int]:
        """Approve: write the delivery rows, supersede older versions, audit; one transaction."""

    async def request_approval(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str | None = None
    ) -> None:
        """Move a draft to the approval queue, remembering who asked and when; clears an earlier rejection.

        With ``fingerprint`` (the version the requester confirmed), Stale if the draft no longer has it.
        """

    async def approve_pending(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str
    ) -> dict[ChannelName, int]:
        """A second person's approval of the version with ``fingerprint``: an approver who is neither one of
        the alert's authors nor its requester. Stale, in the same transaction, if the alert has changed."""

    async def reject(self, alert_id: AlertId, actor: str, reason: str, origin: str) -> None:
        """Send a pending alert back as a draft with ``reason`` (required), or discard a draft."""

    async def people(self, alert_id: AlertId) -> tuple[str, str, str, Timestamp | None]:
        """Author, requester and approver of an alert ('' for nobody), and when it was approved."""

    async def alerts_in_state(self, state: AlertState, limit: int = 200) -> list[Alert]:
        """Alerts in one state, the oldest first."""

    async def search_alerts(self, text: str = "", mode: str = "", limit: int = 50, offset: int = 0) -> list[Alert]:
        """Alerts whose id, title or body contain ``text``, in ``mode`` ('' for both), the newest first."""

    async def versions(self, event_key: str, mode: str) -> list[Alert]:
        """Every version of an event in one mode, in order."""

    async def claim(self, channel: ChannelName, limit: int, lease_until: Timestamp, now: Timestamp) -> list[Claim]:
        """Lease up to ``limit`` due rows of ``channel``, most urgent first."""

    async def record(self, channel: ChannelName, outcomes: Sequence[Outcome], now: Timestamp) -> list[AlertId]:
        """Record what became of claimed rows; returns the alerts this left with nothing open (done)."""

    async def release(self, channel: ChannelName, ids: Sequence[int]) -> None:
        """Give claimed rows back unsent, claimable at once (used on shutdown)."""

    async def next_due(self, channel: ChannelName) -> Timestamp | None:
        """When the earliest pending row of ``channel`` becomes due, or None if there is none."""

    async def recover(self, now: Timestamp, all_leases: bool) -> int:
        """Make rows of dead workers claimable again; returns how many."""

    async def report(self, alert_id: AlertId) -> list[ChannelReport]:
        """The delivery report of one alert, per channel."""

    async def counts(self) -> dict[tuple[ChannelName, str], int]:
        """Deliveries by (channel, state) over all alerts."""

    async def import_subscribers(self, subscribers: Iterable[Subscriber]) -> int:
        """Insert or update subscribers by (channel, contact), all or nothing."""

    async def export_subscribers(self, write: Callable[[list[Subscriber]], None], batch: int = 1000) -> int:
        """Pass every subscriber to ``write`` in batches (called on the store's thread); returns how many."""

    async def reach(self, alert: Alert) -> dict[ChannelName, int]:
        """The delivery rows approving ``alert`` now would write, by channel, computed by the approval's own
        planning and undone: what an officer or approver is shown is what will be planned. ``alert`` may be
        stored (a draft or pending) or not yet (a correction being written); a sent alert's rows are counted.
        """

    async def get_subscriber(self, channel: str, contact: str) -> Subscriber | None:
        """One subscriber by channel and contact, or None."""

    async def get_subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        """One subscriber by id, or None."""

    async def save_subscriber(self, subscriber: Subscriber) -> Subscriber:
        """Insert or update one subscriber by (channel, contact), categories included; returns it as stored."""

    async def delete_subscriber(self, subscriber_id: int, actor: str, origin: str) -> bool:
        """Remove one subscriber and audit it (never the contact), in one transaction; False if there is none."""

    async def set_subscriber_state(self, subscriber_id: int, state: str) -> bool:
        """Change one subscriber's state; False if there is no such subscriber."""

    async def note_refusals(self, subscriber_ids: Sequence[int], threshold: int) -> list[int]:
        """Count a refusal for each; returns those that reached ``threshold`` and are now bounced."""

    async def subscriber_counts(self) -> Mapping[tuple[str, str, str], int]:
        """Subscribers by (channel, category, state)."""

    async def district_counts(self) -> Mapping[str, int]:
        """Active subscribers by district chosen; "" counts those who chose the whole city."""

    async def audit(self, actor: str, action: str, target: str, detail: str, origin: str) -> None:
        """Append one line to the audit log."""

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit lines first."""

    async def audit_search(self, text: str = "", limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Audit lines containing ``text``, newest first, older than ``before_id``."""

    async def audit_export(self, write: Callable[[list[AuditEntry]], None], batch: int = 1000) -> int:
        """Pass every audit line to ``write`` in order; returns how many."""

    async def audit_verify(self) -> ChainCheck:
        """Check the audit log's hash chain from its first line: how many, the first broken one, the newest hash."""

    async def add_user(self, user: User, actor: str, origin: str) -> None:
        """Create a console account; InputError if the name is taken."""

    async def get_user(self, name: str) -> User | None:
        """One account, or None."""

    async def list_users(self) -> list[User]:
        """Every account, by name."""

    async def set_password(self, name: str, password_hash: str, must_change: bool, actor: str, origin: str) -> None:
        """Replace a password, unlocking the account and ending its sessions."""

    async def update_user(self, name: str, role: Role | None, disabled: bool | None, actor: str, origin: str) -> None:
        """Change an account's role, or switch it off or on."""

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
        """Let a login attempt through the throttle of a name and a client (counting it as failed until
        told otherwise), or say how long to wait; see sql_accounts.begin_login."""

    async def undo_login_attempt(self, keys: Sequence[str]) -> None:
        """Take back the failure counted for an attempt whose password was right (a code is to come)."""

    async def clear_login_throttle(self, keys: Sequence[str]) -> bool:
        """Forget failures and a lock after a complete login; True if the name was locked."""

    async def unlock_user(self, name: str, actor: str, origin: str) -> bool:
        """An admin lifts an account's lock; True if it was locked; InputError for no such account."""

    async def locked_names(self) -> set[str]:
        """The accounts whose name is locked."""

    async def second_factor(self, name: str) -> SecondFactor | None:
        """An account's TOTP state, or None for no such account."""

    async def begin_totp(self, name: str, secret: str) -> None:
        """Remember a TOTP secret being set up, until a code confirms it."""

    async def enable_totp(self, name: str, secret: str, code_ids: Sequence[str], actor: str, origin: str) -> None:
        """Make ``secret`` the account's second factor, with new recovery codes (hashes)."""

    async def disable_totp(self, name: str, actor: str, origin: str) -> None:
        """Remove an account's second factor and recovery codes."""

    async def use_totp_step(self, name: str, step: int) -> bool:
        """Take a TOTP step as used; False if it or a later one already was."""

    async def use_recovery_code(self, name: str, code_id: str) -> bool:
        """Spend a recovery code by its hash; False if there is no such unused code."""

    async def add_pending_login(self, pending_id: str, name: str, now: Timestamp, origin: str, ttl: float) -> None:
        """Remember a login whose password was right and whose code is to come."""

    async def pending_login(self, pending_id: str, since: Timestamp) -> str | None:
        """The account of a login waiting for its code, begun after ``since``."""

    async def end_pending_login(self, pending_id: str) -> None:
        """Forget a login waiting for its code."""

    async def add_session(self, session: Session) -> None:
        """Store a new session."""

    async def touch_session(self, session_id: str, idle: float, lifetime: float) -> tuple[Session, User] | None:
        """A live session and its account, seen now; None once it has ended."""

    async def update_session(self, session_id: str, mode: Mode | None = None, lang: str | None = None) -> None:
        """Change a session's mode switch or language."""

    async def end_session(self, session_id: str) -> None:
        """Log out."""

    async def forget_sessions(self, before: Timestamp) -> int:
        """Drop sessions unused since ``before``; returns how many."""

    async def add_token(self, token_id: str, name: str, granted: frozenset[Scope], actor: str, origin: str) -> None:
        """Store an API token's hash with its scopes (at least one); InputError if the name is taken."""

    async def revoke_token(self, name: str, actor: str, origin: str) -> None:
        """Stop a token working."""

    async def working_token(self, token_id: str) -> ApiToken | None:
        """A working API token (its name and scopes) by its hash, or None."""

    async def list_tokens(self) -> list[ApiToken]:
        """Every API token, revoked ones too, by name (never the token: only its hash is kept)."""

    async def expire_sessions(self, now: Timestamp, idle: float, lifetime: float) -> int:
        """Drop sessions unused for ``idle`` seconds or older than ``lifetime`` at ``now``; returns how many."""

    async def forget_idempotency_keys(self, before: Timestamp) -> int:
        """Drop the API's Idempotency-Keys remembered before ``before``; returns how many."""

    async def set_contacts(self, name: str, email: str | None, line_id: str | None, actor: str, origin: str) -> None:
        """Change an account's mail address or LINE user id for approval notices (None: unchanged)."""

    async def approval_queue(self, limit: int = 200) -> list[Waiting]:
        """The alerts awaiting approval, the longest waiting first: since when, and who may not approve each."""

    async def get_state(self, namespace: Namespace[T], key: str) -> T | None:
        """The value remembered under ``key`` (see broadcaster/state.py), or None."""

    async def put_state(self, namespace: Namespace[T], key: str, value: T) -> None:
        """Remember ``value`` under ``key``; TypeError, before any write, if it is not the namespace's type."""

    async def put_states(self, rows: Sequence[StateRow]) -> None:
        """Remember several values (each made by ``Namespace.entry``) in one transaction."""

    async def mark_seen(self, feed: str, entry_ids: Sequence[str], now: Timestamp) -> list[str]:
        """Remember feed entries; returns those not seen before, in order."""

    async def aclose(self) -> None:
        """Close the store."""

    async def approve_confirmed(
        self, alert_id: AlertId, actor: str, origin: str, fingerprint: str
    ) -> dict[ChannelName, int]:
        """Plan a draft its sender confirmed (typed 本番), if it still is the version with ``fingerprint``."""

    async def approval_record(self, alert_id: AlertId) -> ApprovalRecord:
        """Authors, requester, approver and rejection of an alert (empty for an unknown alert)."""
