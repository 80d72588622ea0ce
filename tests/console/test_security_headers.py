"""Every response carries the security headers and a Server header without versions, and the URLs the
service builds come from [city] public_url, never from the Host a request names.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster.models import DeliveryState, Outcome
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import fm as fm_feed
from broadcaster.web import headers
from tests.conftest import SiteFactory
from tests.console.conftest import ConsoleSite
from tests.console.test_hostile_input import raw_request
from tests.test_store import ACTOR, ORIGIN, make_alert

EVIL = "evil.example"

RESPONSES = {  # path, the status it answers with, what kind of response it is
    "json": ("/ticker.json", 200),
    "api-json": ("/api/v1/openapi.json", 200),
    "feed": ("/alerts.atom", 200),
    "cap-feed": ("/cap.atom", 200),
    "text": ("/ticker.txt", 200),
    "file": ("/static/console.css", 200),
    "html": ("/console/login", 200),
    "website": ("/", 200),
    "redirect": ("/console/dashboard", 303),
    "error": ("/ticker.txt?charset=ebcdic", 400),
    "api-error": ("/api/v1/alerts", 401),
    "not-found": ("/no/such/page", 404),
    "website-not-found": ("/alerts/no-such-alert", 404),
    "wrong-method": ("/alerts.json", 405),
}


@pytest.mark.parametrize(("path", "status"), RESPONSES.values(), ids=RESPONSES.keys())
async def test_every_response_carries_the_security_headers(console_site: ConsoleSite, path: str, status: int) -> None:
    client = await console_site.anonymous()
    method = "POST" if status == 405 else "GET"
    async with client.client.request(method, path, allow_redirects=False) as r:
        assert r.status == status
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert "frame-ancestors" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] in ("no-referrer", "same-origin")
        assert r.headers["Server"] == headers.SERVER
        assert "aiohttp" not in r.headers["Server"] and "Python" not in r.headers["Server"]


async def test_pages_keep_their_own_policy(console_site: ConsoleSite) -> None:
    client = await console_site.anonymous()
    async with client.client.get("/console/login") as r:
        assert r.headers["Content-Security-Policy"] == headers.CONSOLE[headers.CSP]
    async with client.client.get("/ticker.json") as r:
        assert r.headers["Content-Security-Policy"] == headers.NONE


async def test_feeds_ignore_the_host_a_request_names(console_site: ConsoleSite) -> None:
    client = await console_site.anonymous()
    public = console_site.settings.city.public_url.rstrip("/")
    for path in ("/alerts.atom", "/alerts.json", "/cap.atom"):
        async with client.client.get(path, headers={"Host": EVIL, "X-Forwarded-Host": EVIL}) as r:
            body = await r.text()
        assert r.status == 200
        assert EVIL not in body
        assert path.endswith(".json") or public in body, path  # the JSON has links only when alerts are on it


@pytest.fixture
def fm_settings(site: SiteFactory, tmp_path: Path) -> Settings:
    """The default settings with an FM drop folder and a public URL of the city's own."""
    return load_settings(
        site({"fm": {"drop_dir": str(tmp_path / "drop")}, "city": {"public_url": "https://bousai.example.jp/"}})
    )


@pytest.fixture
async def fm_client(
    store: SQLiteStore, fm_settings: Settings
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The FM routes with one live alert on air (its WAV written by hand: no speech engine needed)."""
    alert = make_alert("on-air", ("fm",))
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    claims = await store.claim("fm", 10, time.time() + 60, time.time())
    await store.record("fm", [Outcome(claims[0].id, alert.id, DeliveryState.SENT)], time.time())
    drop = fm_settings.path(fm_settings.fm.drop_dir)
    drop.mkdir(parents=True, exist_ok=True)
    (drop / f"{alert.id}.wav").write_bytes(b"RIFF")
    app = web.Application()
    fm_feed.add_routes(app)
    fm_feed.setup(app, store, fm_settings, Renderer(fm_settings))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_the_playlist_links_to_the_public_url_whatever_the_host(
    fm_client: TestClient[web.Request, web.Application],
) -> None:
    async with fm_client.get("/fm/playlist.m3u", headers={"Host": EVIL, "X-Forwarded-Host": EVIL}) as r:
        body = await r.text()
    assert r.status == 200
    assert EVIL not in body
    assert "https://bousai.example.jp/fm/on-air.wav" in body.splitlines()


async def test_a_request_the_parser_refuses_names_no_versions_either(console_site: ConsoleSite) -> None:
    answer = await raw_request(console_site, "GET", b"/\xff\x00 bad")  # refused before the app runs
    assert 400 <= answer.status < 500
    assert answer.headers.get("server") == headers.SERVER
