"""The domain as plain data: alerts, their renderings, deliveries and subscribers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

AlertId = str
ChannelName = str
Lang = str
Timestamp = float  # seconds since the epoch, UTC; converted to ISO 8601 only at the edges

BROADCAST_KEY = "*"  # the recipient key of the single delivery row of a public channel


class Source(StrEnum):
    JMA = "jma"  # parsed from a JMA 防災情報XML document
    STAFF = "staff"  # written by a duty officer (console or run.py send)
    CAP = "cap"  # received as CAP 1.2
    API = "api"  # posted by another city system


class MsgType(StrEnum):
    ALERT = "alert"  # the first message of an event
    UPDATE = "update"  # a source's newer report of the same event (JMA's next 報)
    CORRECTION = "correction"  # an officer's new wording of a sent alert (【訂正】)
    LIFT = "lift"  # the order or warning is over (【解除】); takes the event off the air
    CANCEL = "cancel"  # the event was a mistake (【取消】); reaches exactly who got it


class Mode(StrEnum):
    LIVE = "live"  # reaches residents
    EXERCISE = "exercise"  # reaches only exercise sinks (testers and the outbox)


class AlertState(StrEnum):
    DRAFT = "draft"  # written, not yet submitted
    PENDING_APPROVAL = "pending_approval"  # waits for a second person
    APPROVED = "approved"  # delivery rows written, nothing claimed yet
    DISPATCHING = "dispatching"  # channels are working on it
    DONE = "done"  # every delivery row reached a final state
    CANCELLED = "cancelled"  # withdrawn, or superseded by a cancel


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting to be claimed (possibly not before next_attempt_at)
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"  # the channel accepted it
    FAILED = "failed"  # permanent error, or retries exhausted
    SUPERSEDED = "superseded"  # a newer version of the event made it pointless


OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)


class ContactKind(StrEnum):
    """Channels that reach a person by name; every other channel reaches the public."""

    EMAIL = "email"
    LINE = "line"


class SubscriberState(StrEnum):
    PENDING = "pending"  # not yet confirmed (double opt-in); receives nothing
    ACTIVE = "active"  # receives alerts of its categories
    PAUSED = "paused"  # asked for a break; receives nothing
    BOUNCED = "bounced"  # refused too often; receives nothing until fixed
    GONE = "gone"  # unsubscribed or unfollowed


@dataclass(frozen=True, slots=True)
class Text:
    """The words of an alert in one language."""

    title: str
    body: str
    instruction: str = ""
    # where the words came from: "officer" (typed by a person or a system), "phrasebook" (an approved
    # pattern filled from the alert's structured fields), "notice" (the phrasebook's notice that carries
    # category, level, districts and the link for free text, which is never machine-translated)
    source: str = "officer"


@dataclass(frozen=True, slots=True)
class Alert:
    """What is broadcast: one version of one event."""

    id: AlertId
    source: Source
    category: str
    level: int  # JMA 警戒レベル 1–5; 0: none (crime, health, daily life)
    title: str  # the words alone: tags (【訓練】, 【訂正】, the level) are added by code when rendered
    body: str
    instruction: str = ""
    kind: str = ""  # template kind, e.g. "earthquake"; "" means the category's default
    severity: Severity = Severity.UNKNOWN
    urgency: Urgency = Urgency.UNKNOWN
    certainty: Certainty = Certainty.UNKNOWN
    areas: tuple[str, ...] = ()
    translations: Mapping[Lang, Text] = field(default_factory=dict)
    event_key: str = ""  # alerts with one event_key form an update/cancel chain
    version: int = 1
    msg_type: MsgType = MsgType.ALERT
    mode: Mode = Mode.EXERCISE
    expires: Timestamp | None = None
    channels: tuple[ChannelName, ...] = ()
    state: AlertState = AlertState.DRAFT
    created_at: Timestamp = 0.0
    created_by: str = ""
    references: AlertId | None = None  # the alert this one updates or cancels
    badge: str = ""  # the scale when it is not a 警戒レベル: "震度５弱", "噴火警戒レベル３（那須岳）"; "" for none
    districts: tuple[str, ...] = ()  # ids of the city's 地区 it concerns, in config order; (): the whole city
    # the phrasebook pattern its words were built from ("" for free text), and the pattern's slot values:
    # what every other language is built from (broadcaster/variants)
    phrase: str = ""
    slots: Mapping[str, object] = field(default_factory=dict)

    def text(self, lang: Lang) -> Text:
        """The alert's words in ``lang``, falling back to the Japanese original."""
        if lang in self.translations:
            return self.translations[lang]
        return Text(self.title, self.body, self.instruction, "phrasebook" if self.phrase else "officer")

    @property
    def languages(self) -> tuple[Lang, ...]:
        """Japanese first, then every translation in the order it was made (the city's order of languages)."""
        return ("ja", *(k for k in self.translations if k != "ja"))


