"""Accounts, sessions, CSRF and the guard: every route that is not public refuses a visitor without a session."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from broadcaster.accounts import digest
from broadcaster.models import Role
from tests.console.conftest import PASSWORD, ConsoleSite, csrf_of

# Everything a visitor may open without logging in. A new route is protected unless it is added here.
PUBLIC = {
    "/",
    "/alerts/history",
    "/districts",  # the website's page per district (issue 14)
    "/districts/{district_id}",
    "/alerts/{alert_id}",
    "/alerts.atom",
    "/alerts.json",
    "/cap/{alert_id}.xml",
    "/cap.atom",
    "/static/website.css",
    "/subscribe",
    "/subscribe/confirm",
    "/manage",
    "/unsubscribe",
    "/line/webhook",
    "/healthz",
    "/ticker.txt",
    "/ticker.json",
    "/fm/latest.wav",
    "/fm/{alert_id}.wav",
    "/fm/{alert_id}/{lang}.wav",  # one WAV per language (issue 15)
    "/fm/playlist.m3u",
    "/console/login",
    "/console/login/code",
    "/api/v1/openapi.json",
}


def route_paths(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route, static folders included, with placeholders filled in."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if route.method in ("HEAD",) or not path:
            continue
        found.add((route.method, path))
    return found


def public(path: str) -> bool:
    """Whether ``path`` is public: listed, or a listed page of the website in another language (/en/…)."""
    if path.startswith("/{lang}"):
        path = path.removeprefix("/{lang}") or "/"
    return path in PUBLIC


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_route_that_is_not_public_refuses_a_visitor_without_a_session(console_site: ConsoleSite) -> None:
    visitor = await console_site.anonymous()
    routes = route_paths(console_site.app)
    protected = [(m, p) for m, p in routes if not public(p) and not p.startswith("/static")]
    assert len(protected) >= 20, protected  # the console and the API are registered
    for method, path in sorted(protected):
        reply = await (visitor.get(fill(path)) if method == "GET" else visitor.post(fill(path), csrf=False))
        assert reply.status in (401, 303), (method, path, reply.status)
        if reply.status == 303:
            assert reply.location.startswith("/console/login?next="), (method, path, reply.location)


async def test_a_one_time_password_must_be_changed_before_anything_else(console_site: ConsoleSite) -> None:
    password = await console_site.console.accounts.add_user("sato", Role.OPERATOR, "test", "test")
    browser = await console_site.anonymous()
    await browser.get("/console/login")
    reply = await browser.post("/console/login", {"name": "sato", "password": password, "next": "/console/compose"})
    assert (reply.status, reply.location) == (303, "/console/compose")
    reply = await browser.get("/console/compose")
    assert (reply.status, reply.location) == (303, "/console/password")
    page = await browser.get("/console/password")
    assert "一時パスワード" in page.text
    assert "12文字以上" in page.text  # the rule, before the first try
    reply = await browser.post("/console/password", {"current": password, "new": "short", "again": "short"})
    assert reply.status == 400 and "パスワードが短すぎます。12文字以上" in reply.text
    new = "a long and new passphrase"
    reply = await browser.post("/console/password", {"current": password, "new": new, "again": new})
    assert reply.status == 303
    assert (await browser.get("/console/dashboard")).status == 200
    user = await console_site.store.get_user("sato")
    assert user is not None and not user.must_change and user.password_hash.startswith("$argon2id$")


async def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(console_site: ConsoleSite) -> None:
    await console_site.add_user("tanaka", Role.OPERATOR)
    browser = await console_site.anonymous()
    await browser.get("/console/login")
    wrong = await browser.post("/console/login", {"name": "tanaka", "password": "not the password"})
    unknown = await browser.post("/console/login", {"name": "nobody", "password": "not the password"})
    assert wrong.status == unknown.status == 401
    assert "利用者名またはパスワードが違います" in wrong.text and "利用者名またはパスワードが違います" in unknown.text


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("ito", Role.OPERATOR)
    before = await console_site.store.audit_log(100)
    reply = await browser.post("/console/mode", {"mode": "live"}, csrf=False)
    assert reply.status == 403
    reply = await browser.client.post("/console/mode", data={"mode": "live", "csrf": "forged"}, allow_redirects=False)
    assert reply.status == 403
    assert len(await console_site.store.audit_log(100)) == len(before)  # nothing happened
    page = await browser.get("/console/dashboard")
    assert page.status == 200 and 'data-mode="exercise"' in page.text


async def test_a_post_from_another_origin_is_refused_even_with_a_token(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("kato", Role.OPERATOR)
    await browser.get("/console/dashboard")
    reply = await browser.post("/console/mode", {"mode": "live"}, headers={"Origin": "https://evil.example"})
    assert reply.status == 403


async def test_the_session_cookie_is_httponly_samesite_and_stored_only_as_a_hash(console_site: ConsoleSite) -> None:
    await console_site.add_user("yamada", Role.OPERATOR)
    browser = await console_site.anonymous()
    await browser.get("/console/login")
    reply = await browser.post("/console/login", {"name": "yamada", "password": PASSWORD})
    cookie = reply.headers.getall("Set-Cookie")
    session = next(c for c in cookie if c.startswith("console_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    value = session.split(";", 1)[0].split("=", 1)[1]
    assert await console_site.store.touch_session(digest(value), 60, 60) is not None
    assert await console_site.store.touch_session(value, 60, 60) is None


async def test_an_idle_session_ends(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("watanabe", Role.OPERATOR)
    assert (await browser.get("/console/dashboard")).status == 200
    # the session was last used longer ago than idle_timeout (moved back in the database, no sleeping)
    idle = console_site.settings.console.idle_timeout
    await console_site.store._write(lambda c: c.execute("UPDATE sessions SET seen_at = seen_at - ?", (idle + 1,)))
    reply = await browser.get("/console/dashboard")
    assert reply.status == 303 and reply.location.startswith("/console/login")
    assert (await browser.get("/console/dashboard")).status == 303  # and it stays ended


async def test_logout_ends_the_session(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("abe", Role.OPERATOR)
    page = await browser.get("/console/dashboard")
    reply = await browser.post("/console/logout", {"csrf": csrf_of(page.text)}, csrf=False)
    assert reply.status == 303
    assert (await browser.get("/console/dashboard")).status == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console", "/console\\@evil"])
async def test_login_never_redirects_to_another_site(console_site: ConsoleSite, target: str) -> None:
    await console_site.add_user("mori", Role.OPERATOR)
    browser = await console_site.anonymous()
    await browser.get("/console/login")
    reply = await browser.post("/console/login", {"name": "mori", "password": PASSWORD, "next": target})
    assert (reply.status, reply.location) == (303, "/console/")


async def test_sessions_nobody_returns_to_are_dropped_at_the_next_login(console_site: ConsoleSite) -> None:
    await console_site.browser("ueda", Role.OPERATOR)
    lifetime = console_site.settings.console.session_lifetime
    await console_site.store._write(lambda c: c.execute("UPDATE sessions SET seen_at = seen_at - ?", (lifetime + 1,)))
    await console_site.browser("ono", Role.OPERATOR)
    users = await console_site.store._read(lambda c: [r[0] for r in c.execute("SELECT user FROM sessions")])
    assert users == ["ono"]
