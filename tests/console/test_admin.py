"""The admin pages (accounts, the read-only config) and the audit log with its CSV export."""

from __future__ import annotations

import csv
import html
import io
import logging
import re
import sqlite3
import time

import pytest

from broadcaster.models import Role
from broadcaster.store import sql_journal
from tests.console.conftest import PASSWORD, Browser, ConsoleSite, Reply

ONE_TIME = re.compile(r'<code class="one-time-password">([^<]+)</code>')
ROW_ID = re.compile(r'<tr data-id="(\d+)"')
OLDER = re.compile(r'<a href="([^"]+)" class="older"')
ADMIN_ROUTES = [
    ("GET", "/console/admin/users"),
    ("GET", "/console/admin/config"),
    ("POST", "/console/admin/users"),
    ("POST", "/console/admin/users/target/reset"),
    ("POST", "/console/admin/users/target/role"),
    ("POST", "/console/admin/users/target/disable"),
    ("POST", "/console/admin/users/target/enable"),
    ("POST", "/console/admin/users/target/contacts"),
]
SECRETS = (
    "BROADCASTER_SECRET_KEY", "SMTP_USERNAME", "SMTP_PASSWORD", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET",
    "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD",
)  # fmt: skip


async def login(site: ConsoleSite, name: str, password: str) -> tuple[Browser, Reply]:
    """A new browser that has posted the login form, and the answer."""
    browser = await site.anonymous()
    await browser.get("/console/login")
    return browser, await browser.post("/console/login", {"name": name, "password": password, "next": "/console/"})


async def add_lines(site: ConsoleSite, details: list[str], actor: str = "test", action: str = "note") -> None:
    """Append audit lines in one transaction (as many as a year of use, without a year of waiting)."""
    now = time.time()

    def write(conn: sqlite3.Connection) -> None:
        for detail in details:
            sql_journal.audit(conn, now, actor, action, "target", detail, "192.0.2.1")

    await site.store._write(write)


async def test_a_new_account_gets_a_one_time_password_shown_once_that_must_be_changed(
    console_site: ConsoleSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await console_site.browser("admin1", Role.ADMIN)
    page = await admin.get("/console/admin/users")
    assert page.status == 200 and "admin1" in page.text
    reply = await admin.post("/console/admin/users", {"name": "Sato", "role": "operator"})
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    found = ONE_TIME.search(reply.text)
    assert found, reply.text[:3000]
    password = found.group(1)
    assert "初回ログイン" in reply.text and "初回パスワード変更待ち" in reply.text
    user = await console_site.store.get_user("sato")
    assert user is not None and user.role == Role.OPERATOR and user.must_change
    assert password not in user.password_hash
    assert password not in (await admin.get("/console/admin/users")).text  # shown once only

    sato, reply = await login(console_site, "sato", password)
    assert reply.status == 303
    reply = await sato.get("/console/audit")
    assert (reply.status, reply.location) == (303, "/console/password")
    await sato.get("/console/password")
    new = "a long passphrase of my own"
    reply = await sato.post("/console/password", {"current": password, "new": new, "again": new})
    assert reply.status == 303
    assert (await sato.get("/console/audit")).status == 200
    _, reply = await login(console_site, "sato", password)
    assert reply.status == 401

    lines = await console_site.store.audit_search("", 1000)
    added = [e for e in lines if e.action == "user.add" and e.target == "sato"]
    assert [(e.actor, e.origin) for e in added] == [("admin1", "127.0.0.1")]
    assert not any(password in f"{e.actor} {e.action} {e.target} {e.detail} {e.origin}" for e in lines)
    assert caplog.records and password not in caplog.text


async def test_a_bad_or_taken_name_is_refused_and_nothing_is_stored(console_site: ConsoleSite) -> None:
    admin = await console_site.browser("admin1", Role.ADMIN)
    await admin.get("/console/admin/users")
    before = await console_site.store.list_users()
    for name in ("a b", "x", "<script>", "admin1"):
        reply = await admin.post("/console/admin/users", {"name": name, "role": "operator"})
        assert reply.status == 400 and 'class="error"' in reply.text, name
        assert not ONE_TIME.search(reply.text)
    reply = await admin.post("/console/admin/users", {"name": "kimura", "role": "superuser"})
    assert reply.status == 400
    assert await console_site.store.list_users() == before


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.APPROVER])
async def test_only_an_admin_may_open_the_admin_routes(console_site: ConsoleSite, role: Role) -> None:
    await console_site.add_user("target", Role.OPERATOR)
    browser = await console_site.browser("someone", role)
    assert (await browser.get("/console/audit")).status == 200  # a page with a CSRF field
    for method, path in ADMIN_ROUTES:
        data = {"name": "newbie", "role": "admin"}
        reply = await (browser.get(path) if method == "GET" else browser.post(path, data))
        assert reply.status == 403 and "「管理者」の役割が必要です" in reply.text, (method, path, reply.status)
    target = await console_site.store.get_user("target")
    assert target is not None and target.role == Role.OPERATOR and not target.disabled
    assert await console_site.store.get_user("newbie") is None


