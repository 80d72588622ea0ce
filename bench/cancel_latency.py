"""The Hawaii measure: from a duty officer's click on 取り消す to the cancel's first delivery.

The whole service (make_app, as `run.py serve` runs it) listens on a local port, LINE pointed at the
fake LINE API in a subprocess (200 multicast calls a second, as LINE allows). A live alert goes to N
LINE subscribers and the public website and ticker. An officer logged in over HTTP opens the cancel's
confirmation page and confirms it (取消 typed, as a live cancel needs) twice: once while the alert is
still fanning out (the busy case: the cancel must jump the queue and withdraw what has not gone yet),
and once for a second alert whose fan-out has finished (the idle case). Both are timed from the
confirming POST to the cancel's first delivered row (any channel) and to its last; ``form_ms`` is the
confirmation page itself, whose reach is planned by the approval's own code and undone.

Prints one JSON line: {"recipients": N, "busy": {...}, "idle": {...}, "busy_vs_idle": ratio, ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.line_fanout import TOKEN, fake_line, subscribers
from broadcaster import instance
from broadcaster.accounts import hash_password
from broadcaster.data_key import DATA_KEY_ENV, new_key
from broadcaster.models import Alert, AlertState, Mode, Role, Source
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.console.web import CONSOLE
from broadcaster.web.service import CORE, make_app
from channels.line import TOKEN_ENV

PASSWORD = "bench passphrase for the console"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def bench_settings(folder: Path, api_host: str) -> Settings:
    """Default settings in ``folder``; LINE at the fake, paced as bench/line_fanout.py paces it."""
    site = folder / "bench.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "bench.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        f'[line]\napi_host = "{api_host}"\n'
        "[channels.line]\nbatch_size = 500\nconcurrency = 8\nrate_per_s = 200.0\nburst = 10\ntimeout = 15.0\n"
        "[dispatcher]\nclaim_size = 2000\ninflight_chunks = 4\n"
        f'[fm]\ndrop_dir = "{folder / "fm"}"\n'
        "[jma]\nenabled = false\n",
        encoding="utf-8",
    )
    return load_settings(site)


def live_alert(alert_id: str) -> Alert:
    """A live evacuation order to LINE, the website and the ticker."""
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category="disaster",
        level=4,
        title="小山市に避難指示",
        body="思川の水位が上昇しています。直ちに安全な場所へ避難してください。",
        event_key=alert_id,
        mode=Mode.LIVE,
        channels=("line", "website", "ticker"),
        created_at=time.time(),
        created_by="bench-author",
    )


async def log_in(http: aiohttp.ClientSession, base: str) -> str:
    """Log in as the officer; returns a CSRF field for later forms."""
    async with http.get(f"{base}/console/login") as r:
        token = CSRF.search(await r.text())
    assert token, "no login form"
    form = {"name": "officer", "password": PASSWORD, "csrf": token[1], "next": "/console/"}
    async with http.post(f"{base}/console/login", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
    return token[1]


async def first_and_last_sent(store: SQLiteStore, alert_id: str) -> tuple[float, float]:
    """Wall-clock times of the first and last delivered rows of an alert."""
    reports = await store.report(alert_id)
    firsts = [r.first_sent for r in reports if r.first_sent]
    lasts = [r.last_sent for r in reports if r.last_sent]
    return min(firsts), max(lasts)


async def cancel_and_time(http: aiohttp.ClientSession, base: str, csrf: str, app: web.Application, alert_id: str
                          ) -> dict[str, Any]:  # fmt: skip
    """Open the cancel's confirmation page, then confirm (取消 typed) and time the cancel to its first and
    last delivery. ``form_ms`` is the confirmation page, whose reach is planned by the approval's own
    code and undone; the figures after it count from the confirming click."""
    core = app[CORE]
    opened = time.time()
    async with http.get(f"{base}/console/alerts/{alert_id}/cancel", allow_redirects=False) as r:
        assert r.status == 200, await r.text()
    form_ms = round((time.time() - opened) * 1000, 1)
    clicked = time.time()
    form = {"csrf": csrf, "reason": "誤って発信しました。", "typed": "取消"}
    async with http.post(f"{base}/console/alerts/{alert_id}/cancel", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        cancel_id = r.headers["Location"].rsplit("/", 1)[1]
    answered = time.time()

    async def done() -> bool:
        alert = await core.store.get_alert(cancel_id)
        return alert is not None and alert.state == AlertState.DONE

    await core.dispatcher.wait_until(done)
    first, last = await first_and_last_sent(core.store, cancel_id)
    counts = {r.channel: dict(r.counts) for r in await core.store.report(alert_id)}
    withdrawn = {r.channel: r.counts.get("sent", 0) for r in await core.store.report(cancel_id)}
    return {
        "form_ms": form_ms,
        "page_ms": round((answered - clicked) * 1000, 1),
        "first_delivery_ms": round((first - clicked) * 1000, 1),
        "last_delivery_ms": round((last - clicked) * 1000, 1),
        "original_sent": {ch: c.get("sent", 0) for ch, c in counts.items()},
        "original_withdrawn_before_sending": {ch: c.get("superseded", 0) for ch, c in counts.items()},
        "cancel_sent": withdrawn,
    }


async def run(n: int, after: float, folder: Path) -> dict[str, Any]:
    """Start the service with N LINE subscribers, then time a busy and an idle cancel."""
    os.environ[TOKEN_ENV] = TOKEN
    async with fake_line(200.0) as url:
        settings = bench_settings(folder, url)
        lock = instance.try_lock(settings.path(settings.storage.path))
        assert lock is not None
        app = make_app(settings, lock)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        try:
            core, console = app[CORE], app[CONSOLE]
            await core.store.import_subscribers(subscribers(n))
            await console.accounts.add_user("officer", Role.OPERATOR, "bench", "bench")
            await core.store.set_password(
                "officer", hash_password(PASSWORD, settings.console.password_hash), False, "bench", "bench"
            )
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                csrf = await log_in(http, base)
                busy, idle = live_alert("bench-busy"), live_alert("bench-idle")
                for alert in (busy, idle):
                    await core.store.create_alert(alert, "bench-author", "bench")
                # the idle case first: its fan-out finishes before the officer clicks
                await core.dispatcher.approve(idle.id, "bench-approver", "bench")
                fanout_started = time.perf_counter()
                await core.dispatcher.wait_until(lambda: _state_is(core.store, idle.id, AlertState.DONE))
                fanout_s = time.perf_counter() - fanout_started
                idle_result = await cancel_and_time(http, base, csrf, app, idle.id)
                # the busy case: click cancel ``after`` seconds into the fan-out
                await core.dispatcher.approve(busy.id, "bench-approver", "bench")
                await asyncio.sleep(after)
                busy_result = await cancel_and_time(http, base, csrf, app, busy.id)
        finally:
            await runner.cleanup()
    return {
        "recipients": n,
        "fanout_s": round(fanout_s, 3),
        "cancel_after_s": after,
        "busy": busy_result,
        "idle": idle_result,
        "busy_vs_idle_first_delivery": round(busy_result["first_delivery_ms"] / idle_result["first_delivery_ms"], 2),
    }


async def _state_is(store: SQLiteStore, alert_id: str, state: AlertState) -> bool:
    alert = await store.get_alert(alert_id)
    return alert is not None and alert.state == state


def main() -> None:
    """Parse arguments and print the JSON line."""
    os.environ.setdefault(DATA_KEY_ENV, new_key())  # seals the throwaway database's contacts
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--after", type=float, default=0.3, help="seconds into the fan-out the busy cancel is clicked")
    args = p.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.pop("BROADCASTER_SECRET_KEY", None)
    with tempfile.TemporaryDirectory(prefix="bench-cancel-") as folder:
        print(json.dumps(asyncio.run(run(args.recipients, args.after, Path(folder))), ensure_ascii=False))


if __name__ == "__main__":
    main()
