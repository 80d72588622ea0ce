"""The city website: pages, feeds and CAP 1.2 through aiohttp's test client, and the static export
through the real dispatcher, all on a real SQLite store. Alerts become "published" the way the core
makes them so: create, approve, claim the website row, record it sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree

from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import ConfigError, TransientError
from broadcaster.models import Alert, AlertState, DeliveryState, Mode, MsgType, Outcome, Recipient, Severity, Text
from broadcaster.pacing import RetryPolicy
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.website import add_routes, setup
from channels.outbox import OutboxChannel
from channels.website.channel import WebsiteChannel, create
from tests.paths import CAP_XSD
from tests.test_store import ACTOR, ORIGIN, make_alert

XSD = CAP_XSD
CAP_NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}
CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00")
PUBLIC_URL = "https://www.city.oyama.example.jp/bousai"
SCRIPT = "<script>alert('x')</script>"
POLICY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=3600.0)
SiteFactory = Callable[..., Path]
Client = TestClient[web.Request, web.Application]


# -- helpers shared with test_website_browser ---------------------------------------


def website_settings(site: SiteFactory, **website: Any) -> Settings:
    """Settings with a public URL under a path, and [website] overrides."""
    return load_settings(site({"city": {"public_url": PUBLIC_URL}, "website": website}))


def web_alert(alert_id: str, **kw: Any) -> Alert:
    """A live disaster alert for the website only."""
    names = ("title", "body", "instruction", "severity", "references", "areas", "districts", "translations")
    fields = {k: kw.pop(k) for k in names if k in kw}
    alert = make_alert(alert_id, ("website",), **kw)
    return dataclasses.replace(alert, **fields)


async def publish(store: SQLiteStore, alert: Alert, sent_at: float | None = None) -> None:
    """Create, approve and mark the alert's website row sent, as the dispatcher would."""
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    now = time.time()
    claims = await store.claim("website", 100, now + 60, now)
    assert [c.alert_id for c in claims] == [alert.id]
    outcomes = [Outcome(c.id, c.alert_id, DeliveryState.SENT) for c in claims]
    await store.record("website", outcomes, sent_at if sent_at is not None else now)


