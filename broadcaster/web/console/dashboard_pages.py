"""The live dashboard (channel health, approvals waiting, recent and active alerts), its event stream,
and the searchable history of every alert.

For pages that show one alert: ``progress(console, alert_id)`` gives the list that
``console/_progress.html.j2`` renders with ``alert`` (``/static/console-dashboard.css`` lays it out);
load ``/static/console-live.js`` with ``data-follow-alert="<id>"`` on any element of the page (or
``data-alert="<id>"`` on the script tag) and the script follows that one alert's stream.

/console/events[?alert=ID] sends ``event: progress`` (JSON) whenever what it reports changes. It wakes
on the workers' ``progress`` events (cleared before each look, as Dispatcher.wait_until does), looks
again every few seconds anyway (a newly approved alert, a wake another watcher cleared), coalesces
bursts, sends a comment as heartbeat, and ends when the client goes, when the service shuts down,
and when the session would idle out (the browser's reconnection then meets the guard again).
Reports are shared between streams for a moment (a finished alert's for good), so fifty open
dashboards cost the store little more than one.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from broadcaster.approval_notice import waited
from broadcaster.channel import RunsAs
from broadcaster.clock import jst as in_jst
from broadcaster.health import failing
from broadcaster.models import Alert, AlertId, AlertState, DeliveryState
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.console.web import HEADERS, Console, console, jst, lang_of, page, who, words
from broadcaster.web.health import HEALTH, Watch

RECENT = 20  # alerts on the dashboard besides those still being delivered
PAGE_SIZE = 50  # history rows per page
MAX_QUERY = 200  # characters of a history search
MAX_STREAMS = 50  # open event streams per service; more get 503
HEARTBEAT_S = 15.0  # a comment line keeps proxies from closing a quiet stream
RECHECK_S = 3.0  # look again this often without a wake (newly approved alerts, missed wakes)
MIN_GAP_S = 0.25  # at most four looks a second, however busy the workers are
CACHE_SIZE = 256
SEGMENTS = ("sent", "failed", "superseded", "sending", "pending")  # the bar's order, left to right
FINAL = ("sent", "failed", "superseded")
CLOSED = (AlertState.DONE, AlertState.CANCELLED)
MODES = ("all", "live", "exercise")


@dataclass(frozen=True, slots=True)
class ChannelProgress:
    """One channel's deliveries of one alert, ready to show."""

    channel: str
    counts: Mapping[str, int]  # by DeliveryState value, every state present
    latency_p50: float | None = None
    latency_p95: float | None = None
    last_error: str = ""
    next_retry: float | None = None

    @property
    def total(self) -> int:
        """Rows planned."""
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Rows in a final state."""
        return sum(self.counts[s] for s in FINAL)

    @property
    def percent(self) -> int | None:
        """Done out of total, rounded down (100 only when all are done); None without rows."""
        return self.done * 100 // self.total if self.total else None

    @property
    def segments(self) -> list[tuple[str, float, float]]:
        """(state, x, width) of the bar's parts, in percent of the total."""
        parts, x = [], 0.0
        for state in SEGMENTS:
            width = round(self.counts[state] * 100 / self.total, 3) if self.total else 0.0
            parts.append((state, round(x, 3), width))
            x += width
        return parts

    @property
    def percent_text(self) -> str:
        """The percent for the page ("—" without rows)."""
        return "—" if self.percent is None else f"{self.percent} %"

    def as_json(self) -> dict[str, Any]:
        """What the event stream says about this channel."""
        return {
            "channel": self.channel,
            "counts": dict(self.counts),
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "percent_text": self.percent_text,
            "p50": seconds(self.latency_p50),
            "p95": seconds(self.latency_p95),
            "last_error": self.last_error,
            "next_retry": clock(self.next_retry),
        }


def seconds(value: float | None) -> str:
    """A latency for people."""
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"


def clock(timestamp: float | None) -> str:
    """A time of today in JST ("" for none)."""
    return in_jst(timestamp).strftime("%H:%M:%S") if timestamp else ""


async def progress(console: Console, alert_id: str) -> list[ChannelProgress]:
    """Each channel's progress of one alert (its own channels first); [] for an unknown alert."""
    alert = await console.store.get_alert(alert_id)
    return [] if alert is None else await progress_of(console.store, alert)


async def progress_of(store: SQLiteStore, alert: Alert) -> list[ChannelProgress]:
    """Each channel's progress of ``alert``; channels without rows show zero counts."""
    reports = {r.channel: r for r in await store.report(alert.id)}
    found = []
    for name in dict.fromkeys((*alert.channels, *reports)):
        r = reports.get(name)
        if r is None:
            found.append(ChannelProgress(name, {s.value: 0 for s in DeliveryState}))
        else:
            counts = {s.value: int(r.counts.get(s.value, 0)) for s in DeliveryState}
            found.append(ChannelProgress(name, counts, r.latency_p50, r.latency_p95, r.last_error, r.next_retry))
    return found


