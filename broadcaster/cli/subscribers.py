"""`run.py subscribers import | export | list`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from broadcaster.cli.db import opened_store
from broadcaster.errors import InputError
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import CsvReader, CsvWriter, checked


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py subscribers …`."""
    return asyncio.run(cmd_subscribers(settings, args))


async def cmd_subscribers(settings: Settings, args: argparse.Namespace) -> int:
    """Import, export or count subscribers."""
    async with opened_store(settings) as store:
        if args.action == "import":
            await _import(settings, store, args.file)
        elif args.action == "export":
            await store.export_subscribers(CsvWriter(sys.stdout).write)
        else:
            await _list(store, args.show_contacts)
    return 0


async def _import(settings: Settings, store: SQLiteStore, file: str) -> None:
    reader = CsvReader(settings)
    try:
        # the rows are read on the store's thread, inside the import transaction
        with open(file, encoding="utf-8-sig", newline="") as f:  # noqa: ASYNC230
            n = await store.import_subscribers(checked(reader, f))
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}; give a readable CSV file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8; save the CSV as UTF-8 and import it again") from None
    await store.audit(os.environ.get("USER", "cli"), "subscribers.import", file, f"{n} rows", "cli")
    print(f"imported {n} subscriber(s)")


async def _list(store: SQLiteStore, show_contacts: bool) -> None:
    counts = await store.subscriber_counts()
    print(f"{'category':<10} {'channel':<6} {'state':<8} count")
    for (channel, category, state), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        print(f"{category:<10} {channel:<6} {state:<8} {n}")
    if show_contacts:
        print()
        await store.export_subscribers(CsvWriter(sys.stdout).write)