async def test_reset_role_disable_and_enable_work_and_are_audited(console_site: ConsoleSite) -> None:
    admin = await console_site.browser("admin1", Role.ADMIN)
    suzuki = await console_site.browser("suzuki", Role.OPERATOR)
    await admin.get("/console/admin/users")

    reply = await admin.post("/console/admin/users/suzuki/role", {"role": "approver"})
    assert (reply.status, reply.location) == (303, "/console/admin/users")
    user = await console_site.store.get_user("suzuki")
    assert user is not None and user.role == Role.APPROVER
    assert (await suzuki.get("/console/audit")).status == 303  # a new role needs a new login

    reply = await admin.post("/console/admin/users/suzuki/disable")
    assert reply.status == 303
    page = await admin.get("/console/admin/users")
    assert re.search(r'id="user-suzuki">.*?無効', page.text, re.S)
    assert (await login(console_site, "suzuki", PASSWORD))[1].status == 401

    assert (await admin.post("/console/admin/users/suzuki/enable")).status == 303
    assert (await login(console_site, "suzuki", PASSWORD))[1].status == 303

    await admin.get("/console/admin/users")
    reply = await admin.post("/console/admin/users/suzuki/reset")
    found = ONE_TIME.search(reply.text)
    assert reply.status == 200 and found
    assert (await login(console_site, "suzuki", PASSWORD))[1].status == 401
    assert (await login(console_site, "suzuki", found.group(1)))[1].status == 303

    assert (await admin.post("/console/admin/users/nobody/reset")).status == 404
    lines = [e for e in await console_site.store.audit_search("", 1000) if e.target == "suzuki" and e.actor == "admin1"]
    done = [(e.action, e.detail, e.origin) for e in reversed(lines)]
    assert done == [
        ("user.update", "role=approver disabled=False", "127.0.0.1"),
        ("user.update", "role=approver disabled=True", "127.0.0.1"),
        ("user.update", "role=approver disabled=False", "127.0.0.1"),
        ("user.reset_password", "", "127.0.0.1"),
    ]


async def test_an_admin_cannot_disable_themself_or_drop_their_own_admin_role(console_site: ConsoleSite) -> None:
    admin = await console_site.browser("admin1", Role.ADMIN)
    await admin.get("/console/admin/users")
    reply = await admin.post("/console/admin/users/admin1/disable")
    assert reply.status == 400 and "自分自身のアカウントは無効にできません" in reply.text
    reply = await admin.post("/console/admin/users/admin1/role", {"role": "operator"})
    assert reply.status == 400 and "自分自身から管理者の役割を外すことはできません" in reply.text
    user = await console_site.store.get_user("admin1")
    assert user is not None and user.role == Role.ADMIN and not user.disabled
    assert (await admin.get("/console/admin/users")).status == 200  # still logged in
    assert not [e for e in await console_site.store.audit_search("user.update", 100)]


