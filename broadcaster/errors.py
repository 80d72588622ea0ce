"""One error tree for the whole service: every error the project raises on purpose derives from it.

    BroadcasterError
    ├── DeliveryError          a channel could not deliver; raised only by Channel.send
    │   ├── TransientError     worth retrying (timeouts, 5xx, 429); ``retry_after`` is a floor in seconds
    │   ├── PermanentError     retrying cannot help (bad address, 4xx, content refused)
    │   └── PartialDelivery    some recipients of a batch failed; the others were delivered
    ├── ConfigError            settings are wrong; names the key; the program exits with code 2
    │   ├── MissingCredentials a channel's credentials are not in the environment (it runs as the outbox)
    │   └── broadcaster.geometry.GeometryError  a district's GeoJSON outline cannot be read or is invalid
    ├── InputError             input from a person or a file is wrong (CSV, CLI arguments, forms, a feed's
    │   │                      documents); nothing was stored
    │   ├── Unfilled           a live alert still has a 定型文 placeholder (【地区名】): it cannot go out
    │   ├── Stale              an approval or a confirmation of a version the alert no longer has
    │   ├── broadcaster.drafts.StaleTranslations  a correction changed the Japanese but left a translation
    │   ├── broadcaster.passwords.PasswordRefused a new password breaks the rule (``reason`` says which)
    │   ├── feeds.jma.atom.AtomError            a JMA feed that is not a readable Atom feed
    │   └── feeds.jma.xmlsafe.RefusedDocument   a JMA document refused unread (too large, a DTD, not XML)
    ├── RefusedError           a request is refused; the message is safe to show to whoever asked
    │   ├── broadcaster.accounts.LoginRefused   wrong name, password or code; a locked name; a wait
    │   └── broadcaster.web.console.api.Refused an API call answered with a JSON error and its HTTP status
    └── channels.fm.speech.SpeechError          speech synthesis failed on this script
        └── channels.fm.speech.EngineMissing    a speech engine cannot run on this machine

Channels translate their library's exceptions into this tree once, at the boundary, with
``raise TransientError(...) from exc``; the FM channel turns a SpeechError into a PermanentError.
Retries live in the dispatcher, never in channels. Private exceptions that never leave their module
(control flow inside one function's retry loop) may derive from Exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


class BroadcasterError(Exception):
    """Base of every error this project raises on purpose."""


class DeliveryError(BroadcasterError):
    """A channel could not deliver a message."""


class TransientError(DeliveryError):
    """A failure that may succeed later; the dispatcher retries it."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """A failure that retrying cannot fix; recorded, never retried."""


class PartialDelivery(DeliveryError):
    """Some recipients of a batch failed; recipients not in ``failures`` were delivered."""

    def __init__(self, failures: Mapping[str, DeliveryError]) -> None:
        super().__init__(f"{len(failures)} recipient(s) failed")
        self.failures = dict(failures)


class ConfigError(BroadcasterError):
    """Invalid configuration; the message names the key and what is wrong."""


class MissingCredentials(ConfigError):
    """A channel's credentials are not in the environment; the message names the variables."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, in a form any language can word.

    ``code`` is stable (a page looks up its own words by it, e.g. the console's ``err_not_draft``);
    ``params`` are the values those words name (an id, a state, the languages); ``field`` is the input
    field it is about ("title", "translations.en.body"; "" for none). ``message`` is the English line.
    """

    code: str
    message: str
    field: str = ""
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InputError(BroadcasterError):
    """Invalid input from a person or a file; nothing was stored.

    ``str(exc)`` is English (logs, the CLI, the API). ``problems`` say the same for a page in another
    language: each has a stable code and its values (``Problem``). ``InputError(message, code=...,
    field=..., **params)`` is one problem; ``InputError(problems=[...])`` several, its message their
    lines joined with "; ". An error raised without a code has code "" (words for it: none but English).
    """

    def __init__(
        self, message: str = "", *, code: str = "", field: str = "", problems: Sequence[Problem] = (), **params: Any
    ) -> None:
        found = tuple(problems) or (Problem(code, message, field, params),)
        super().__init__(message if message and not problems else "; ".join(str(p) for p in found))
        self.problems = found

    @property
    def code(self) -> str:
        """The code of the first problem ("" for an error raised without one)."""
        return self.problems[0].code


class Unfilled(InputError):
    """A live alert still holds a 定型文's placeholders; ``placeholders`` lists them (【地区名】 …)."""

    def __init__(self, placeholders: list[str]) -> None:
        super().__init__(
            f"fill in {'、'.join(placeholders)} first: a live alert cannot go out with a placeholder left",
            code="unfilled",
            placeholders=placeholders,
        )
        self.placeholders = placeholders


class Stale(InputError):
    """An approval or a confirmation made for another version of the alert than the stored one.

    Someone changed the alert after the page was shown: the person approved words they never read.
    """

    def __init__(self, alert_id: str) -> None:
        super().__init__(
            f"alert {alert_id} has changed since it was shown: read it again before approving",
            code="stale",
            id=alert_id,
        )
        self.alert_id = alert_id


class RefusedError(BroadcasterError):
    """A request refused (a login, an API call); the message says why and is safe to show."""
