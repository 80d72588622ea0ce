"""Prometheus metrics, on a registry of our own (no global state shared between tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from broadcaster.models import DeliveryState
from broadcaster.store import Store

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# a send() that reached the channel's service; "partial" refused some recipients (a dead address), not the channel
REACHED = ("sent", "partial")


class FeedState(Protocol):
    """One feed of a polled source as the source last saw it."""

    @property
    def url(self) -> str: ...
    @property
    def last_success(self) -> float | None: ...  # epoch seconds of its last good read
    @property
    def last_failure(self) -> float | None: ...  # epoch seconds of its last failed read
    @property
    def failing_since(self) -> float | None: ...  # the first of its failures in a row; None when the last read was good
    @property
    def failures(self) -> int: ...  # failed reads in a row


class SourceHealth(Protocol):
    """What a polled source (the JMA poller) reports about itself; the core defines it, feeds/ fill it."""

    @property
    def last_success(self) -> float | None: ...  # epoch seconds of the newest good read
    @property
    def backlog(self) -> int: ...  # documents found, not yet handled
    @property
    def fetched(self) -> int: ...  # documents downloaded since start
    @property
    def refused(self) -> int: ...  # documents given up since start
    @property
    def failing_feeds(self) -> int: ...  # feeds whose last read failed
    @property
    def feeds(self) -> Sequence[FeedState]: ...  # each feed read so far


class Metrics:
    """The service's metrics; the store is read at scrape time for counts and queue depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Gauge(
            "broadcaster_deliveries", "Delivery rows by channel and state", ["channel", "state"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "broadcaster_queue_depth", "Delivery rows waiting to be sent", ["channel"], registry=self.registry
        )
        self.send_seconds = Histogram(
            "broadcaster_send_seconds",
            "Time of one send() call",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.jma_last_success = Gauge(
            "broadcaster_jma_last_success_timestamp", "Last good read of a JMA feed (epoch s)", registry=self.registry
        )
        self.jma_backlog = Gauge(
            "broadcaster_jma_backlog", "JMA documents found, not yet handled", registry=self.registry
        )
        self.jma_fetched = Gauge(
            "broadcaster_jma_fetched", "JMA documents downloaded since start", registry=self.registry
        )
        self.jma_refused = Gauge(
            "broadcaster_jma_refused", "JMA documents given up since start", registry=self.registry
        )
        self.jma_failing_feeds = Gauge(
            "broadcaster_jma_failing_feeds", "JMA feeds whose last read failed", registry=self.registry
        )
        self.attempts = Counter(
            "broadcaster_send_attempts", "send() calls by outcome", ["channel", "outcome"], registry=self.registry
        )
        self.failed_in_a_row = Gauge(
            "broadcaster_send_failed_in_a_row",
            "send() calls in a row that did not reach the channel's service (0 after one that did)",
            ["channel"],
            registry=self.registry,
        )
        self._failed_in_a_row: dict[str, int] = {}

    def observe_jma(self, health: SourceHealth) -> None:
        """Copy the JMA poller's health into gauges."""
        self.jma_last_success.set(health.last_success or 0)
        self.jma_backlog.set(health.backlog)
        self.jma_fetched.set(health.fetched)
        self.jma_refused.set(health.refused)
        self.jma_failing_feeds.set(health.failing_feeds)

    def observe_send(self, channel: str, seconds: float, outcome: str, live_sink: bool) -> None:
        """Count one send() call and its duration; only the live sink's say whether the channel is failing."""
        self.send_seconds.labels(channel).observe(seconds)
        self.attempts.labels(channel, outcome).inc()
        if not live_sink:
            return
        failed = 0 if outcome in REACHED else self.failed(channel) + 1
        self._failed_in_a_row[channel] = failed
        self.failed_in_a_row.labels(channel).set(failed)

    def failed(self, channel: str) -> int:
        """The channel's send() calls in a row that did not reach its service (0 after one that did)."""
        return self._failed_in_a_row.get(channel, 0)

    async def render(self, store: Store, channels: tuple[str, ...]) -> bytes:
        """The text exposition format, with counts read from the store now."""
        counts = await store.counts()
        for channel in channels:
            for state in DeliveryState:
                self.deliveries.labels(channel, state.value).set(counts.get((channel, state.value), 0))
            depth = counts.get((channel, DeliveryState.PENDING.value), 0)
            self.queue_depth.labels(channel).set(depth)
        return generate_latest(self.registry)