async def test_the_config_page_shows_sections_and_which_secrets_are_set_never_their_values(
    console_site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "mastodon-token-do-not-show-7f3a9c"
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", secret)
    admin = await console_site.browser("admin1", Role.ADMIN)
    page = await admin.get("/console/admin/config")
    assert page.status == 200
    assert 'id="config-city"' in page.text and 'id="config-console"' in page.text
    assert "idle_timeout" in page.text and console_site.settings.city.name in page.text
    assert "levels" in page.text and "[0].level" in page.text
    for name in SECRETS:
        assert f'data-env="{name}"' in page.text, name
    assert 'data-env="MASTODON_ACCESS_TOKEN" data-set="yes"' in page.text
    assert 'data-env="LINE_CHANNEL_ACCESS_TOKEN" data-set="no"' in page.text
    assert secret not in page.text
    assert 'data-channel="email" data-runs="outbox"' in page.text  # no BROADCASTER_SECRET_KEY in the tests
    assert "OutboxChannel" in page.text


async def test_the_audit_page_lists_logins_with_their_origin_searches_and_pages(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("tanaka", Role.OPERATOR)
    page = await operator.get("/console/audit")
    assert page.status == 200
    row = re.search(r'<tr data-id="\d+" data-action="login">(.*?)</tr>', page.text, re.S)  # the newest: this login
    assert row and "tanaka" in row.group(1) and ">ログイン<" in row.group(1) and "127.0.0.1" in row.group(1)
    assert re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>", row.group(1))
    assert "/console/audit.csv" not in page.text  # an operator cannot export

    await add_lines(console_site, [f"paging line {i:03}" for i in range(150)])
    first = await operator.get("/console/audit?q=paging+line")
    ids = [int(i) for i in ROW_ID.findall(first.text)]
    assert len(ids) == 100 and ids == sorted(ids, reverse=True)
    assert "paging line 149" in first.text and "paging line 049" not in first.text
    older = OLDER.search(first.text)
    assert older
    second = await operator.get(html.unescape(older.group(1)))
    more = [int(i) for i in ROW_ID.findall(second.text)]
    assert len(more) == 50 and max(more) < min(ids) and "paging line 000" in second.text
    assert not OLDER.search(second.text)

    found = await operator.get("/console/audit?q=line+123")
    assert ROW_ID.findall(found.text) and "paging line 123" in found.text and "paging line 122" not in found.text
    assert (await operator.get("/console/audit?before=abc")).status == 400


async def test_html_in_the_log_shows_escaped(console_site: ConsoleSite) -> None:
    await console_site.store.audit("<b>actor</b>", "note", "x", '<script>alert("x")</script>', "192.0.2.7")
    browser = await console_site.browser("ito", Role.APPROVER)
    page = await browser.get("/console/audit")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text and "&lt;b&gt;actor&lt;/b&gt;" in page.text
    assert "<script>alert" not in page.text and "<b>actor" not in page.text


async def test_the_csv_export_holds_every_line_quoted_and_with_formulas_neutralised(console_site: ConsoleSite) -> None:
    tricky = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", 'comma, "quote" and\nnew line', "plain"]
    await console_site.store.audit("@evil", "note", "=target", tricky[0], "192.0.2.9")
    await add_lines(console_site, [f"bulk {i}" for i in range(2100)] + tricky)  # more than one batch
    approver = await console_site.browser("ito", Role.APPROVER)
    async with approver.client.get("/console/audit.csv") as r:
        assert r.status == 200, await r.text()
        body = await r.read()
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert re.fullmatch(r'attachment; filename="audit-\d{8}-\d{6}\.csv"', r.headers["Content-Disposition"])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["id", "time_jst", "actor", "action", "target", "detail", "origin"]
    stored = await console_site.store.audit_search("", 100_000)
    assert [int(row[0]) for row in rows[1:]] == [e.id for e in stored]  # every line, newest first
    assert any(row[3] == "audit.export" and row[2] == "ito" for row in rows[1:])  # the export itself is audited
    details = {row[5] for row in rows[1:]}
    assert {"'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "'\tx", 'comma, "quote" and\nnew line'} <= details
    assert "=cmd|' /C calc'!A0" not in details
    evil = next(row for row in rows[1:] if row[2] == "'@evil")
    assert evil[4] == "'=target" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", evil[1])

    async with approver.client.get("/console/audit.csv?q=calc") as r:
        found = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"), newline="")))
    assert len(found) > 2 and all("calc" in " ".join(row) for row in found[1:])


async def test_an_operator_cannot_export_the_log(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("tanaka", Role.OPERATOR)
    reply = await operator.get("/console/audit.csv")
    assert reply.status == 403
    assert not await console_site.store.audit_search("audit.export", 10)


async def test_the_audit_log_cannot_be_changed(console_site: ConsoleSite) -> None:
    routes = {(r.method, r.resource.canonical) for r in console_site.app.router.routes() if r.resource}
    writes = [(m, p) for m, p in routes if p.startswith("/console/audit") and m not in ("GET", "HEAD")]
    assert writes == []
    await console_site.store.audit("test", "note", "x", "original", "192.0.2.1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await console_site.store._write(lambda c: c.execute("UPDATE audit SET detail = 'forged'"))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await console_site.store._write(lambda c: c.execute("DELETE FROM audit"))
    assert (await console_site.store.audit_log(1))[0].detail == "original"
