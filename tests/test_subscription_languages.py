"""The subscription flow in every language the city offers: every page (with its language switch, its
lang attribute and the city's name in that language), the confirmation mail, and LINE's answers.

A non-Japanese page may show Japanese only where it says so: a language's name in its own script, a
district's name as written on the city's signs (marked lang="ja"). Everything else is in the page's
language, and the city is never 小山市 alone there (except in Chinese, where that is its name).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import AsyncIterator
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest

from broadcaster import districts, furigana
from broadcaster.models import ContactKind, Subscriber
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import line_districts
from broadcaster.web.line_webhook import greeting, language_menu, settings_menu
from broadcaster.web.subscription import CONFIRM, MANAGE, load_text
from broadcaster.web.subscription_pages import PAGES
from channels.email.channel import UNSUBSCRIBE
from tests.fakes.line import check_messages
from tests.smtp_server import Relay
from tests.test_line_webhook import USER, Hook, choices, event, hook_for
from tests.test_store import email_subscriber
from tests.test_subscription_pages import ADDRESS, Site, SiteFactory, SiteMaker, field, link_in, site_maker

KANA = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff]")  # ・ (U+30FB) aside: the phrasebook's zh and ko use it
KANJI = re.compile(r"[\u4e00-\u9fff]")
JAPANESE_MARKS = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]")  # 、。「」（）：…
SLOT = re.compile(r"\{([a-z_]+)\}")
CITY_JA = "小山市"
BUTTONS = ("language_button", "topics_button", "area_button", "whole", "next", "first", "yes", "no")
LABELS = frozenset(f"line_{key}" for key in BUTTONS)  # text.toml's words on LINE's buttons


@pytest.fixture
async def pages(site: SiteFactory, relay: Relay, store: SQLiteStore) -> AsyncIterator[SiteMaker]:
    """The subscription pages' factory (tests/test_subscription_pages.py)."""
    async with site_maker(site, relay, store) as make:
        yield make


