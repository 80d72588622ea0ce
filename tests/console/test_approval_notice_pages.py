"""The console's side of approval notices: the dashboard shows how long each alert has waited for
approval, with a link to it; the admin sets an account's contacts, which no other page shows."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import re
import sqlite3
import time

from broadcaster.models import Role
from tests.console.conftest import ConsoleSite
from tests.test_store import ORIGIN, make_alert

LINE_ID = "U" + "0123456789abcdef" * 2


async def test_the_dashboard_shows_how_long_each_alert_has_waited_and_links_to_it(console_site: ConsoleSite) -> None:
    store = console_site.store
    alert = dataclasses.replace(make_alert("wait-1"), created_by="sato")
    await store.create_alert(alert, "sato", ORIGIN)
    await store.request_approval(alert.id, "sato", ORIGIN)
    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as conn:
        conn.execute("UPDATE alerts SET requested_at = ? WHERE id = ?", (time.time() - 252, alert.id))
    browser = await console_site.browser("suzuki", Role.APPROVER)

    page = (await browser.get("/console/dashboard")).text

    found = re.search(r'<li data-waiting="wait-1">(.*?)</li>', page, re.DOTALL)
    assert found, page[:3000]
    item = html.unescape(found.group(1))
    assert re.search(r"承認待ち 4分1\d秒", item), item  # 252 s ago, give or take the test's own seconds
    assert 'href="/console/alerts/wait-1"' in item and alert.title in item and "sato" in item


async def test_the_admin_sets_contacts_a_bad_one_stores_nothing_and_they_show_on_no_other_page(
    console_site: ConsoleSite,
) -> None:
    await console_site.add_user("tanaka", Role.APPROVER)
    admin = await console_site.browser("admin1", Role.ADMIN)
    await admin.get("/console/admin/users")

    reply = await admin.post("/console/admin/users/tanaka/contacts", {"email": "tanaka@city.example.jp",
                                                                      "line_id": LINE_ID})  # fmt: skip
    assert (reply.status, reply.location) == (303, "/console/admin/users")
    user = await console_site.store.get_user("tanaka")
    assert user is not None and (user.email, user.line_id) == ("tanaka@city.example.jp", LINE_ID)

    for bad in ({"email": "tanaka", "line_id": ""}, {"email": "", "line_id": "U12"}):
        reply = await admin.post("/console/admin/users/tanaka/contacts", bad)
        assert reply.status == 400 and 'class="error"' in reply.text
    assert await console_site.store.get_user("tanaka") == user

    added = await admin.post(
        "/console/admin/users", {"name": "kato", "role": "approver", "email": "kato@city.example.jp"}
    )
    assert added.status == 200
    kato = await console_site.store.get_user("kato")
    assert kato is not None and kato.email == "kato@city.example.jp"

    entries = await console_site.store.audit_search("", 100)
    assert not any("@city.example.jp" in e.detail or LINE_ID in e.detail for e in entries)
    approver = await console_site.browser("suzuki", Role.APPROVER)
    for path in ("/console/dashboard", "/console/audit", "/"):
        text = (await approver.get(path)).text
        assert "tanaka@city.example.jp" not in text and LINE_ID not in text, path
