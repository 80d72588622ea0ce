"""What the LINE webhook says about districts, and what a district postback changes (pure functions).

A LINE friend chooses districts with quick-reply buttons: 市内全域 first (``area=all``), then each
district (``area=<id>`` toggles it; ✓ on those chosen). LINE shows at most 13 buttons: when the
districts do not all fit beside 市内全域 they come 11 a page with 次へ (``areas=<page>``). A text naming
a 町, an address or a postal code is answered with its district and はい (``add=<id>``) / いいえ
(``areas=0``). Everything is said in the subscriber's language, in text.toml's words (``line_*``);
LINE shows no ruby, so やさしい日本語's furigana come as parentheses (furigana.plain).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from broadcaster import districts, furigana
from broadcaster.models import Subscriber
from broadcaster.settings import District, Settings
from broadcaster.web.subscription import FALLBACK, city_name, finder_offered, load_text, town_names

LineJson = dict[str, Any]

MAX_QUICK_REPLIES = 13  # LINE's limit of quick-reply buttons in one message
LABEL_LIMIT = 20  # characters in a quick-reply button
KINDS = ("areas", "area", "add")  # the postback kinds of this flow: show a page, toggle, add
WHOLE_CITY = "all"  # ``area=all``: no district chosen, every alert of the city
# texts asking for the buttons, compared after NFKC and lower case (a rich-menu action may send one)
ASKING = frozenset({"地区", "ちく", "地区を選ぶ", "地区の設定", "district", "districts", "area", "areas"})

PREFIX = "line_"  # text.toml's keys for LINE
# language -> what LINE says, by key without the prefix; plain text (LINE has no ruby)
WORDS = {
    lang: {key.removeprefix(PREFIX): furigana.plain(value) for key, value in table.items() if key.startswith(PREFIX)}
    for lang, table in load_text().items()
}


def lang_of(sub: Subscriber) -> str:
    """The language LINE answers the subscriber in: theirs, or English if text.toml lacks it."""
    return sub.language if sub.language in WORDS else FALLBACK


def words(sub: Subscriber) -> dict[str, str]:
    """What LINE says to the subscriber, in their language."""
    return WORDS[lang_of(sub)]


def city(settings: Settings, lang: str) -> str:
    """The city's name in a LINE text in ``lang`` (in やさしい日本語 with its reading in parentheses)."""
    return furigana.plain(city_name(settings, lang))


def button(label: str, data: str, shown: str) -> LineJson:
    """A quick-reply postback button; ``shown`` appears in the chat as the resident's own message."""
    action = {"type": "postback", "label": label[:LABEL_LIMIT], "data": data, "displayText": shown}
    return {"type": "action", "action": action}


def menu_button(sub: Subscriber) -> LineJson:
    """The button that opens the district buttons."""
    name = words(sub)["area_button"]
    return button(name, "areas=0", name)


def places(settings: Settings, sub: Subscriber) -> str:
    """The subscriber's districts in words: 受け取る地区：南部地区 (市内全域 when none)."""
    w = words(sub)
    chosen = districts.names(sub.districts, settings, lang_of(sub)) if districts.chosen(sub.districts, settings) else ""
    return w["places"].format(places=chosen or w["whole"])


def pages(settings: Settings) -> list[list[District]]:
    """The districts as pages of buttons: all on one if they fit beside 市内全域, else 11 a page beside 次へ."""
    every = list(settings.districts)
    if 1 + len(every) <= MAX_QUICK_REPLIES:
        return [every]
    size = MAX_QUICK_REPLIES - 2
    return [every[i : i + size] for i in range(0, len(every), size)]


def page_of(settings: Settings, district_id: str) -> int:
    """The page whose buttons include this district (0 if none does)."""
    return next((n for n, page in enumerate(pages(settings)) if any(d.id == district_id for d in page)), 0)


def quick_reply(settings: Settings, sub: Subscriber, page: int = 0) -> LineJson:
    """Buttons: 市内全域, the page's districts (✓ when chosen), and 次へ (最初へ on the last) when paged."""
    w, lang = words(sub), lang_of(sub)
    every = pages(settings)
    page = page if 0 <= page < len(every) else 0
    items = [button(("" if sub.districts else "✓") + w["whole"], f"area={WHOLE_CITY}", w["whole"])]
    for d in every[page]:
        items.append(button(("✓" if d.id in sub.districts else "") + d.name_in(lang), f"area={d.id}", d.name_in(lang)))
    if len(every) > 1:
        last = page == len(every) - 1
        label = w["first"] if last else w["next"]
        items.append(button(label, f"areas={0 if last else page + 1}", label))
    return {"items": items}


def menu(settings: Settings, sub: Subscriber, page: int = 0, first: str = "") -> LineJson:
    """The district buttons under ``first`` (a line of news, if any), the districts chosen and how to choose."""
    w = words(sub)
    how = w["area_how"] + (w["area_how_finder"] if finder_offered(settings) else "")
    text = "\n".join([*([first] if first else []), places(settings, sub), how])
    return {"type": "text", "text": text, "quickReply": quick_reply(settings, sub, page)}


def apply(settings: Settings, sub: Subscriber, kind: str, value: str) -> frozenset[str] | None:
    """The districts after an ``area`` or ``add`` postback; None if it names no district of the city."""
    if value == WHOLE_CITY:
        return frozenset()
    if settings.district(value) is None:
        return None
    if kind == "area":
        return sub.districts ^ {value}
    return sub.districts | {value}  # add: the finder's はい, which tapped twice adds once


def confirmation(settings: Settings, sub: Subscriber, value: str) -> LineJson:
    """The answer to an ``area`` or ``add`` postback, once applied: what changed, then the buttons."""
    w, lang = words(sub), lang_of(sub)
    district = settings.district(value)
    if district is None:  # area=all
        return menu(settings, sub, 0, w["whole_chosen"])
    said = w["area_chosen"] if district.id in sub.districts else w["area_unchosen"]
    return menu(settings, sub, page_of(settings, district.id), said.format(district=district.name_in(lang)))


def place_answer(settings: Settings, sub: Subscriber, place: districts.Place | None) -> LineJson:
    """The answer to a text naming a 町, an address or a postal code (None: none of the city's)."""
    w, lang = words(sub), lang_of(sub)
    if place is None:
        return menu(settings, sub, 0, w["unknown"].format(city=city(settings, lang)))
    written, japanese = town_names(settings, place.town, lang)
    town, district = f"{written} ({japanese})" if japanese else written, place.district
    if district is None:
        return menu(settings, sub, 0, w["no_district"].format(town=town))
    name = district.name_in(lang)
    if district.id in sub.districts:
        return menu(settings, sub, page_of(settings, district.id), w["already"].format(town=town, district=name))
    text = w["ask"].format(town=town, district=name) + ("" if sub.districts else "\n" + w["ask_whole"])
    items = [button(w["yes"], f"add={district.id}", w["yes"]), button(w["no"], "areas=0", w["no"])]
    return {"type": "text", "text": text, "quickReply": {"items": items}}


def _asked(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


# …or the district button's own words in any language (a friend may type what they see)
ASKING_ANY = ASKING | frozenset(_asked(w["area_button"]) for w in WORDS.values())


def asks_for_buttons(text: str) -> bool:
    """Whether a text message asks for the district buttons (「地区」, "districts", "Khu vực" …)."""
    return _asked(text) in ASKING_ANY
