"""Time from an alert's approval to each broadcast channel's completion, over N alerts (default 100).

The real service path: build_channels() with the real website (with its static export), ticker, sns
and fm channels, the real Dispatcher, tracking in SQLite. X is the local fake (tests/fakes/x.py) in
this process. Alerts are approved one after another, each once the previous one is complete on every
channel, so each latency is that of an alert arriving at a quiet service. Completion means:

- website: its delivery row is sent, i.e. the served pages show it, and the static export holds its
  page in every language and the Japanese lists (every other language's lists follow just after, in
  the background: channels/website/channel.py);
- ticker: its row is sent, i.e. /ticker.txt lists the line;
- sns: the fake X accepted the thread's first post;
- fm: the combined WAV (every language, the file the station airs, written last) is in the drop
  folder (the file's modification time).

Every language is on, as by default: each alert is an evacuation order (警戒レベル４) built from the
phrasebook's pattern, about 200 characters in Japanese, with words in every offered language
(broadcaster/variants.complete), so FM reads it in Japanese, やさしい日本語 and each of ``[fm] languages``
(default en, pt-BR, vi, zh-Hans). Its time and number of households change from one alert to the next,
as they would: those sentences are synthesised anew each time, while the pattern's fixed sentences
recur (the FM speaker keeps sentences it has said). ``--free-text`` sends the officer's free text of
the earlier benchmark instead (the other languages then get the phrasebook's short notice).

Prints one JSON line: {"alerts": N, "languages": [...], "website": {"p50_ms", "p99_ms"}, "ticker": {...},
"sns": {...}, "fm": {"p50_ms", "p99_ms", "first_ms"}}; ``first_ms`` is the first alert's, whose
sentences the speaker had never said. The sns channel is paced at 50 posts/s here (the default config
paces X at 1/s), so the figure is the channel's own latency, not X's rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from broadcaster import variants
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.models import Alert, Mode, Source
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels import build_channels
from channels.fm.render import FmRenderer
from tests.fakes.x import ENVIRON, FakeX, serve

CHANNELS = ("website", "ticker", "sns", "fm")
BODY = (
    "思川の水位が氾濫危険水位に達しました。間々田地区、乙女地区、粟宮地区の一部に避難指示を発令しました。"
    "避難所は間々田小学校、乙女小学校、小山市立文化センターです。夜間の移動は危険を伴うため、"
    "近くの頑丈な建物の二階以上へ避難してください。"
)
INSTRUCTION = "直ちに安全な場所へ避難してください。午後十時に続報をお知らせします。"


def bench_settings(folder: Path, x_base: str) -> Settings:
    """Default settings with everything in ``folder`` and X pointed at the fake."""
    site = folder / "bench.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "bench.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        f'[website]\nexport_dir = "{folder / "export"}"\n'
        f'[fm]\ndrop_dir = "{folder / "fm"}"\n'
        f'[sns]\ntargets = ["x"]\nx_api_base = "{x_base}"\ndaily_quota = 100000\nreserve = 0\n'
        "[channels.sns]\nrate_per_s = 50.0\nburst = 50\n"
        "[jma]\nenabled = false\n",
        encoding="utf-8",
    )
    return load_settings(site)


def make_alert(i: int, settings: Settings, free_text: bool = False) -> Alert:
    """A level-4 evacuation order on the broadcast channels, in every offered language."""
    alert = Alert(
        id=f"bench-{i:04d}",
        source=Source.STAFF,
        category="disaster",
        level=4,
        title=f"小山市に避難指示（第{i}報）",
        body=f"第{i}報。{BODY}",  # alerts differ, as real ones do (X refuses a repeated post)
        instruction=INSTRUCTION,
        mode=Mode.LIVE,
        channels=CHANNELS,
        created_at=time.time(),
    )
    if not free_text:
        hour, minute = divmod(8 * 60 + 7 * i, 60)
        slots = {"time": f"{hour % 24:02d}:{minute:02d}", "hazard": "洪水", "households": str(120 + 37 * i),
                 "shelter": "間々田小学校"}  # fmt: skip
        alert = dataclasses.replace(alert, phrase="evacuation_order", slots=slots)
        japanese = variants.japanese_from_phrase(alert, settings)
        assert japanese is not None
        alert = dataclasses.replace(alert, title=japanese.title, body=japanese.body, instruction=japanese.instruction)
    return variants.complete(alert, settings)


def rows(db: Path, alert_id: str) -> dict[str, tuple[str, float | None, str]]:
    """Each channel's row of the alert: state, sent_at, last error (read-only, beside the store)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        sql = "SELECT channel, state, sent_at, last_error FROM deliveries WHERE alert_id = ?"
        return {channel: (state, sent_at, error) for channel, state, sent_at, error in conn.execute(sql, (alert_id,))}


