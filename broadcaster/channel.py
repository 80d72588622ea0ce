"""The channel contract, defined by the core: render is pure, send does I/O only and raises DeliveryError.

The core (dispatcher, lint, the service's wiring) knows channels only through these types; the
implementations live in ``channels/`` and are built by its registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from broadcaster.models import Alert, Message, Recipients
from broadcaster.rendering import Limits, Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store


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


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a channel factory may use to build its channel."""

    name: str
    settings: Settings
    renderer: Renderer
    environ: Mapping[str, str]
    store: Store | None = None  # for channels that write back (e.g. refusals that bounce a subscriber)


ChannelFactory = Callable[[ChannelContext], Channel]


@dataclass(frozen=True, slots=True)
class ChannelSet:
    """The channels of one running service: live sinks, exercise sinks, and what start-up reports."""

    live: dict[str, Channel]
    exercise: dict[str, Channel]
    notices: list[str]
