"""One service per SQLite file: an exclusive lock, and a socket other processes use to wake it."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

from broadcaster.files import make_private_dirs


def lock_path(db: Path) -> Path:
    """The lock file beside the database."""
    return db.with_name(db.name + ".lock")


def wake_path(db: Path) -> Path:
    """The wake socket beside the database."""
    return db.with_name(db.name + ".wake")


def try_lock(db: Path) -> IO[bytes] | None:
    """Take the instance lock, or None if another process holds it. The lock dies with the process."""
    path = lock_path(db)
    make_private_dirs(path.parent)  # the database's folder: owner-only if this makes it
    f = path.open("ab")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


@contextlib.asynccontextmanager
async def wake_server(db: Path, on_wake: Callable[[], None]) -> AsyncIterator[None]:
    """Listen on the wake socket; every connection calls ``on_wake``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        on_wake()
        writer.close()

    path = wake_path(db)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a crashed service; we hold the lock, so it is not in use
    server = await asyncio.start_unix_server(handle, path=os.fspath(path))
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def wake(db: Path) -> bool:
    """Wake the service that owns ``db``; False if none is listening."""
    try:
        _, writer = await asyncio.open_unix_connection(os.fspath(wake_path(db)))
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
