"""JMA intake speed: documents parsed per second, and a new feed entry's latency to the first channel send.

Prints one JSON line:
{"docs_per_s_samples": d, "sample_docs": n, "baseline_lxml_docs_per_s": b, "parse_vs_lxml": d/b,
 "extra_l_parse_s": s, "extra_l_entries": e, "extra_l_entries_per_s": r,
 "feed_entries": m, "runs": N, "runs_ok": k, "latency_p50_ms": p50, "latency_p99_ms": p99, "floor_p50_ms": f,
 "phases_p50_ms": {"poll_and_download": …, "ingest": …, "dispatch": …}}

Parsing: every JMA document in tests/data/jma (the two Atom feeds left out) through
feeds.jma.parse.parse, pass after pass for about a second; the same run times bare lxml parsing the
same bytes as the baseline, so the ratio is the figure to compare between runs on this noisy machine.
The 2.3 MB extra_l.xml goes through feeds.jma.atom.parse_feed, best of a few runs.

Latency: the replay app (feeds.replay) serves a temporary folder on 127.0.0.1; the real poller, ingest
and dispatcher run against a SQLite store there, with in-process channels that render for real and
record when they are called. Each run copies a real VXSE53 (震度6強 in 奥州市, which the configured
areas make "auto on every channel") into the folder under a new JMA-style name with its own EventID,
takes t0, calls poll_once() directly, and waits for the alert's first send. Runs are independent: the
next starts once the previous alert is done. The feed keeps listing only the newest ``feed_entries``
(--feed-entries, default 25, the size of the real eqvol.xml sample), as JMA's high-frequency feeds drop
their oldest: a feed growing run after run would make the later runs slower than the first. Channel rate
limits are opened wide so that back-to-back runs measure the pipeline, not the token buckets.

The figure includes the replay server reading the new file once to list it (JMA's server does that
work before the entry appears; here it happens after t0). ``floor_p50_ms`` is what the HTTP part alone
costs in the same run, with the file already known to the server: one unconditional GET of the feed
and one of the document. The phases split each run at the poller's callback, the commit that stores
and plans the alert (one transaction, then the workers are woken), and the first send. The target
(issue 3) is p99 <= 100 ms; this script reports the figure and never asserts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import ssl
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from lxml import etree

from broadcaster.channel import ChannelSet, Fit, RunsAs
from broadcaster.clock import JST
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, AlertId, AlertState, ChannelName, Message, Recipients
from broadcaster.rendering import NO_LIMITS, Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from feeds.jma.atom import parse_feed
from feeds.jma.ingest import Handled, JmaIngest
from feeds.jma.parse import parse
from feeds.jma.poller import JmaPoller
from feeds.replay import make_sample_app
from tests.feeds import tls

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "jma"
FEED_FILES = ("extra_l.xml", "eqvol.xml")  # the two real Atom feeds lying among the documents
QUAKE = "32-35_06_03_240613_VXSE53.xml"  # 震度6強 in 奥州市 (0321500), 岩手県内陸南部 (213), 岩手県 (03)
QUAKE_EVENT_ID = b"<EventID>20080614084350</EventID>"
QUAKE_TIMES = (b"2008-06-14T08:47:00+09:00",)  # its ReportDateTime and TargetDateTime
QUAKE_SENT = b"2008-06-13T23:47:47Z"  # its Control/DateTime
PARSE_SECONDS = 1.0  # how long the samples are parsed over and over
ATOM_RUNS = 5  # best of
SEND_TIMEOUT = 5.0  # seconds a run may take to reach a channel before it counts as failed
FEED_ENTRIES = 25  # entries the feed keeps listing: the real eqvol.xml sample (a high-frequency feed) has 25


# -- parsing ------------------------------------------------------------------------------


def samples_folder() -> Path:
    """The folder of real JMA samples; exits with a message when it is not there."""
    if not (SAMPLES / "extra_l.xml").is_file() or not (SAMPLES / QUAKE).is_file():
        raise SystemExit(f"the real JMA samples are missing: expected them (extra_l.xml, {QUAKE}) in {SAMPLES}")
    return SAMPLES


def sample_documents(folder: Path) -> dict[str, bytes]:
    """Every JMA document in ``folder`` by file name, the Atom feeds left out."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.xml")) if p.name not in FEED_FILES}


