"""`run.py send`: create and approve an alert, and deliver it here unless the service is running."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from broadcaster import districts, drafts
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
    """The alert the flags describe, checked like the console's form and the API (drafts.build)."""
    fields = {
        "category": args.category,
        "level": args.level or 0,
        "title": args.title,
        "body": args.body,
        "instruction": args.instruction,
        "channels": tuple(c.strip() for c in (args.channels or "").split(",") if c.strip()) or None,
        # an unknown id fails drafts.build, naming the valid ones, before the store is opened
        "districts": tuple(d.strip() for d in (args.districts or "").split(",") if d.strip()),
        "mode": "exercise" if args.exercise else "live",
    }
    draft = drafts.parse(fields)  # InputError "title: …" names the field; flags are named the same
    return drafts.build(settings, draft, os.environ.get("USER", "cli"), Source.STAFF)


def _confirm_live(settings: Settings, alert: Alert, audience: dict[str, int]) -> None:
    reach = ", ".join(f"{ch} ({n} recipients)" if n else ch for ch, n in audience.items())
    # the places in words, as residents will read them: an officer checks names, not ids
    where = f"{districts.WHOLE_CITY_JA} (the whole city)"
    if alert.districts:
        where = districts.names(alert.districts, settings)
    print(f"LIVE alert to residents: {alert.title}\n  where: {where}\n  channels: {reach}", file=sys.stderr)
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
        await store.check_data_key()  # delivering here opens contacts: refused before anything is stored
        if alert.mode == Mode.LIVE and not args.yes:
            _confirm_live(settings, alert, await store.reach(alert))
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