class Reader(HTMLParser):
    """What a reader of a page meets: its text and the labels of its controls, apart from what is marked lang="ja"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.langs: list[str] = []  # the lang in force at each open element
        self.seen: list[str] = []  # in the page's language
        self.marked_ja: list[str] = []  # inside an element marked lang="ja"
        self.html_lang = ""

    VOID = frozenset({"meta", "link", "input", "br", "img", "hr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang") or ""
        lang = a.get("lang") or (self.langs[-1] if self.langs else "")
        for name in ("aria-label", "title", "placeholder"):
            if a.get(name):
                self._keep(lang, a[name] or "")
        if tag not in self.VOID:
            self.langs.append(lang)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.langs:
            self.langs.pop()

    def handle_data(self, data: str) -> None:
        self._keep(self.langs[-1] if self.langs else "", data)

    def _keep(self, lang: str, text: str) -> None:
        (self.marked_ja if lang == "ja" and self.html_lang != "ja" else self.seen).append(text)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.seen).split())


def read(page: str) -> Reader:
    reader = Reader()
    reader.feed(page)
    return reader


def check_language(text: str, lang: str, settings: Settings, where: str) -> None:
    """``text`` is in ``lang`` as far as a script can tell, names the city in it, and shows no markup."""
    language = settings.phrasebook.languages[lang]
    assert "{" not in text and "}" not in text, (where, "furigana markup or an unfilled slot", text)
    if language.japanese:
        return
    assert not KANA.search(text), (where, KANA.findall(text), text)
    if language.script != "hanzi":
        assert not KANJI.search(text), (where, KANJI.findall(text), text)
        assert not JAPANESE_MARKS.search(text), (where, JAPANESE_MARKS.findall(text), text)
    if settings.city.name_in(lang) != CITY_JA:
        assert CITY_JA not in text, (where, text)


# -- the words ------------------------------------------------------------------------------


def test_every_offered_language_has_every_word_with_the_same_slots(settings: Settings) -> None:
    text = load_text()
    assert set(settings.phrasebook.languages) <= set(text), "text.toml lacks a language the phrasebook has"
    for lang, words in text.items():
        assert words.keys() == text["ja"].keys(), (lang, sorted(words.keys() ^ text["ja"].keys()))
        for key, value in words.items():
            assert set(SLOT.findall(value)) == set(SLOT.findall(text["ja"][key])), (lang, key, value)
            assert value.strip(), (lang, key)


def test_easy_japanese_has_furigana_on_every_kanji_and_kana_only_buttons() -> None:
    for key, value in load_text()["ja-x-easy"].items():
        assert not KANJI.search(furigana.RUBY.sub("", value)), (key, value)  # no kanji outside {漢字|かんじ}
        if key in LABELS:
            assert not furigana.has(value) and len(value) <= 20, (key, value)  # LINE's labels: no ruby, short


# -- the pages ------------------------------------------------------------------------------


async def every_page(s: Site, lang: str) -> dict[str, str]:
    """Each page of the flow in ``lang``, by what was done to see it."""
    seen: dict[str, str] = {}
    q = f"lang={lang}"

    async def get(what: str, path: str, status: int = 200) -> str:
        response = await s.client.get(path)
        page = await response.text()
        assert response.status == status, (what, page[:500])
        seen[what] = page
        return page

    async def post(what: str, path: str, data: dict[str, Any], status: int = 200) -> str:
        got, page = await s.post(path, data)
        assert got == status, (what, page[:500])
        seen[what] = page
        return page

    form = await get("subscribe", f"/subscribe?{q}")
    assert f'value="{lang}" checked' in form  # the alerts come in the page's language unless changed
    await post("bad form", f"/subscribe?{q}", {"address": "no", "categories": [], "language": "xx"}, 400)
    await post("finder", f"/subscribe?{q}", {"address": ADDRESS, "categories": ["disaster"], "place": "間々田"})
    await post("sent", f"/subscribe?{q}", {"address": ADDRESS, "categories": ["disaster"], "language": lang})
    sub = await s.store.save_subscriber(email_subscriber(f"{lang.lower()}@example.jp"))
    confirm, manage = s.signer.make(CONFIRM, sub.id, 600), s.signer.make(MANAGE, sub.id, 600)
    await get("confirm", f"/subscribe/confirm?t={confirm}&{q}")
    await post("confirmed", f"/subscribe/confirm?{q}", {"t": confirm})
    manage_page = await get("manage", f"/manage?t={manage}&{q}")
    await post("saved", f"/manage?{q}", {"t": field(manage_page, "t"), "categories": ["crime"], "language": lang})
    await get("unsubscribe", f"/unsubscribe?t={s.signer.make(UNSUBSCRIBE, sub.id, None)}&{q}")
    await post("unsubscribed", f"/unsubscribe?{q}", {"t": manage, "from": "manage"})
    await get("bad link", f"/manage?t=forged&{q}", 400)
    return seen


@pytest.mark.parametrize("lang", ["ja", "ja-x-easy", "en", "pt-BR", "es", "vi", "tl", "zh-Hans", "ko", "ne"])
async def test_every_page_in_every_language(pages: SiteMaker, lang: str) -> None:
    s = await pages(districts="example")
    settings = s.client.app[PAGES].settings
    assert lang in settings.city.languages
    language = settings.phrasebook.languages[lang]
    others = [code for code in settings.city.languages if code != lang]
    for what, page in (await every_page(s, lang)).items():
        where = f"{lang} {what}"
        reader = read(page)
        assert reader.html_lang == language.html, where
        # the switch: every other language one link away, named in itself and marked as that language
        for code in others:
            other = settings.phrasebook.languages[code]
            link = f'lang="{other.html}" hreflang="{other.html}">{html.escape(other.name)}</a>'
            assert link in page, (where, code)
        assert f'aria-current="page" lang="{language.html}">{html.escape(language.name)}<' in page, where
        text = " ".join(
            t for t in reader.seen if t.strip() not in {settings.phrasebook.languages[c].name for c in others}
        )
        check_language(text, lang, settings, where)
        assert furigana.plain(settings.city.name_in(lang)) in text or lang == "ja-x-easy", where
        if lang == "ja-x-easy":
            assert "<ruby>" in page and "<rt>" in page, where  # furigana as ruby, never as braces


async def test_the_finder_and_its_answers_speak_the_pages_language(pages: SiteMaker) -> None:
    s = await pages(districts="example")
    _, page = await s.post("/subscribe?lang=pt-BR", {"address": ADDRESS, "categories": ["disaster"], "place": "間々田"})
    said = re.search(r'role="status">(.*?)</p>', page)
    assert said and said.group(1).startswith('Mamada (<span lang="ja">間々田</span>) fica no distrito de'), page
    assert "marcado na lista" in said.group(1)
    assert 'name="districts" value="south" checked' in page
    _, page = await s.post("/subscribe?lang=ja-x-easy", {"address": ADDRESS, "categories": ["disaster"], "place": "x"})
    assert "<ruby>小山市<rp>（</rp><rt>おやまし</rt>" in page  # the city with its furigana in the answer


async def test_an_unknown_or_oddly_written_page_language(pages: SiteMaker) -> None:
    s = await pages()
    assert '<html lang="pt-BR">' in await (await s.client.get("/subscribe?lang=PT-br")).text()
    assert '<html lang="ja">' in await (await s.client.get("/subscribe?lang=fr")).text()  # not offered: Japanese


# -- the mails --------------------------------------------------------------------------------


async def test_a_resident_on_the_vietnamese_page_gets_vietnamese(pages: SiteMaker) -> None:
    s = await pages(districts="example")
    form = await (await s.client.get("/subscribe?lang=vi")).text()
    assert 'value="vi" checked' in form and "Tiếng Việt" in form
    await s.subscribe(ADDRESS, ("disaster", "crime"), language="vi", districts=["south"], path="/subscribe?lang=vi")
    stored = await s.subscriber()
    assert stored is not None and stored.language == "vi"

    [mail] = await s.mails()
    assert mail["Subject"] == "Thành phố Oyama – Email thông báo an toàn: xác nhận đăng ký"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    check_language(text, "vi", s.client.app[PAGES].settings, "vi mail")
    assert "Ngôn ngữ của thông báo: Tiếng Việt" in text and "“Xác nhận”" in text and "24 giờ" in text
    assert "Phòng chống thiên tai, Phòng chống tội phạm" in text  # the phrasebook's names, in the config's order
    confirm = link_in(mail)
    assert confirm.endswith("&lang=vi")
    page = await (await s.client.get(confirm)).text()
    assert '<html lang="vi">' in page and "Xác nhận đăng ký" in page


async def test_every_language_has_its_confirmation_and_settings_mails(pages: SiteMaker) -> None:
    s = await pages(districts="example", address_limit=100, ip_limit=100)
    settings = s.client.app[PAGES].settings
    await s.store.save_subscriber(email_subscriber("known@example.jp"))
    for lang in settings.city.languages:
        path = f"/subscribe?lang={lang}"
        await s.subscribe(f"new.{lang.lower()}@example.jp", ("disaster",), language=lang, path=path)
        await s.subscribe("known@example.jp", ("disaster",), language=lang, path=path)  # a settings link instead
    mails = await s.mails()
    assert len(mails) == 2 * len(settings.city.languages)
    # the mailer sends in the background, in no set order: each mail is found by its addressee and link
    confirms = {str(m["To"]): m for m in mails if m["To"] != "known@example.jp"}
    manages = {link_language(m): m for m in mails if m["To"] == "known@example.jp"}
    for lang in settings.city.languages:
        confirm, manage = confirms[f"new.{lang.lower()}@example.jp"], manages[lang]
        for kind, mail in (("confirm", confirm), ("manage", manage)):
            subject, text = mail["Subject"], mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            check_language(f"{subject}\n{text}", lang, settings, f"{lang} {kind} mail")
            assert furigana.plain(settings.city.name_in(lang)) in subject, (lang, kind, subject)
            assert link_in(mail).endswith("" if lang == "ja" else f"&lang={lang}")
        assert settings.phrasebook.languages[lang].name in confirm.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    easy = confirms["new.ja-x-easy@example.jp"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "小山市（おやまし）" in easy and "登録（とうろく）" in easy  # furigana as parentheses in a text mail


def link_language(mail: EmailMessage) -> str:
    """The language a mail's link opens its page in (``lang=``; Japanese without one)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link_in(mail)).query)
    return query.get("lang", ["ja"])[0]


