"""The channel registry: written out by hand, no discovery.

A configured channel runs its real implementation when one is registered here and its
credentials are in the environment; otherwise it runs as the outbox, and start-up says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from broadcaster.models import ContactKind
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from channels import email, fm, line, sns, ticker, website
from channels.base import Channel
from channels.outbox import OutboxChannel


class MissingCredentials(Exception):
    """A channel's credentials are not in the environment; the message names the variables."""


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a channel factory may use to build its channel."""

    name: str
    settings: Settings
    renderer: Renderer
    environ: Mapping[str, str]
    store: Store | None = None  # for channels that write back (e.g. refusals that bounce a subscriber)


ChannelFactory = Callable[[ChannelContext], Channel]


def _email(ctx: ChannelContext) -> Channel:
    store, threshold = ctx.store, ctx.settings.email.refusal_threshold

    async def refused(subscriber_ids: list[int]) -> None:
        # refusals past the threshold mark the subscriber bounced: no more mail to a dead address
        if store is not None:
            await store.note_refusals(subscriber_ids, threshold)

    return email.create(ctx, on_refused=refused)


# name -> factory
IMPLEMENTATIONS: dict[str, ChannelFactory] = {
    "email": _email,
    "line": line.create,
    "sns": sns.create,
    "website": website.create,
    "ticker": ticker.create,
    "fm": fm.create,
}


@dataclass(frozen=True, slots=True)
class ChannelSet:
    """The channels of one running service: live sinks, exercise sinks, and what start-up reports."""

    live: dict[str, Channel]
    exercise: dict[str, Channel]
    notices: list[str]


def build_channels(
    settings: Settings, renderer: Renderer, environ: Mapping[str, str], store: Store | None = None
) -> ChannelSet:
    """Build every enabled channel, falling back to the outbox where it cannot run for real."""
    outbox_dir = settings.path(settings.storage.outbox_dir)
    live: dict[str, Channel] = {}
    exercise: dict[str, Channel] = {}
    notices = []
    for name in settings.enabled_channels:
        outbox = OutboxChannel(name, outbox_dir, renderer)
        factory = IMPLEMENTATIONS.get(name)
        if factory is None:
            live[name] = outbox
            notices.append(f"channel {name}: no implementation yet; writing to {outbox.folder}")
        else:
            try:
                live[name] = factory(ChannelContext(name, settings, renderer, environ, store))
            except MissingCredentials as exc:
                live[name] = outbox
                notices.append(f"channel {name}: {exc}; writing to {outbox.folder}")
        # exercise alerts reach people only through their tester subscriptions; the public never
        exercise[name] = live[name] if name in ContactKind.__members__.values() else outbox
    return ChannelSet(live, exercise, notices)
