"""The website knows the city's 地区: alerts name their districts in words, a page per district lists its
alerts and the whole city's, and the current page and the feeds take ``?district=id``. With the made-up
districts of config/example-districts.toml (east, west, south with outlines, north without), served
through aiohttp's test client on a real store, and exported through render_site.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from lxml import etree

from broadcaster.models import MsgType, Published
from broadcaster.on_air import build_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels.website.channel import WebsiteChannel, write_export
from channels.website.pages import render_site
from tests.console.test_japanese_pages import english as english_runs
from tests.test_website import ATOM_NS, PUBLIC_URL, SiteFactory, articles, get, publish, web_alert
from tests.test_website import client_for as client_for  # the fixture: test clients of the website app

WHOLE = "市内全域"

SWITCH = re.compile(r'<nav class="language-switch".*?</nav>', re.S)


def english(page: str) -> list[str]:
    """English words a reader sees on a Japanese page, the language switch aside (each language names itself)."""
    return english_runs(SWITCH.sub(" ", page))


def district_site(site: SiteFactory) -> Settings:
    """The example districts, with a public URL under a path as the city has it."""
    return load_settings(site({"city": {"public_url": PUBLIC_URL}}, districts=True))


def no_district_site(site: SiteFactory) -> Settings:
    """A city with no districts at all (``districts = []``, as config/example-other-town.toml has it)."""
    path = site()
    path.write_text("districts = []\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return load_settings(path)


async def publish_four(store: SQLiteStore) -> None:
    """East's, the whole city's, west's alert, current; and east's earlier alert, cancelled."""
    now = time.time()
    await publish(store, web_alert("old-east", event_key="old", title="東 土砂災害", districts=("east",)), now - 500)
    cancel = web_alert(
        "old-east-x",
        event_key="old",
        version=2,
        msg_type=MsgType.CANCEL,
        references="old-east",
        districts=("east",),
        title="取消 東 土砂災害",
    )
    await publish(store, web_alert("east", level=4, title="東 避難指示", districts=("east",)), now - 300)
    await publish(store, web_alert("city", level=3, title="市 高齢者等避難"), now - 200)
    await publish(store, web_alert("west", level=3, title="西 避難指示", districts=("west",)), now - 100)
    await publish(store, cancel, now - 50)


def article_of(page: str, alert_id: str) -> str:
    """The <article> of one alert on a page."""
    found = re.search(rf'<article class="alert[^"]*".*?href="/alerts/{alert_id}".*?</article>', page, flags=re.S)
    assert found is not None, alert_id
    return found.group(0)


def past_ids(page: str) -> list[str]:
    """The alert ids of the rows of a page's list of past alerts, in order."""
    return re.findall(r'class="history-title"><a href="/alerts/([^"]+)"', page)


