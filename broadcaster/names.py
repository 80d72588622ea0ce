"""Proper nouns in every language: the city, its 地区 and 町, rivers, shelters, volcanoes, epicentres.

A name the language's file spells out (``[spelling.<kind>]``) is written so. Otherwise Japanese and
やさしい日本語 keep the Japanese name, and other languages write the name from its reading in their
script (broadcaster/romanise.py), the kind's common noun left out of the reading and put back in the
language's words by its ``[names]`` format: 思川 (おもいがわ) → "Omoi River", "Rio Omoi"; 間々田地区
(ままだちく) → "Mamada district". A name with no reading and no spelling stays Japanese: a place
named in Japanese is still named in words.
"""

from __future__ import annotations

from broadcaster import romanise
from broadcaster.phrasebook import Phrasebook, fill

# The common noun each kind's names end with, as written and as read: left out of the romanised name,
# since the language's format says it in its own words.
SUFFIXES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "city": (("市", ("し",)),),
    "district": (("地区", ("ちく",)),),
    "river": (("川", ("がわ", "かわ")),),
    "volcano": (("岳", ("だけ", "たけ")), ("山", ("さん", "ざん", "やま"))),
}


def base(kind: str, ja: str, reading: str) -> str:
    """The reading without the kind's common noun: (river, 思川, おもいがわ) → おもい."""
    kana = romanise.hiragana(reading)
    for written, read in SUFFIXES.get(kind, ()):
        if ja.endswith(written):
            for r in read:
                if kana.endswith(r) and len(kana) > len(r):
                    return kana[: -len(r)]
    return kana


def reading(book: Phrasebook, kind: str, ja: str, given: str = "") -> str:
    """The name's reading: the one given (config), else names.toml's, else ""."""
    return given or book.readings.get((kind, ja), "")


def written(book: Phrasebook, kind: str, ja: str, lang: str, given_reading: str = "") -> str:
    """The name ``ja`` of ``kind`` as text in ``lang`` writes it."""
    spelled = book.books[lang].spelling.get(kind, {}).get(ja)
    if spelled:
        return spelled
    language = book.language(lang)
    if language.japanese:
        return ja
    if language.script == "hanzi":
        return romanise.hanzi(ja)
    read = reading(book, kind, ja, given_reading)
    name = romanise.transliterate(base(kind, ja, read), language.script) if read else ""
    if not name:
        return ja
    return fill(book.books[lang].names.get(kind, "{name}"), {"name": name})


def ruby(book: Phrasebook, kind: str, ja: str, given_reading: str = "") -> str:
    """The name with its reading as furigana markup ({間々田地区|ままだちく}), for やさしい日本語."""
    read = romanise.hiragana(reading(book, kind, ja, given_reading))
    return f"{{{ja}|{read}}}" if read and read != ja else ja