def docs_per_second(documents: dict[str, bytes], seconds: float = PARSE_SECONDS) -> float:
    """Documents parsed per second by feeds.jma.parse.parse, whole passes for about ``seconds``."""
    for name, data in documents.items():  # a first, untimed pass: every document must parse
        parse(data, source=name)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for name, data in documents.items():
            parse(data, source=name)
        done += len(documents)
    return done / elapsed


def lxml_docs_per_second(documents: dict[str, bytes], seconds: float = PARSE_SECONDS) -> float:
    """The baseline: documents per second that bare lxml parses into a tree, nothing read from it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for data in documents.values():
            etree.fromstring(data, parser)
        done += len(documents)
    return done / elapsed


def atom_parse(data: bytes, runs: int = ATOM_RUNS) -> tuple[float, int]:
    """The best time of ``runs`` parses of an Atom feed by feeds.jma.atom.parse_feed, and its entry count."""
    best, entries = math.inf, 0
    for _ in range(runs):
        started = time.perf_counter()
        entries = len(parse_feed(data))
        best = min(best, time.perf_counter() - started)
    return best, entries


# -- the pipeline under test ------------------------------------------------------------------


@dataclass
class Marks:
    """When each stage of one alert's way was reached (perf_counter seconds), and what it made."""

    document: float | None = None  # the poller hands over the downloaded bytes
    planned_at: float | None = None  # the alert and its delivery rows committed, workers woken
    handled: Handled | None = None
    planned: int = 0  # channels that got delivery rows


@dataclass
class Recorder:
    """What the in-process channels were asked to send, per alert; shared by every channel."""

    first: dict[AlertId, float] = field(default_factory=dict)  # perf_counter at the first send of each alert
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, alert_id: AlertId) -> None:
        """Note a send; only the first of each alert keeps its time."""
        self.first.setdefault(alert_id, time.perf_counter())
        self.arrived.set()

    async def first_send(self, alert_id: AlertId) -> float:
        """Wait for the alert's first send on any channel; returns its perf_counter time."""
        while alert_id not in self.first:
            self.arrived.clear()
            await self.arrived.wait()
        return self.first[alert_id]


class RecordingChannel:
    """Renders for real, sends nowhere, and tells the recorder when it was called."""

    runs_as = RunsAs.REAL
    reaches_people = False

    def __init__(self, name: str, renderer: Renderer, recorder: Recorder) -> None:
        self.name = name
        self.limits = NO_LIMITS
        self.templates = renderer
        self.recorder = recorder

    @property
    def renderer(self) -> RecordingChannel:
        """Its own renderer."""
        return self

    def render(self, alert: Alert, lang: str) -> Message:
        """Render the channel's templates."""
        return self.templates.render(self.name, alert, lang, self.limits)

    def fits(self, alert: Alert) -> list[Fit]:
        """No limits."""
        return []

    async def send(self, message: Message, to: Recipients) -> None:
        """Record the moment."""
        self.recorder.record(message.alert_id)

    async def aclose(self) -> None:
        """Nothing to close."""


