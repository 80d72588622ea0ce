"""The website in every offered language: /<lang>/… and ?lang=, the language switch and hreflang on every page,
the alert's own words in each language (やさしい日本語 with <ruby>), notices marked as such, no Japanese-only city
name on other languages' pages, CAP with one <info> per language, and the export's language folders.
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from pathlib import Path
from typing import Any

import pytest

from broadcaster import districts, drafts, furigana, variants
from broadcaster.models import Alert, Published, Source
from broadcaster.on_air import build_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from channels.website.channel import write_export
from channels.website.pages import render_site
from channels.website.words import load
from tests.test_website import CAP_NS, SiteFactory, get, publish, validate_cap, web_alert, website_settings
from tests.test_website import client_for as client_for  # the fixture: test clients of the website app

ORDER = {
    "phrase": "evacuation_order",
    "slots": {"time": "15:30", "hazard": "河川の氾濫", "households": "120", "shelter": "間々田小学校"},
    "level": 4,
}
FREE = {"level": 3, "title": "小山市からのお知らせ", "body": "給水車が市役所に来ています。"}
ALTERNATE = re.compile(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">')
SWITCH = re.compile(r'<nav class="language-switch".*?</nav>', re.S)
TAG = re.compile(r"<[^>]*>")


def built(settings: Settings, alert_id: str, data: dict[str, Any], districts: int = 1) -> Alert:
    """A staff alert built as the console builds it (every language filled in), for the website only.

    A 定型文 (``phrase`` in ``data``) gets the pattern's own Japanese words, as the console's form fills them in.
    """
    fields = {"category": "disaster", "mode": "live", "districts": [d.id for d in settings.districts[:districts]]}
    fields |= data
    if "phrase" in data:
        plain = drafts.build(settings, drafts.parse(fields | {"title": "-", "body": "-"}), "sato", Source.STAFF)
        phrased = dataclasses.replace(plain, phrase=data["phrase"], slots=data["slots"])
        words = variants.japanese_from_phrase(phrased, settings)
        assert words is not None
        fields |= {"title": words.title, "body": words.body, "instruction": words.instruction}
    alert = drafts.build(settings, drafts.parse(fields), "sato", Source.STAFF)
    return dataclasses.replace(alert, id=alert_id, event_key=alert_id, channels=("website",))


def visible(page: str) -> str:
    """What a reader sees: the text without tags, the <head> left out."""
    return html.unescape(TAG.sub(" ", page.split("<body>", 1)[-1]))


def page_paths(settings: Settings, alert_id: str) -> list[str]:
    """Every kind of public page, as Japanese paths."""
    district = settings.districts[0].id
    return ["/", "/alerts/history", "/districts", f"/districts/{district}", f"/alerts/{alert_id}"]


def localised(path: str, lang: str) -> str:
    return path if lang == "ja" else f"/{lang}{path}"


@pytest.fixture
def settings_for_web(site: SiteFactory) -> Settings:
    return website_settings(site)


async def test_every_page_in_every_language_with_the_switch_and_hreflang(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    await publish(store, built(settings, "order", ORDER))
    client = await client_for(store, settings)
    book = settings.phrasebook
    assert len(settings.city.languages) == 10
    for lang in settings.city.languages:
        language = book.languages[lang]
        for path in page_paths(settings, "order"):
            for asked in (localised(path, lang), f"{path}{'&' if '?' in path else '?'}lang={lang}"):
                page = await get(client, asked)
                assert f'<html lang="{language.html}">' in page, asked
                alternates = dict(ALTERNATE.findall(page))
                expected = {other: localised(path, other) for other in settings.city.languages}
                assert alternates == expected | {"x-default": path}, asked
                switch = SWITCH.search(page)
                assert switch is not None, asked
                for other in settings.city.languages:
                    named = book.languages[other]
                    link = f'<a href="{localised(path, other)}" lang="{named.html}" hreflang="{other}"'
                    assert link in switch.group(0) and f">{named.name}</a>" in switch.group(0), (asked, other)
                assert 'aria-current="true">' + language.name in switch.group(0), asked


async def test_other_languages_never_call_the_city_by_its_japanese_name_alone(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    await publish(store, built(settings, "order", ORDER))
    await publish(store, built(settings, "free", FREE))
    client = await client_for(store, settings)
    for lang in settings.city.languages:
        if settings.phrasebook.languages[lang].japanese:
            continue
        for path in [*page_paths(settings, "order"), "/alerts/free"]:
            text = visible(SWITCH.sub("", await get(client, localised(path, lang))))
            assert settings.city.name_in(lang) in text, (lang, path)
            if settings.city.name_in(lang) != settings.city.name:  # Chinese writes 小山市 too
                assert settings.city.name not in text, (lang, path)
    english = await get(client, "/en/")
    assert "Oyama City" in english and "<title>Current alerts | Oyama City Emergency Information" in english


async def test_each_language_shows_the_alerts_own_words(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    order = built(settings, "order", ORDER)
    await publish(store, order)
    client = await client_for(store, settings)
    for lang in settings.city.languages:
        page = await get(client, localised("/alerts/order", lang))
        words = order.text(lang)
        first = words.body.split("\n")[0]
        assert str(furigana.html(first)) in page, lang
        # the phrasebook's own words carry no notice; a language whose pattern is not usable yet gets one
        assert ('class="notice-source"' in page) == (words.source == "notice"), lang
    assert order.text("en").source == "phrasebook"
    easy = await get(client, "/ja-x-easy/alerts/order")
    assert "<ruby>" in easy and "<rt>" in easy and '<html lang="ja">' in easy
    assert not re.search(r"\{[^{}|]+\|[^{}|]+\}", visible(easy))  # no furigana markup shown as it is
    feed = await get(client, "/alerts.json")  # the feeds stay Japanese with translations; never with markup
    assert '"ja-x-easy"' in feed and not re.search(r"\{[^{}|]+\|[^{}|]+\}", feed)
    english = await get(client, "/en/alerts/order")
    assert "Evacuation order" in english and "From: Oyama City" in english and "<ruby>" not in english


async def test_a_notice_says_where_the_words_are(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    await publish(store, built(settings, "free", FREE))
    client = await client_for(store, settings)
    english = await get(client, "/en/alerts/free")
    notice = re.search(r'<p class="notice-source" role="note">(.*?)</p>', english, re.S)
    assert notice is not None and "written in Japanese only" in notice.group(1)
    assert '<a href="/alerts/free" hreflang="ja">Details in Japanese</a>' in notice.group(1)
    japanese = await get(client, "/alerts/free")
    assert 'class="notice-source"' not in japanese and "給水車が市役所に来ています。" in japanese
    for lang in settings.city.languages:  # every other language marks it, in its own words
        if lang != "ja":
            assert 'class="notice-source"' in await get(client, localised("/alerts/free", lang)), lang


async def test_an_alert_without_words_in_a_language_is_shown_in_japanese_and_says_so(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    await publish(store, web_alert("old"))  # stored before translations: Japanese only
    client = await client_for(store, settings)
    page = await get(client, "/vi/alerts/old")
    assert '<html lang="vi">' in page and "Tin này chỉ có bằng tiếng Nhật." in page
    assert '<h1 class="alert-title" lang="ja">old 避難指示</h1>' in page
    assert '<div class="words" lang="ja">' in page


async def test_languages_the_city_does_not_offer(store: SQLiteStore, site: SiteFactory, client_for: Any) -> None:
    settings = website_settings(site)
    only = settings.model_copy(update={"city": settings.city.model_copy(update={"languages": ("ja", "en")})})
    await publish(store, web_alert("a1"))
    client = await client_for(store, only)
    for path in ("/vi/", "/vi/alerts/a1", "/xx/districts"):
        assert "<h1>この情報は見つかりません</h1>" in await get(client, path, status=404), path
    assert '<html lang="ja">' in await get(client, "/alerts/a1?lang=vi")  # an unknown ?lang= is Japanese
    page = await get(client, "/en/alerts/a1")
    assert dict(ALTERNATE.findall(page)) == {"ja": "/alerts/a1", "en": "/en/alerts/a1", "x-default": "/alerts/a1"}
    response = await client.get("/ja/alerts/a1", allow_redirects=False)
    assert response.status == 301 and response.headers["Location"] == "/alerts/a1"
    response = await client.get("/en", allow_redirects=False)
    assert response.status == 301 and response.headers["Location"] == "/en/"
    not_found = await get(client, "/en/alerts/nope", status=404)
    assert '<html lang="en">' in not_found and "This information was not found." in not_found


async def test_cap_carries_one_info_per_language(
    store: SQLiteStore, settings_for_web: Settings, client_for: Any
) -> None:
    settings = settings_for_web
    await publish(store, built(settings, "order", ORDER))
    client = await client_for(store, settings)
    doc = validate_cap((await get(client, "/cap/order.xml")).encode())
    infos = doc.findall("cap:info", CAP_NS)
    book = settings.phrasebook
    assert [i.findtext("cap:language", namespaces=CAP_NS) for i in infos] == [
        book.languages[lang].cap for lang in settings.city.languages
    ]
    by_lang = dict(zip(settings.city.languages, infos, strict=True))
    district = settings.districts[0]
    for lang, info in by_lang.items():
        headline = info.findtext("cap:headline", namespaces=CAP_NS) or ""
        description = info.findtext("cap:description", namespaces=CAP_NS) or ""
        assert headline and description, lang
        assert "{" not in headline + description, lang  # furigana written as 漢字（かんじ）, never as markup
        named = furigana.plain(districts.names([district.id], settings, lang))  # やさしい日本語: with its reading
        assert info.findtext("cap:area/cap:areaDesc", namespaces=CAP_NS) == named, lang
        web = f"{settings.city.public_url}{localised('/alerts/order', lang)}"
        assert info.findtext("cap:web", namespaces=CAP_NS) == web, lang
    en = by_lang["en"]
    assert en.findtext("cap:senderName", namespaces=CAP_NS) == "Oyama City"
    assert en.findtext("cap:event", namespaces=CAP_NS) == "Disaster (Alert Level 4)"
    assert by_lang["ja"].findtext("cap:event", namespaces=CAP_NS) == "防災（警戒レベル４）"


def test_every_language_has_every_word() -> None:
    table = load()
    assert set(table) >= {"ja", "ja-x-easy", "en", "pt-BR", "es", "vi", "tl", "zh-Hans", "ko", "ne"}
    for lang, words in table.items():
        assert set(words) == set(table["ja"]), lang
        assert all(value.strip() for value in words.values()), lang
        assert not [k for k, v in words.items() if "小山" in v or "Oyama" in v], lang  # the city's name is a slot


def test_the_export_writes_each_language_and_prunes_one_no_longer_offered(
    settings_for_web: Settings, tmp_path: Path
) -> None:
    settings = settings_for_web
    now = time.time()
    snap = build_snapshot([Published(built(settings, "order", ORDER), now)], settings, now)
    export = tmp_path / "export"
    (export / "robots.txt").parent.mkdir(parents=True)
    (export / "robots.txt").write_text("the CMS's own file")
    languages = tuple(settings.phrasebook.languages)
    write_export(export, render_site(snap, settings, Renderer(settings)), languages)
    assert (export / "vi" / "alerts" / "order" / "index.html").exists()
    easy = (export / "ja-x-easy" / "index.html").read_text()
    assert '<a href="../ja-x-easy/alerts/order/index.html">' in easy and 'href="../static/website.css"' in easy

    fewer = settings.model_copy(update={"city": settings.city.model_copy(update={"languages": ("ja", "en")})})
    write_export(export, render_site(snap, fewer, Renderer(fewer)), languages)
    assert not (export / "vi" / "index.html").exists() and not (export / "vi" / "alerts" / "order").exists()
    assert (export / "en" / "alerts" / "order" / "index.html").exists()
    assert (export / "robots.txt").read_text() == "the CMS's own file"
    page = (export / "alerts" / "order" / "index.html").read_text()
    assert dict(ALTERNATE.findall(page)) == {
        "ja": "../../alerts/order/index.html",
        "en": "../../en/alerts/order/index.html",
        "x-default": "../../alerts/order/index.html",
    }