async def test_a_district_page_lists_its_alerts_and_the_whole_citys_but_not_anothers(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    await publish_four(store)
    client = await client_for(store, district_site(site))

    page = await get(client, "/districts/east")
    assert "<h1>東部地区の情報</h1>" in page and "とうぶちく" in page
    assert "東部地区の町・大字: 城東、東城南、駅東通り、犬塚" in page
    assert articles(page) == ["east", "city"]  # the graver first; west's is not east's
    assert "西 避難指示" not in page
    assert f'<span class="whole-city-tag">{WHOLE}</span>' in article_of(page, "city")
    assert '対象地区: <a href="/districts/east">東部地区</a>' in article_of(page, "east")
    assert past_ids(page) == ["old-east-x"]  # the cancelled event, by its latest version
    assert 'href="/alerts.atom?district=east"' in page and 'href="/alerts.json?district=east"' in page

    west = await get(client, "/districts/west")
    assert articles(west) == ["west", "city"] and past_ids(west) == []
    north = await get(client, "/districts/north")  # no alert of its own: the whole city's still concern it
    assert articles(north) == ["city"] and "この期間に北部地区に関係する情報はありません。" in north

    index = await get(client, "/districts")
    names = re.findall(r'<li><a href="/districts/(\w+)">([^<]+)</a>', index)
    assert names == [("east", "東部地区"), ("west", "西部地区"), ("south", "南部地区"), ("north", "北部地区")]
    assert "発表中 2件" in index and "発表中 1件" in index  # east and west: their own and the city's


async def test_the_current_page_and_the_feeds_filter_by_district(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    await publish_four(store)
    client = await client_for(store, district_site(site))

    everything = await get(client, "/")
    assert articles(everything) == ["east", "west", "city"]  # the graver, then the newer
    assert '<a href="/?district=east">東部地区</a>' in everything  # the picker: plain links
    assert '<a href="/" aria-current="page">すべての地区</a>' in everything
    east = await get(client, "/?district=east")
    assert articles(east) == ["east", "city"]
    assert "<h1>発表中の情報（東部地区）</h1>" in east
    assert '<a href="/?district=east" aria-current="page">東部地区</a>' in east
    assert articles(await get(client, "/?district=south")) == ["city"]
    assert articles(await get(client, "/?district=")) == ["east", "west", "city"]  # empty: no filter

    data = json.loads(await get(client, "/alerts.json?district=east"))
    assert data["district"] == {"id": "east", "name": "東部地区"}
    assert [a["id"] for a in data["current"]] == ["east", "city"]
    assert [a["id"] for a in data["recent"]] == ["old-east-x", "city", "east", "old-east"]
    record = data["current"][0]
    assert record["districts"] == [{"id": "east", "name": "東部地区"}] and record["whole_city"] is False
    assert record["places"] == "東部地区"
    city = data["current"][1]
    assert city["districts"] == [] and city["whole_city"] is True and city["places"] == "小山市"
    unfiltered = json.loads(await get(client, "/alerts.json"))
    assert "district" not in unfiltered and [a["id"] for a in unfiltered["current"]] == ["east", "west", "city"]

    for path in ("/alerts.atom", "/cap.atom"):
        feed = etree.fromstring((await get(client, f"{path}?district=west")).encode())
        ids = [str(e.findtext("a:id", namespaces=ATOM_NS)).rsplit("/", 1)[1] for e in feed.findall("a:entry", ATOM_NS)]
        assert ids == ["west", "city"], path
        assert feed.findtext("a:title", namespaces=ATOM_NS) is not None
        assert "西部地区" in str(feed.findtext("a:title", namespaces=ATOM_NS))
        self_link = feed.xpath("a:link[@rel='self']/@href", namespaces=ATOM_NS)
        assert self_link == [f"{PUBLIC_URL}{path}?district=west"]
    feed = etree.fromstring((await get(client, "/alerts.atom")).encode())
    labels = {
        str(e.findtext("a:id", namespaces=ATOM_NS)).rsplit("/", 1)[1]: e.xpath("a:category/@label", namespaces=ATOM_NS)
        for e in feed.findall("a:entry", ATOM_NS)
    }
    assert labels["west"][1:] == ["西部地区"] and labels["city"][1:] == [WHOLE]  # after the category's name


async def test_an_unknown_district_is_a_404_that_says_so(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    await publish_four(store)
    client = await client_for(store, district_site(site))
    for path in ("/districts/nowhere", "/?district=nowhere", "/?district=%3Cscript%3E", "/districts/EAST"):
        page = await get(client, path, status=404)
        assert "<h1>この地区は見つかりません</h1>" in page and '<a href="/districts/east">東部地区</a>' in page, path
        assert "nowhere" not in page and "<script>" not in page and english(page) == [], path
    response = await client.get("/alerts.json?district=nowhere")
    assert response.status == 404 and response.content_type == "application/json"
    refused = await response.json()
    assert refused["error"] == "unknown_district" and refused["message"].startswith("指定された地区はありません。")
    assert [d["id"] for d in refused["districts"]] == ["east", "west", "south", "north"]
    for path in ("/alerts.atom?district=nowhere", "/cap.atom?district=nowhere"):
        line = await get(client, path, status=404)
        valid = "east（東部地区）、west（西部地区）、south（南部地区）、north（北部地区）"
        assert line == f"指定された地区はありません。指定できる地区: {valid}"


async def test_the_district_pages_are_japanese_throughout(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    await publish_four(store)
    client = await client_for(store, district_site(site))
    paths = [
        "/",
        "/?district=east",
        "/districts",
        "/districts/east",
        "/districts/north",
        "/alerts/east",
        "/alerts/city",
    ]
    paths += ["/alerts/history", "/alerts/old-east"]
    pages = {path: await get(client, path) for path in paths}
    assert {path: english(page) for path, page in pages.items() if english(page)} == {}
    # a place is named in words, never by its id, wherever a resident reads it
    visible = {path: re.sub(r"<[^>]*>", " ", page) for path, page in pages.items()}
    assert {path: text for path, text in visible.items() if re.search(r"\b(east|west|south|north)\b", text)} == {}


async def test_the_alert_page_names_every_district_in_words(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    settings = district_site(site)
    alert = web_alert("three", title="避難指示", districts=("east", "south", "north"))
    await publish(store, alert)
    client = await client_for(store, settings)
    page = await get(client, "/alerts/three")
    names = re.search(r'<p class="districts">対象地区: (.*?)</p>', page)
    assert names is not None
    assert re.sub(r"<[^>]*>", "", names.group(1)) == "東部地区、南部地区、北部地区"  # all three, never 市内3地区
    assert '<a href="/districts/north">北部地区</a>' in names.group(1)
    history = await get(client, "/alerts/history")
    assert "対象地区: 東部地区、南部地区、北部地区" in history

    message = WebsiteChannel(settings, Renderer(settings), None).render(alert, "ja")  # the channel's own words
    assert "対象地区: 東部地区、南部地区、北部地区" in message.text
    assert re.search(r'<p class="districts">対象地区: 東部地区、南部地区、北部地区</p>', message.html)
    whole = WebsiteChannel(settings, Renderer(settings), None).render(web_alert("all"), "ja")
    assert "対象地区" not in whole.text


async def test_a_city_without_districts_shows_no_district_ui(
    store: SQLiteStore, site: SiteFactory, client_for: Any
) -> None:
    settings = no_district_site(site)
    assert settings.districts == ()
    await publish(store, web_alert("city"))
    client = await client_for(store, settings)
    for path in ("/", "/alerts/city", "/alerts/history"):
        page = await get(client, path)
        assert "地区" not in page and WHOLE not in page, path
    await get(client, "/districts", status=404)
    await get(client, "/districts/east", status=404)
    await get(client, "/?district=east", status=404)
    refused = json.loads(await get(client, "/alerts.json?district=east", status=404))
    assert refused["message"] == "この市には地区の設定がありません。" and refused["districts"] == []
    data = json.loads(await get(client, "/alerts.json"))
    assert data["current"][0]["districts"] == [] and data["current"][0]["whole_city"] is True
    exported = render_site(await snapshot_of(store, settings), settings, Renderer(settings))
    assert not [p for p in exported if p.startswith("districts/")]


async def snapshot_of(store: SQLiteStore, settings: Settings) -> Any:
    """What the website shows now, read from the store."""
    now = time.time()
    return build_snapshot(await store.published("website", now - 86_400, 100), settings, now)


def test_the_export_has_a_page_per_district_linking_relatively(site: SiteFactory) -> None:
    settings = district_site(site)
    now = time.time()
    published = [
        Published(web_alert("e1", title="東 避難指示", districts=("east",)), now - 20),
        Published(web_alert("c1", title="市 避難指示"), now - 10),
    ]
    pages = {
        p: b.decode()
        for p, b in render_site(build_snapshot(published, settings, now), settings, Renderer(settings)).items()
    }
    wanted = {"districts/index.html"} | {f"districts/{d}/index.html" for d in ("east", "west", "south", "north")}
    assert wanted <= set(pages)
    east = pages["districts/east/index.html"]
    assert 'href="../../alerts/e1/index.html"' in east and 'href="../../alerts/c1/index.html"' in east
    assert 'href="../../static/website.css"' in east and 'href="../../alerts.atom"' in east  # no query in an export
    assert "alerts/e1/" not in pages["districts/west/index.html"]
    assert 'href="../districts/east/index.html">東部地区</a>' in pages["districts/index.html"]
    assert 'href="districts/east/index.html">東部地区</a>' in pages["index.html"]  # the picker: the district pages


def test_the_export_drops_the_pages_of_a_district_no_longer_configured(site: SiteFactory, tmp_path: Path) -> None:
    export = tmp_path / "export"
    settings = district_site(site)
    snap = build_snapshot([], settings, time.time())
    write_export(export, render_site(snap, settings, Renderer(settings)))
    assert (export / "districts" / "north" / "index.html").exists()
    none = no_district_site(site)
    write_export(export, render_site(snap, none, Renderer(none)))
    assert not (export / "districts").exists() and (export / "index.html").exists()
