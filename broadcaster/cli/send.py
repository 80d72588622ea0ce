"""`run.py send`: create and approve an alert, and deliver it here unless the service is running."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time

from broadcaster import drafts
from broadcaster.cli.db import opened_store
from broadcaster.cli.delivery import hand_over
from broadcaster.errors import InputError
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, Mode, Source
from broadcaster.settings import Settings

log = logging.getLogger("broadcaster")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py send …`."""
    return asyncio.run(cmd_send(settings, args))


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
    now = time.time()
    alert_id = drafts.new_id(now)
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
        created_at=now,
        created_by=os.environ.get("USER", "cli"),
    )


def _confirm_live(alert: Alert, audience: dict[str, int]) -> None:
    reach = ", ".join(f"{ch} ({n} recipients)" if n else ch for ch, n in audience.items())
    print(f"LIVE alert to residents: {alert.title}\n  channels: {reach}", file=sys.stderr)
    if not sys.stdin.isatty():
        raise InputError("a live alert needs --yes, or a terminal to confirm it")
    try:
        answer = input("Type LIVE to send it to residents now: ")
    except EOFError:
        answer = ""
    if answer.strip() != "LIVE":
        raise InputError("not confirmed; nothing was stored")


async def cmd_send(settings: Settings, args: argparse.Namespace) -> int:
    """Create and approve an alert; deliver it here unless the service is running."""
    alert = _alert_from_args(settings, args)
    async with opened_store(settings) as store:
        if alert.mode == Mode.LIVE and not args.yes:
            _confirm_live(alert, await store.audience(alert))
        origin = f"cli pid={os.getpid()}"
        # no dispatcher runs here: hand_over below wakes the service, or delivers in this process
        released = await Lifecycle(store, settings).submit(alert, alert.created_by, origin)
        print(alert.id)
        if released.waiting:
            # the shell is no way round the second person: the alert waits in the console like any other
            url = f"{settings.city.public_url.rstrip('/')}/console/alerts/{alert.id}"
            print(f"waits for a second person's approval (the [approval] policy): {url}", file=sys.stderr)
            return 0
        log.info("alert %s approved: %s", alert.id, json.dumps(dict(released.planned)))
        await hand_over(settings, store, [alert.id], args.no_wait)
    return 0
