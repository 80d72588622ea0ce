"""The JMA poller against the local replay server and a real SQLite store.

The server is the replay app over a folder of real samples (copied under JMA-style file names so that
the office pre-filter has something to read), with a middleware that records every request and can
answer a path with a fault instead: 500, an HTML error page, a hang, or an endless body. Time is a
fake clock passed to the poller; nothing here sleeps to wait for something.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from broadcaster.settings import Jma, load_settings
from broadcaster.store.sqlite import SQLiteStore
from feeds.jma.poller import MAX_DOCUMENT_ATTEMPTS, FeedHealth, JmaPoller, next_poll
from feeds.replay import make_sample_app
from tests.feeds.test_replay import copy_sample
from tests.feeds.tls import serve_https
from tests.paths import JMA_SAMPLES

SiteFactory = Callable[..., Path]  # the conftest `site` fixture
Fault = Literal["500", "503-retry-after", "html", "hang", "huge", "huge-announced"]
HUGE = 50_000_000  # bytes an endless body would have

T0 = 1_800_000_000.0  # a whole minute in epoch seconds

# name in the folder -> the real sample copied there
WANTED = {
    "20250101000000_0_VPWW53_090000.xml": "15_08_05_130412_VPWW53.xml",  # 宇都宮 office, wanted type
    "20250101000300_0_VXKO52_090000.xml": "16_01_01_220728_VXKOii.xml",  # VXKOii in the config covers VXKO52
    "20210216140226_0_VXSE53_010000.xml": "20210216140226_0_VXSE53_010000.xml",  # 本庁, earthquake
    "17_04_01_250630_VXWW50.xml": "17_04_01_250630_VXWW50.xml",  # a name without an office: let through
}
UNWANTED = {
    "20250101000100_0_VPWW53_130000.xml": "15_08_05_130412_VPWW53.xml",  # another office (東京)
    "20250101000200_0_VZSE40_010000.xml": "42_01_01_100514_VZSE40.xml",  # a type not configured
    "20210216071046_0_VXSE53_270000.xml": "20210216071046_0_VXSE53_270000.xml",  # another office (大阪)
}
VPWW53, VXKO52, VXSE53, VXWW50 = WANTED


class FakeClock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += seconds


@dataclass
class Sink:
    """The on_document callback: records what it was given; fails for names listed in ``failures``."""

    handled: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    data: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    async def __call__(self, url: str, data: bytes) -> None:
        name = url.rpartition("/")[2]
        self.calls[name] += 1
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise RuntimeError(f"the parser choked on {name}")
        self.handled.append(name)
        self.data[name] = data


@dataclass
class Wire:
    """What the server saw, and the faults it answers some paths with."""

    requests: list[tuple[str, CIMultiDict[str]]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # ends every hang (at teardown)
    streamed: int = 0
    stream_done: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, path: str) -> int:
        """How many requests asked for ``path``."""
        return sum(1 for p, _ in self.requests if p == path)

    def headers(self, path: str) -> list[CIMultiDict[str]]:
        """The request headers sent for ``path``, in order."""
        return [h for p, h in self.requests if p == path]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        """Record the request; answer with the path's fault if it has one."""
        self.requests.append((request.path, request.headers.copy()))
        fault = self.faults.get(request.path)
        response: web.StreamResponse = await (handler(request) if fault is None else self.fault(request, fault))
        self.statuses.append((request.path, response.status))
        return response

    async def fault(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """Misbehave as told."""
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "503-retry-after":
            return web.Response(status=503, headers={"Retry-After": "900"})
        if fault == "html":
            return web.Response(text="<html><body>メンテナンス中</body></html>", content_type="text/html")
        if fault == "hang":
            await self.release.wait()
            return web.Response(status=504)
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        if fault == "huge-announced":
            response.content_length = HUGE
        chunk = b"x" * 65_536
        try:
            await response.prepare(request)
            while self.streamed < HUGE:
                await response.write(chunk)
                self.streamed += len(chunk)
            await response.write_eof()
        except ConnectionError:  # the client hung up: what we wanted
            pass
        finally:
            self.stream_done.set()
        return response


@asynccontextmanager
async def running(folder: Path, recent: float | None = None) -> AsyncIterator[tuple[str, Wire]]:
    """The replay app over ``folder`` with a recording, fault-injecting middleware."""
    wire = Wire()
    app = make_sample_app(folder, recent=recent)
    app.middlewares.append(wire.middleware)
    try:
        async with serve_https(app) as base:
            yield base, wire
    finally:
        wire.release.set()


def stock(folder: Path, names: dict[str, str] | None = None, age: float = 0.0) -> None:
    """Copy the standard documents (or ``names``) into the served folder."""
    for name, source in (names or {**WANTED, **UNWANTED}).items():
        copy_sample(folder, source, name, age=age)


def jma(site: SiteFactory, base: str, feeds: tuple[str, ...] = ("extra", "eqvol"), **values: Any) -> Jma:
    """The [jma] settings, as a site file states them, polling the local server."""
    return load_settings(site({"jma": {"feeds": [f"{base}/{feed}.xml" for feed in feeds], **values}})).jma


def feed_health(poller: JmaPoller, url: str) -> FeedHealth:
    """The health of one feed URL."""
    return next(f for f in poller.health().feeds if f.url == url)


def data(name: str) -> str:
    """The server path of a document."""
    return "/data/" + name


@pytest.fixture
def clock() -> FakeClock:
    """The poller's clock."""
    return FakeClock()


# -- conditional requests, once only, pre-filter ------------------------------------


async def test_if_modified_since_sent_and_304_handled(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    sink = Sink()
    async with running(folder) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base), sink, clock=clock)
        assert poller.health().last_success is None and poller.health().backlog == 0
        await poller.poll_once()
        assert sorted(sink.handled) == sorted(WANTED)
        clock.advance(60)
        await poller.poll_once()

        for feed in ("/extra.xml", "/eqvol.xml"):
            first, second = wire.headers(feed)
            assert "If-Modified-Since" not in first and "If-None-Match" not in first
            assert second["If-Modified-Since"].endswith(" GMT")
            assert second["If-None-Match"].startswith('"')
            assert [s for p, s in wire.statuses if p == feed] == [200, 304]
    assert sorted(sink.handled) == sorted(WANTED)
    assert all(wire.count(data(name)) == 1 for name in WANTED)
    health = poller.health()
    assert (health.last_success, health.last_error, health.backlog, health.fetched, health.refused) == (
        T0 + 60,
        None,
        0,
        4,
        0,
    )
    assert sink.data[VXSE53] == (folder / VXSE53).read_bytes()