def app_for(store: SQLiteStore, settings: Settings) -> web.Application:
    """The website's routes on a bare application, set up the way the service does it."""
    app = web.Application()
    add_routes(app)
    setup(app, store, settings, Renderer(settings))
    return app


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[SQLiteStore, Settings], Any]]:
    """Make test clients for the website app; closes them after the test."""
    clients: list[Client] = []

    async def make(store: SQLiteStore, settings: Settings) -> Client:
        client: Client = TestClient(TestServer(app_for(store, settings), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


async def get(client: Client, path: str, status: int = 200) -> str:
    """GET a path, check the status, return the body."""
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, body
    return body


def articles(page: str) -> list[str]:
    """The alert ids of the <article>s on a page, in order (from their links)."""
    return re.findall(r'<article class="alert[^"]*"[^>]*>.*?href="/alerts/([^"]+)"', page, flags=re.S)


def validate_cap(xml: bytes) -> etree._Element:
    """Parse a CAP document and validate it against the OASIS schema; returns its root."""
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    return doc


def cap_text(doc: etree._Element, path: str) -> list[str]:
    """Texts at an XPath in the cap namespace."""
    return [str(e.text) for e in doc.findall(path, CAP_NS)]


# -- the current page ---------------------------------------------------------------


async def test_current_page_most_severe_then_newest_with_level_words_and_colours(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    settings = website_settings(site)
    now = time.time()
    await publish(store, web_alert("l3-new", level=3), now - 10)
    await publish(store, web_alert("l5", level=5), now - 300)
    await publish(store, web_alert("l3-old", level=3), now - 200)
    await publish(store, web_alert("l4-severe", level=4, severity=Severity.EXTREME), now - 100)
    await publish(store, web_alert("l4-minor", level=4, severity=Severity.MINOR), now - 50)
    client = await client_for(store, settings)

    page = await get(client, "/")
    assert articles(page) == ["l5", "l4-severe", "l4-minor", "l3-new", "l3-old"]
    assert '<html lang="ja">' in page and page.count("<h1>") == 1 and "<h2" in page
    assert '<span class="level-badge">警戒レベル５</span>' in page  # the words, not only the colour
    assert ".level-5 .level-badge { background: #0c000c; color: #ffffff; }" in page
    assert ".level-2 .level-badge { background: #ffff00; color: #000000; }" in page
    assert "<script" not in page and 'name="viewport"' in page
    response = await client.get("/static/website.css")
    assert response.status == 200 and "exercise-banner" in await response.text()


async def test_an_empty_site_says_so(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    client = await client_for(store, website_settings(site))
    assert "現在、発表中の情報はありません。" in await get(client, "/")
    assert "この期間に発表した情報はありません。" in await get(client, "/alerts/history")
    assert json.loads(await get(client, "/alerts.json"))["current"] == []
    feed = etree.fromstring((await get(client, "/alerts.atom")).encode())
    assert feed.findall("a:entry", ATOM_NS) == []


async def test_expired_alerts_drop_off_the_current_list(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    now = time.time()
    await publish(store, web_alert("gone", expires=now + 3600), now - 7200)
    await publish(store, web_alert("stays", expires=now + 3600), now - 60)
    client = await client_for(store, website_settings(site))
    assert articles(await get(client, "/")) == ["stays", "gone"]

    await store.create_alert(web_alert("later", expires=now + 3600), ACTOR, ORIGIN)  # not published: not shown
    ended = web_alert("ended", expires=now - 1)
    await publish(store, ended, now - 120)
    page = await get(client, "/")
    assert "ended" not in articles(page) and "later" not in articles(page)
    history = await get(client, "/alerts/history")
    assert re.search(r'status-expired">\s*<p class="badges"><span class="status">期限切れ', history)
    assert "later" not in history
    data = json.loads(await get(client, "/alerts.json"))
    assert [a["id"] for a in data["current"]] == ["stays", "gone"]
    assert {a["id"]: a["status"] for a in data["recent"]}["ended"] == "expired"


async def test_alert_text_is_escaped_everywhere(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    alert = web_alert(
        "x1", title=f"{SCRIPT} 避難", body=f"本文 {SCRIPT}", instruction=f'"><img src=x onerror=1>{SCRIPT}'
    )
    await publish(store, alert)
    client = await client_for(store, website_settings(site))
    for path in ("/", "/alerts/history", "/alerts/x1"):
        page = await get(client, path)
        assert "<script>" not in page and "<img" not in page, path
        assert "&lt;script&gt;" in page, path
    for path in ("/alerts.atom", "/cap.atom", "/cap/x1.xml"):
        doc = etree.fromstring((await get(client, path)).encode())  # well-formed XML, the text intact
        assert SCRIPT in "".join(doc.itertext()), path
    data = json.loads(await get(client, "/alerts.json"))
    assert data["current"][0]["title"] == f"{SCRIPT} 避難"
    rendered = WebsiteChannel(website_settings(site), Renderer(website_settings(site)), None).render(alert, "ja")
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


async def test_unknown_and_unpublished_alerts_are_404(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    await store.create_alert(web_alert("draft"), ACTOR, ORIGIN)
    client = await client_for(store, website_settings(site))
    for path in ("/alerts/nope", "/alerts/draft", "/cap/nope.xml", "/cap/draft.xml"):
        page = await get(client, path, status=404)
        assert "見つかりません" in page


# -- updates, cancels, exercises ------------------------------------------------------


async def test_an_update_replaces_its_event_and_the_older_version_points_to_it(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    now = time.time()
    await publish(store, web_alert("v1", event_key="river", level=3), now - 100)
    await publish(
        store,
        web_alert("v2", event_key="river", level=4, version=2, msg_type=MsgType.UPDATE, references="v1"),
        now - 10,
    )
    client = await client_for(store, website_settings(site))
    assert articles(await get(client, "/")) == ["v2"]
    old = await get(client, "/alerts/v1")
    assert "この情報は更新されています。" in old and 'href="/alerts/v2"' in old
    assert "この情報の経過" in await get(client, "/alerts/v2")
    history = await get(client, "/alerts/history")
    assert history.count('class="history-title"') == 1 and "第2報まで" in history


async def test_a_cancelled_alert_leaves_the_current_list_and_shows_as_cancelled(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    now = time.time()
    await publish(store, web_alert("orig", event_key="flood", title="洪水 避難指示"), now - 100)
    await publish(store, web_alert("other"), now - 50)
    await publish(
        store,
        web_alert("cxl", event_key="flood", version=2, msg_type=MsgType.CANCEL, references="orig", title="取消 洪水"),
        now - 10,
    )
    client = await client_for(store, website_settings(site))
    assert articles(await get(client, "/")) == ["other"]
    history = await get(client, "/alerts/history")
    row = re.search(r'<li class="level-3 status-cancelled">.*?</li>', history, flags=re.S)
    assert row is not None and "取消" in row.group(0) and "洪水 避難指示" in row.group(0)
    for path in ("/alerts/orig", "/alerts/cxl"):
        page = await get(client, path)
        assert "【取消】この情報は取り消されました。" in page and "に取り消されました。" in page, path
    data = json.loads(await get(client, "/alerts.json"))
    assert [a["id"] for a in data["current"]] == ["other"]
    assert {a["id"]: a["status"] for a in data["recent"]} == {
        "cxl": "cancelled",
        "other": "current",
        "orig": "cancelled",
    }
    entries = etree.fromstring((await get(client, "/alerts.atom")).encode()).findall("a:entry", ATOM_NS)
    assert str(entries[0].findtext("a:title", namespaces=ATOM_NS)).startswith("【取消】")


async def test_an_approved_cancel_takes_the_event_off_the_current_list_before_it_is_carried(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    now = time.time()
    await publish(store, web_alert("orig", event_key="flood", title="洪水 避難指示"), now - 100)
    await publish(store, web_alert("other"), now - 50)
    cancel = web_alert("cxl", event_key="flood", version=2, msg_type=MsgType.CANCEL, references="orig")
    await store.create_alert(cancel, ACTOR, ORIGIN)
    await store.approve("cxl", ACTOR, ORIGIN)  # the website's row is planned, not yet sent
    client = await client_for(store, website_settings(site))
    assert articles(await get(client, "/")) == ["other"]  # as on the ticker and FM: off at approval
    page = await get(client, "/alerts/orig")
    # the cancel is not on the website yet: no time is given for it, rather than the original's
    assert "この情報は取り消されました。" in page
    await get(client, "/alerts/cxl", status=404)
    data = json.loads(await get(client, "/alerts.json"))
    assert {a["id"]: a["status"] for a in data["recent"]} == {"other": "current", "orig": "cancelled"}


@pytest.mark.parametrize("show", [False, True], ids=["hidden", "shown"])
async def test_exercise_alerts_only_with_show_exercises_and_then_with_a_banner(
    store: SQLiteStore, site: SiteFactory, client_for: Any, show: bool
) -> None:
    await publish(store, web_alert("drill", mode=Mode.EXERCISE, title="【訓練】震度６強"))
    await publish(store, web_alert("real"))
    client = await client_for(store, website_settings(site, show_exercises=show))
    page = await get(client, "/")
    data = json.loads(await get(client, "/alerts.json"))
    atom = await get(client, "/alerts.atom")
    if not show:
        assert articles(page) == ["real"] and "訓練" not in page and "drill" not in atom
        assert [a["id"] for a in data["current"]] == ["real"]
        await get(client, "/alerts/drill", status=404)
        await get(client, "/cap/drill.xml", status=404)
        return
    assert sorted(articles(page)) == ["drill", "real"]
    drill = re.search(r'<article class="alert level-3 exercise.*?</article>', page, flags=re.S)
    assert drill is not None and "【訓練】これは訓練です。実際の災害ではありません。" in drill.group(0)
    assert "【訓練】【訓練】" not in page and "訓練の情報が1件" in page
    real = re.search(r'<article class="alert level-3 status-current".*?</article>', page, flags=re.S)
    assert real is not None and "訓練" not in real.group(0)
    assert {a["id"]: a["exercise"] for a in data["current"]} == {"drill": True, "real": False}
    doc = validate_cap((await get(client, "/cap/drill.xml")).encode())
    assert cap_text(doc, "cap:status") == ["Exercise"]
    assert cap_text(doc, "cap:info/cap:headline") == ["【訓練】震度６強"]


# -- CAP 1.2 ---------------------------------------------------------------------------


async def test_cap_documents_are_valid_and_complete(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    settings = website_settings(site)
    now = time.time()
    first = web_alert(
        "a1",
        event_key="ev",
        areas=("小山市全域",),
        instruction="高い所へ",
        expires=now + 3600,
        severity=Severity.SEVERE,
    )
    await publish(store, first, now - 100)
    await publish(store, web_alert("a2", event_key="ev", version=2, msg_type=MsgType.UPDATE, references="a1"), now - 50)
    await publish(store, web_alert("a3", event_key="ev", version=3, msg_type=MsgType.CANCEL, references="a2"), now - 5)
    client = await client_for(store, settings)

    docs = {i: validate_cap((await get(client, f"/cap/{i}.xml")).encode()) for i in ("a1", "a2", "a3")}
    a1 = docs["a1"]
    assert cap_text(a1, "cap:identifier") == ["a1"]
    assert cap_text(a1, "cap:sender") == ["anshin@city.oyama.tochigi.jp"]
    sent = cap_text(a1, "cap:sent")[0]
    assert CAP_TIME.fullmatch(sent)
    assert [cap_text(d, "cap:msgType")[0] for d in docs.values()] == ["Alert", "Update", "Cancel"]
    assert cap_text(a1, "cap:status") == ["Actual"] and cap_text(a1, "cap:scope") == ["Public"]
    assert cap_text(a1, "cap:references") == []
    info = "cap:info/cap:"
    assert cap_text(a1, info + "language") == ["ja-JP"]
    assert cap_text(a1, info + "category") == ["Safety"]
    assert cap_text(a1, info + "severity") == ["Severe"]
    assert CAP_TIME.fullmatch(cap_text(a1, info + "expires")[0])
    assert cap_text(a1, info + "senderName") == ["小山市"]
    assert cap_text(a1, info + "instruction") == ["高い所へ"]
    assert cap_text(a1, info + "web") == [f"{PUBLIC_URL}/alerts/a1"]
    assert cap_text(a1, info + "area/cap:areaDesc") == ["小山市全域"]
    assert dict(
        zip(
            cap_text(a1, info + "area/cap:geocode/cap:valueName"),
            cap_text(a1, info + "area/cap:geocode/cap:value"),
            strict=True,
        )
    ) == {"JIS X 0402": settings.website.municipality_code, "JMA areaCode": "0920800"}
    sender = settings.website.cap_sender
    a2_sent = cap_text(docs["a2"], "cap:sent")[0]
    assert cap_text(docs["a2"], "cap:references") == [f"{sender},a1,{sent}"]
    assert cap_text(docs["a3"], "cap:references") == [f"{sender},a1,{sent} {sender},a2,{a2_sent}"]

    index = etree.fromstring((await get(client, "/cap.atom")).encode())
    links = index.xpath("a:entry/a:link[@type='application/cap+xml']/@href", namespaces=ATOM_NS)
    assert links == [f"{PUBLIC_URL}/cap/{i}.xml" for i in ("a3", "a2", "a1")]
    for updated in index.xpath("//a:updated/text()", namespaces=ATOM_NS):
        assert CAP_TIME.fullmatch(str(updated))


async def test_translations_become_extra_info_blocks(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    alert = dataclasses.replace(web_alert("t1"), translations={"en": Text("Evacuate", "The river may flood.")})
    await publish(store, alert)
    client = await client_for(store, website_settings(site))
    doc = validate_cap((await get(client, "/cap/t1.xml")).encode())
    assert cap_text(doc, "cap:info/cap:language") == ["ja-JP", "en-US"]
    assert cap_text(doc, "cap:info/cap:headline")[1] == "Evacuate"
    assert cap_text(doc, "cap:info/cap:web")[1] == f"{PUBLIC_URL}/en/alerts/t1"
    page = await get(client, "/alerts/t1")
    assert "Evacuate" not in page and '<link rel="alternate" hreflang="en" href="/en/alerts/t1">' in page
    english = await get(client, "/en/alerts/t1")
    assert '<html lang="en">' in english and '<article class="alert level-3 status-current" lang="en">' in english
    assert "Evacuate" in english and "The river may flood." in english


# -- the channel and the static export ------------------------------------------------


async def run_through_dispatcher(store: SQLiteStore, settings: Settings, channel: WebsiteChannel, alert: Alert) -> None:
    """Create, approve and deliver one alert through the real dispatcher until it is final."""
    await store.create_alert(alert, ACTOR, ORIGIN)
    outbox = OutboxChannel(settings.path(settings.storage.outbox_dir), channel.renderer)
    sinks = ChannelSet(live={"website": channel}, exercise={"website": outbox}, notices=[])

    async def final() -> bool:
        got = await store.get_alert(alert.id)
        return got is not None and got.state in (AlertState.DONE, AlertState.CANCELLED)

    async with Dispatcher(store, sinks, settings, policy=POLICY) as dispatcher:
        await dispatcher.approve(alert.id, ACTOR, ORIGIN)
        async with asyncio.timeout(30):
            await dispatcher.wait_until(final)
            await channel.settled()  # every language's list pages follow the send


async def test_static_export_follows_each_send_atomically(
    store: SQLiteStore, site: SiteFactory, tmp_path: Path, client_for: Any
) -> None:
    export = tmp_path / "cms" / "alerts-export"
    settings = website_settings(site, export_dir=str(export))
    channel = create(ChannelContext("website", settings, Renderer(settings), {}, store))
    await run_through_dispatcher(store, settings, channel, web_alert("e1", event_key="ev1", title="避難指示 e1"))
    await run_through_dispatcher(store, settings, channel, web_alert("e2", level=4, title=f"土砂 {SCRIPT}"))

    files = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    pages = {
        "index.html",
        "alerts/history/index.html",
        "alerts/e1/index.html",
        "alerts/e2/index.html",
        "districts/index.html",  # Oyama's eleven 地区, each with its page
        *(f"districts/{d.id}/index.html" for d in settings.districts),
    }
    folders = ["" if lang == "ja" else f"{lang}/" for lang in settings.city.languages]  # Japanese at the top
    assert files == {
        "alerts.atom",
        "alerts.json",
        "cap.atom",
        "static/website.css",
        "cap/e1.xml",
        "cap/e2.xml",
        *(folder + page for folder in folders for page in pages),
    }
    assert len(settings.districts) == 11
    index = (export / "index.html").read_text()
    assert index.index("alerts/e2/index.html") < index.index("alerts/e1/index.html")  # level 4 first
    assert 'href="static/website.css"' in index and "&lt;script&gt;" in index and "<script>" not in index
    page = (export / "alerts" / "e1" / "index.html").read_text()
    assert 'href="../../static/website.css"' in page and 'href="../../cap/e1.xml"' in page
    assert 'hreflang="en" href="../../en/alerts/e1/index.html"' in page
    english = (export / "en" / "alerts" / "e1" / "index.html").read_text()
    assert '<html lang="en">' in english and 'href="../../../static/website.css"' in english
    assert 'href="../../../cap/e1.xml"' in english and 'hreflang="ja" href="../../../alerts/e1/index.html"' in english
    validate_cap((export / "cap" / "e1.xml").read_bytes())

    # the served site and the export are the same pages, feeds and documents (links aside)
    client = await client_for(store, settings)
    served = json.loads(await get(client, "/alerts.json"))
    exported = json.loads((export / "alerts.json").read_text())
    assert [a["id"] for a in exported["current"]] == [a["id"] for a in served["current"]] == ["e2", "e1"]
    assert (export / "cap" / "e2.xml").read_text() == await get(client, "/cap/e2.xml")
    assert articles(await get(client, "/")) == ["e2", "e1"]

    cancel = web_alert("e1x", event_key="ev1", version=2, msg_type=MsgType.CANCEL, references="e1")
    await run_through_dispatcher(store, settings, channel, cancel)
    index = (export / "index.html").read_text()
    assert "alerts/e1/index.html" not in index and "alerts/e2/index.html" in index
    assert "【取消】この情報は取り消されました。" in (export / "alerts" / "e1" / "index.html").read_text()
    history = (export / "alerts" / "history" / "index.html").read_text()
    assert "status-cancelled" in history
    assert validate_cap((export / "cap" / "e1x.xml").read_bytes()) is not None
    assert not [p for p in export.rglob("*") if p.name.endswith(".tmp")]  # no temporary file left behind


async def test_a_send_writes_the_alert_in_every_language_and_every_list_follows(
    store: SQLiteStore, site: SiteFactory, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    settings = website_settings(site, export_dir=str(export))
    channel = create(ChannelContext("website", settings, Renderer(settings), {}, store))
    alert = web_alert("s1")
    await store.create_alert(alert, ACTOR, ORIGIN)
    await channel.send(channel.render(alert, "ja"), [Recipient("*", "", "ja")])
    # when send returns: the alert's page in every language (what a message in that language links to),
    # and the Japanese lists
    folders = ["" if lang == "ja" else f"{lang}/" for lang in settings.city.languages]
    assert all((export / f"{folder}alerts/s1/index.html").is_file() for folder in folders)
    assert "alerts/s1/index.html" in (export / "index.html").read_text()
    await channel.settled()  # then every language's lists, in the background
    assert all("alerts/s1/index.html" in (export / f"{folder}index.html").read_text() for folder in folders)
    await channel.aclose()


async def test_export_prunes_alerts_the_site_no_longer_shows(
    store: SQLiteStore, site: SiteFactory, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    (export / "alerts" / "old").mkdir(parents=True)
    (export / "alerts" / "old" / "index.html").write_text("old")
    (export / "cap").mkdir()
    (export / "cap" / "old.xml").write_text("old")
    (export / "robots.txt").write_text("the CMS's own file")
    settings = website_settings(site, export_dir=str(export))
    channel = create(ChannelContext("website", settings, Renderer(settings), {}, store))
    await run_through_dispatcher(store, settings, channel, web_alert("n1"))
    assert not (export / "alerts" / "old").exists() and not (export / "cap" / "old.xml").exists()
    assert (export / "cap" / "n1.xml").exists() and (export / "robots.txt").read_text() == "the CMS's own file"


async def test_without_export_dir_send_only_succeeds(store: SQLiteStore, site: SiteFactory, tmp_path: Path) -> None:
    settings = website_settings(site)
    channel = create(ChannelContext("website", settings, Renderer(settings), {}))  # no store, no credentials
    alert = web_alert("q1")
    message = channel.render(alert, "ja")
    assert message.channel == "website" and "q1 避難指示" in message.html and message.subject
    await channel.send(message, [Recipient("*", "", "ja")])
    await channel.aclose()
    assert channel.export_dir is None


async def test_an_export_that_cannot_be_written_is_transient(
    store: SQLiteStore, site: SiteFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    settings = website_settings(site, export_dir=str(blocker / "export"))
    channel = create(ChannelContext("website", settings, Renderer(settings), {}, store))
    alert = web_alert("w1")
    await store.create_alert(alert, ACTOR, ORIGIN)
    with pytest.raises(TransientError, match="website export"):
        await channel.send(channel.render(alert, "ja"), [Recipient("*", "", "ja")])


def test_an_export_dir_that_is_a_file_is_a_config_error(site: SiteFactory, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    settings = website_settings(site, export_dir=str(tmp_path / "afile"))
    with pytest.raises(ConfigError, match=r"website\.export_dir"):
        create(ChannelContext("website", settings, Renderer(settings), {}))
