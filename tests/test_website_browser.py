"""The public pages in headless Chromium (Debian's package, driven by playwright; never a browser download):
the current page, the exercise banner and a cancelled alert, with JavaScript off as residents may have it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from broadcaster.models import Mode, MsgType
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from tests.test_website import SiteFactory, app_for, publish, web_alert, website_settings

PHONE = {"width": 360, "height": 740}


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Serve the website app on 127.0.0.1; returns its base URL."""
    servers: list[TestServer] = []

    async def start(store: SQLiteStore, settings: Settings) -> str:
        server = TestServer(app_for(store, settings), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for s in servers:
        await s.close()


async def open_page(browser: Browser, url: str, **context: Any) -> Page:
    """Open ``url`` with JavaScript off, as a phone-sized window unless told otherwise."""
    ctx = await browser.new_context(java_script_enabled=False, viewport=context.pop("viewport", PHONE), **context)
    page = await ctx.new_page()
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    return page


async def no_sideways_scrolling(page: Page) -> bool:
    """True when the page fits the window's width."""
    # evaluate() runs in the page even with the page's own scripts disabled
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_current_page_in_chromium(browser: Browser, serve: Any, store: SQLiteStore, site: SiteFactory) -> None:
    now = time.time()
    await publish(store, web_alert("low", level=3, title="大雨 避難準備"), now - 60)
    await publish(store, web_alert("high", level=5, title="緊急安全確保 思川"), now - 600)
    base = await serve(store, website_settings(site))
    page = await open_page(browser, base + "/")

    assert await page.locator("html").get_attribute("lang") == "ja"
    assert await page.locator("h1").all_inner_texts() == ["発表中の情報"]
    titles = await page.locator("article h2").all_inner_texts()
    assert titles == ["緊急安全確保 思川", "大雨 避難準備"]  # the graver first, though older
    badge = page.locator("article.level-5 .level-badge")
    assert await badge.inner_text() == "警戒レベル５"  # the level in words beside its colour
    colours = await badge.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert colours == ["rgb(12, 0, 12)", "rgb(255, 255, 255)"]
    assert await no_sideways_scrolling(page)

    await page.get_by_role("link", name="緊急安全確保 思川").click()
    assert page.url == base + "/alerts/high"
    assert await page.locator("h1").inner_text() == "緊急安全確保 思川"
    await page.get_by_role("link", name="過去の情報").first.click()
    assert await page.locator("h1").inner_text() == "過去の情報"
    await page.context.close()


async def test_exercise_banner_in_chromium(browser: Browser, serve: Any, store: SQLiteStore, site: SiteFactory) -> None:
    await publish(store, web_alert("drill", mode=Mode.EXERCISE, title="震度６強 訓練想定"))
    await publish(store, web_alert("real", level=2, title="防犯 不審者情報"))
    base = await serve(store, website_settings(site, show_exercises=True))
    page = await open_page(browser, base + "/", viewport={"width": 1280, "height": 900})

    drill = page.locator("article.exercise")
    assert await drill.count() == 1
    banner = drill.locator(".exercise-banner")
    assert await banner.is_visible()
    assert await banner.inner_text() == "【訓練】これは訓練です。実際の災害ではありません。"
    box = await banner.bounding_box()
    assert box is not None and box["width"] > 400  # across the card, not a small tag
    style = await banner.evaluate("e => getComputedStyle(e).borderTopStyle")
    assert style == "dashed"
    assert (await drill.locator("h2").inner_text()).startswith("【訓練】")
    assert await page.locator(".exercise-notice").is_visible()
    real = page.locator("article:not(.exercise)")
    assert await real.locator(".exercise-banner").count() == 0
    await page.context.close()

    hidden = await serve(store, website_settings(site, show_exercises=False))
    page = await open_page(browser, hidden + "/")
    assert await page.locator("article h2").all_inner_texts() == ["防犯 不審者情報"]
    assert await page.get_by_text("訓練").count() == 0
    await page.context.close()


async def test_cancelled_alert_in_chromium(browser: Browser, serve: Any, store: SQLiteStore, site: SiteFactory) -> None:
    now = time.time()
    await publish(store, web_alert("orig", event_key="flood", title="洪水 避難指示 思川"), now - 300)
    await publish(store, web_alert("other", level=2, title="給水のお知らせ"), now - 200)
    base = await serve(store, website_settings(site))
    page = await open_page(browser, base + "/")
    assert await page.locator("article h2").all_inner_texts() == ["洪水 避難指示 思川", "給水のお知らせ"]
    await page.context.close()

    cancel = web_alert("cxl", event_key="flood", version=2, msg_type=MsgType.CANCEL, references="orig", title="取消")
    await publish(store, cancel, now - 10)
    page = await open_page(browser, base + "/")
    assert await page.locator("article h2").all_inner_texts() == ["給水のお知らせ"]

    await page.get_by_role("link", name="過去の情報").first.click()
    row = page.locator("ul.history li", has_text="洪水 避難指示 思川")
    assert await row.count() == 1
    assert await row.locator(".status").inner_text() == "取消"
    decoration = await row.locator("h2 a").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert decoration == "line-through"

    await row.locator("h2 a").click()
    assert page.url == base + "/alerts/cxl"
    notice = page.locator(".cancelled-notice")
    assert await notice.is_visible() and "取り消されました" in await notice.inner_text()
    await page.goto(base + "/alerts/orig")
    assert await page.locator(".cancelled-banner").inner_text() == "【取消】この情報は取り消されました。"
    await page.context.close()


async def test_district_picker_and_page_in_chromium(
    browser: Browser, serve: Any, store: SQLiteStore, site: SiteFactory
) -> None:
    now = time.time()
    await publish(store, web_alert("east", level=4, title="東 避難指示", districts=("east",)), now - 60)
    await publish(store, web_alert("west", level=3, title="西 避難指示", districts=("west",)), now - 30)
    await publish(store, web_alert("city", level=3, title="市 高齢者等避難"), now - 90)
    base = await serve(store, load_settings(site(districts=True)))
    page = await open_page(browser, base + "/")
    assert await page.locator("article h2").all_inner_texts() == ["東 避難指示", "西 避難指示", "市 高齢者等避難"]
    assert await no_sideways_scrolling(page)

    await page.locator(".district-picker").get_by_role("link", name="西部地区").click()
    assert page.url == base + "/?district=west"
    assert await page.locator("h1").inner_text() == "発表中の情報（西部地区）"
    assert await page.locator("article h2").all_inner_texts() == ["西 避難指示", "市 高齢者等避難"]
    chosen = page.locator(".district-picker a[aria-current]")
    assert await chosen.inner_text() == "西部地区"
    box = await chosen.bounding_box()
    assert box is not None and box["height"] >= 44  # a target a thumb can hit
    city = page.locator("article", has_text="市 高齢者等避難")
    assert await city.locator(".whole-city-tag").inner_text() == "市内全域"

    await page.locator("article", has_text="西 避難指示").get_by_role("link", name="西部地区").click()
    assert page.url == base + "/districts/west"
    assert await page.locator("h1").inner_text() == "西部地区の情報"
    assert await page.locator("article h3").all_inner_texts() == ["西 避難指示", "市 高齢者等避難"]
    assert await no_sideways_scrolling(page)
    await page.get_by_role("link", name="地区ごとの情報").click()
    assert await page.locator(".district-list a").all_inner_texts() == ["東部地区", "西部地区", "南部地区", "北部地区"]
    await page.context.close()
