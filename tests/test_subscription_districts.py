"""Residents choose districts on the subscription pages: through the mailed links, with the finder (a 町
name, an address or a postal code), refusing forged ids, in English, and with no districts at all.

The made-up districts of config/example-districts.toml: east 東部地区 (城東 …), west 西部地区 (神鳥谷 …),
south 南部地区 (間々田 …), north 北部地区 (喜沢 …). 駅南町 is one of 小山市's towns in none of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from broadcaster.models import SubscriberState
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.subscription import MANAGE
from tests.smtp_server import Relay
from tests.test_store import email_subscriber
from tests.test_subscription_pages import (
    ADDRESS,
    Site,
    SiteFactory,
    SiteMaker,
    field,
    link_in,
    site_maker,
    token_of,
)

FORM = {"address": ADDRESS, "categories": ["disaster", "crime"], "language": "ja"}


@pytest.fixture
async def pages(site: SiteFactory, relay: Relay, store: SQLiteStore) -> AsyncIterator[SiteMaker]:
    """The subscription pages' factory (tests/test_subscription_pages.py)."""
    async with site_maker(site, relay, store) as make:
        yield make


@pytest.fixture
async def s(pages: SiteMaker) -> Site:
    """The pages with the example districts."""
    site: Site = await pages(districts="example")
    return site


def ticked(page: str) -> set[str]:
    """The districts ticked on a form."""
    return set(re.findall(r'name="districts" value="([a-z]+)" checked', page))


def said(page: str) -> str:
    """What the finder said (its one status line), as read: tags (a 町 marked lang="ja") left out."""
    match = re.search(r'<p class="(?:found|notice|error)" role="status">(.*?)</p>', page)
    assert match, page
    return re.sub(r"<[^>]+>", "", match.group(1))


async def manage_page(s: Site, sub_id: int) -> tuple[str, str]:
    """A settings link's page and its token."""
    token = s.signer.make(MANAGE, sub_id, ttl=600)
    response = await s.client.get(f"/manage?t={token}")
    assert response.status == 200
    return await response.text(), token


# -- the whole flow -------------------------------------------------------------------------


async def test_subscribe_with_a_district_confirm_and_change_districts_on_the_settings_page(s: Site) -> None:
    form = await (await s.client.get("/subscribe")).text()
    assert "受け取る地区" in form and "市内全域" in form
    assert "南部地区" in form and "なんぶちく" in form and "間々田・東間々田" in form  # names, readings, towns
    assert ticked(form) == set()  # the whole city unless chosen

    await s.subscribe(ADDRESS, ("disaster",), districts=["south", "north"])
    pending = await s.subscriber()
    assert pending is not None and pending.state == SubscriberState.PENDING
    assert pending.districts == {"south", "north"}
    [mail] = await s.mails()
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "受け取る地区：南部地区、北部地区" in text  # in words, in the city's order

    status, page = await s.post("/subscribe/confirm", {"t": token_of(link_in(mail))})
    assert status == 200 and "登録が完了しました" in page
    active = await s.subscriber()
    assert active is not None and active.state == SubscriberState.ACTIVE and active.districts == {"south", "north"}

    page, token = await manage_page(s, active.id)
    assert ticked(page) == {"south", "north"}
    status, saved = await s.post("/manage", {"t": token, "categories": ["disaster"], "language": "ja",
                                             "districts": ["east"]})  # fmt: skip
    assert status == 200 and "変更を保存しました" in saved
    assert (await s.subscriber()).districts == {"east"}  # type: ignore[union-attr]
    [update] = [e for e in await s.store.audit_log() if e.action == "subscriber.update"]
    assert "districts=east" in update.detail

    status, _ = await s.post("/manage", {"t": token, "categories": ["disaster"], "language": "ja"})
    assert status == 200
    assert (await s.subscriber()).districts == frozenset()  # type: ignore[union-attr]  # nothing ticked: whole city
    page, _ = await manage_page(s, active.id)
    assert ticked(page) == set()


async def test_mails_name_the_districts_or_the_whole_city(s: Site) -> None:
    await s.subscribe()
    await s.store.save_subscriber(email_subscriber("resident@example.jp"))
    await s.subscribe("resident@example.jp", districts=["east"])  # registered: a settings link, nothing changed
    by_to = {m["To"]: m.get_body(("plain",)).get_content() for m in await s.mails()}  # type: ignore[union-attr]
    confirm, manage = by_to[ADDRESS], by_to["resident@example.jp"]
    assert "受け取る地区：市内全域" in confirm
    assert "受け取る情報・地区・言語の変更" in manage
    assert (await s.subscriber("resident@example.jp")).districts == frozenset()  # type: ignore[union-attr]


# -- the finder -----------------------------------------------------------------------------


