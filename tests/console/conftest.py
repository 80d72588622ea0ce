"""The whole service in process (make_app, as `run.py serve` runs it) and browsers logged in to its console.

Each Browser is its own aiohttp client with its own cookie jar, so an operator and an approver can
work side by side on one server. Accounts are made the way `run.py users add` makes them; the
fixture then sets a known password, as the first login would.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster import instance
from broadcaster.accounts import hash_password
from broadcaster.models import Alert, AlertState, Role
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.console.web import CONSOLE, Console
from broadcaster.web.service import CORE, Core, make_app

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SiteFactory = Callable[..., Path]


def csrf_of(page: str) -> str:
    """The CSRF field of the first form on a page."""
    found = CSRF.search(page)
    assert found, f"no CSRF field on the page:\n{page[:2000]}"
    return found.group(1)


@dataclass
class Reply:
    """A response, read."""

    status: int
    text: str
    location: str
    headers: Any


class Browser:
    """One person's browser on the console: a cookie jar and the CSRF field of the last page."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client
        self.token = ""

    async def get(self, path: str, **kw: Any) -> Reply:
        """GET without following redirects; remembers the page's CSRF field."""
        async with self.client.get(path, allow_redirects=False, **kw) as r:
            reply = Reply(r.status, await r.text(), r.headers.get("Location", ""), r.headers)
        found = CSRF.search(reply.text)
        if found:
            self.token = found.group(1)
        return reply

    async def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> Reply:
        """POST a form (with the CSRF field of the last page unless told not to), not following redirects."""
        form: list[tuple[str, str]] = []
        for key, value in (data or {}).items():
            form.extend((key, str(v)) for v in (value if isinstance(value, list | tuple) else [value]))
        if csrf:
            if not self.token:
                await self.get("/console/login")
            form.append(("csrf", self.token))
        async with self.client.post(path, data=form, allow_redirects=False, **kw) as r:
            reply = Reply(r.status, await r.text(), r.headers.get("Location", ""), r.headers)
        found = CSRF.search(reply.text)
        if found:
            self.token = found.group(1)
        return reply

    async def follow(self, reply: Reply) -> Reply:
        """GET where a redirect points."""
        assert reply.status in (302, 303), (reply.status, reply.text[:500])
        return await self.get(reply.location)


@dataclass
class ConsoleSite:
    """The service on a test server."""

    server: TestServer
    app: web.Application
    clients: list[TestClient[web.Request, web.Application]]

    @property
    def core(self) -> Core:
        return self.app[CORE]

    @property
    def console(self) -> Console:
        return self.app[CONSOLE]

    @property
    def store(self) -> SQLiteStore:
        return self.core.store

    @property
    def settings(self) -> Settings:
        return self.core.settings

    async def anonymous(self) -> Browser:
        """A browser with no session."""
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return Browser(client)

    async def add_user(self, name: str, role: Role, password: str = PASSWORD) -> None:
        """An account as `run.py users add` makes it, with its password already changed to ``password``."""
        await self.console.accounts.add_user(name, role, "test", "test")
        hashed = hash_password(password, self.settings.console.password_hash)
        await self.store.set_password(name, hashed, False, name, "test")

    async def browser(self, name: str, role: Role = Role.OPERATOR) -> Browser:
        """A browser logged in as ``name`` (the account is made when it does not exist)."""
        if await self.store.get_user(name) is None:
            await self.add_user(name, role)
        browser = await self.anonymous()
        await browser.get("/console/login")
        reply = await browser.post("/console/login", {"name": name, "password": PASSWORD, "next": "/console/"})
        assert reply.status == 303, (reply.status, reply.text[:1000])
        return browser

    async def settled(self, alert_id: str, within: float = 60.0) -> Alert:
        """The alert once every delivery row has reached a final state."""
        done = (AlertState.DONE, AlertState.CANCELLED)

        async def check() -> bool:
            alert = await self.store.get_alert(alert_id)
            return alert is not None and alert.state in done

        deadline = time.monotonic() + within
        while not await check():
            assert time.monotonic() < deadline, f"alert {alert_id} did not settle"
            await self.core.dispatcher.wait_until(check)
        alert = await self.store.get_alert(alert_id)
        assert alert is not None
        return alert


@pytest.fixture
def console_settings(site: SiteFactory) -> Callable[..., Settings]:
    """Settings for the console tests; ``sections`` as for the ``site`` fixture; ``districts``: "oyama"
    (default.toml's eleven, no towns or outlines), "example" (config/example-districts.toml's) or "none"
    (``districts = []``, as config/example-other-town.toml has it)."""

    def make(sections: dict[str, dict[str, Any]] | None = None, districts: str = "oyama") -> Settings:
        path = site(sections, districts=districts == "example")
        if districts == "none":
            path.write_text("districts = []\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        return load_settings(path)

    return make


SiteMaker = Callable[..., Awaitable[ConsoleSite]]
SECRET = "a test secret that is long enough"


@pytest.fixture
async def make_site(
    console_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SiteMaker]:
    """Start the whole service with settings ``sections`` (every channel without credentials); closed after.

    ``districts`` as for ``console_settings``: "example" is config/example-districts.toml's made-up
    east, west, south (with outlines) and north (without).
    """
    for name in ("LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET", "X_API_KEY", "SMTP_USERNAME", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    sites: list[ConsoleSite] = []

    async def make(
        sections: dict[str, dict[str, Any]] | None = None, secret: bool = False, districts: str = "oyama"
    ) -> ConsoleSite:
        if secret:
            monkeypatch.setenv("BROADCASTER_SECRET_KEY", SECRET)
        else:
            monkeypatch.delenv("BROADCASTER_SECRET_KEY", raising=False)
        settings = console_settings(sections, districts)
        lock = instance.try_lock(settings.path(settings.storage.path))
        assert lock is not None
        server = TestServer(make_app(settings, lock))
        await server.start_server()
        sites.append(ConsoleSite(server, server.app, []))
        return sites[-1]

    yield make
    for site in sites:
        for client in site.clients:
            await client.close()
        await site.server.close()


@pytest.fixture
async def console_site(make_site: SiteMaker) -> ConsoleSite:
    """The whole service with the default settings on a test server."""
    return await make_site()
