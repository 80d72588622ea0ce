"""The dashboard, its event stream and the history, on the whole service: alerts are approved for real
and delivered by the real dispatcher (exercise sinks), and a failing channel fails for real (SMTP to a
port nobody listens on)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import markupsafe
from playwright.async_api import Browser as Chromium
from playwright.async_api import expect

from broadcaster import drafts
from broadcaster.models import Alert, ContactKind, Role, Source, Subscriber
from broadcaster.web.console.dashboard_pages import LIVE, MAX_STREAMS
from tests.console.conftest import PASSWORD, ConsoleSite, SiteMaker
from tests.processes import free_port

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
TIMEOUT = aiohttp.ClientTimeout(total=90)


async def new_alert(site: ConsoleSite, title: str = "訓練 大雨 避難準備", mode: str = "exercise", **kw: Any) -> Alert:
    """A draft as the compose page makes it (parse + build), stored by its author."""
    draft = drafts.parse({"category": "disaster", "level": 3, "title": title, "body": "訓練です。", "mode": mode})
    alert = drafts.build(site.settings, draft, "sato", Source.STAFF, **kw)
    await site.store.create_alert(alert, "sato", "test")
    return alert


async def approve(site: ConsoleSite, alert: Alert) -> None:
    """Approve as the compose page would for an exercise."""
    planned = await site.core.dispatcher.approve(alert.id, "sato", "test")
    assert planned, "nothing was planned"


async def add_tester(site: ConsoleSite, contact: str = "tester@example.jp") -> None:
    """An email tester: exercise alerts reach them on the email channel."""
    subscriber = Subscriber(0, ContactKind.EMAIL, contact, frozenset({"disaster"}), tester=True)
    await site.store.save_subscriber(subscriber)


def progress_rows(page: str, alert_id: str) -> dict[str, str]:
    """Channel -> the HTML of that channel's progress row of one alert."""
    rows = re.findall(rf'data-progress="{re.escape(alert_id)}:(\w+)">(.*?)</tr>', page, re.DOTALL)
    return dict(rows)