FINDER = [  # what is typed, what the finder says first, the districts it ticks
    ("間々田", "間々田は南部地区です。一覧の南部地区にチェックを入れました。", {"south"}),
    ("栃木県小山市城東１丁目２番３号", "城東は東部地区です。", {"east"}),
    ("〒323-0034", "神鳥谷は西部地区です。", {"west"}),
    ("3290205", "間々田は南部地区です。", {"south"}),
    ("喜沢", "喜沢は北部地区です。", {"north"}),
    (
        "駅南町",
        "駅南町は、どの地区にも入っていません。地区を選ばずに、市内全域の情報を受け取ることをおすすめします。",
        set(),
    ),
    ("東京都渋谷区千駄ヶ谷", "その町名・郵便番号は小山市内に見つかりません。", set()),
    ("100-0001", "その町名・郵便番号は小山市内に見つかりません。", set()),
    ("", "町名・住所・郵便番号のどれかを入力してください。", set()),
]


async def test_the_finder_ticks_the_district_of_a_town_an_address_or_a_postal_code(s: Site) -> None:
    for place, words, found in FINDER:  # one server for the table: a search changes nothing
        status, page = await s.post("/subscribe", FORM | {"districts": ["east"], "place": place, "go": "find"})
        assert status == 200, place
        assert said(page).startswith(words), place
        assert ticked(page) == {"east"} | found, place  # added to what was ticked
        # the rest of the form is as it was, and the typed text is not shown back
        assert f'value="{ADDRESS}"' in page and 'value="crime" checked' in page, place
        assert '<input id="place" name="place" type="text" autocomplete="off" maxlength="100"' in page  # no value
        if any(c.isdigit() for c in place) or "都" in place:  # an address or a postal code (a 町 name is shown anyway)
            assert place not in page
    # a search stores nothing and mails nothing
    assert await s.store.subscriber_counts() == {}
    assert await s.mails() == []


async def test_enter_in_the_finder_searches_and_elsewhere_sends(s: Site) -> None:
    # Enter presses the form's first button (go=send); with text in the finder, that is a search
    status, page = await s.post("/subscribe", FORM | {"place": "乙女", "go": "send"})
    assert status == 200 and said(page).startswith("乙女は南部地区です。")
    assert await s.subscriber() is None

    status, page = await s.post("/subscribe", FORM | {"districts": sorted(ticked(page)), "place": "", "go": "send"})
    assert status == 200 and "確認メールをお送りしました" in page
    assert (await s.subscriber()).districts == {"south"}  # type: ignore[union-attr]


async def test_the_finder_on_the_settings_page_saves_nothing_until_saved(s: Site) -> None:
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    page, token = await manage_page(s, sub.id)
    form = {"t": token, "categories": ["disaster"], "language": "ja", "paused": "1", "districts": ["west"]}

    status, page = await s.post("/manage", form | {"place": "羽川", "go": "find"})
    assert status == 200 and said(page).startswith("羽川は北部地区です。")
    assert ticked(page) == {"west", "north"} and field(page, "t") == token
    assert 'name="paused" value="1" checked' in page
    kept = await s.subscriber()
    assert kept is not None and kept.districts == frozenset() and kept.state == SubscriberState.ACTIVE

    status, _ = await s.post("/manage", form | {"districts": ["west", "north"]})
    assert status == 200
    saved = await s.subscriber()
    assert saved is not None and saved.districts == {"west", "north"} and saved.state == SubscriberState.PAUSED

    status, page = await s.post("/manage", form | {"t": token + "x", "place": "羽川", "go": "find"})
    assert status == 400 and "無効か、有効期限が切れています" in page


