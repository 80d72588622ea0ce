"""The all-in-one service: store, channels, dispatcher and web endpoints with one lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import IO, cast

import aiohttp
from aiohttp import web

from broadcaster import instance, prune
from broadcaster.approval_notice import ApprovalNotices
from broadcaster.channel import ChannelSet, RunsAs
from broadcaster.data_key import DATA_KEY_ENV
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.lifecycle import Lifecycle
from broadcaster.metrics import Metrics
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.shutdown import close_channels_on_exit, close_logged
from broadcaster.store import Store
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import SECRET_ENV, Signer
from broadcaster.web import fm as fm_feed
from broadcaster.web import headers as security
from broadcaster.web import health, inputs, subscription_pages
from broadcaster.web import ticker as ticker_feed
from broadcaster.web import website as website_pages
from broadcaster.web.console import app as console_app
from broadcaster.web.line_webhook import LineWebhook, make_webhook_handler, no_reply
from broadcaster.web.sinks import Sink
from broadcaster.web.sinks import sinks as channel_sinks
from broadcaster.web.subscription import Subscriptions
from broadcaster.web.subscription_pages import Pages
from channels import build_channels
from channels.email.mailer import Mailer, make_mailer
from channels.line.channel import LineChannel
from channels.staff_notice import StaffNotifier
from feeds.jma.ingest import JmaIngest
from feeds.jma.poller import JmaPoller

USER_AGENT = "city-alert-broadcaster/0.1 (JMA PULL; If-Modified-Since; each document once)"

log = logging.getLogger("broadcaster.service")


# builds the service's channels: channels.build_channels, or a test's stand-in around it
ChannelBuilder = Callable[[Settings, Renderer, Mapping[str, str], Store | None], ChannelSet]


@dataclass
class Core:
    """What the running service's handlers share."""

    settings: Settings
    store: SQLiteStore
    dispatcher: Dispatcher
    metrics: Metrics
    sinks: list[Sink]  # what each channel runs as
    notices: ApprovalNotices  # told when an alert starts waiting for approval
    started_at: float
    poller: JmaPoller | None = None
    ingest: JmaIngest | None = None
    line: LineChannel | None = None  # the real LINE channel, when it has its token
    webhook: LineWebhook | None = None  # when LINE_CHANNEL_SECRET is set


CORE = web.AppKey("core", Core)


def make_app(settings: Settings, lock: IO[bytes], build: ChannelBuilder = build_channels) -> web.Application:
    """The aiohttp application; the core starts and stops with it. ``lock`` is the instance lock."""
    # bytes that are not UTF-8 in the address or a header are refused before any other middleware reads them
    app = web.Application(middlewares=[inputs.refuse_undecodable])
    security.install(app)  # every response: CSP, nosniff, referrer policy; no versions in Server
    app.cleanup_ctx.append(lambda app: _lifetime(app, settings, lock, build))
    health.add_routes(app)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/line/webhook", line_webhook)
    subscription_pages.add_routes(app)
    website_pages.add_routes(app)
    fm_feed.add_routes(app)
    ticker_feed.add_routes(app)
    console_app.add_routes(app)
    return app