def field(row: str, name: str) -> str:
    found = re.search(rf'data-(?:field|count)="{name}">([^<]*)<', row)
    assert found, (name, row)
    return html.unescape(found.group(1))


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Each event of a stream as (raw data line, parsed JSON)."""
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            text = "\n".join(data)
            data = []
            yield text, json.loads(text)


async def test_the_dashboard_shows_each_channel_reaching_100_percent(console_site: ConsoleSite) -> None:
    await add_tester(console_site)
    browser = await console_site.browser("sato")
    alert = await new_alert(console_site)

    page = (await browser.get("/console/dashboard")).text
    rows = progress_rows(page, alert.id)
    assert list(rows) == list(alert.channels)  # one bar per channel, before anything is planned
    assert all(field(r, "percent") == "—" for r in rows.values())
    assert 'data-alert-state="' + alert.id + '">下書き<' in page

    await approve(console_site, alert)
    await console_site.settled(alert.id)
    reply = await browser.get("/console/dashboard")
    assert reply.status == 200
    page = reply.text
    assert f'href="/console/alerts/{alert.id}"' in page and "訓練 大雨 避難準備" in page
    assert '<span class="tag exercise">訓練</span>' in page
    assert 'data-alert-state="' + alert.id + '">配信完了<' in page
    rows = progress_rows(page, alert.id)
    assert set(rows) == set(alert.channels)
    planned = {ch: r for ch, r in rows.items() if field(r, "total") != "0"}
    assert {"email", "website", "ticker", "fm", "sns"} <= set(planned)  # the tester, and the public sinks
    for channel, row in planned.items():
        assert field(row, "percent") == "100 %", channel
        assert field(row, "sent") == field(row, "total"), channel
        assert 'role="progressbar"' in row and 'data-seg="sent" x="0.0" y="0" width="100.0"' in row
        assert field(row, "p50") != "—"
    # the health table: every enabled channel, what it runs as, and nothing waiting
    for name in console_site.settings.enabled_channels:
        assert f'data-channel="{name}"' in page
    assert "アウトボックス（認証情報なし）" in page and "OutboxChannel" in page
    assert 'data-live="pending">0<' in page and 'href="/console/approvals"' in page


async def test_the_event_stream_delivers_live_progress_until_every_channel_is_done(console_site: ConsoleSite) -> None:
    await add_tester(console_site)
    browser = await console_site.browser("sato")
    alert = await new_alert(console_site, title=XSS)

    async with browser.client.get(f"/console/events?alert={alert.id}", timeout=TIMEOUT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = sse(response)
        raw, first = await anext(events)
        (shown,) = first["alerts"]
        assert (shown["id"], shown["state"], shown["finished"]) == (alert.id, "draft", False)
        assert shown["title"] == XSS and "<" not in raw and ">" not in raw  # JSON-escaped
        # approved only now: whatever arrives from here on is live progress
        await approve(console_site, alert)
        seen = []
        async for _, data in events:
            (shown,) = data["alerts"]
            seen.append(shown)
            if shown["finished"]:
                break
    assert seen[-1]["state"] == "done" and seen[-1]["percent"] == 100
    channels = {c["channel"]: c for c in seen[-1]["channels"]}
    assert set(channels) == set(alert.channels)
    for name, c in channels.items():
        assert c["done"] == c["total"] == sum(c["counts"].values()), name
        assert c["percent"] == (100 if c["total"] else None), name
    assert channels["email"]["counts"]["sent"] == 1 and channels["website"]["counts"]["sent"] == 1
    assert any(s["state"] != "draft" for s in seen)  # the approval reached the stream


async def test_the_whole_dashboard_stream_reports_recent_alerts_and_approvals(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    older = await new_alert(console_site, title="先の訓練")
    await approve(console_site, older)
    await console_site.settled(older.id)
    async with browser.client.get("/console/events", timeout=TIMEOUT) as response:
        events = sse(response)
        _, first = await anext(events)
        assert [a["id"] for a in first["alerts"]] == [older.id]
        assert first["pending_approvals"] == 0 and first["alerts"][0]["finished"]
        newer = await new_alert(console_site, title="次の訓練")
        await approve(console_site, newer)
        async for _, data in events:
            ids = [a["id"] for a in data["alerts"]]
            if ids[0] == newer.id and data["alerts"][0]["finished"]:
                break
    assert ids == [newer.id, older.id]  # newest first


async def test_a_stream_ends_cleanly_when_the_service_shuts_down(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    async with browser.client.get("/console/events", timeout=TIMEOUT) as response:
        events = sse(response)
        await anext(events)
        closing = asyncio.create_task(console_site.server.close())
        # a clean end of the stream, not a connection the server cut after its shutdown timeout
        rest = [data async for _, data in events]
        await closing
    assert rest == []


async def test_streams_are_bounded_and_end_when_their_clients_go(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    live = console_site.app[LIVE]
    responses = []
    try:
        for _ in range(MAX_STREAMS):
            responses.append(await browser.client.get("/console/events", timeout=TIMEOUT))
        assert [r.status for r in responses] == [200] * MAX_STREAMS
        assert live.streams == MAX_STREAMS
        refused = await browser.get("/console/events")
        assert refused.status == 503 and refused.headers["Retry-After"]
    finally:
        for r in responses:
            r.close()
    deadline = time.monotonic() + 30  # streams notice a client has gone at their next look
    while live.streams:
        assert time.monotonic() < deadline, f"{live.streams} streams outlived their clients"
        await asyncio.sleep(0.05)
    assert (await browser.get("/console/dashboard")).status == 200


async def test_a_stream_ends_when_its_session_would_idle_out(make_site: SiteMaker) -> None:
    site = await make_site({"console": {"idle_timeout": 5.0}})
    browser = await site.browser("sato")
    async with browser.client.get("/console/events", timeout=TIMEOUT) as response:
        assert response.status == 200
        events = [data async for _, data in sse(response)]  # ends by itself: the session was left idle
    assert events and events[0]["alerts"] == []
    # the browser's reconnection meets the guard, and the session has ended
    assert (await browser.get("/console/dashboard")).status == 303


async def test_channel_health_shows_a_failing_channel_and_its_error(make_site: SiteMaker) -> None:
    # a real email channel whose relay is not there: every SMTP connect fails
    relay = {"host": "127.0.0.1", "port": free_port(), "tls": "none", "timeout": 10.0}
    # three attempts: [health] channel_failures sends in a row make a channel failing
    failing_site = await make_site({"email": relay, "retry": {"max_attempts": 3}}, secret=True)
    await add_tester(failing_site)
    browser = await failing_site.browser("sato")
    page = (await browser.get("/console/dashboard")).text
    email = re.search(r'<tr class="channel" data-channel="email">(.*?)</tr>', page, re.DOTALL)
    assert email and "EmailChannel" in email.group(1) and "起動後の送信なし" in email.group(1)
    assert "テスト宛先" in email.group(1)  # exercise alerts reach the testers by real email

    alert = await new_alert(failing_site)
    await approve(failing_site, alert)
    await failing_site.settled(alert.id)
    page = (await browser.get("/console/dashboard")).text
    email = re.search(r'<tr class="channel failing" data-channel="email">(.*?)</tr>', page, re.DOTALL)
    assert email, "the email channel is not shown failing"
    assert "失敗中" in email.group(1) and "cannot connect" in email.group(1)
    website = re.search(r'<tr class="channel" data-channel="website">(.*?)</tr>', page, re.DOTALL)
    # one channel's outage is its own; and the exercise the website wrote to the outbox is no send of
    # the real website channel: its health still says it has sent nothing
    assert website and "失敗中" not in website.group(1) and "起動後の送信なし" in website.group(1)
    row = progress_rows(page, alert.id)["email"]
    assert field(row, "failed") == field(row, "total") == "1"
    assert "cannot connect" in field(row, "error") and field(row, "percent") == "100 %"
    assert "tester@example.jp" not in page  # no personal data on the dashboard


async def test_history_searches_filters_by_mode_and_pages(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    start = 1_800_000_000.0
    for i in range(53):
        await new_alert(console_site, title=f"河川水位 訓練 {i:02d}", now=start + i)
    live = await new_alert(console_site, title="河川水位 本番の下書き", mode="live", now=start + 100)
    other = await new_alert(console_site, title="防犯 不審者情報", now=start + 101)

    page = (await browser.get("/console/history?q=河川水位")).text
    ids = re.findall(r'<tr data-alert-id="([^"]+)">', page)
    assert len(ids) == 50 and ids[0] == live.id and other.id not in ids  # the newest first
    assert 'rel="next"' in page and 'rel="prev"' not in page
    assert '<span class="tag live">本番</span>' in page and "河川水位 訓練 52" in page
    following = re.search(r'href="([^"]+)" rel="next"', page)
    assert following
    page = (await browser.get(html.unescape(following.group(1)))).text
    rest = re.findall(r'<tr data-alert-id="([^"]+)">', page)
    assert len(rest) == 4 and not set(rest) & set(ids) and "河川水位 訓練 00" in page
    assert 'rel="prev"' in page and 'rel="next"' not in page

    page = (await browser.get("/console/history?q=河川水位&mode=live")).text
    assert re.findall(r'<tr data-alert-id="([^"]+)">', page) == [live.id]
    page = (await browser.get("/console/history?q=河川水位&mode=exercise")).text
    assert live.id not in page and len(re.findall(r"<tr data-alert-id=", page)) == 50
    page = (await browser.get("/console/history?q=存在しない言葉")).text
    assert "該当する情報はありません" in page


async def test_a_title_with_markup_is_shown_as_text_everywhere(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    alert = await new_alert(console_site, title=XSS)
    for path in ("/console/dashboard", "/console/history", f"/console/history?q={alert.id}"):
        page = (await browser.get(path)).text
        assert str(markupsafe.escape(XSS)) in page, path
        assert "<script>alert" not in page and "<img src=x" not in page, path


async def test_a_visitor_without_a_session_gets_401_on_the_stream(console_site: ConsoleSite) -> None:
    visitor = await console_site.anonymous()
    reply = await visitor.get("/console/events", headers={"Accept": "text/event-stream"})
    assert reply.status == 401
    assert (await visitor.get("/console/dashboard")).status == 303  # pages still send people to log in
    browser = await console_site.browser("sato")
    assert (await browser.get("/console/events?alert=no-such-alert")).status == 404


async def test_the_page_updates_itself_in_chromium(console_site: ConsoleSite, browser: Chromium) -> None:
    alert = await new_alert(console_site, title=XSS)
    await console_site.add_user("kato", Role.OPERATOR)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(console_site.server.make_url("/console/login")))
    await page.fill("input[name=name]", "kato")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(str(console_site.server.make_url("/console/dashboard")))
    website = page.locator(f'[data-progress="{alert.id}:website"]')
    await expect(website.locator('[data-field="percent"]')).to_have_text("—")
    await expect(page.locator(f'[data-alert-state="{alert.id}"]')).to_have_text("下書き")
    await approve(console_site, alert)
    await expect(website.locator('[data-field="percent"]')).to_have_text("100 %", timeout=30_000)
    await expect(page.locator(f'[data-alert-state="{alert.id}"]')).to_have_text("配信完了", timeout=30_000)
    assert await website.locator('rect[data-seg="sent"]').get_attribute("width") == "100.000"
    assert await page.locator("script:not([src])").count() == 0
    assert await page.locator("img[src=x]").count() == 0  # the title stayed text
    status = page.locator("[data-live-status]")
    await expect(status).to_be_hidden()
    await console_site.server.close()
    await expect(status).to_have_text("接続が切れました。再接続中…")
    await context.close()
