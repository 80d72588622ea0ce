"""The channel registry: written out by hand, no discovery.

A configured channel runs its real implementation when one is registered here and its
credentials are in the environment; otherwise it runs as the outbox, and start-up says so.
Each factory imports its module when it is called, so a command that builds no channel (``--help``,
``status``) never loads the SDKs (line-bot-sdk, tweepy, atproto, pyopenjtalk …).
"""

from __future__ import annotations

from collections.abc import Mapping

from broadcaster.channel import Channel, ChannelContext, ChannelFactory, ChannelSet
from broadcaster.errors import MissingCredentials
from broadcaster.models import ContactKind
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from channels.outbox import OutboxChannel


def _email(ctx: ChannelContext) -> Channel:
    from channels.email.channel import create

    store, threshold = ctx.store, ctx.settings.email.refusal_threshold

    async def refused(subscriber_ids: list[int]) -> None:
        # refusals past the threshold mark the subscriber bounced: no more mail to a dead address
        if store is not None:
            await store.note_refusals(subscriber_ids, threshold)

    return create(ctx, on_refused=refused)


def _line(ctx: ChannelContext) -> Channel:
    from channels.line import create

    return create(ctx)


def _sns(ctx: ChannelContext) -> Channel:
    from channels.sns.channel import create

    return create(ctx)


def _website(ctx: ChannelContext) -> Channel:
    from channels.website.channel import create

    return create(ctx)


def _ticker(ctx: ChannelContext) -> Channel:
    from channels.ticker import create

    return create(ctx)


def _fm(ctx: ChannelContext) -> Channel:
    from channels.fm.channel import create

    return create(ctx)


# name -> factory
IMPLEMENTATIONS: dict[str, ChannelFactory] = {
    "email": _email,
    "line": _line,
    "sns": _sns,
    "website": _website,
    "ticker": _ticker,
    "fm": _fm,
}


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
