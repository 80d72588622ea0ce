"""Fan one alert out to N LINE subscribers through the dispatcher, against the fake LINE API at 200 multicast/s.

The fake (tests/fakes/line.py) runs in a subprocess: LINE is another service, and in-process its JSON
parsing would share this event loop and GIL, charging the server's work to the sender. It allows 200
multicast requests a second (a token bucket with a burst of 20) and answers anything faster with 429,
which the channel turns into a retry one second later, so going over LINE's limit costs time.
The real LineChannel (line-bot-sdk, Flex message), the real Dispatcher and tracking in SQLite do the rest.

Prints one JSON line: {"recipients": N, "seconds": s, "recipients_per_s": r, ...}. ``seconds`` runs from
the approval's commit (the N delivery rows written) to the alert being done: that is the part LINE's
limit bounds, at most 200 × 500 = 100,000 recipients/s. ``approve_seconds`` (planning the rows) and
``end_to_end_per_s`` (approval included) are given beside it; ``rate_limited`` counts the fake's 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.data_key import DATA_KEY_ENV, new_key
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.models import Alert, AlertState, ContactKind, Mode, Source, Subscriber
from broadcaster.rendering import Renderer
from broadcaster.settings import ROOT, Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels.line import TOKEN_ENV
from channels.line.channel import create

TOKEN = "bench-line-token"
LINE_RATE = 200.0  # multicast requests a second, LINE's documented limit
FAKE_BURST = 20  # requests the fake lets through at once
SEND_BURST = 10  # the dispatcher's bucket: below the fake's, so network jitter never shows as a 429


@asynccontextmanager
async def fake_line(rate: float) -> AsyncIterator[str]:
    """Start the fake LINE API in its own process; yields its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.line",
        "--port=0",
        f"--token={TOKEN}",
        f"--multicast-rate={rate}",
        f"--multicast-burst={FAKE_BURST}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise SystemExit("the fake LINE API did not start")
        yield str(json.loads(line)["url"])
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def fake_stats(url: str) -> dict[str, Any]:
    """What the fake has accepted and refused, and its CPU time so far."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats") as response:
        stats: dict[str, Any] = await response.json()
        return stats


def subscribers(n: int) -> Iterator[Subscriber]:
    """N active LINE subscribers of the disaster category, streamed."""
    for i in range(n):
        yield Subscriber(0, ContactKind.LINE, f"U{i:032x}", frozenset({"disaster"}), "ja")


def bench_settings(folder: Path, api_host: str, rate: float = LINE_RATE) -> Settings:
    """Default settings, storage in ``folder``, LINE pointed at the fake and paced at LINE's limit."""
    site = folder / "bench.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "bench.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        f'[line]\napi_host = "{api_host}"\n'
        f"[channels.line]\nbatch_size = 500\nconcurrency = 8\nrate_per_s = {rate}\nburst = {SEND_BURST}\n"
        "timeout = 15.0\n"
        "[dispatcher]\nclaim_size = 2000\ninflight_chunks = 4\n"  # the best of a few tried here
        "[jma]\nenabled = false\n",
        encoding="utf-8",
    )
    return load_settings(site)


async def _done(store: SQLiteStore, alert_id: str) -> bool:
    alert = await store.get_alert(alert_id)
    return alert is not None and alert.state == AlertState.DONE


async def run(n: int, folder: Path, rate: float = LINE_RATE) -> dict[str, Any]:
    """Set up N subscribers, then time one alert's fan-out to them."""
    async with fake_line(rate) as url:
        settings = bench_settings(folder, url, rate)
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        await store.import_subscribers(subscribers(n))
        channel = create(ChannelContext("line", settings, Renderer(settings), {TOKEN_ENV: TOKEN}))
        channels = ChannelSet(live={"line": channel}, exercise={"line": channel}, notices=[])
        alert = Alert(
            id="bench-line-1",
            source=Source.STAFF,
            category="disaster",
            level=4,
            title="小山市に避難指示",
            body="思川の水位が上昇しています。直ちに安全な場所へ避難してください。",
            mode=Mode.LIVE,
            channels=("line",),
            created_at=time.time(),
        )
        await store.create_alert(alert, "bench", "bench")
        try:
            tune_gc()  # as the service does once it has started
            async with Dispatcher(store, channels, settings) as dispatcher:
                fake_cpu = await fake_stats(url)
                started = time.perf_counter()
                await dispatcher.approve(alert.id, "bench", "bench")
                approved, cpu = time.perf_counter(), time.process_time()
                await dispatcher.wait_until(lambda: _done(store, alert.id))
                finished, cpu = time.perf_counter(), time.process_time() - cpu
            report = await store.report(alert.id)
        finally:
            await channel.aclose()
            await store.aclose()
        stats = await fake_stats(url)
    sent = report[0].counts.get("sent", 0)
    if sent != n or stats["users"] != n or stats["max_per_user"] != 1:
        raise SystemExit(f"expected {n} tracked deliveries, each user once; store: {sent}, fake: {stats}")
    seconds = finished - approved
    return {
        "recipients": n,
        "seconds": round(seconds, 3),
        "recipients_per_s": round(n / seconds),
        "approve_seconds": round(approved - started, 3),
        "end_to_end_per_s": round(n / (finished - started)),
        "multicast_calls": stats["statuses"].get("200", 0),
        "rate_limited": stats["statuses"].get("429", 0),
        "sender_cpu_s": round(cpu, 3),  # this process, all threads, while sending
        "fake_cpu_s": round(stats["cpu_s"] - fake_cpu["cpu_s"], 3),
    }


def main() -> None:
    """Parse arguments and print the JSON line."""
    os.environ.setdefault(DATA_KEY_ENV, new_key())  # seals the throwaway database's contacts
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=LINE_RATE, help="multicast calls/s the fake allows (and we pace at)")
    args = p.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")  # the SDK's session trusts proxy variables
    with tempfile.TemporaryDirectory(prefix="bench-line-") as folder:
        print(json.dumps(asyncio.run(run(args.recipients, Path(folder), args.rate))))


if __name__ == "__main__":
    main()
