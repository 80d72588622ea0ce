"""Fixtures shared by the feed tests: an HTTP client session and a folder to serve as a feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session (the poller's injected one), closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder that the local feed server serves."""
    path = tmp_path / "feed"
    path.mkdir()
    return path