async def run(n: int, folder: Path, free_text: bool = False) -> dict[str, Any]:
    """Approve ``n`` alerts one after another and collect each channel's latency."""
    fake = FakeX()
    latencies: dict[str, list[float]] = {c: [] for c in CHANNELS}
    async with serve(fake) as x_base:
        settings = bench_settings(folder, x_base)
        db = settings.path(settings.storage.path)
        store = await SQLiteStore.open(db)
        channels = build_channels(settings, Renderer(settings), {**os.environ, **ENVIRON}, store)
        not_real = [c for c in CHANNELS if type(channels.live[c]).__name__ == "OutboxChannel"]
        if not_real:
            raise SystemExit(f"these channels run as the outbox, so there is nothing to time: {not_real}")
        tune_gc()  # as the service does once it has started
        try:
            async with Dispatcher(store, channels, settings) as dispatcher:
                for i in range(n):
                    # one alert per second at most: a thread's replies carry the issue time to the second,
                    # and X refuses a reply identical to an earlier one
                    await asyncio.sleep(1.0 - time.time() % 1.0)
                    alert = make_alert(i, settings, free_text)
                    await store.create_alert(alert, "bench", "bench")
                    approved = time.time()
                    await dispatcher.approve(alert.id, "bench", "bench")

                    async def settled(alert_id: str = alert.id) -> bool:
                        states = await asyncio.to_thread(rows, db, alert_id)
                        return all(state not in ("pending", "sending") for state, _, _ in states.values())

                    await dispatcher.wait_until(settled)
                    final = rows(db, alert.id)
                    if failed := {c: error for c, (state, _, error) in final.items() if state != "sent"}:
                        raise SystemExit(f"alert {alert.id} was not carried everywhere: {failed}")
                    done = {c: sent_at for c, (_, sent_at, _) in final.items() if sent_at is not None}
                    first_post = min(t.accepted_at for t in fake.tweets.values() if f"/alerts/{alert.id}" in t.text)
                    wav = settings.path(settings.fm.drop_dir) / f"{alert.id}.wav"
                    finished = {
                        "website": done["website"],
                        "ticker": done["ticker"],
                        "sns": first_post,
                        "fm": wav.stat().st_mtime,
                    }
                    for name, at in finished.items():
                        latencies[name].append(at - approved)
        finally:
            for channel in {*channels.live.values(), *channels.exercise.values()}:
                await channel.aclose()
            await store.aclose()
    fm = channels.live["fm"].renderer
    assert isinstance(fm, FmRenderer)
    fm_reads = fm.programme(make_alert(0, settings, free_text))  # the languages FM read, in order
    figures: dict[str, Any] = {"alerts": n, "languages": fm_reads, **{c: summary(v) for c, v in latencies.items()}}
    figures["fm"]["first_ms"] = round(latencies["fm"][0] * 1000, 1)
    return figures


def summary(values: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(values) * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1)}


def main() -> None:
    """Parse arguments and print the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--alerts", type=int, default=100)
    p.add_argument("--free-text", action="store_true", help="the officer's free text instead of the phrasebook's")
    args = p.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as folder:
        print(json.dumps(asyncio.run(run(args.alerts, Path(folder), args.free_text)), ensure_ascii=False))


if __name__ == "__main__":
    main()
