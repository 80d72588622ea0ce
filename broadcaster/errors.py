"""One error tree for the whole service.

    BroadcasterError
    ├── DeliveryError          a channel could not deliver; raised only by Channel.send
    │   ├── TransientError     worth retrying (timeouts, 5xx, 429); ``retry_after`` is a floor in seconds
    │   ├── PermanentError     retrying cannot help (bad address, 4xx, content refused)
    │   └── PartialDelivery    some recipients of a batch failed; the others were delivered
    ├── ConfigError            settings are wrong; names the key; the program exits with code 2
    │   └── MissingCredentials a channel's credentials are not in the environment (it runs as the outbox)
    └── InputError             user input (CSV, CLI arguments, forms) is wrong; nothing was stored

Channels translate their library's exceptions into this tree once, at the boundary, with
``raise TransientError(...) from exc``. Retries live in the dispatcher, never in channels.
"""

from __future__ import annotations

from collections.abc import Mapping


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


class InputError(BroadcasterError):
    """Invalid input from a person or a file; nothing was stored."""
