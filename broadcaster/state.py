"""What the service remembers as small key-value state, each namespace named and typed once, here.

The rows live in the store's ``feed_state`` table as text: (namespace, key, value). A ``Namespace``
says what its values are in Python (str, float, bool, or a JSON list or dict) and how they become
text; the store's ``get_state``, ``put_state`` and ``put_states`` (and ``create_alert(state=...)``)
take one, so no caller names a namespace with a free string or encodes a value by hand. A value of
the wrong type is a TypeError when its row is made, before anything is written.

The names are the strings stored in the table since before this module; they never change, or an
existing database would forget what it knew. The JMA poller's rows put the feed's URL where the
namespace goes and the namespace's name where the key goes (``per_feed``), as they always have.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar, cast

T = TypeVar("T")

JSON_KINDS = (list, dict)


class StateRow(NamedTuple):
    """One encoded row of ``feed_state``; made by ``Namespace.entry``, never by hand."""

    feed: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Namespace(Generic[T]):
    """A family of remembered values of one type, told apart by a key (an alert and target, a URL...)."""

    name: str  # the string stored in feed_state; never change it
    kind: type[T]  # str, float, bool, list or dict (the last two stored as JSON)
    per_feed: bool = False  # stored as (key, name): the poller's rows, keyed by feed URL first

    def __post_init__(self) -> None:
        if self.kind not in (str, float, bool, *JSON_KINDS):
            raise TypeError(f"state {self.name}: no encoding for {self.kind.__name__}")

    def address(self, key: str) -> tuple[str, str]:
        """The (feed, key) columns of ``key``'s row."""
        return (key, self.name) if self.per_feed else (self.name, key)

    def entry(self, key: str, value: T) -> StateRow:
        """``value`` under ``key``, encoded; TypeError if it is not of this namespace's type."""
        feed, row_key = self.address(key)
        return StateRow(feed, row_key, self.encode(value))

    def encode(self, value: T) -> str:
        """``value`` as stored; TypeError if it is not of this namespace's type."""
        kind: type[Any] = self.kind
        # bool is an int, and an int is a fine float; but True is no float and 1 no bool
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if not ok or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"state {self.name}: a {kind.__name__} is stored here, not {type(value).__name__}")
        if kind is str:
            return cast(str, value)
        if kind is float:
            return repr(float(cast(float, value)))
        if kind is bool:
            return "1" if value else "0"
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def decode(self, text: str) -> T:
        """A stored value back as its type."""
        kind: type[Any] = self.kind
        if kind is str:
            return cast(T, text)
        if kind is float:
            return cast(T, float(text))
        if kind is bool:
            return cast(T, text == "1")
        return cast(T, json.loads(text))


def made_rows(rows: Sequence[StateRow]) -> Sequence[StateRow]:
    """``rows`` as given; TypeError if one was not made by ``Namespace.entry`` (a bare tuple)."""
    for row in rows:
        if not isinstance(row, StateRow):
            raise TypeError(f"state rows are made by Namespace.entry, not given as {type(row).__name__}")
    return rows


# -- every namespace ---------------------------------------------------------------------------------

# feeds/jma/ingest: document source -> the alert it made, or the decision; stops a second alert for it
JMA_HANDLED = Namespace("jma-handled", str)
# feeds/jma/ingest: "<mode>:<city code>" -> the warnings in force and the event they follow
JMA_WARNINGS = Namespace("jma-warnings", dict)
# feeds/jma/ingest: "<mode>:<series>" -> [report time (epoch s), Serial] of the newest report applied to that event
JMA_SERIES = Namespace("jma-series", list)
# feeds/jma/poller: key "queue" -> entry id -> [url, attempts, next attempt]; documents not yet accepted
JMA_QUEUE = Namespace("jma", dict)
# feeds/jma/poller: feed URL -> its Last-Modified, sent back as If-Modified-Since
JMA_LAST_MODIFIED = Namespace("last_modified", str, per_feed=True)
# feeds/jma/poller: feed URL -> its ETag, sent back as If-None-Match
JMA_ETAG = Namespace("etag", str, per_feed=True)
# feeds/jma/poller: feed URL -> when it was last read well; too long ago means reading the long feed too
JMA_LAST_SUCCESS = Namespace("last_success", float, per_feed=True)
# feeds/jma/poller: feed URL -> whether its long feed is still to be read (a backfill that failed)
JMA_BACKFILL = Namespace("backfill", bool, per_feed=True)
# channels/sns: "<alert>:<target>" -> the ids of the thread's posts so far; a retry never posts twice
SNS_POSTED = Namespace("sns-posted", list)
# channels/sns: "<alert>:<target>" -> why the target refused for good; it is not asked again
SNS_FAILED = Namespace("sns-failed", str)
# channels/sns: key "x" -> times of X posts (a rolling day's worth), the daily quota's count
SNS_QUOTA = Namespace("sns-quota", list)
# channels/sns/bluesky: key "bluesky" -> the exported session, so a restart need not log in again
SNS_SESSION = Namespace("sns-session", str)
# channels/ticker: "<alert>:<target>" -> when that push succeeded; a retry repeats only the others
TICKER_DONE = Namespace("ticker-done", float)
# broadcaster/web/console/api: "<user>:<Idempotency-Key>" -> "<alert id> <body fingerprint>"
API_IDEMPOTENCY = Namespace("api-idempotency", str)
# broadcaster/approval_notice: "<alert>@<asked at>:<stage>:<account>:<medium>" -> when that notice went out
APPROVAL_NOTICE = Namespace("approval-notice", float)

NAMESPACES: tuple[Namespace[Any], ...] = (
    JMA_HANDLED,
    JMA_WARNINGS,
    JMA_SERIES,
    JMA_QUEUE,
    JMA_LAST_MODIFIED,
    JMA_ETAG,
    JMA_LAST_SUCCESS,
    JMA_BACKFILL,
    SNS_POSTED,
    SNS_FAILED,
    SNS_QUOTA,
    SNS_SESSION,
    TICKER_DONE,
    API_IDEMPOTENCY,
    APPROVAL_NOTICE,
)