# -- LINE ---------------------------------------------------------------------------------------


async def test_line_postback_portuguese_then_answers_in_portuguese(
    store: SQLiteStore, district_settings: Settings
) -> None:
    async with hook_for(store, district_settings) as hook:
        await hook.post(event("follow", "E1"), event("postback", "E2", data="lang=pt-BR"))
        sub = await hook.subscriber()
        assert sub is not None and sub.language == "pt-BR"
        answer = hook.reply_to("E2")
        assert answer["text"] == "Os avisos agora virão em Português (Brasil).\nVocê recebe: Prevenção de desastres"
        buttons = choices(answer)
        assert buttons["cat=disaster"] == "✓Prevenção de desas…" and buttons["langs=0"] == "Idioma / Language"
        assert buttons["areas=0"] == "Distritos"

        await hook.post(event("postback", "E3", data="cat=crime"), event("postback", "E4", data="areas=0"))
        assert hook.reply_to("E3")["text"].startswith("Você receberá: Prevenção de crimes.")
        assert choices(hook.reply_to("E4"))["area=all"] == "✓Toda a cidade"
        await hook.post(event("message", "E5", text="〒323-0034"))
        assert hook.reply_to("E5")["text"].startswith("Hitotonoya (神鳥谷) fica no distrito de")
        assert choices(hook.reply_to("E5"))["add=west"] == "Sim"