@dataclass(frozen=True, slots=True)
class Message:
    """One channel's rendering of one alert in one language."""

    alert_id: AlertId
    channel: ChannelName
    lang: Lang
    mode: Mode
    subject: str = ""
    text: str = ""
    html: str = ""
    ticker: str = ""
    speech: str = ""
    attachments: tuple[tuple[str, bytes], ...] = ()


# Recipient, Claim and Outcome are made once per delivery on the hot path: NamedTuples are
# immutable like the dataclasses above and several times cheaper to create from database rows.
class Recipient(NamedTuple):
    """Who one delivery row goes to: a subscriber, or the public (key ``*``)."""

    key: str  # the subscriber id as text, or BROADCAST_KEY
    contact: str = ""  # email address or LINE user id; personal data, never logged
    lang: Lang = "ja"


Recipients = Sequence[Recipient]


class Published(NamedTuple):
    """An alert a public channel has carried, and when."""

    alert: Alert
    sent_at: Timestamp


@dataclass(frozen=True, slots=True)
class Delivery:
    """The tracked state of one (alert, channel, recipient)."""

    id: int
    alert_id: AlertId
    channel: ChannelName
    recipient: str
    state: DeliveryState
    attempts: int
    last_error: str
    queued_at: Timestamp
    first_attempt_at: Timestamp | None
    sent_at: Timestamp | None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A resident who asked for alerts by email or LINE."""

    id: int
    channel: ContactKind
    contact: str  # personal data: never logged, never on a public page
    categories: frozenset[str]
    language: Lang = "ja"
    state: SubscriberState = SubscriberState.ACTIVE
    tester: bool = False  # an exercise sink: receives exercise alerts
    created_at: Timestamp = 0.0
    updated_at: Timestamp = 0.0
    districts: frozenset[str] = frozenset()  # ids of the 地区 chosen; empty: the whole city (every alert)


class Claim(NamedTuple):
    """A delivery row a worker holds under a lease."""

    id: int
    alert_id: AlertId
    key: str  # Recipient.key
    contact: str  # Recipient.contact; personal data
    lang: Lang
    attempts: int  # including the one about to be made
    queued_at: Timestamp

    @property
    def recipient(self) -> Recipient:
        """Whom to send to."""
        return Recipient(self.key, self.contact, self.lang)


class Outcome(NamedTuple):
    """What became of one claimed row; the store records a batch of them at once."""

    id: int
    alert_id: AlertId
    state: DeliveryState  # SENT, FAILED, or PENDING to retry at next_attempt_at
    error: str = ""
    next_attempt_at: Timestamp = 0.0


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """The delivery report of one alert on one channel."""

    channel: ChannelName
    counts: Mapping[str, int]
    first_sent: Timestamp | None
    last_sent: Timestamp | None
    latency_p50: float | None
    latency_p95: float | None
    last_error: str
    next_retry: Timestamp | None = None  # when the earliest row waiting to be retried is due


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log."""

    id: int
    at: Timestamp
    actor: str
    action: str
    target: str
    detail: str
    origin: str


class Role(StrEnum):
    """What a console account may do; one role per account."""

    OPERATOR = "operator"  # compose, send exercises, request live alerts, correct and cancel
    APPROVER = "approver"  # everything an operator does, and approve other people's live alerts
    ADMIN = "admin"  # accounts and a read-only view of the config; sends nothing


@dataclass(frozen=True, slots=True)
class User:
    """A console account. The password is kept only as an argon2 hash."""

    name: str
    role: Role
    password_hash: str
    must_change: bool  # a one-time password from `run.py users add`: change it before anything else
    failures: int  # wrong passwords in a row
    locked_until: Timestamp
    disabled: bool
    created_at: Timestamp
    email: str = ""  # personal data: where approval notices are mailed; "" for none. Never logged.
    line_id: str = ""  # personal data: the LINE user id approval notices are pushed to; "" for none


@dataclass(frozen=True, slots=True)
class Waiting:
    """A live or exercise alert in the approval queue: since when, and who may not approve it."""

    alert: Alert
    since: Timestamp  # when approval was asked (the alert's creation, for alerts queued before that was kept)
    requested_by: str  # "" for nobody recorded
    cannot_approve: frozenset[str]  # its authors and its requester


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser. Only a hash of its cookie is stored."""

    id: str  # sha256 of the cookie value
    user: str
    mode: Mode  # the console's mode switch: what compose makes
    lang: Lang
    created_at: Timestamp
    seen_at: Timestamp
    origin: str  # the client address at login
