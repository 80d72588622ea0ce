"""The channel contract: render is pure, send does I/O only and raises DeliveryError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from broadcaster.models import Alert, Message, Recipients


@dataclass(frozen=True, slots=True)
class Limits:
    """What a channel can carry; rendering fits every message inside these."""

    subject: int | None = None  # longest subject, or None for no limit
    text: int | None = None  # longest body text
    ticker: int | None = None  # longest ticker line
    speech: int | None = None  # longest speech script
    single_line: bool = False  # text and ticker become one line
    measure: Callable[[str], int] = len  # how the channel counts (UTF-16 units, X's weights …)


NO_LIMITS = Limits()


class Channel(Protocol):
    """One way of reaching people. Retries are the dispatcher's job, not the channel's."""

    name: str  # config section, template folder, store key
    limits: Limits

    def render(self, alert: Alert, lang: str) -> Message:
        """Render ``alert`` in ``lang`` within this channel's limits; no I/O."""

    async def send(self, message: Message, to: Recipients) -> None:
        """Deliver to a batch of recipients, or raise a DeliveryError."""

    async def aclose(self) -> None:
        """Release connections and files."""
