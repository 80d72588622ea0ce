"""The channel contract, defined by the core: render is pure, send does I/O only and raises DeliveryError.

The core (dispatcher, lint, the service's wiring) knows channels only through these types; the
implementations live in ``channels/`` and are built by its registry.

Rendering stands apart from sending. Every channel has a ``ChannelRenderer`` that needs no
credentials and does no I/O: the channel's own ``render`` is its renderer's, and the console's
preview, lint and the outbox use the same renderer, so what they show or record is what the
channel sends. What the core needs to know about a channel is data on these objects (``limits``,
``reaches_people``, ``runs_as``), never a check of its class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from broadcaster import furigana
from broadcaster.models import Alert, Message, Recipients
from broadcaster.rendering import Limits, Renderer, fit
from broadcaster.settings import Settings
from broadcaster.store import Store


class RunsAs(StrEnum):
    """What a configured channel really does with what it is given."""

    REAL = "real"  # sends through the service (or writes where the station reads)
    OUTBOX = "outbox"  # writes what it would send to var/outbox/<channel>/ (no credentials, or an exercise)


@dataclass(frozen=True, slots=True)
class Fit:
    """One rendered part, measured as its channel counts, against the limit the channel would cut it at."""

    part: str  # "subject", "text" (an SNS reply's too), "bubble", "line", "speech", or "thread" (an SNS thread's posts)
    lang: str
    length: int  # as the channel counts; for a thread, the posts the whole text needs
    limit: int  # where the channel cuts; for a thread, the most posts a thread may have
    target: str = ""  # the SNS target a thread or reply is for

    @property
    def over(self) -> bool:
        """True when the channel would cut this part."""
        return self.length > self.limit


def render_plain(
    renderer: Renderer, channel: str, alert: Alert, lang: str, limits: Limits, counted: bool = False
) -> Message:
    """``renderer.render`` with furigana markup written as 漢字（かんじ） in the plain parts, then cut.

    In やさしい日本語 more than ``text`` may hold {漢字|かんじ}: a phrasebook word (``w``), the exercise
    notice, ``rich``. Templates put them out as they are, and a plain-text channel renders through here,
    so no brace reaches a resident and the cut measures what is sent. The HTML part and the speech keep
    the markup (``| ruby`` shows it; FM reads it).
    """
    whole = dataclasses.replace(limits, subject=None, text=None, ticker=None)
    message = renderer.render(channel, alert, lang, whole, counted)

    def plain(part: str, limit: int | None) -> str:
        return fit(furigana.plain(part), limit, limits.measure)

    return dataclasses.replace(
        message,
        subject=plain(message.subject, limits.subject),
        text=plain(message.text, limits.text),
        ticker=plain(message.ticker, limits.ticker),
    )


class ChannelRenderer(Protocol):
    """How one channel renders: pure, no credentials, no I/O beyond reading templates."""

    @property
    def name(self) -> str:
        """The channel's name: config section, template folder, store key."""

    @property
    def limits(self) -> Limits:
        """What the channel can carry; rendering fits every message inside these."""

    @property
    def reaches_people(self) -> bool:
        """True when it reaches subscribers by name (email, LINE) rather than the public."""

    def render(self, alert: Alert, lang: str) -> Message:
        """Render ``alert`` in ``lang`` exactly as the channel sends it, attachments included."""

    def fits(self, alert: Alert) -> list[Fit]:
        """Each part the channel limits, in each language it carries, rendered uncut and measured."""


class Channel(Protocol):
    """One way of reaching people. Retries are the dispatcher's job, not the channel's."""

    name: str  # config section, template folder, store key

    @property
    def runs_as(self) -> RunsAs:
        """REAL, or OUTBOX when it writes what it would send instead of sending it."""

    @property
    def renderer(self) -> ChannelRenderer:
        """Its rendering, which ``render`` is: what the preview, lint and the outbox use."""

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
RendererFactory = Callable[[Settings, Renderer], ChannelRenderer]


@dataclass(frozen=True, slots=True)
class ChannelSet:
    """The channels of one running service: live sinks, exercise sinks, and what start-up reports.

    ``renderers`` holds every known channel's renderer, enabled or not (an officer may preview any
    channel): the running channel's own where it runs for real, else a renderer made without credentials.
    """

    live: dict[str, Channel]
    exercise: dict[str, Channel]
    notices: list[str]
    renderers: dict[str, ChannelRenderer] = field(default_factory=dict)
    # channel -> why it runs as the outbox: what is missing, named, never a value
    outbox_reasons: dict[str, str] = field(default_factory=dict)
