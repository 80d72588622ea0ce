"""Fixtures shared by the feed tests: an HTTP client session, a folder to serve as a feed, and a site
whose [jma] trusts the test CA (tests/feeds/tls.py) and allows the local hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.feeds.tls import HOSTS, write_ca

SiteFactory = Callable[..., Path]


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


@pytest.fixture
def site(site: SiteFactory, tmp_path: Path) -> SiteFactory:
    """The suite's site factory, with [jma] trusting the test CA and fetching from the local hosts (and JMA's)."""
    ca_file = write_ca(tmp_path / "test-ca.pem")

    def write(
        sections: dict[str, dict[str, Any]] | None = None, name: str = "site.toml", districts: bool = False
    ) -> Path:
        sections = dict(sections or {})
        local = {"allowed_hosts": [*HOSTS, "www.data.jma.go.jp"], "ca_file": str(ca_file)}
        sections["jma"] = local | sections.get("jma", {})
        return site(sections, name, districts)

    return write