@pytest.mark.parametrize("lang", ["ja", "ja-x-easy", "en", "pt-BR", "es", "vi", "tl", "zh-Hans", "ko", "ne"])
def test_line_speaks_every_language_within_lines_limits(district_settings: Settings, lang: str) -> None:
    s = district_settings
    sub = Subscriber(0, ContactKind.LINE, USER, frozenset({"disaster", "health"}), lang, districts=frozenset({"west"}))
    place = districts.locate("間々田", s)
    messages = {
        "greeting": greeting(s, sub),
        "settings": settings_menu(s, sub),
        "languages": language_menu(s, sub),
        "districts": line_districts.menu(s, sub),
        "ask": line_districts.place_answer(s, sub, place),
        "unknown": line_districts.place_answer(s, sub, None),
    }
    for what, message in messages.items():  # LINE takes up to 5 messages a call: each on its own
        assert check_messages([message]) == [], (lang, what)
    names = {language.name for language in s.phrasebook.languages.values()}
    for what, message in messages.items():
        text = message["text"]
        if what in ("greeting", "languages"):  # 「言語 / ことば / Language …」: every language's word, by design
            text = text.rsplit("\n", 1)[0]
        text = text.replace("(間々田)", "")  # the 町 as the city writes it, beside its name in the language
        labels = [label for label in choices(message).values() if label.lstrip("✓") not in names]
        check_language(text + " " + " ".join(labels), lang, s, f"LINE {lang} {what}")
    if lang == "ja-x-easy":
        assert "小山市（おやまし）" in messages["unknown"]["text"]  # no ruby on LINE: the reading in parentheses


async def test_a_friend_who_reads_no_japanese_finds_the_language_buttons(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    await hook.post(event("message", "E2", text="Ngôn ngữ"), event("message", "E3", text="언어"))
    assert "lang=vi" in choices(hook.reply_to("E2")) and "lang=ko" in choices(hook.reply_to("E3"))


@pytest.fixture
async def hook(store: SQLiteStore, settings: Settings) -> AsyncIterator[Hook]:
    """The webhook with the default config (tests/test_line_webhook.py)."""
    async with hook_for(store, settings) as h:
        yield h
