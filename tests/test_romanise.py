"""Proper nouns in other scripts: Hepburn, Hangul, Devanagari and simplified characters.

The tables are what the road signs (Hepburn), the Korean standard for Japanese (국립국어원 외래어 표기법)
and Chinese text write; the last tests read the city's own names through the settings, as every
channel gets them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broadcaster import names, romanise, towns
from broadcaster.settings import Settings, load_settings

HEPBURN = [
    ("おやま", "Oyama"),
    ("おおや", "Oya"),  # long vowels are not written
    ("こうのす", "Konosu"),
    ("にっこう", "Nikko"),  # っ doubles the next consonant
    ("はっちょう", "Hatcho"),  # … and before ch it is t
    ("しらね", "Shirane"),
    ("ちゅう", "Chu"),
    ("じょう", "Jo"),
    ("きゅうしゅう", "Kyushu"),
    ("しんじゅく", "Shinjuku"),
    ("ままだ", "Mamada"),
    ("ホヅミ", "Hozumi"),  # katakana, as the postal data gives readings
]

HANGUL = [
    ("おやま", "오야마"),
    ("ままだ", "마마다"),
    ("おもい", "오모이"),
    ("とちぎ", "도치기"),  # た行 unaspirated at the start, aspirated after it
    ("なす", "나스"),  # す with ㅡ
    ("くさつしらね", "구사쓰시라네"),  # つ is 쓰
    ("さむかわ", "사무카와"),  # か inside a word is 카
    ("にっこう", "닛코"),  # っ is the final ㅅ, the long vowel is not written
    ("とうきょう", "도쿄"),
    ("おおや", "오야"),
    ("にいがた", "니가타"),
    ("しんじゅく", "신주쿠"),  # ん is the final ㄴ
    ("ちゅうじょう", "주조"),  # ち at the start is ㅈ
    ("ほづみ", "호즈미"),
    ("めいじ", "메이지"),  # えい is two vowels, not a long e
]

DEVANAGARI = [
    ("おやま", "ओयामा"),
    ("ままだ", "मामाडा"),
    ("おもい", "ओमोइ"),  # a vowel after a vowel stands on its own
    ("とちぎ", "टोचिगि"),
    ("なす", "नासु"),
    ("おおや", "ओया"),  # long vowels are not doubled
    ("にっこう", "निक्को"),  # っ: the next consonant with a virama
    ("とうきょう", "टोक्यो"),
    ("しんじゅく", "शिन्जुकु"),  # ん before a consonant: न्
    ("けん", "केन"),  # … and at the end: न
    ("くさつ", "कुसात्सु"),
]


@pytest.mark.parametrize(("reading", "latin"), HEPBURN)
def test_hepburn(reading: str, latin: str) -> None:
    assert romanise.transliterate(reading, "latin") == latin


@pytest.mark.parametrize(("reading", "hangul"), HANGUL)
def test_hangul_follows_the_korean_standard_for_japanese(reading: str, hangul: str) -> None:
    assert romanise.transliterate(reading, "hangul") == hangul


@pytest.mark.parametrize(("reading", "devanagari"), DEVANAGARI)
def test_devanagari_as_nepali_writes_japanese_names(reading: str, devanagari: str) -> None:
    assert romanise.transliterate(reading, "devanagari") == devanagari


def test_an_unknown_script_gives_nothing() -> None:
    assert romanise.transliterate("おやま", "hanzi") == ""
    assert romanise.transliterate("おやま", "cyrillic") == ""


HANZI = [
    ("間々田", "间间田"),  # 々 repeats the character before it
    ("東間々田", "东间间田"),
    ("駅東通り", "驿东通り"),  # character forms only (驿, never the word 站); kana kept
    ("雨ケ谷新田", "雨ケ谷新田"),
    ("千駄塚", "千驮冢"),
    ("穂積地区", "穗积地区"),
    ("絹地区", "绢地区"),
    ("豊田地区", "丰田地区"),
    ("小山市", "小山市"),  # the same in both: nothing to change
    ("豊穂川", "丰穗川"),
    ("鬼怒川", "鬼怒川"),
    ("福島県沖", "福岛县冲"),
]


@pytest.mark.parametrize(("ja", "zh"), HANZI)
def test_hanzi_writes_the_simplified_forms(ja: str, zh: str) -> None:
    assert romanise.hanzi(ja) == zh


# Characters of Oyama's 地区, 町・大字 and names.toml that simplified Chinese writes otherwise, listed
# here apart from romanise's table: a town whose name gains such a character shows up below.
JAPANESE_FORMS = "間駅東豊穂絹倉塚塩宮岡峯島戸拝暁橋沖沢浜渋瀬県稲積網葉薬連郷鉢鏡須飯馬駒鳥黒駄"


@pytest.fixture(scope="module")
def oyama() -> Iterator[Settings]:
    """The shipped defaults (Oyama, every language offered), as a city that sets nothing gets them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BROADCASTER_CONFIG", raising=False)
        yield load_settings()