@dataclass
class Live:
    """The event streams of one service: how many are open, whether it shuts down, shared reports."""

    closing: asyncio.Event = field(default_factory=asyncio.Event)
    streams: int = 0
    reports: dict[AlertId, tuple[float, AlertState, list[ChannelProgress]]] = field(default_factory=dict)

    async def progress(self, store: SQLiteStore, alert: Alert) -> list[ChannelProgress]:
        """``progress_of``, shared by every stream that asks within MIN_GAP_S (for good once done)."""
        now = time.monotonic()
        cached = self.reports.get(alert.id)
        if cached and cached[1] == alert.state and (alert.state == AlertState.DONE or now - cached[0] < MIN_GAP_S):
            return cached[2]
        found = await progress_of(store, alert)
        if len(self.reports) >= CACHE_SIZE:
            self.reports.clear()
        self.reports[alert.id] = (now, alert.state, found)
        return found


LIVE = web.AppKey("dashboard.live", Live)


def add_routes(app: web.Application) -> None:
    """Register the pages and the event stream."""
    app[LIVE] = Live()
    app.on_shutdown.append(_shutting_down)
    app.router.add_get("/console/dashboard", dashboard)
    app.router.add_get("/console/events", events)
    app.router.add_get("/console/history", history)


async def _shutting_down(app: web.Application) -> None:
    app[LIVE].closing.set()  # open streams end, so they never hold up the shutdown


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """What a channel runs as, how its sends have gone, and what waits for it."""

    name: str
    runs_as: str  # the class of its live sink, as the page names it
    real: bool  # False: it writes to the outbox
    exercise_real: bool  # False: exercise alerts go to the outbox
    failing: bool
    last_success: str
    last_failure: str
    last_error: str
    pending: int
    sending: int
    incomplete: bool = False  # configured (a host, a credential), yet it runs as the outbox
    latest_failed: bool = False  # its latest send failed, not yet enough in a row to count as failing


