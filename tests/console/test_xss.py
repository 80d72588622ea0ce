"""Markup typed into an alert shows as text on every page, preview and feed, console and public alike."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from broadcaster import drafts
from broadcaster.models import Role, Source
from tests.console.conftest import ConsoleSite

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'


async def test_markup_in_an_alert_is_escaped_everywhere(console_site: ConsoleSite) -> None:
    site = console_site
    data = {"category": "crime", "level": 2, "title": f"不審者 {SCRIPT}", "body": f"駅前で目撃 {IMAGE}",
            "instruction": f"戸締まり {SCRIPT}", "mode": "live", "channels": ["website", "ticker", "sns"]}  # fmt: skip
    alert = drafts.build(site.settings, drafts.parse(data), "sato", Source.STAFF)
    await site.store.create_alert(alert, "sato", "test")
    officer = await site.browser("sato", Role.OPERATOR)
    approver = await site.browser("suzuki", Role.APPROVER)
    # the draft's pages first: its preview renders every channel
    html_pages = [f"/console/alerts/{alert.id}", f"/console/compose?from={alert.id}", "/console/approvals",
                  f"/console/alerts/{alert.id}/edit"]  # fmt: skip
    for path in html_pages:
        reply = await officer.get(path)
        assert reply.status == 200, path
        assert SCRIPT not in reply.text and IMAGE not in reply.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text, path

    await site.core.dispatcher.approve(alert.id, "sato", "test")
    await site.settled(alert.id)
    console_pages = [f"/console/alerts/{alert.id}", "/console/dashboard", "/console/history?q=script",
                     f"/console/alerts/{alert.id}/correct", "/console/audit"]  # fmt: skip
    public_pages = ["/", f"/alerts/{alert.id}", "/alerts/history"]
    for path in console_pages + public_pages:
        reply = await (approver if path.startswith("/console") else officer).get(path)
        assert reply.status == 200, path
        assert SCRIPT not in reply.text and IMAGE not in reply.text, path
        if path != "/console/audit":  # the audit log names the alert by id, not by title
            assert "&lt;script&gt;" in reply.text, path

    for path in ("/alerts.atom", f"/cap/{alert.id}.xml", "/cap.atom"):
        reply = await officer.get(path)
        assert reply.status == 200, path
        assert SCRIPT not in reply.text, path  # escaped as XML text
        ElementTree.fromstring(reply.text.encode())  # and still well-formed
    feed = await officer.get("/alerts.json")
    assert feed.headers["Content-Type"].startswith("application/json")
    assert SCRIPT in json.dumps(json.loads(feed.text), ensure_ascii=False)  # data for programs, not markup
    for path in ("/ticker.json", "/ticker.txt"):  # the ticker carries full-width text: ＜ｓｃｒｉｐｔ＞
        reply = await officer.get(path)
        assert "<script>" not in reply.text and "＜ｓｃｒｉｐｔ＞" in reply.text, path