def test_hanzi_converts_every_oyama_town_and_name(oyama: Settings) -> None:
    place = towns.index(oyama.areas.city[:5])  # 09208, as broadcaster/districts.py finds it
    written = [t.name for t in place.towns]
    written += [d.name for d in oyama.districts]
    written += [ja for (_kind, ja) in oyama.phrasebook.readings]
    assert len(place.towns) > 100  # the whole city, not a stub
    for ja in written:
        zh = romanise.hanzi(ja)
        assert len(zh) == len(ja)
        left = [c for c in zh if c in JAPANESE_FORMS or c in romanise.SIMPLIFIED or c == "々"]
        assert not left, f"{ja} → {zh}: {left} not simplified"
    every = "".join(written)
    assert set(JAPANESE_FORMS) <= set(every)  # each listed form is really in the city's names …
    assert set(JAPANESE_FORMS) <= set(romanise.SIMPLIFIED)  # … and in the table


NAMES = [
    # (kind, Japanese, reading ("": from names.toml), ko, ne, zh-Hans)
    ("city", "小山市", "おやまし", "오야마시", "ओयामा सिटी", "小山市"),
    ("district", "間々田地区", "ままだちく", "마마다 지구", "मामाडा क्षेत्र", "间间田地区"),
    ("district", "穂積地区", "ほづみちく", "호즈미 지구", "होजुमि क्षेत्र", "穗积地区"),
    ("district", "豊田地区", "とよだちく", "도요다 지구", "टोयोडा क्षेत्र", "丰田地区"),
    ("river", "思川", "", "오모이강", "ओमोइ नदी", "思川"),
    ("river", "豊穂川", "", "도요호강", "टोयोहो नदी", "丰穗川"),
    ("river", "鬼怒川", "", "기누강", "किनु नदी", "鬼怒川"),
]


@pytest.mark.parametrize(("kind", "ja", "reading", "ko", "ne", "zh"), NAMES, ids=[n[1] for n in NAMES])
def test_names_written_in_korean_nepali_and_chinese(
    oyama: Settings, kind: str, ja: str, reading: str, ko: str, ne: str, zh: str
) -> None:
    book = oyama.phrasebook
    for lang, expected in (("ko", ko), ("ne", ne), ("zh-Hans", zh)):
        assert names.written(book, kind, ja, lang, reading) == expected


def test_settings_name_the_city_and_its_districts_in_each_script(oyama: Settings) -> None:
    mamada = next(d for d in oyama.districts if d.name == "間々田地区")
    assert [oyama.city.name_in(lang) for lang in ("ko", "ne", "zh-Hans")] == ["오야마시", "ओयामा सिटी", "小山市"]
    assert [mamada.name_in(lang) for lang in ("ko", "ne", "zh-Hans")] == ["마마다 지구", "मामाडा क्षेत्र", "间间田地区"]
    for d in oyama.districts:  # no district is left in Japanese in a language of another script
        assert not set(d.name_in("ko")) & set(d.name), d.name
        assert not set(d.name_in("ne")) & set(d.name), d.name
