"""GET /healthz, and the health the console's dashboard shows: the running service judged by ``broadcaster.health``.

/healthz answers 200 with ``{"status": "ok" | "degraded", "reasons": [...], "channels": {...},
"feeds": {...}}`` while the service serves (degraded: it sends, but not everything configured works),
and 503 with ``"status": "error"`` only when it cannot serve at all: the store does not answer or the
dispatcher's workers have stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from broadcaster.dispatcher import Dispatcher
from broadcaster.health import ChannelFacts, Report, judge
from broadcaster.metrics import FeedState, Metrics
from broadcaster.settings import Settings
from broadcaster.store import Store
from broadcaster.web.sinks import Sink
from channels.line.channel import LineChannel
from feeds.jma.ingest import JmaIngest
from feeds.jma.poller import JmaPoller


@dataclass
class Watch:
    """What the health of the running service is read from; the service fills in the poller once it polls."""

    settings: Settings
    store: Store
    dispatcher: Dispatcher
    metrics: Metrics
    sinks: list[Sink]
    started_at: float = field(default_factory=time.time)
    poller: JmaPoller | None = None
    ingest: JmaIngest | None = None
    line: LineChannel | None = None  # the real LINE channel: its quota

    def feeds(self) -> Sequence[FeedState]:
        """Each JMA feed the poller has read so far (none when [jma] is off)."""
        return self.poller.health().feeds if self.poller is not None else ()

    def report(self, now: float | None = None) -> Report:
        """The service's health now."""
        facts = [
            ChannelFacts(s.name, s.runs_as, s.words, s.configured, s.outbox_reason, self.metrics.failed(s.name))
            for s in self.sinks
        ]
        return judge(facts, self.feeds(), time.time() if now is None else now, self.settings.health)


HEALTH = web.AppKey("health", Watch)


def add_routes(app: web.Application) -> None:
    """Register /healthz; the service puts a Watch on the app at start-up."""
    app.router.add_get("/healthz", healthz)


async def healthz(request: web.Request) -> web.Response:
    """ok, degraded (with reasons), or 503 when the service cannot serve."""
    watch = request.app[HEALTH]
    try:
        await watch.store.counts()
    except Exception as exc:
        return web.json_response({"status": "error", "reasons": [f"the store does not answer: {exc}"]}, status=503)
    if not watch.dispatcher.running:
        return web.json_response({"status": "error", "reasons": ["the dispatcher's workers have stopped"]}, status=503)
    report = watch.report()
    body: dict[str, Any] = {
        "status": report.status.value,
        "reasons": list(report.reasons),
        "uptime_s": round(time.time() - watch.started_at, 1),
        "channels": {
            name: {
                "runs_as": facts.runs_as.value,  # what it runs as in words (relay host, folder) is for staff
                "configured": list(facts.configured),
                "failed_in_a_row": facts.failed_in_a_row,
                "ok": verdict.ok,
                "reason": verdict.reason or None,
            }
            for name, (facts, verdict) in report.channels.items()
        },
        "feeds": {
            url: {
                "ok": verdict.ok,
                "reason": verdict.reason or None,
                "last_success": feed.last_success,
                "last_failure": feed.last_failure,
                "failing_since": feed.failing_since,
                "failures": feed.failures,
            }
            for url, (feed, verdict) in report.feeds.items()
        },
    }
    if watch.poller is not None:
        health = watch.poller.health()
        body["jma"] = {
            "last_success": health.last_success,
            "last_error": health.last_error,
            "backlog": health.backlog,
            "fetched": health.fetched,
            "refused": health.refused,  # given up by the poller: too large, gone, failing
            "decisions": dict(watch.ingest.decisions) if watch.ingest else {},  # auto/approve/ignore/refused
        }
    if watch.line is not None:
        body["line"] = watch.line.health()
    return web.json_response(body)
