"""Accessibility: every public page and the subscription flow pass axe-core with no violation, in Japanese,
English and Vietnamese, and work by keyboard alone.

axe-core is the npm package (package.json, package-lock.json; scripts/test.sh installs it into
node_modules/), injected into Debian's headless Chromium with playwright. The website and the
subscription pages run in one app, as the service runs them; one server, one store and one browser
serve the whole module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from broadcaster.models import Alert, ContactKind, Mode, MsgType, Text
from broadcaster.pacing import Backoff
from broadcaster.rendering import Renderer, make_environment
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import Signer
from broadcaster.web import website
from broadcaster.web.subscription import MANAGE, Subscriptions
from broadcaster.web.subscription_pages import PAGES, Pages
from broadcaster.web.subscription_pages import add_routes as add_subscription_routes
from channels.email.channel import UNSUBSCRIBE
from channels.email.mailer import Mailer, Smtp
from tests.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DATA_KEY_ENV,
    ROOT,
    TEST_DATA_KEY,
    TEST_PASSWORD_HASH,
    toml_sections,
)
from tests.smtp_server import PASSWORD, USER, running_relay
from tests.test_store import email_subscriber
from tests.test_website import publish
from tests.test_website_languages import ORDER, built

pytestmark = pytest.mark.asyncio(loop_scope="module")

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1024, "height": 900}
LANGUAGES = ("ja", "en", "vi")  # Japanese, and two others in other scripts' neighbours
SECRET = b"accessibility-test-secret-0123456789"
ADDRESS = "hanako.oyama@example.jp"
# every element a keyboard can reach, in document order; of a radio group only the checked one (or the first)
FOCUSABLE = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, [tabindex]')]
    .filter(e => e.tabIndex >= 0);
  const groups = new Set();
  return all.filter(e => {
    if (e.type !== 'radio') return true;
    if (groups.has(e.name)) return false;
    const checked = document.querySelector(`input[type=radio][name="${e.name}"]:checked`);
    if (checked && checked !== e) return false;
    groups.add(e.name);
    return true;
  }).map((e, i) => { e.dataset.order = String(i); return e.outerHTML.slice(0, 80); });
}"""
FOCUSED = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return {order: e.dataset.order ?? null, visible: outline || s.boxShadow !== 'none', tag: e.outerHTML.slice(0, 80)};
}"""


@functools.cache
def axe_source() -> str:
    """axe-core's source (read once)."""
    return AXE.read_text(encoding="utf-8")


@dataclass
class City:
    """The website and subscription pages on one test server, their alerts, and one browser."""

    base: str
    browser: Browser
    settings: Settings
    alerts: dict[str, str]  # what each alert is -> its id
    manage: str  # a settings page's path and token
    unsubscribe: str  # a stop page's path and token


def site_file(folder: Path, smtp_port: int) -> Path:
    """A site config with its storage in ``folder``, mail to the local relay, and Oyama's districts."""
    sections: dict[str, dict[str, Any]] = {
        "storage": {"path": str(folder / "broadcaster.db"), "outbox_dir": str(folder / "outbox")},
        "jma": {"enabled": False},
        "city": {"public_url": "http://alerts.city.oyama.example.jp"},
        "website": {"show_exercises": True},
        "email": {"host": "127.0.0.1", "port": smtp_port, "tls": "starttls", "timeout": 5.0},
        "subscriptions": {"ip_limit": 1000, "address_limit": 100},
        "console.password_hash": dict(TEST_PASSWORD_HASH),
    }
    path = folder / "site.toml"
    path.write_text("\n".join(toml_sections(sections)), encoding="utf-8")
    return path


def alerts(settings: Settings) -> dict[str, Alert]:
    """A live 定型文 alert for two districts, an exercise, and an alert since cancelled (with its cancel)."""
    drill = {"level": 3, "title": "震度６強を想定した訓練", "body": "訓練です。", "mode": "exercise"}
    flood = {"level": 3, "title": "洪水 避難指示", "body": "川に近づかないでください。"}
    made = {
        "live": built(settings, "live-1", ORDER, districts=2),
        "exercise": dataclasses.replace(built(settings, "exercise-1", drill), mode=Mode.EXERCISE),
        "cancelled": built(settings, "cancelled-1", flood),
    }
    english = Text("Flood: evacuation order", "Keep away from the river.")
    made["cancelled"] = dataclasses.replace(
        made["cancelled"], translations={**made["cancelled"].translations, "en": english}
    )
    made["cancel"] = dataclasses.replace(
        made["cancelled"], id="cancel-1", version=2, msg_type=MsgType.CANCEL, references="cancelled-1"
    )
    return made


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> AsyncIterator[City]:
    """One app with the website and the subscription pages, as the service wires them, and one Chromium."""
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: run scripts/test.sh (it installs axe-core with npm ci)")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install chromium fonts-noto-cjk`")
    folder = tmp_path_factory.mktemp("accessibility")
    with running_relay(ca) as relay, pytest.MonkeyPatch.context() as env_patch:
        env_patch.setenv(DATA_KEY_ENV, TEST_DATA_KEY)  # subscriber contacts are sealed with it
        settings = load_settings(site_file(folder, relay.port))
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        mailer = Mailer(Smtp(settings, (USER, PASSWORD), relay.client_tls), Backoff(base=0.0, cap=0.0), max_attempts=2)
        signer = Signer(SECRET)
        env = make_environment()
        app = web.Application()
        add_subscription_routes(app)
        website.add_routes(app)
        website.setup(app, store, settings, Renderer(settings))
        app[PAGES] = Pages.create(settings, env, Subscriptions(store, settings, signer, mailer, env))
        server = TestServer(app, host="127.0.0.1")
        try:
            now = time.time()
            made = alerts(settings)
            for i, name in enumerate(("cancelled", "exercise", "live", "cancel")):
                await publish(store, made[name], now - 100 + i)
            subscriber = await store.save_subscriber(email_subscriber(ADDRESS))
            assert subscriber.channel == ContactKind.EMAIL
            manage = signer.make(MANAGE, subscriber.id, ttl=settings.subscriptions.manage_ttl)
            stop = signer.make(UNSUBSCRIBE, subscriber.id, ttl=None)
            await server.start_server()
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
                try:
                    yield City(
                        base=str(server.make_url("")).rstrip("/"),
                        browser=browser,
                        settings=settings,
                        alerts={name: alert.id for name, alert in made.items()},
                        manage=f"/manage?t={manage}",
                        unsubscribe=f"/unsubscribe?t={stop}",
                    )
                finally:
                    await browser.close()
        finally:
            await server.close()
            await mailer.aclose()
            await store.aclose()


