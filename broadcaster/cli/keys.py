"""`run.py keys new | rotate`: the key subscriber contacts are encrypted with (broadcaster/data_key.py).

Rotation, with the service stopped: put the new key in BROADCASTER_DATA_KEY and the one the contacts
are under in BROADCASTER_DATA_KEY_OLD, run `run.py keys rotate`, then start the service with the new
key alone. Every contact and its lookup hash are rewritten in one transaction: a rotation that stops
half way changed nothing, and running it again after it finished changes nothing either.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3

from broadcaster import instance
from broadcaster.data_key import DATA_KEY_ENV, OLD_KEY_ENV, DataKeys, new_key
from broadcaster.errors import ConfigError
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py keys …`."""
    if args.action == "new":
        print(new_key())
        return 0
    return asyncio.run(rotate(settings))


async def rotate(settings: Settings) -> int:
    """Re-encrypt every contact from the old key to the new one; prints what moved."""
    keys = DataKeys.from_env()
    key = keys.require()
    if keys.old is None:
        raise ConfigError(
            f"`keys rotate` needs the key the contacts are under in {OLD_KEY_ENV}, the new one in {DATA_KEY_ENV}"
        )
    if keys.old.key_id == key.key_id:
        raise ConfigError(f"{OLD_KEY_ENV} is the same key as {DATA_KEY_ENV}: put the new key in {DATA_KEY_ENV}")
    db = settings.path(settings.storage.path)
    try:
        lock = instance.try_lock(db)
    except OSError as exc:
        raise ConfigError(f"cannot take the lock beside {db}: {exc.strerror}; check [storage] path") from None
    if lock is None:
        # the running service keeps the old key in memory: what it stored after the rotation would be lost to it
        raise ConfigError(f"a broadcaster is running on {db}: stop it, rotate, then start it with the new key")
    with lock:
        try:
            store = await SQLiteStore.open(db, keys, rotate=True)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the database {db}: {exc}; check [storage] path") from None
        try:
            moved = store.sealed
            detail = f"{moved.rotated} contact(s) from key id {keys.old.key_id} to {key.key_id}"
            if moved.plain:
                detail += f", and sealed {moved.plain} stored in plain text"
            actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
            await store.audit(actor, "keys.rotate", "subscribers", detail, origin)
        finally:
            await store.aclose()
    print(f"re-encrypted {detail}; start the service with {DATA_KEY_ENV} alone")
    return 0
