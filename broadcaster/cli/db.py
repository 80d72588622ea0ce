"""The commands' way into the store: a database that cannot be opened is one line naming it, not a traceback."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

from broadcaster.errors import ConfigError
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[SQLiteStore]:
    """The configured SQLite store, open for the block and closed after it."""
    db = settings.path(settings.storage.path)
    try:
        store = await SQLiteStore.open(db)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open the database {db}: {exc}; check [storage] path") from None
    try:
        yield store
    finally:
        await store.aclose()
