"""run.py's command line: serve, send, status, subscribers. Exit 2 means bad input or config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from broadcaster import drafts, instance
from broadcaster.cli import accounts as cli_accounts
from broadcaster.cli import jma as cli_jma
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import ConfigError, InputError
from broadcaster.models import Alert, AlertState, ChannelReport, Mode, Source
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import CsvReader, CsvWriter, checked
from broadcaster.web.service import make_app, tune_gc
from channels import build_channels
from feeds.jma.ingest import JmaIngest

log = logging.getLogger("broadcaster")
USAGE_ERROR = 2


def parser() -> argparse.ArgumentParser:
    """The argument parser, one subcommand per job."""
    p = argparse.ArgumentParser(prog="run.py", description="The city alert broadcaster.")
    p.add_argument("--config", help="site config over config/default.toml (or set BROADCASTER_CONFIG)")
    sub = p.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the all-in-one service (the default)")
    serve.add_argument("--host", help="listen address (default from [server] host)")
    serve.add_argument("--port", type=int, help="listen port (default from [server] port)")

    send = sub.add_parser(
        "send", help="create and approve an alert (a live one the [approval] policy names waits for an approver)"
    )
    send.add_argument("--category", required=True, help="category id, e.g. disaster")
    send.add_argument("--level", type=int, required=True, choices=range(1, 6), metavar="1-5")
    send.add_argument("--title", required=True)
    send.add_argument("--body", required=True)
    send.add_argument("--instruction", default="", help="what residents should do")
    send.add_argument("--channels", help="comma-separated; default: the category's channels")
    send.add_argument("--exercise", action="store_true", help="an exercise: testers and the outbox only")
    send.add_argument("--yes", action="store_true", help="confirm a live alert without asking")
    send.add_argument("--no-wait", action="store_true", help="do not deliver in this process; leave it to the service")

    status = sub.add_parser("status", help="the delivery report of one alert")
    status.add_argument("alert_id")
    status.add_argument("--json", action="store_true", help="print JSON")

    subs = sub.add_parser("subscribers", help="import, export or count subscribers")
    subs_cmd = subs.add_subparsers(dest="action", required=True)
    imp = subs_cmd.add_parser("import", help="import a CSV file; any bad row imports nothing")
    imp.add_argument("file")
    subs_cmd.add_parser("export", help="write every subscriber as CSV to standard output")
    lst = subs_cmd.add_parser("list", help="counts by category and channel")
    lst.add_argument("--show-contacts", action="store_true", help="also list contacts (personal data)")
    cli_jma.add_parser(sub)
    cli_accounts.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings, run the subcommand; returns the exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("BROADCASTER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings(args.config)
        if args.command in (None, "serve"):
            return serve(settings, getattr(args, "host", None), getattr(args, "port", None))
        if args.command == "jma":
            return run_jma(settings, args)
        return asyncio.run(COMMANDS[args.command](settings, args))
    except (ConfigError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    """Run the service until SIGINT or SIGTERM."""
    db = settings.path(settings.storage.path)
    lock = instance.try_lock(db)
    if lock is None:
        print(f"error: another broadcaster is already running on {db}", file=sys.stderr)
        return 1
    host = host or settings.server.host
    port = port or settings.server.port
    web.run_app(
        make_app(settings, lock),
        host=host,
        port=port,
        # aiohttp prints once every site listens: this line is the readiness signal
        print=lambda _text: log.info("serving on http://%s:%d", host, port),
        shutdown_timeout=settings.dispatcher.shutdown_grace,
    )
    return 0


def _alert_from_args(settings: Settings, args: argparse.Namespace) -> Alert:
    if args.category not in settings.categories:
        raise InputError(f"unknown category {args.category!r}; valid: {', '.join(settings.categories)}")
    enabled = settings.enabled_channels
    if args.channels:
        channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
        unknown = [c for c in channels if c not in enabled]
        if unknown or not channels:
            raise InputError(f"unknown channel(s) {unknown}; valid: {', '.join(enabled)}")
    else:
        channels = tuple(c for c in settings.categories[args.category].channels if c in enabled)
    for name in ("title", "body"):
        if not getattr(args, name).strip():
            raise InputError(f"--{name} is empty")
    alert_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category=args.category,
        level=args.level,
        title=args.title.strip(),
        body=args.body.strip(),
        instruction=args.instruction.strip(),
        areas=(settings.areas.city,),
        event_key=alert_id,
        mode=Mode.EXERCISE if args.exercise else Mode.LIVE,
        channels=channels,
        created_at=time.time(),
        created_by=os.environ.get("USER", "cli"),
    )


def _confirm_live(alert: Alert, audience: dict[str, int]) -> None:
    reach = ", ".join(f"{ch} ({n} recipients)" if n else ch for ch, n in audience.items())
    print(f"LIVE alert to residents: {alert.title}\n  channels: {reach}", file=sys.stderr)
    if not sys.stdin.isatty():
        raise InputError("a live alert needs --yes, or a terminal to confirm it")
    answer = input("Type LIVE to send it to residents now: ")
    if answer.strip() != "LIVE":
        raise InputError("not confirmed; nothing was stored")


async def cmd_send(settings: Settings, args: argparse.Namespace) -> int:
    """Create and approve an alert; deliver it here unless the service is running."""
    alert = _alert_from_args(settings, args)
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        if alert.mode == Mode.LIVE and not args.yes:
            _confirm_live(alert, await store.audience(alert))
        origin = f"cli pid={os.getpid()}"
        await store.create_alert(alert, alert.created_by, origin)
        if drafts.needs_approval(settings, alert):
            # the shell is no way round the second person: the alert waits in the console like any other
            await store.request_approval(alert.id, alert.created_by, origin)
            print(alert.id)
            url = f"{settings.city.public_url.rstrip('/')}/console/alerts/{alert.id}"
            print(f"waits for a second person's approval (the [approval] policy): {url}", file=sys.stderr)
            return 0
        planned = await store.approve(alert.id, alert.created_by, origin)
        print(alert.id)
        log.info("alert %s approved: %s", alert.id, json.dumps(planned))
        await hand_over(settings, store, [alert.id], args.no_wait)
    finally:
        await store.aclose()
    return 0


async def hand_over(settings: Settings, store: SQLiteStore, alert_ids: list[str], no_wait: bool = False) -> None:
    """Wake the running service, or deliver the approved alerts in this process until they are done."""
    db = settings.path(settings.storage.path)
    if await instance.wake(db):
        log.info("the running service delivers it")
        return
    lock = None if no_wait else instance.try_lock(db)
    if lock is None:
        log.info("no service is running; `run.py serve` will deliver it")
        return
    with lock:
        await _deliver_here(settings, store, alert_ids)


async def _settled(store: SQLiteStore, alert_ids: list[str]) -> bool:
    """No alert of ``alert_ids`` has deliveries left to make."""
    for alert_id in alert_ids:
        alert = await store.get_alert(alert_id)
        if alert is not None and alert.state in (AlertState.APPROVED, AlertState.DISPATCHING):
            return False
    return True


async def _deliver_here(settings: Settings, store: SQLiteStore, alert_ids: list[str]) -> None:
    await store.recover(time.time(), all_leases=True)
    channels = build_channels(settings, Renderer(settings), os.environ, store)
    for notice in channels.notices:
        log.info(notice)
    try:
        tune_gc()  # a fan-out of its own: the same collector settings as the service
        async with Dispatcher(store, channels, settings) as dispatcher:
            await dispatcher.wait_until(lambda: _settled(store, alert_ids))
    finally:
        for ch in {*channels.live.values(), *channels.exercise.values()}:
            await ch.aclose()


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds") if ts else None


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
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        alert = await store.get_alert(args.alert_id)
        if alert is None:
            raise InputError(f"no alert {args.alert_id!r}")
        reports = [_report_json(r) for r in await store.report(alert.id)]
    finally:
        await store.aclose()
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


async def cmd_subscribers(settings: Settings, args: argparse.Namespace) -> int:
    """Import, export or count subscribers."""
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        if args.action == "import":
            reader = CsvReader(settings)
            try:
                # the rows are read on the store's thread, inside the import transaction
                with open(args.file, encoding="utf-8-sig", newline="") as f:  # noqa: ASYNC230
                    n = await store.import_subscribers(checked(reader, f))
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"{args.file}: {exc}") from None
            await store.audit(os.environ.get("USER", "cli"), "subscribers.import", args.file, f"{n} rows", "cli")
            print(f"imported {n} subscriber(s)")
        elif args.action == "export":
            writer = CsvWriter(sys.stdout)
            await store.export_subscribers(writer.write)
        else:
            counts = await store.subscriber_counts()
            print(f"{'category':<10} {'channel':<6} {'state':<8} count")
            for (channel, category, state), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
                print(f"{category:<10} {channel:<6} {state:<8} {n}")
            if args.show_contacts:
                print()
                await store.export_subscribers(CsvWriter(sys.stdout).write)
    finally:
        await store.aclose()
    return 0


async def cmd_jma_replay(settings: Settings, documents: list[tuple[str, bytes]]) -> int:
    """Hand documents to the JMA pipeline as if the feed had delivered them; prints one line each."""
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        ingest = JmaIngest(store, settings, store.approve)
        handled = [await ingest.handle(name, data) for name, data in documents]
        for h in handled:
            print(json.dumps({"file": h.source, "kind": h.kind, "decision": h.decision, "reason": h.reason,
                              "alert": h.alert_id}, ensure_ascii=False))  # fmt: skip
        auto = [h.alert_id for h in handled if h.alert_id and h.decision == "auto"]
        if auto:
            await hand_over(settings, store, auto)
    finally:
        await store.aclose()
    return 1 if any(h.decision == "refused" for h in handled) else 0


def run_jma(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py jma …`."""
    if args.action == "inspect":
        return cli_jma.cmd_inspect(settings, args)
    if args.action == "serve-samples":
        return cli_jma.cmd_serve_samples(settings, args)
    documents = []
    for name in args.files:
        try:
            documents.append((Path(name).name, Path(name).read_bytes()))
        except OSError as exc:
            raise InputError(f"cannot read {name}: {exc.strerror}") from None
    return asyncio.run(cmd_jma_replay(settings, documents))


COMMANDS = {
    "send": cmd_send,
    "status": cmd_status,
    "subscribers": cmd_subscribers,
    "users": cli_accounts.cmd_users,
    "tokens": cli_accounts.cmd_tokens,
}
