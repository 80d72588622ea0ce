"""The district picker in headless Chromium, against the whole service in process: ticking a district
changes the reach shown per channel, a shape on the map ticks its box, 「市内全域」 unticks them all,
and the search box filters the list by reading, postal code and address. Nothing breaks the console's
Content-Security-Policy (the browser would say so on its console).
"""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from broadcaster import districts
from broadcaster.models import Role
from tests.console.conftest import PASSWORD, ConsoleSite, SiteMaker
from tests.console.test_districts import seeded


def reach_of(page: Page, channel: str) -> object:
    """The number of people a channel's row of the live reach shows."""
    return page.locator(f'#live-reach [data-reach-channel="{channel}"] [data-reach-n]')


async def visible_districts(page: Page) -> list[str]:
    """The districts the list shows, by the value of their boxes."""
    items = page.locator("#district-picker li[data-terms]:visible input[name=districts]")
    return [await items.nth(i).get_attribute("value") or "" for i in range(await items.count())]


async def test_ticking_districts_on_the_list_and_the_map_changes_the_reach_and_search_filters(
    browser: Browser, make_site: SiteMaker
) -> None:
    site: ConsoleSite = await make_site(districts="example")
    await seeded(site)
    await site.add_user("sato", Role.OPERATOR)
    base = str(site.server.make_url("")).rstrip("/")

    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    complaints: list[str] = []
    # a CSP violation or a script error shows here; the browser's own favicon request is no one's error
    page.on(
        "console",
        lambda m: complaints.append(m.text) if m.type == "error" and "favicon" not in m.location["url"] else None,
    )
    await page.goto(f"{base}/console/login?next=/console/compose")
    await page.fill("input[name=name]", "sato")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/console/compose$"))

    # the whole city at first: every tester by mail, the LINE friend in the west
    whole = page.locator("input[name=whole_city]")
    await expect(whole).to_be_checked()
    await expect(reach_of(page, "email")).to_have_text("5")
    await expect(reach_of(page, "line")).to_have_text("1")
    await expect(page.locator("[data-reach-total]")).to_have_text("6")

    # a tick on the list: the east's people and those who chose the whole city
    await page.check("input[name=districts][value=east]")
    await expect(whole).not_to_be_checked()
    await expect(reach_of(page, "email")).to_have_text("3")
    await expect(reach_of(page, "line")).to_have_text("0")
    await expect(page.locator('[data-district-shape="east"]')).to_have_class(re.compile(r"\bpicked\b"))
    await expect(page.locator("[data-district-summary]")).to_have_text("東部地区")

    # a click on the map's west: its box is ticked, and the reach grows
    await page.locator('[data-district-shape="west"] path').click()
    await expect(page.locator("input[name=districts][value=west]")).to_be_checked()
    await expect(reach_of(page, "email")).to_have_text("4")
    await expect(reach_of(page, "line")).to_have_text("1")
    await expect(page.locator("[data-district-summary]")).to_have_text("東部地区、西部地区")
    await expect(page.locator("[data-district-shape]")).to_have_count(3)  # north has no outline

    # a channel unticked leaves the table; 「市内全域」 unticks every district
    await page.uncheck("input[name=channels][value=line]")
    await expect(page.locator('#live-reach [data-reach-channel="line"]')).to_be_hidden()
    await page.check("input[name=whole_city]")
    await expect(page.locator("input[name=districts]:checked")).to_have_count(0)
    await expect(reach_of(page, "email")).to_have_text("5")
    await expect(page.locator('[data-district-shape="west"]')).not_to_have_class(re.compile(r"\bpicked\b"))

    # the search: a reading, a town's postal code, an address, and nothing
    search = page.locator("#district-search")
    await search.fill("ままだ")  # 間々田, a town of the south
    assert await visible_districts(page) == ["south"]
    west_town = districts.town_index(site.settings).get("神鳥谷")
    assert west_town is not None
    code = west_town.postal_codes[0]
    await search.fill(f"〒{code[:3]}-{code[3:]}")
    assert await visible_districts(page) == ["west"]
    await search.fill("小山市城東３丁目")
    assert await visible_districts(page) == ["east"]
    await search.fill("ほくぶ")
    assert await visible_districts(page) == ["north"]
    await search.fill("存在しない町")
    await expect(page.locator(".district-no-match")).to_be_visible()
    await search.fill("")
    assert await visible_districts(page) == ["east", "west", "south", "north"]

    # saved with what is ticked; Enter in the search box submitted nothing
    await search.press("Enter")
    await expect(page).to_have_url(re.compile(r"/console/compose$"))
    await page.check("input[name=districts][value=north]")
    await page.fill("input[name=title]", "土砂災害に注意")
    await page.fill("textarea[name=body]", "北部で雨が強まっています。")
    await page.select_option("select[name=level]", "3")
    await page.click("button[name=do][value=save]")
    await expect(page).to_have_url(re.compile(r"/console/alerts/[0-9a-f-]+$"))
    alert = await site.store.get_alert(page.url.rsplit("/", 1)[1])
    assert alert is not None and alert.districts == ("north",)
    await expect(page.locator("p.places")).to_contain_text("北部地区")
    await context.close()
    assert complaints == []