async def test_each_document_fetched_once_across_a_restart(
    folder: Path, site: SiteFactory, tmp_path: Path, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    path = tmp_path / "restart.db"
    async with running(folder) as (base, wire):
        settings = jma(site, base)
        store = await SQLiteStore.open(path)
        await JmaPoller(session, store, settings, Sink(), clock=clock).poll_once()
        await store.aclose()

        later = "20250101000400_0_VPWW54_090000.xml"
        copy_sample(folder, "15_13_01_161226_VPWW54.xml", later)
        clock.advance(60)
        store = await SQLiteStore.open(path)
        sink = Sink()
        try:
            await JmaPoller(session, store, settings, sink, clock=clock).poll_once()
        finally:
            await store.aclose()
        assert sink.handled == [later]
        assert all(wire.count(data(name)) == 1 for name in [*WANTED, later])
        after_restart = wire.headers("/extra.xml")[1]
        assert "If-Modified-Since" in after_restart and "If-None-Match" in after_restart  # remembered durably


class Crash(Exception):
    """The process dies here."""


class CrashAfterMarkSeen(SQLiteStore):
    """A real store whose process dies right after mark_seen committed."""

    async def mark_seen(self, feed: str, entry_ids: Any, now: float) -> list[str]:
        await super().mark_seen(feed, entry_ids, now)
        raise Crash


async def test_a_crash_after_mark_seen_loses_nothing(
    folder: Path, site: SiteFactory, tmp_path: Path, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    path = tmp_path / "crash.db"
    async with running(folder) as (base, wire):
        settings = jma(site, base)
        crashing = await CrashAfterMarkSeen.open(path)
        with pytest.raises(Crash):
            await JmaPoller(session, crashing, settings, Sink(), clock=clock).poll_once()
        await crashing.aclose()

        store = await SQLiteStore.open(path)
        sink = Sink()
        try:
            poller = JmaPoller(session, store, settings, sink, clock=clock)
            await poller.poll_once()
            clock.advance(60)
            await poller.poll_once()
        finally:
            await store.aclose()
    assert sorted(sink.handled) == sorted(WANTED)
    assert all(wire.count(data(name)) == 1 for name in WANTED)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, set(WANTED)),
        ({"types": ["VXSE53"]}, {VXSE53}),
        ({"offices": ["090000"]}, {VPWW53, VXKO52, VXWW50}),
    ],
)
async def test_only_wanted_types_and_offices_are_downloaded(
    folder: Path,
    site: SiteFactory,
    store: SQLiteStore,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    values: dict[str, Any],
    expected: set[str],
) -> None:
    stock(folder)
    sink = Sink()
    async with running(folder) as (base, wire):
        await JmaPoller(session, store, jma(site, base, **values), sink, clock=clock).poll_once()
    assert set(sink.handled) == expected
    requested = {path.removeprefix("/data/") for path, _ in wire.requests if path.startswith("/data/")}
    assert requested == expected  # the others were never asked for


