"""`run.py subscribers import | export | list`.

Each command that reads or writes contacts (import, export, list --show-contacts) writes an audit
line: who ($USER), what, and how many rows (never a contact). An export cut short (a closed pipe, ^C)
is audited with the rows it had begun to write.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys

from broadcaster import districts
from broadcaster.cli.db import opened_store
from broadcaster.cli.districts import columns
from broadcaster.errors import InputError
from broadcaster.models import Subscriber
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import CsvReader, CsvWriter, checked

# a city's whole list is a few MB (100,000 rows of some 60 bytes): a file this big is the wrong one
MAX_IMPORT_BYTES = 64 * 1024 * 1024


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py subscribers …`."""
    return asyncio.run(cmd_subscribers(settings, args))


async def cmd_subscribers(settings: Settings, args: argparse.Namespace) -> int:
    """Import, export or count subscribers."""
    async with opened_store(settings) as store:
        if args.action != "list" or args.show_contacts:
            store.data_key()  # no key: one line naming BROADCASTER_DATA_KEY, before anything is read or printed
        if args.action == "import":
            await _import(settings, store, args.file)
        elif args.action == "export":
            await _export(store, "export")
        else:
            await _list(settings, store, args.show_contacts)
    return 0


async def _import(settings: Settings, store: SQLiteStore, file: str) -> None:
    reader = CsvReader(settings)
    try:
        text = await asyncio.to_thread(_read_csv, file)
        # the rows are checked on the store's thread, inside the import transaction
        n = await store.import_subscribers(checked(reader, text))
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}; give a readable CSV file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8; save the CSV as UTF-8 and import it again") from None
    await store.audit(actor(), "subscribers.import", file, f"{n} rows", "cli")
    print(f"imported {n} subscriber(s)")


def _read_csv(file: str) -> io.StringIO:
    """The whole file as text, read no further than MAX_IMPORT_BYTES + 1 (so /dev/zero ends too)."""
    with open(file, "rb") as f:
        data = f.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise InputError(f"{file} is larger than {MAX_IMPORT_BYTES} bytes; give the subscriber CSV file")
    return io.StringIO(data.decode("utf-8-sig"), newline="")


async def _list(settings: Settings, store: SQLiteStore, show_contacts: bool) -> None:
    counts = await store.subscriber_counts()
    print(f"{'category':<10} {'channel':<6} {'state':<8} count")
    for (channel, category, state), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        print(f"{category:<10} {channel:<6} {state:<8} {n}")
    if settings.districts:
        await _by_district(settings, store)
    if show_contacts:
        print()
        await _export(store, "list --show-contacts")


async def _by_district(settings: Settings, store: SQLiteStore) -> None:
    """Active subscribers by the district they chose (one who chose two counts in both), the whole city first."""
    counts = await store.district_counts()
    print()
    rows = [("district", "id", "active"), (districts.WHOLE_CITY_JA, "", str(counts.get("", 0)))]
    rows += [(d.name, d.id, str(counts.get(d.id, 0))) for d in settings.districts]
    rows += [
        ("(no such district now)", gone, str(n))
        for gone, n in sorted(counts.items())
        if gone and settings.district(gone) is None
    ]
    for line in columns(rows, right={2}):
        print(line)


def actor() -> str:
    """Who runs the command, for the audit log: the login name ($USER)."""
    return os.environ.get("USER", "") or "cli"


async def _export(store: SQLiteStore, command: str) -> None:
    """Every subscriber as CSV on standard output, audited with how many rows were written."""
    writer = CsvWriter(sys.stdout)
    written = 0

    def write(batch: list[Subscriber]) -> None:
        nonlocal written
        written += len(batch)  # counted first: a batch cut short may still have left in part
        writer.write(batch)

    try:
        await store.export_subscribers(write)
    finally:
        await store.audit(actor(), "subscribers.export", command, f"{written} rows", "cli")
