"""`run.py status ID`: the delivery report of one alert, its times in JST as the console shows them."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from broadcaster.cli.db import opened_store
from broadcaster.clock import iso_jst
from broadcaster.errors import InputError
from broadcaster.models import ChannelReport
from broadcaster.settings import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py status …`."""
    return asyncio.run(cmd_status(settings, args))


def _iso(ts: float | None) -> str | None:
    return iso_jst(ts) if ts else None


def _report_json(r: ChannelReport) -> dict[str, Any]:
    return {
        "channel": r.channel,
        "counts": dict(r.counts),
        "first_sent": _iso(r.first_sent),
        "last_sent": _iso(r.last_sent),
        "latency_p50_s": None if r.latency_p50 is None else round(r.latency_p50, 4),
        "latency_p95_s": None if r.latency_p95 is None else round(r.latency_p95, 4),
        "last_error": r.last_error,
    }


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print the delivery report of one alert."""
    async with opened_store(settings) as store:
        alert = await store.get_alert(args.alert_id)
        if alert is None:
            raise InputError(f"no alert {args.alert_id!r}; `run.py status` takes the id `run.py send` printed")
        reports = [_report_json(r) for r in await store.report(alert.id)]
    if args.json:
        out = {"alert": alert.id, "state": alert.state, "mode": alert.mode, "title": alert.title, "channels": reports}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{alert.id}  {alert.state}  {alert.mode}  {alert.title}")
    for r in reports:
        counts = " ".join(f"{k}={v}" for k, v in r["counts"].items() if v)
        print(f"  {r['channel']:<8} {counts}")
        if r["first_sent"]:
            span = f"{r['first_sent']} .. {r['last_sent']}"
            print(f"           sent {span}  p50 {r['latency_p50_s']} s  p95 {r['latency_p95_s']} s")
        if r["last_error"]:
            print(f"           last error: {r['last_error']}")
    return 0