def _statuses(state: Console, counts: Mapping[tuple[str, str], int], watch: Watch | None) -> list[ChannelStatus]:
    sinks = {s.name: s for s in watch.sinks} if watch else {}
    found = []
    for name in state.settings.enabled_channels:
        live, exercise = state.channels.live.get(name), state.channels.exercise.get(name)
        worker = state.dispatcher.workers.get(name)
        health = worker.health if worker else None
        failed = worker.metrics.failed(name) if worker and worker.metrics else 0
        sink = sinks.get(name)
        found.append(
            ChannelStatus(
                name=name,
                runs_as=type(live).__name__ if live else "—",
                real=live is not None and live.runs_as == RunsAs.REAL,
                exercise_real=exercise is not None and exercise.runs_as == RunsAs.REAL,
                failing=failing(failed, state.settings.health),  # the rule /healthz follows
                last_success=jst(health.last_success) if health else "",
                last_failure=jst(health.last_failure) if health else "",
                last_error=health.last_error if health and health.last_failure else "",
                pending=counts.get((name, "pending"), 0),
                sending=counts.get((name, "sending"), 0),
                incomplete=bool(sink and sink.incomplete),
                latest_failed=failed > 0,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One JMA feed as the poller last read it, ready to show."""

    url: str
    kind: str  # its file name without .xml ("extra", "eqvol_l" …): the page names it in words
    ok: bool  # False: it has failed for longer than [health] feed_failing_after
    failures: int  # reads in a row that failed
    last_success: str
    last_failure: str
    failing_since: str


def _feeds(watch: Watch | None) -> list[FeedStatus] | None:
    """Each JMA feed read so far, judged as /healthz judges it; None when the service polls none."""
    if watch is None or watch.poller is None:
        return None
    return [
        FeedStatus(
            url=url,
            kind=url.rpartition("/")[2].removesuffix(".xml"),
            ok=verdict.ok,
            failures=feed.failures,
            last_success=jst(feed.last_success),
            last_failure=jst(feed.last_failure),
            failing_since=jst(feed.failing_since),
        )
        for url, (feed, verdict) in watch.report().feeds.items()
    ]


async def _watched(store: SQLiteStore) -> list[Alert]:
    """The newest alerts and every alert still being delivered, the newest first."""
    found = {a.id: a for a in await store.list_alerts(RECENT)}
    for state in (AlertState.APPROVED, AlertState.DISPATCHING):
        found.update((a.id, a) for a in await store.alerts_in_state(state))
    return sorted(found.values(), key=lambda a: a.created_at, reverse=True)


async def dashboard(request: web.Request) -> web.Response:
    """Channel health, approvals waiting and the progress of recent and active alerts."""
    who(request)
    state = console(request)
    watch = request.app.get(HEALTH)
    statuses = _statuses(state, await state.store.counts(), watch)
    feeds = _feeds(watch)
    now = time.time()
    # each alert awaiting approval, the longest waiting first, with how long it has waited
    queue = [(w, waited(now - w.since)) for w in await state.store.approval_queue()]
    live = request.app[LIVE]
    rows = [(a, await live.progress(state.store, a)) for a in await _watched(state.store)]
    return page(
        request,
        "dashboard.html.j2",
        statuses=statuses,
        waiting=len(queue),
        queue=queue,
        rows=rows,
        feeds=feeds,
        jst=jst,
    )


def _alert_json(alert: Alert, channels: Sequence[ChannelProgress], t: Mapping[str, str]) -> dict[str, Any]:
    total, done = sum(c.total for c in channels), sum(c.done for c in channels)
    return {
        "id": alert.id,
        "title": alert.title,
        "mode": alert.mode.value,
        "state": alert.state.value,
        "state_label": t.get(f"dash_state_{alert.state}", alert.state.value),
        "percent": done * 100 // total if total else None,
        "finished": alert.state in CLOSED and all(c.done == c.total for c in channels),
        "channels": [c.as_json() for c in channels],
    }


async def _snapshot(request: web.Request, live: Live, alert_id: str | None) -> dict[str, Any]:
    store, t = console(request).store, words(request)
    if alert_id is None:
        alerts = await _watched(store)
        pending: int | None = len(await store.alerts_in_state(AlertState.PENDING_APPROVAL))
    else:
        one = await store.get_alert(alert_id)
        alerts, pending = ([] if one is None else [one]), None
    found = [_alert_json(a, await live.progress(store, a), t) for a in alerts]
    return {"alerts": found, "pending_approvals": pending}


def _event(data: Mapping[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # one line (json.dumps escapes newlines), and no markup even if a client mishandles it
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f"event: progress\ndata: {text}\n\n".encode()


async def _wake(live: Live, events: Sequence[asyncio.Event], within: float) -> None:
    """Return when a worker records progress, the service shuts down, or ``within`` seconds pass."""
    waiters = [asyncio.ensure_future(e.wait()) for e in (*events, live.closing)]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events with the progress of the dashboard's alerts, or of one (?alert=ID)."""
    session = who(request).session
    live, state = request.app[LIVE], console(request)
    conf = state.settings.console
    # no longer than the session would live without other requests: the reconnection meets the guard
    until = min(time.time() + conf.idle_timeout, session.created_at + conf.session_lifetime) + 1.0
    alert_id = request.query.get("alert")
    if alert_id is not None and await state.store.get_alert(alert_id) is None:
        raise web.HTTPNotFound(text="その情報はありません。\nno such alert", headers=HEADERS)
    if live.streams >= MAX_STREAMS or live.closing.is_set():
        raise web.HTTPServiceUnavailable(
            text="ライブ表示の画面が多すぎます。しばらくして開き直してください。\ntoo many live views open",
            headers={**HEADERS, "Retry-After": "30"},
        )
    live.streams += 1
    try:
        response = web.StreamResponse(headers={**HEADERS, "X-Accel-Buffering": "no"})
        response.content_type = "text/event-stream"
        await response.prepare(request)
        await _stream(request, response, live, alert_id, until)
        return response
    finally:
        live.streams -= 1


async def _stream(
    request: web.Request, response: web.StreamResponse, live: Live, alert_id: str | None, until: float
) -> None:
    workers = [w.progress for w in console(request).dispatcher.workers.values()]
    last: dict[str, Any] | None = None
    looked = wrote = 0.0
    try:
        await response.write(b"retry: 3000\n\n")
        while not live.closing.is_set() and _connected(request) and time.time() < until:
            gap = looked + MIN_GAP_S - time.monotonic()
            if gap > 0:
                await _wake(live, (), gap)  # let a burst of chunks settle into one look
            for event in workers:
                event.clear()  # before looking, so progress made while we look wakes us again
            looked = time.monotonic()
            snapshot = await _snapshot(request, live, alert_id)
            if snapshot != last:
                await response.write(_event(snapshot))
                last, wrote = snapshot, time.monotonic()
            elif time.monotonic() - wrote >= HEARTBEAT_S:
                await response.write(b": heartbeat\n\n")
                wrote = time.monotonic()
            await _wake(live, workers, max(0.0, min(RECHECK_S, until - time.time())))
    except ConnectionResetError:
        pass  # the client went away


async def history(request: web.Request) -> web.Response:
    """Every alert, searched by words and mode, fifty a page."""
    who(request)
    state = console(request)
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    mode = request.query.get("mode", "all")
    mode = mode if mode in MODES else "all"
    try:
        number = max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        number = 1
    offset = (number - 1) * PAGE_SIZE
    found = await state.store.search_alerts(query, "" if mode == "all" else mode, PAGE_SIZE + 1, offset)

    def link(to: int) -> str:
        return "/console/history?" + urllib.parse.urlencode({"q": query, "mode": mode, "page": to})

    english = lang_of(request) == "en"
    categories = {k: (c.name_en if english else c.name) for k, c in state.settings.categories.items()}
    return page(
        request,
        "history.html.j2",
        alerts=found[:PAGE_SIZE],
        query=query,
        filter=mode,
        modes=MODES,
        number=number,
        prev=link(number - 1) if number > 1 else "",
        next=link(number + 1) if len(found) > PAGE_SIZE else "",
        categories=categories,
        jst=jst,
    )