async def _lifetime(
    app: web.Application, settings: Settings, lock: IO[bytes], build: ChannelBuilder
) -> AsyncIterator[None]:
    # Whatever fails, at start-up or while closing, the exit stack closes the rest and releases the lock
    # last (in reverse order of opening): the webhook's events, the mailer, the channels, the store.
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(lock.close)
        db = settings.path(settings.storage.path)
        store = await SQLiteStore.open(db)
        stack.push_async_callback(close_logged, "the store", store.aclose)
        await store.check_data_key()  # contacts stored and no key to open them: ConfigError, exit 2
        if store.keys.current is None:
            log.warning("%s is not set: the subscription pages and the LINE webhook answer 503", DATA_KEY_ENV)
        recovered = await store.recover(time.time(), all_leases=True)  # we hold the lock: every lease is stale
        if recovered:
            log.info("recovered %d deliveries claimed by a previous run", recovered)
        renderer = Renderer(settings)
        website_pages.setup(app, store, settings, renderer)
        fm_feed.setup(app, store, settings, renderer)
        ticker_feed.setup(app, store, settings, renderer)
        channels = build(settings, renderer, os.environ, store)
        close_channels_on_exit(stack, channels)
        sinks = channel_sinks(channels, settings, os.environ)
        for sink in sinks:  # one line per channel: what it runs as, and what is missing when it is the outbox
            log.log(logging.WARNING if sink.runs_as == RunsAs.OUTBOX else logging.INFO, sink.line)
        metrics_ = Metrics()
        dispatcher = Dispatcher(store, channels, settings, metrics=metrics_)
        notices = await stack.enter_async_context(_approval_notices(store, settings))
        await stack.enter_async_context(prune.running(store, settings.console))  # ended sessions, old keys
        console_app.setup(app, settings, store, dispatcher, renderer, channels, notices.wake)
        core = app[CORE] = Core(settings, store, dispatcher, metrics_, sinks, notices, time.time())
        live_line = channels.live.get("line")
        # the registry's "line" channel that runs for real is LineChannel, whose reply() answers the webhook
        real = live_line is not None and live_line.runs_as == RunsAs.REAL
        core.line = cast(LineChannel, live_line) if real else None
        watch = app[health.HEALTH] = health.Watch(settings, store, dispatcher, metrics_, sinks, core.started_at)
        watch.line = core.line
        secret = os.environ.get("LINE_CHANNEL_SECRET", "")
        if secret and store.keys.current is not None:  # a follow stores a LINE user id: sealed, or not at all
            reply = core.line.reply if core.line else no_reply
            core.webhook = make_webhook_handler(store, settings, secret, reply)
            # finish the events it accepted before the store closes
            stack.push_async_callback(close_logged, "the LINE webhook", core.webhook.aclose)
        elif not secret:
            log.warning("LINE_CHANNEL_SECRET is not set: /line/webhook answers 503")
        mailer = _subscription_pages(app, settings, renderer, store)  # ConfigError: a short secret key
        if mailer is not None:
            stack.push_async_callback(close_logged, "the subscription mailer", mailer.aclose)
        tune_gc()
        async with dispatcher, instance.wake_server(db, dispatcher.wake), _jma(core) as poller:
            core.poller = watch.poller = poller
            watch.ingest = core.ingest
            yield
            log.info("shutting down: finishing in-flight sends (up to %g s)", settings.dispatcher.shutdown_grace)


def _subscription_pages(
    app: web.Application, settings: Settings, renderer: Renderer, store: SQLiteStore
) -> Mailer | None:
    """Put the subscription pages' state on the app; returns their mailer (None: the pages answer 503)."""
    signer = Signer.from_env(os.environ, required=bool(os.environ.get(SECRET_ENV)))  # set but short: ConfigError
    if signer is None or store.keys.current is None:  # without the data key no address can be stored
        if signer is None:
            log.warning("%s is not set: the subscription pages answer 503", SECRET_ENV)
        app[subscription_pages.PAGES] = Pages.create(settings, renderer.env, None)
        return None
    mailer, notice = make_mailer(settings, os.environ)
    if notice:
        log.warning(notice)
    subscriptions = Subscriptions(store, settings, signer, mailer, renderer.env)
    app[subscription_pages.PAGES] = Pages.create(settings, renderer.env, subscriptions)
    return mailer


@contextlib.asynccontextmanager
async def _approval_notices(store: SQLiteStore, settings: Settings) -> AsyncIterator[ApprovalNotices]:
    """Tell approvers (and after [approval] escalate_after, the escalation list) of live alerts that wait."""
    notifier = StaffNotifier(settings, os.environ)
    for notice in notifier.notices:
        log.warning(notice)
    notices = ApprovalNotices(store, settings, notifier)
    task = asyncio.create_task(notices.run(), name="approval-notices")
    try:
        yield notices
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await close_logged("the approval notices' LINE session", notifier.aclose)


@contextlib.asynccontextmanager
async def _jma(core: Core) -> AsyncIterator[JmaPoller | None]:
    """Poll the JMA feeds while the service runs (when [jma] enabled)."""
    if not core.settings.jma.enabled:
        yield None
        return
    ingest = core.ingest = JmaIngest(Lifecycle(core.store, core.settings, core.dispatcher.wake, core.notices.wake))

    async def on_document(url: str, data: bytes) -> None:
        await ingest.handle(url, data)

    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        poller = JmaPoller(session, core.store, core.settings.jma, on_document)
        task = asyncio.create_task(poller.run(), name="jma-poller")
        try:
            yield poller
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def line_webhook(request: web.Request) -> web.StreamResponse:
    """LINE's webhook: signature checked, answered at once, events handled in the background."""
    webhook = request.app[CORE].webhook
    if webhook is None:
        return web.json_response({"error": "the LINE webhook is not configured"}, status=503)
    return await webhook.handle(request)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    core = request.app[CORE]
    if core.poller is not None:
        core.metrics.observe_jma(core.poller.health())
    body = await core.metrics.render(core.store, core.settings.enabled_channels)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")
