"""Shared factories: a site config in a temporary folder, a real SQLite store on it, an SMTP relay."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from playwright.async_api import Browser, async_playwright

from broadcaster.data_key import DATA_KEY_ENV, OLD_KEY_ENV
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from tests.smtp_server import Relay, running_relay

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SiteFactory = Callable[..., Path]
TEST_PASSWORD_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
EXAMPLE_DISTRICTS = ROOT / "config" / "example-districts.toml"
TEST_DATA_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # bytes 0-31, base64url: a fixed key, runs repeat


def toml_value(value: Any) -> str:
    """A Python value as a TOML value (enough for tests' site files)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def toml_sections(sections: dict[str, dict[str, Any]]) -> list[str]:
    """``{"a.b": {key: value}}`` as the lines of TOML tables."""
    lines = []
    for section, values in sections.items():
        lines += [f"[{section}]", *(f"{k} = {toml_value(v)}" for k, v in values.items()), ""]
    return lines


@pytest.fixture(autouse=True)
def data_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test's BROADCASTER_DATA_KEY, which seals subscriber contacts (run.py children inherit it).

    A test of what happens without it deletes it with ``monkeypatch.delenv``.
    """
    monkeypatch.setenv(DATA_KEY_ENV, TEST_DATA_KEY)
    monkeypatch.delenv(OLD_KEY_ENV, raising=False)
    return TEST_DATA_KEY


@pytest.fixture
def site(tmp_path: Path) -> SiteFactory:
    """Write a site config whose storage lives in tmp_path; ``sections`` are {"a.b": {key: value}}."""

    def write(
        sections: dict[str, dict[str, Any]] | None = None, name: str = "site.toml", districts: bool = False
    ) -> Path:
        merged: dict[str, dict[str, Any]] = {
            "storage": {
                "path": str(tmp_path / "var" / "broadcaster.db"),
                "outbox_dir": str(tmp_path / "var" / "outbox"),
            },
            "retry": {"base_delay": 0.0, "max_delay": 0.0, "jitter": 0.0},
            "jma": {"enabled": False},  # tests that poll point [jma] feeds at a local server
            # Open JTalk in a thread: a service started per test would otherwise spawn a worker process per
            # CPU, each loading its own interpreter and dictionary (test_crash keeps the workers on purpose)
            "fm": {"drop_dir": str(tmp_path / "var" / "fm"), "workers": 1},
            # argon2's cheapest sensible cost: every console test hashes passwords, and the real cost is CPU on purpose
            "console.password_hash": dict(TEST_PASSWORD_HASH),
        }
        for section, values in (sections or {}).items():
            merged.setdefault(section, {}).update(values)
        lines = toml_sections(merged)
        if districts:  # the made-up 地区 of config/example-districts.toml: east, west, south (outlines), north (none)
            lines.append(EXAMPLE_DISTRICTS.read_text(encoding="utf-8"))
        path = tmp_path / name
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings(site: SiteFactory) -> Settings:
    """Default settings with storage in a temporary folder and zero retry waits."""
    return load_settings(site())


@pytest.fixture
def district_settings(site: SiteFactory) -> Settings:
    """As ``settings``, with config/example-districts.toml's made-up districts (east, west, south, north)."""
    return load_settings(site(districts=True))


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SQLiteStore]:
    """A real SQLite store in a temporary folder."""
    s = await SQLiteStore.open(settings.path(settings.storage.path))
    yield s
    await s.aclose()


@pytest.fixture
def run_py() -> list[str]:
    """The command that runs run.py with this interpreter."""
    return [sys.executable, str(ROOT / "run.py")]


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority; the relay's certificate is for 127.0.0.1."""
    return trustme.CA()


@pytest.fixture
def relay(ca: trustme.CA) -> Iterator[Relay]:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH (tests/smtp_server.py)."""
    with running_relay(ca) as r:
        yield r


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from Debian's package (/usr/bin/chromium), driven by playwright."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat before the test starts
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install chromium fonts-noto-cjk`")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