# -- backfill ------------------------------------------------------------------------


async def test_backfill_from_the_long_feed_on_first_start_and_after_an_outage(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    old, recent, missed, ignored = VPWW53, VXKO52, "20250101000500_0_VPWW54_090000.xml", VXWW50
    stock(folder, {old: WANTED[old]}, age=3600)  # only on the long feed
    stock(folder, {recent: WANTED[recent]})
    sink = Sink()
    async with running(folder, recent=600) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",)), sink, clock=clock)
        await poller.poll_once()  # first start: the long feed too
        assert sorted(sink.handled) == sorted([old, recent])
        assert wire.count("/extra_l.xml") == 1

        clock.advance(60)
        copy_sample(folder, "15_13_01_161226_VPWW54.xml", missed, age=1200)  # published while we were away
        await poller.poll_once()  # a normal round: the high-frequency feed only
        assert wire.count("/extra_l.xml") == 1
        assert missed not in sink.handled

        clock.advance(600 + 1)  # the outage: longer than backfill_after
        await poller.poll_once()
        assert wire.count("/extra_l.xml") == 2
        assert sink.handled[-1] == missed

        clock.advance(60)
        copy_sample(folder, WANTED[ignored], ignored, age=1200)
        await poller.poll_once()
        assert wire.count("/extra_l.xml") == 2  # once per outage
        assert ignored not in sink.handled
    assert all(wire.count(data(name)) == 1 for name in sink.handled)


async def test_a_failed_backfill_is_tried_again(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder, {VPWW53: WANTED[VPWW53]}, age=3600)
    stock(folder, {VXKO52: WANTED[VXKO52]})
    sink = Sink()
    async with running(folder, recent=600) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",)), sink, clock=clock)
        wire.faults["/extra_l.xml"] = "500"
        await poller.poll_once()
        assert sink.handled == [VXKO52]
        long = feed_health(poller, base + "/extra_l.xml")
        assert long.failures == 1 and long.last_error == "HTTP 500 Internal Server Error"

        del wire.faults["/extra_l.xml"]
        clock.now = long.next_attempt
        await poller.poll_once()
        assert sink.handled == [VXKO52, VPWW53]
        assert feed_health(poller, base + "/extra_l.xml").failures == 0
        clock.advance(60)
        await poller.poll_once()
        assert wire.count("/extra_l.xml") == 2


# -- errors and backoff --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", "HTTP 500 Internal Server Error"),
        ("html", "bad feed: not an Atom feed: the root element is html"),
        ("hang", "no complete answer within 0.2 s"),
        ("huge", "too large: more than 100,000 bytes"),
    ],
)
async def test_feed_errors_back_off_exponentially_with_jitter(
    folder: Path,
    site: SiteFactory,
    store: SQLiteStore,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    fault: Fault,
    error: str,
) -> None:
    stock(folder, {VXKO52: WANTED[VXKO52]})
    sink = Sink()
    async with running(folder) as (base, wire):
        settings = jma(site, base, feeds=("extra",), timeout=0.2, max_bytes=100_000)
        poller = JmaPoller(session, store, settings, sink, clock=clock, rand=random.Random(3).random)
        await poller.poll_once()
        assert wire.count("/extra_l.xml") == 1

        wire.faults["/extra.xml"] = fault
        clock.advance(60)
        outage_began = clock.now
        delays = []
        for failures in range(1, 7):
            await poller.poll_once()
            health = feed_health(poller, base + "/extra.xml")
            assert health.failures == failures
            assert health.last_error is not None and health.last_error.startswith(error)
            delay = health.next_attempt - clock.now
            full = min(600.0, 60.0 * 2 ** (failures - 1))  # base = interval, cap = 10 intervals
            assert full * 0.5 <= delay <= full  # jitter takes off at most half
            delays.append(delay)
            asked = wire.count("/extra.xml")
            clock.now = health.next_attempt - 1
            await poller.poll_once()
            assert wire.count("/extra.xml") == asked  # not before its time
            clock.now = health.next_attempt
        assert delays == sorted(delays)
        last_error = poller.health().last_error
        assert last_error is not None and error in last_error

        del wire.faults["/extra.xml"]
        copy_sample(folder, WANTED[VPWW53], VPWW53)
        await poller.poll_once()
        health = feed_health(poller, base + "/extra.xml")
        assert (health.failures, health.next_attempt, health.last_error) == (0, 0.0, None)
        assert health.last_success == clock.now and clock.now - outage_began > 600
        assert wire.count("/extra_l.xml") == 2  # the outage was backfilled
    assert sink.handled == [VXKO52, VPWW53]


