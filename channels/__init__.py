"""The channel registry: written out by hand, no discovery.

Two tables, with the same names as ``broadcaster.settings.CHANNEL_NAMES``: how to build each channel
(``IMPLEMENTATIONS``), and how to build its renderer without credentials (``RENDERERS``). A
configured channel runs its real implementation when its credentials are in the environment;
otherwise it runs as the outbox, with the channel's own renderer, and start-up says so.

Every factory imports its module when it is called, and the renderers' modules import no SDK, so a
command that builds no channel (``--help``, ``status``) never loads the SDKs (line-bot-sdk, tweepy,
atproto, pyopenjtalk, twitter_text …), and building every renderer loads none of them either.
"""

from __future__ import annotations

from collections.abc import Mapping

from broadcaster.channel import (
    Channel,
    ChannelContext,
    ChannelFactory,
    ChannelRenderer,
    ChannelSet,
    RendererFactory,
    RunsAs,
)
from broadcaster.errors import MissingCredentials
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
    from channels.line.channel import create

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


def _email_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.email.render import EmailRenderer

    return EmailRenderer(settings, renderer)


def _line_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.line.render import LineRenderer

    return LineRenderer(settings, renderer)


def _sns_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.sns.render import SnsRenderer

    return SnsRenderer(settings, renderer)  # every target in [sns] targets


def _website_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.website.render import WebsiteRenderer

    return WebsiteRenderer(renderer)


def _ticker_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.ticker import TickerRenderer

    return TickerRenderer(settings, renderer)


def _fm_renderer(settings: Settings, renderer: Renderer) -> ChannelRenderer:
    from channels.fm.render import FmRenderer

    return FmRenderer(renderer)


# name -> the factory of its renderer, which needs no credentials
RENDERERS: dict[str, RendererFactory] = {
    "email": _email_renderer,
    "line": _line_renderer,
    "sns": _sns_renderer,
    "website": _website_renderer,
    "ticker": _ticker_renderer,
    "fm": _fm_renderer,
}


def build_renderers(settings: Settings, renderer: Renderer) -> dict[str, ChannelRenderer]:
    """Every channel's renderer, made without credentials (for lint, previews and tools)."""
    return {name: make(settings, renderer) for name, make in RENDERERS.items()}


def build_channels(
    settings: Settings, renderer: Renderer, environ: Mapping[str, str], store: Store | None = None
) -> ChannelSet:
    """Build every enabled channel, falling back to the outbox where it cannot run for real."""
    outbox_dir = settings.path(settings.storage.outbox_dir)
    renderers = build_renderers(settings, renderer)
    live: dict[str, Channel] = {}
    exercise: dict[str, Channel] = {}
    notices = []
    reasons: dict[str, str] = {}
    for name in settings.enabled_channels:
        try:
            channel = IMPLEMENTATIONS[name](ChannelContext(name, settings, renderer, environ, store))
        except MissingCredentials as exc:
            channel = OutboxChannel(outbox_dir, renderers[name])
            reasons[name] = str(exc)
            notices.append(f"channel {name}: {exc}; writing to {channel.folder}")
        live[name] = channel
        renderers[name] = channel.renderer  # what the running channel sends, e.g. only the SNS targets it has
        # exercise alerts reach people only through their tester subscriptions; the public never
        if channel.renderer.reaches_people or channel.runs_as == RunsAs.OUTBOX:
            exercise[name] = channel
        else:
            exercise[name] = OutboxChannel(outbox_dir, channel.renderer)
    return ChannelSet(live, exercise, notices, renderers, reasons)