class Pipeline:
    """JmaIngest wired to the dispatcher, with the stages of the current run marked on the way."""

    def __init__(self, store: SQLiteStore, settings: Settings, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.ingest = JmaIngest(Lifecycle(store, settings, self.wake))
        self.marks = Marks()

    async def on_document(self, source: str, data: bytes) -> None:
        """The poller's callback: hand the document to ingest."""
        self.marks.document = time.perf_counter()
        self.marks.handled = await self.ingest.handle(source, data)

    def wake(self, channels: Iterable[ChannelName]) -> None:
        """Dispatcher.wake, timed: the lifecycle calls it once the alert is stored and planned."""
        self.marks.planned_at = time.perf_counter()
        names = list(channels)
        self.marks.planned = len(names)
        self.dispatcher.wake(names)


def bench_settings(folder: Path, base: str) -> Settings:
    """Default settings and policy; storage in ``folder``, feeds on ``base``, areas the quake's, rates wide open."""
    site = folder / "bench.toml"
    wide_open = "".join(f"[channels.{name}]\nrate_per_s = 1000000.0\nburst = 1000\n" for name in CHANNEL_NAMES)
    site.write_text(
        f'[storage]\npath = "{folder / "bench.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        '[areas]\ncity = "0321500"\nforecast_area = "030000"\nearthquake_region = "213"\nprefecture = "03"\n'
        'forecast_area_name = "岩手県"\n[website]\nmunicipality_code = "032158"\n'
        f'[jma]\nfeeds = ["{base}/extra.xml", "{base}/eqvol.xml"]\noffices = ["090000", "010000"]\n'
        f'allowed_hosts = ["127.0.0.1"]\nca_file = "{tls.write_ca(folder / "ca.pem")}"\n'
        f"{wide_open}",
        encoding="utf-8",
    )
    return load_settings(site)


@asynccontextmanager
async def feed_server(folder: Path) -> AsyncIterator[str]:
    """The replay app over ``folder`` over https (a local CA) on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(make_sample_app(folder), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context()).start()
        host, port = runner.addresses[0][:2]
        yield f"https://{host}:{port}"
    finally:
        await runner.cleanup()


def publish(folder: Path, document: bytes, when: datetime) -> str:
    """Put the quake in ``folder`` as a new JMA-style file whose name, EventID and times come from ``when``.

    The report time is ``when`` too: a document older than [jma.max_age] is recorded and never sent.
    """
    stamp = f"{when:%Y%m%d%H%M%S}"
    name = f"{stamp}_0_VXSE53_010000.xml"
    reported = when.astimezone(JST).strftime("%Y-%m-%dT%H:%M:00+09:00").encode()
    unique = document.replace(QUAKE_EVENT_ID, f"<EventID>{stamp}</EventID>".encode())
    for old in QUAKE_TIMES:
        unique = unique.replace(old, reported)
    unique = unique.replace(QUAKE_SENT, f"{when:%Y-%m-%dT%H:%M:%SZ}".encode())
    part = folder / f".{name}.part"  # hidden from the feed until it is complete
    part.write_bytes(unique)
    os.replace(part, folder / name)
    return name


# -- one run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One new entry's way to the first send, in seconds; ``latency`` is None when nothing was sent."""

    latency: float | None
    phases: dict[str, float]  # empty when nothing was sent
    floor: float  # the HTTP part alone: an unconditional GET of the feed and one of the document


async def until_done(store: SQLiteStore, dispatcher: Dispatcher, alert_id: AlertId) -> None:
    """Wait until every delivery of the alert reached a final state (outside the timing)."""

    async def done() -> bool:
        alert = await store.get_alert(alert_id)
        return alert is None or alert.state == AlertState.DONE

    await dispatcher.wait_until(done)


async def http_floor(session: aiohttp.ClientSession, base: str, name: str) -> float:
    """Seconds for one unconditional GET of the feed and one of the document ``name``."""
    started = time.perf_counter()
    for url in (f"{base}/eqvol.xml", f"{base}/data/{name}"):
        async with session.get(url) as resp:
            await resp.read()
    return time.perf_counter() - started


@dataclass
class Bench:
    """Everything a run needs, set up once: the served folder, the poller and the pipeline behind it."""

    folder: Path
    base: str
    session: aiohttp.ClientSession
    store: SQLiteStore
    poller: JmaPoller
    pipeline: Pipeline
    recorder: Recorder
    document: bytes
    feed_entries: int = FEED_ENTRIES
    started: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    listed: deque[str] = field(default_factory=deque)  # the documents in the folder, oldest first
    published: int = 0

    async def run_once(self) -> Run:
        """Publish one new entry, poll once, time the way to the first send, then let the alert finish."""
        self._trim()
        self.published += 1
        marks = self.pipeline.marks = Marks()
        name = publish(self.folder, self.document, self.started + timedelta(seconds=self.published))
        self.listed.append(name)
        t0 = time.perf_counter()
        await self.poller.poll_once()
        sent = await self._first_send(name, marks)
        floor = await http_floor(self.session, self.base, name)
        if sent is None:
            return Run(None, {}, floor)
        assert marks.document is not None and marks.planned_at is not None
        phases = {
            "poll_and_download": marks.document - t0,
            "ingest": marks.planned_at - marks.document,
            "dispatch": sent - marks.planned_at,
        }
        return Run(sent - t0, phases, floor)

    def _trim(self) -> None:
        """Keep the feed at ``feed_entries`` entries, as JMA's high-frequency feeds drop their oldest."""
        while len(self.listed) >= self.feed_entries:
            (self.folder / self.listed.popleft()).unlink()

    async def _first_send(self, name: str, marks: Marks) -> float | None:
        """The perf_counter time of the alert's first send, once it is done; None (and why) if none came."""
        handled = marks.handled
        if handled is None or handled.alert_id is None or handled.decision != "auto" or not marks.planned:
            why = "no document reached ingest" if handled is None else f"{handled.decision}: {handled.reason}"
            print(f"run {name}: no alert to send ({why})", file=sys.stderr)
            return None
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                sent = await self.recorder.first_send(handled.alert_id)
                await until_done(self.store, self.pipeline.dispatcher, handled.alert_id)  # runs stay independent
        except TimeoutError:
            print(f"run {name}: alert {handled.alert_id} not sent within {SEND_TIMEOUT:g} s", file=sys.stderr)
            return None
        return sent


# -- the whole latency benchmark ----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for the report."""
    return round(seconds * 1000, 2)


async def latency(runs: int, feed_entries: int, folder: Path, samples: Path) -> dict[str, object]:
    """Time ``runs`` new entries from the feed to the first channel send; returns the report's latency part."""
    served = folder / "served"
    served.mkdir()
    document = (samples / QUAKE).read_bytes()
    if document.count(QUAKE_EVENT_ID) != 1:
        raise SystemExit(f"{QUAKE}: expected its EventID once, as {QUAKE_EVENT_ID.decode()}")
    results: list[Run] = []
    trusted = aiohttp.TCPConnector(ssl=ssl.create_default_context(cadata=tls.authority().cert_pem.bytes().decode()))
    async with feed_server(served) as base, aiohttp.ClientSession(connector=trusted) as session:
        settings = bench_settings(folder, base)
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        try:
            renderer = Renderer(settings)
            recorder = Recorder()
            sinks = {name: RecordingChannel(name, renderer, recorder) for name in settings.enabled_channels}
            channels = ChannelSet(live=dict(sinks), exercise=dict(sinks), notices=[])
            tune_gc()  # as the service does once it has started
            async with Dispatcher(store, channels, settings) as dispatcher:
                pipeline = Pipeline(store, settings, dispatcher)
                poller = JmaPoller(session, store, settings.jma, pipeline.on_document)
                await poller.poll_once()  # the first start: empty feeds and the backfill, untimed
                bench = Bench(served, base, session, store, poller, pipeline, recorder, document, feed_entries)
                results = [await bench.run_once() for _ in range(runs)]
        finally:
            await store.aclose()
    return {"feed_entries": feed_entries, **summarise(results)}


def summarise(results: Sequence[Run]) -> dict[str, object]:
    """Percentiles of the runs that sent, and the median of each phase."""
    ok = [r for r in results if r.latency is not None]
    latencies = [r.latency for r in ok if r.latency is not None]
    phases = {key: ms(percentile([r.phases[key] for r in ok], 50)) for key in ok[0].phases} if ok else {}
    return {
        "runs": len(results),
        "runs_ok": len(ok),
        "latency_p50_ms": ms(percentile(latencies, 50)) if ok else None,
        "latency_p99_ms": ms(percentile(latencies, 99)) if ok else None,
        "floor_p50_ms": ms(percentile([r.floor for r in results], 50)) if results else None,
        "phases_p50_ms": phases,
    }


def main() -> None:
    """Parse arguments, run both benchmarks and print the JSON line; exits 1 if any run sent nothing."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=200, help="new entries to time from feed to first send")
    p.add_argument("--feed-entries", type=int, default=FEED_ENTRIES, help="entries the feed lists at most")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.feed_entries < 1:
        p.error("--feed-entries must be at least 1")
    logging.basicConfig(level=logging.WARNING)  # per-document INFO lines would distort the timings
    samples = samples_folder()
    documents = sample_documents(samples)
    docs_rate = docs_per_second(documents)
    lxml_rate = lxml_docs_per_second(documents)
    atom_s, atom_entries = atom_parse((samples / "extra_l.xml").read_bytes())
    result: dict[str, object] = {
        "docs_per_s_samples": round(docs_rate),
        "sample_docs": len(documents),
        "baseline_lxml_docs_per_s": round(lxml_rate),
        "parse_vs_lxml": round(docs_rate / lxml_rate, 3),
        "extra_l_parse_s": round(atom_s, 4),
        "extra_l_entries": atom_entries,
        "extra_l_entries_per_s": round(atom_entries / atom_s),
    }
    with tempfile.TemporaryDirectory(prefix="bench-jma-") as folder:
        result.update(asyncio.run(latency(args.runs, args.feed_entries, Path(folder), samples)))
    print(json.dumps(result, ensure_ascii=False))
    if result["runs_ok"] != result["runs"]:
        raise SystemExit(f"{result['runs']} runs, but only {result['runs_ok']} produced a send")


if __name__ == "__main__":
    main()