async def test_typed_places_never_reach_the_log(s: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for place in ("小山市喜沢９９９", "329-0205", "どこにもない町"):
        await s.post("/subscribe", FORM | {"place": place, "go": "find"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(p in logged for p in ("喜沢", "329", "0205", "どこにもない"))


# -- what is refused ------------------------------------------------------------------------


async def test_a_forged_district_id_is_a_400_page_in_japanese_and_nothing_is_saved(s: Site) -> None:
    sub = await s.store.save_subscriber(email_subscriber("resident@example.jp"))
    _, token = await manage_page(s, sub.id)
    for forged in (["south", "atlantis"], ["SOUTH"], ["south", "mamada"]):
        status, page = await s.post("/subscribe", FORM | {"districts": forged})
        assert status == 400, forged
        assert "選べない地区が送られました。" in page and "入力内容を確認してください" in page
        assert ticked(page) == ({"south"} & set(forged))  # the known ones stay ticked; the forged one is not shown
        assert not any(f in page for f in forged if f != "south")

        status, page = await s.post("/manage", {"t": token, "categories": ["disaster"], "language": "ja",
                                                "districts": forged})  # fmt: skip
        assert status == 400 and "選べない地区が送られました。" in page, forged
    assert await s.subscriber() is None
    assert (await s.subscriber("resident@example.jp")).districts == frozenset()  # type: ignore[union-attr]
    assert await s.mails() == []


# -- other languages, other towns -----------------------------------------------------------------


async def test_english_pages_name_districts_in_english(s: Site) -> None:
    form = await (await s.client.get("/subscribe?lang=en")).text()
    assert "South district" in form and '<span class="reading" lang="ja">（南部地区）</span>' in form
    assert "なんぶちく" not in form

    status, page = await s.post("/subscribe?lang=en", FORM | {"place": "323-0034", "go": "find"})
    assert status == 200 and said(page) == "Hitotonoya (神鳥谷) is in the West district. It is now ticked in the list."
    assert 'Hitotonoya (<span lang="ja">神鳥谷</span>) is in' in page  # a screen reader reads the 町 as Japanese
    status, page = await s.post("/subscribe?lang=en", FORM | {"place": "Atlantis", "go": "find"})
    assert said(page).startswith("That town or postal code was not found in Oyama City.")

    await s.subscribe(ADDRESS, ("disaster",), language="en", districts=["west"], path="/subscribe?lang=en")
    [mail] = await s.mails()
    assert "Districts: West district" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_a_town_without_districts_shows_no_district_choice(pages: SiteMaker, lang: str) -> None:
    s = await pages(districts="none")
    form = await (await s.client.get(f"/subscribe?lang={lang}")).text()
    assert 'name="districts"' not in form and 'name="place"' not in form and "enter-key" not in form
    await s.subscribe(ADDRESS, ("disaster",), path=f"/subscribe?lang={lang}")
    [mail] = await s.mails()
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "地区" not in text and "District" not in text
    status, page = await s.post("/subscribe", FORM | {"address": "other@example.jp", "districts": ["south"]})
    assert status == 400 and "選べない地区" in page


async def test_districts_without_towns_offer_no_finder(pages: SiteMaker) -> None:
    # Oyama's default config: its eleven 地区 by name, their 町 not yet given by the city
    s = await pages()
    form = await (await s.client.get("/subscribe")).text()
    assert "間々田地区" in form and "ままだちく" in form and 'name="place"' not in form
    await s.subscribe(ADDRESS, ("disaster",), districts=["mamada", "namai"], place="間々田")  # a place is ignored
    assert (await s.subscriber()).districts == {"mamada", "namai"}  # type: ignore[union-attr]


# -- in a browser ---------------------------------------------------------------------------------


async def test_subscribing_with_a_district_in_chromium(s: Site, browser: Browser) -> None:
    base = str(s.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    page = await ctx.new_page()
    await page.goto(base + "/subscribe")
    district = page.get_by_role("group", name="受け取る地区")
    assert await district.get_by_role("checkbox").count() == 4
    assert not await district.get_by_role("checkbox", checked=True).count()  # the whole city unless chosen
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # fits a phone

    await page.get_by_label("メールアドレス").fill(ADDRESS)
    await page.get_by_label("お住まいの地区を調べる").fill("間々田")
    await page.get_by_label("お住まいの地区を調べる").press("Enter")  # Enter in the finder searches
    await page.wait_for_load_state()
    assert (
        await page.get_by_role("status").inner_text() == "間々田は南部地区です。一覧の南部地区にチェックを入れました。"
    )
    assert await page.get_by_label("南部地区").is_checked()
    assert await page.get_by_label("メールアドレス").input_value() == ADDRESS  # the form kept
    assert await page.get_by_label("お住まいの地区を調べる").input_value() == ""

    await page.get_by_label("お住まいの地区を調べる").fill("323-0012")  # 羽川's postal code (北部地区)
    await page.get_by_role("button", name="調べる").click()
    await page.wait_for_load_state()
    assert (await page.get_by_role("status").inner_text()).startswith("羽川は北部地区です。")
    assert await page.get_by_label("北部地区").is_checked() and await page.get_by_label("南部地区").is_checked()
    assert await s.subscriber() is None  # searching saved nothing

    await page.get_by_label("メールアドレス").press("Enter")  # Enter elsewhere sends the form
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "確認メールをお送りしました"
    pending = await s.subscriber()
    assert pending is not None and pending.districts == {"south", "north"}

    [mail] = await s.mails()
    assert "受け取る地区：南部地区、北部地区" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    await page.goto(base + link_in(mail))
    await page.get_by_role("button", name="登録を完了する").click()
    await page.get_by_role("link", name="登録内容の変更・配信停止").click()
    assert await page.get_by_label("北部地区").is_checked()
    await page.get_by_label("北部地区").uncheck()
    await page.get_by_role("button", name="変更を保存する").click()
    assert await page.locator("h1").inner_text() == "変更を保存しました"
    saved = await s.subscriber()
    assert saved is not None and saved.state == SubscriberState.ACTIVE and saved.districts == {"south"}
    await ctx.close()