async def test_retry_after_is_a_floor(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    async with running(folder) as (base, wire):
        wire.faults["/extra.xml"] = "503-retry-after"
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",)), Sink(), clock=clock)
        await poller.poll_once()
        assert feed_health(poller, base + "/extra.xml").next_attempt == T0 + 900


async def test_a_hanging_feed_or_document_times_out_and_the_rest_goes_on(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    sink = Sink()
    async with running(folder) as (base, wire):
        wire.faults["/eqvol.xml"] = "hang"
        wire.faults[data(VPWW53)] = "hang"
        poller = JmaPoller(session, store, jma(site, base, timeout=0.2), sink, clock=clock)
        await poller.poll_once()
        assert sorted(sink.handled) == sorted([VXKO52, VXWW50])
        health = poller.health()
        assert (health.backlog, health.fetched, health.refused) == (1, 2, 0)
        assert health.last_error == f"{base}{data(VPWW53)}: no complete answer within 0.2 s"
        assert feed_health(poller, base + "/eqvol.xml").failures == 1

        wire.faults.clear()
        clock.advance(60)
        await poller.poll_once()
    assert sorted(sink.handled) == sorted(WANTED)
    assert poller.health().backlog == 0
    assert wire.count(data(VPWW53)) == 2 and wire.count(data(VXSE53)) == 1


@pytest.mark.parametrize("fault", ["huge", "huge-announced"])
async def test_an_oversized_document_is_refused_without_reading_it_all(
    folder: Path,
    site: SiteFactory,
    store: SQLiteStore,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    fault: Fault,
) -> None:
    stock(folder)
    sink = Sink()
    async with running(folder) as (base, wire):
        wire.faults[data(VPWW53)] = fault
        poller = JmaPoller(session, store, jma(site, base, max_bytes=100_000), sink, clock=clock)
        await poller.poll_once()
        async with asyncio.timeout(10):
            await wire.stream_done.wait()
        assert wire.streamed < HUGE // 5  # the client hung up early, it did not drain 50 MB
        assert sorted(sink.handled) == sorted(set(WANTED) - {VPWW53})
        health = poller.health()
        assert (health.refused, health.backlog) == (1, 0)
        assert health.last_error is not None and "too large" in health.last_error

        clock.advance(60)
        wire.faults.clear()
        await poller.poll_once()
    assert wire.count(data(VPWW53)) == 1  # refused for good: never asked for again
    assert VPWW53 not in sink.handled


# -- failures downstream ---------------------------------------------------------------


async def test_a_failed_callback_is_retried_on_the_next_poll_then_handled_once(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    sink = Sink(failures={VXSE53: 1})
    async with running(folder) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base), sink, clock=clock)
        await poller.poll_once()
        assert VXSE53 not in sink.handled
        health = poller.health()
        assert health.backlog == 1
        assert health.last_error is not None and "the parser choked" in health.last_error

        clock.advance(60)  # the next poll
        await poller.poll_once()
        assert sink.handled.count(VXSE53) == 1 and poller.health().backlog == 0
        clock.advance(60)
        await poller.poll_once()
    assert sink.calls[VXSE53] == 2 and sink.handled.count(VXSE53) == 1
    assert sink.data[VXSE53] == (folder / VXSE53).read_bytes()
    assert wire.count(data(VXSE53)) == 1  # the retry used the bytes already downloaded


async def test_a_failed_download_is_retried_later(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    sink = Sink()
    async with running(folder) as (base, wire):
        wire.faults[data(VXSE53)] = "500"
        poller = JmaPoller(session, store, jma(site, base), sink, clock=clock)
        await poller.poll_once()
        assert poller.health().backlog == 1
        wire.faults.clear()
        clock.advance(60)
        await poller.poll_once()
        clock.advance(60)
        await poller.poll_once()
    assert sink.handled.count(VXSE53) == 1
    assert wire.count(data(VXSE53)) == 2


async def test_a_document_that_always_fails_is_given_up(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    stock(folder)
    sink = Sink(failures={VXSE53: 1000})
    async with running(folder) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base), sink, clock=clock)
        for _ in range(MAX_DOCUMENT_ATTEMPTS + 2):
            await poller.poll_once()
            clock.advance(600)
    assert sink.calls[VXSE53] == MAX_DOCUMENT_ATTEMPTS
    health = poller.health()
    assert (health.refused, health.backlog) == (1, 0)
    assert wire.count(data(VXSE53)) == 1


# -- the schedule ------------------------------------------------------------------------


class Stop(Exception):
    """Ends run() from the fake sleep."""


@pytest.mark.parametrize(
    ("now", "interval", "second", "expected"),
    [
        (T0, 60.0, 20.0, T0 + 20),
        (T0 + 19.9, 60.0, 20.0, T0 + 20),
        (T0 + 20, 60.0, 20.0, T0 + 80),  # strictly after: a round that ends on the tick waits a full interval
        (T0 + 59, 60.0, 20.0, T0 + 80),
        (T0 + 30, 120.0, 20.0, T0 + 140),
        (T0 + 5, 60.0, 0.0, T0 + 60),
    ],
)
def test_next_poll(now: float, interval: float, second: float, expected: float) -> None:
    assert next_poll(now, interval, second) == expected


async def test_run_polls_at_once_then_at_the_configured_second(
    folder: Path, site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock(T0 + 5)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds + 0.5)  # the round itself takes half a second
        if len(sleeps) == 3:
            raise Stop

    async with running(folder) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",)), Sink(), clock=clock, sleep=sleep)
        with pytest.raises(Stop):
            await poller.run()
    assert sleeps == [15.0, 59.5, 59.5]
    assert wire.count("/extra.xml") == 3


async def test_run_survives_a_failing_round(
    folder: Path, site: SiteFactory, tmp_path: Path, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    closed = await SQLiteStore.open(tmp_path / "closed.db")
    await closed.aclose()  # every store call now fails
    rounds = 0

    async def sleep(seconds: float) -> None:
        nonlocal rounds
        rounds += 1
        clock.advance(seconds)
        if rounds == 2:
            raise Stop

    async with running(folder) as (base, _):
        poller = JmaPoller(session, closed, jma(site, base), Sink(), clock=clock, sleep=sleep)
        with pytest.raises(Stop):
            await poller.run()
    last_error = poller.health().last_error
    assert rounds == 2 and last_error is not None and last_error.startswith("poll round failed")


# -- only https, only the allowed hosts ------------------------------------------------


def atom(links: list[str]) -> bytes:
    """A minimal JMA-shaped Atom feed listing ``links`` (id == link, as on JMA's feeds)."""
    entries = "".join(
        f"<entry><title>気象特別警報・警報・注意報</title><id>{link}</id><updated>2025-01-01T00:00:00Z</updated>"
        f'<author><name>宇都宮地方気象台</name></author><link type="application/xml" href="{link}"/></entry>'
        for link in links
    )
    feed = '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>extra</title>'
    return (feed + f"<id>urn:x</id><updated>2025-01-01T00:00:00Z</updated>{entries}</feed>").encode()


@asynccontextmanager
async def hostile_feed(links: Callable[[str], list[str]], routes: dict[str, str]) -> AsyncIterator[tuple[str, Wire]]:
    """An https feed listing ``links(base)``; /data/<name> serves a sample, or redirects where ``routes`` says."""
    wire = Wire()
    app = web.Application(middlewares=[wire.middleware])
    document = (JMA_SAMPLES / "15_08_05_130412_VPWW53.xml").read_bytes()

    async def feed(request: web.Request) -> web.Response:
        base = f"https://{request.host}"
        return web.Response(body=atom(links(base)), content_type="application/atom+xml")

    async def data(request: web.Request) -> web.Response:
        target = routes.get(request.match_info["name"])
        if target is not None:
            raise web.HTTPFound(target.format(base=f"https://{request.host}", host=request.host))
        return web.Response(body=document, content_type="application/xml")

    app.router.add_get("/extra.xml", feed)
    app.router.add_get("/data/{name}", data)
    async with serve_https(app) as base:
        yield base, wire


GOOD = "20250101000000_0_VPWW53_090000.xml"


async def test_an_entry_linking_elsewhere_or_over_http_is_refused_and_logged(
    site: SiteFactory,
    store: SQLiteStore,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elsewhere = "https://jma.example.net/developer/xml/data/20250101000100_0_VPWW53_090000.xml"

    def links(base: str) -> list[str]:
        plain = base.replace("https://", "http://") + "/data/20250101000200_0_VPWW53_090000.xml"
        return [f"{base}/data/{GOOD}", elsewhere, plain]

    sink = Sink()
    async with hostile_feed(links, {}) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",), backfill_after=1e9), sink, clock=clock)
        with caplog.at_level("WARNING", logger="feeds.jma.poller"):
            await poller.poll_once()
            clock.advance(60)
            await poller.poll_once()  # listed again: not logged again
    assert sink.handled == [GOOD]
    assert [p for p, _ in wire.requests if p.startswith("/data/")] == [f"/data/{GOOD}"]  # the http one never asked
    refused = [r.getMessage() for r in caplog.records if "refused entry" in r.getMessage()]
    assert len(refused) == 2, refused
    assert any("jma.example.net" in m and "not on an allowed host" in m for m in refused)
    assert any("is not https" in m for m in refused)
    assert poller.health().refused == 2


async def test_a_redirect_to_another_host_is_refused_and_one_within_the_allowed_hosts_followed(
    site: SiteFactory, store: SQLiteStore, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    away, moved = "20250101000100_0_VPWW53_090000.xml", "20250101000200_0_VPWW53_090000.xml"
    routes = {
        away: "https://jma.example.net/data/" + away,  # another host: never asked
        moved: "{base}/data/" + GOOD,  # the same host, over https: followed
    }
    sink = Sink()
    async with hostile_feed(lambda base: [f"{base}/data/{away}", f"{base}/data/{moved}"], routes) as (base, wire):
        poller = JmaPoller(session, store, jma(site, base, feeds=("extra",)), sink, clock=clock)
        await poller.poll_once()
    assert sink.handled == [moved]  # handed over under the URL the feed listed
    assert sink.data[moved] == (JMA_SAMPLES / "15_08_05_130412_VPWW53.xml").read_bytes()
    health = poller.health()
    assert health.refused == 1 and health.backlog == 0  # given up at once: asking again cannot help
    assert health.last_error is not None and "redirected" in health.last_error
    assert "jma.example.net" in health.last_error and "not on an allowed host" in health.last_error
    assert [p for p, _ in wire.requests if p.startswith("/data/")] == [
        f"/data/{away}",
        f"/data/{moved}",
        f"/data/{GOOD}",
    ]