async def open_page(city: City, path: str) -> Page:
    """Open ``path`` in a fresh context (its own cookies); scripts run only for axe, the pages have none."""
    context = await city.browser.new_context(bypass_csp=True, viewport=VIEWPORT)
    page = await context.new_page()
    response = await page.goto(city.base + path)
    assert response is not None and response.status == 200, path
    return page


async def violations(page: Page) -> list[str]:
    """axe-core's violations on the page, one line each: rule, impact, what to fix, where."""
    await page.add_script_tag(content=axe_source())
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps([n['target'] for n in v['nodes']], ensure_ascii=False)}"
        for v in result["violations"]
    ]


async def axe_pages(city: City, paths: list[str], lang: str) -> dict[str, list[str]]:
    """Each path's violations (only those with any), a few pages at a time in one browser context."""
    context = await city.browser.new_context(bypass_csp=True, viewport=VIEWPORT)
    found: dict[str, list[str]] = {}
    at_once = asyncio.Semaphore(3)

    async def check(path: str) -> None:
        async with at_once:
            page = await context.new_page()
            response = await page.goto(city.base + path)
            assert response is not None and response.status == 200, path
            assert await page.locator("html").get_attribute("lang") == lang, path
            if problems := await violations(page):
                found[path] = problems
            await page.close()

    try:
        async with asyncio.TaskGroup() as group:
            for path in paths:
                group.create_task(check(path))
    finally:
        await context.close()
    return found


def localised(path: str, lang: str) -> str:
    """A website path in ``lang``: Japanese at the root, others under /<lang>/."""
    return path if lang == "ja" else f"/{lang}{path}"


def with_lang(path: str, lang: str) -> str:
    """A subscription page in ``lang`` (those pages take ?lang=)."""
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


async def test_axe_finds_what_it_should(city: City) -> None:
    context = await city.browser.new_context()
    page = await context.new_page()
    await page.set_content('<html><body><img src="x.png"><a href="/"></a></body></html>')
    found = " ".join(await violations(page))
    assert all(rule in found for rule in ("html-has-lang", "image-alt", "link-name")), found
    await context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_public_page_passes_axe(city: City, lang: str) -> None:
    district = city.settings.districts[0].id
    paths = ["/", "/alerts/history", "/districts", f"/districts/{district}"]
    paths += [f"/alerts/{city.alerts[name]}" for name in ("live", "exercise", "cancelled", "cancel")]
    assert await axe_pages(city, [localised(path, lang) for path in paths], lang) == {}


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_subscription_flow_passes_axe(city: City, lang: str) -> None:
    found: dict[str, list[str]] = {}
    page = await open_page(city, with_lang("/subscribe", lang))
    if problems := await violations(page):
        found["/subscribe"] = problems
    await page.locator("#address").fill(f"{lang}.{ADDRESS}")
    await page.locator("form button[type=submit]:not([tabindex='-1'])").last.click()
    await page.wait_for_load_state()
    assert "/subscribe" in page.url and await page.locator("#address").count() == 0  # the confirmation page
    if problems := await violations(page):
        found["/subscribe (sent)"] = problems
    await page.context.close()
    found |= await axe_pages(city, [with_lang(city.manage, lang), with_lang(city.unsubscribe, lang)], lang)
    assert found == {}


async def tab_through(page: Page) -> list[str]:
    """Press Tab through the page; returns what went wrong (order, invisible focus). The start is <body>."""
    expected = await page.evaluate(FOCUSABLE)
    assert expected, "nothing to reach"
    wrong = []
    for i, element in enumerate(expected):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused["order"] != str(i):
            wrong.append(f"Tab {i + 1}: expected {element}, focus on {focused['tag']}")
            break
        if not focused["visible"]:
            wrong.append(f"Tab {i + 1}: no visible focus on {focused['tag']}")
    return wrong


@pytest.mark.parametrize("lang", ("ja", "en"))
async def test_the_current_page_works_by_keyboard(city: City, lang: str) -> None:
    page = await open_page(city, localised("/", lang))
    # the first stop is the skip link, shown when focused, and Enter follows it to the main content
    await page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert await skip.evaluate("e => e === document.activeElement")
    box = await skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0  # on the screen, not only focused
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    await page.goto(city.base + localised("/", lang))
    assert await tab_through(page) == []
    await page.context.close()


async def test_the_language_switch_works_by_keyboard(city: City) -> None:
    page = await open_page(city, "/")
    switch = page.locator(".language-switch a[hreflang='en']")
    await switch.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(city.base + "/en/")
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.context.close()


@pytest.mark.parametrize("lang", ("ja", "en"))
async def test_the_subscription_form_works_by_keyboard(city: City, lang: str) -> None:
    page = await open_page(city, with_lang("/subscribe", lang))
    assert await tab_through(page) == []
    await page.context.close()
