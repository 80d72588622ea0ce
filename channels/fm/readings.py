"""The readings FM says places with: every 町・大字 of the city, every district, the city and [fm.readings].

Japan Post's data gives every town of the city with its kana, but not every town needs it: Open JTalk
reads most of them right, and a reading put in where none is needed only adds a chance of a false
hit. So a town gets a reading only where the engine, left alone, says it otherwise than the postal
kana, in any of a few sentences (``FRAMES``): 白鳥 alone is シラトリ, but 「白鳥に避難指示」 is ハクチョー.
Readings are compared as they sound (``sounds``): the postal data writes ジョウトウ and イイヅカ, the
engine says ジョートー and イーズカ, and both are right.

Some town names are ordinary words too: 平和 (ひらわ in Oyama, へいわ "peace"), 梁 (やな, はり "beam"),
網戸, 立木, 白鳥. Such a town (one the engine's dictionary parses as a single common word, not a proper
noun, or a single kanji) is read as the town only where the text names a place with it: after an
address prefix, before 地区・付近・丁目…, in a list with other places, or alone on its line
(channels/fm/spoken.names_a_place). Elsewhere the word keeps its own reading, so 「世界の平和」 stays
へいわ. A city that wants such a name read as its town everywhere writes it in [fm.readings].

Order of precedence, last wins: the postal data, the districts' readings, the city's own name, [fm.readings].
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from broadcaster import districts
from broadcaster.settings import Settings
from broadcaster.towns import Town
from channels.fm.spoken import ADDRESS_PREFIXES, Readings, as_readings, for_synthesis

# Sentences a place is tried in, each part with how the engine says it. A town gets a reading if any
# of them comes out wrong: the engine reads a name by what surrounds it (白鳥 alone is シラトリ, in
# 「白鳥に避難指示」 ハクチョー; 大字鏡 is キョー), and a hiragana reading can run into the particle before it.
BEFORE = (("", ""), ("大字", "オーアザ"), ("住民は", "ジューミンワ"))
AFTER = (
    ("", ""),  # alone: as an officer checks it with run.py fm reading
    ("に避難指示", "ニヒナンシジ"),
    ("付近で", "フキンデ"),
    ("の皆さん", "ノミナサン"),
    ("一丁目", "イッチョーメ"),
    ("で", "デ"),
    ("へ", "エ"),
)
FRAMES: tuple[tuple[str, str, str, str], ...] = tuple(
    (before, after, before_kana, after_kana) for before, before_kana in BEFORE for after, after_kana in AFTER
)
# words of an address the engine misreads: 大字 is おおあざ there, not だいじ
ADDRESS_WORDS = {"大字": "おおあざ"}
ADDRESS = Readings(ADDRESS_WORDS)
PROPER_NOUN = "固有名詞"

VOWELS = {
    **dict.fromkeys("アカサタナハマヤラワガザダバパァャヮ", "a"),
    **dict.fromkeys("イキシチニヒミリギジヂビピィ", "i"),
    **dict.fromkeys("ウクスツヌフムユルグズヅブプゥュヴ", "u"),
    **dict.fromkeys("エケセテネヘメレゲゼデベペェ", "e"),
    **dict.fromkeys("オコソトノホモヨロヲゴゾドボポォョ", "o"),
}
BARE_VOWELS = {"ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o"}
SAME_SOUND = str.maketrans("ヅヂヲ", "ズジオ")
TO_KATAKANA = {c: c + 0x60 for c in range(ord("ぁ"), ord("ゖ") + 1)}
TO_HIRAGANA = {c: c - 0x60 for c in range(ord("ァ"), ord("ヶ") + 1)}


class Engine(Protocol):
    """What the readings need of Open JTalk (channels/fm/speech.OpenJTalk); tables are cached per engine."""

    def __hash__(self) -> int:
        """Identity: one engine per dictionary folder and process."""
        ...

    def g2p(self, text: str, kana: bool = False) -> str:
        """The text's pronunciation; katakana with ``kana``."""
        ...

    def words(self, text: str) -> list[tuple[str, str]]:
        """The text cut into words as the engine reads it: (surface, kind) with kind 固有名詞 for a proper noun."""
        ...


def katakana(kana: str) -> str:
    """Hiragana as katakana; everything else as it is."""
    return kana.translate(TO_KATAKANA)


def hiragana(kana: str) -> str:
    """Katakana as hiragana; everything else (ー) as it is."""
    return kana.translate(TO_HIRAGANA)


def sounds(kana: str) -> str:
    """A reading as it sounds, so that spellings of one pronunciation compare equal.

    ヅ/ズ and ヂ/ジ are one sound; a vowel that lengthens the one before is written ー as the engine writes
    it: ジョウトウ → ジョートー, イイヅカ → イーズカ, シンメイ → シンメー, オオモト → オーモト.
    """
    out: list[str] = []
    previous = ""
    for ch in kana.translate(TO_KATAKANA).translate(SAME_SOUND):
        vowel = BARE_VOWELS.get(ch)
        if vowel and (vowel == previous or (vowel, previous) in (("u", "o"), ("i", "e"))):
            out.append("ー")
            continue
        out.append(ch)
        if ch != "ー":
            previous = VOWELS.get(ch, "")
    return "".join(out)


def said(text: str, readings: Readings | Mapping[str, str], engine: Engine) -> str:
    """What FM says for ``text``, in katakana: cues dropped, readings applied, numbers spoken, then Open JTalk.

    One line of katakana per line of the text that has anything to say.
    """
    spoken = for_synthesis(text, readings)
    lines = (engine.g2p(line.strip(), kana=True) for line in spoken.splitlines() if line.strip())
    return "\n".join(line for line in lines if line.strip(" \u3000。、"))


def reads_right(name: str, kana: str, readings: Readings | Mapping[str, str], engine: Engine) -> bool:
    """Whether FM says ``name`` as ``kana`` in every frame."""
    readings = as_readings(readings)  # once, not per frame: it compiles the table
    for before, after, before_kana, after_kana in FRAMES:
        heard = said(before + name + after, readings, engine)
        if sounds(heard) != sounds(before_kana + kana + after_kana):
            return False
    return True


def spelling(kana: str, engine: Engine) -> str:
    """How to write a reading for the engine so that it says it right.

    Hiragana, which the engine lengthens as it speaks (じょうとう → ジョートー), unless that misreads in some
    frame (はさまだ after は: 「住民はさまだ」, or as the particle: ワサマダ); then katakana, which it reads as
    written, its ウ after an オ sound written ー (ダイギョウジ would be said ダイギョ・ウ・ジ).
    """
    soft = hiragana(kana)
    if reads_right(soft, kana, ADDRESS, engine):
        return soft
    return long_o(katakana(kana))


def long_o(kana: str) -> str:
    """Katakana with a ウ that lengthens an オ or ウ sound before it written ー: チョウ → チョー, ゴウ → ゴー."""
    out: list[str] = []
    for ch in kana:
        lengthens = ch == "ウ" and out and VOWELS.get(out[-1]) in ("o", "u")
        out.append("ー" if lengthens else ch)
    return "".join(out)


def common_word(name: str, engine: Engine) -> bool:
    """Whether the name is also an ordinary word: one kanji, or one word of the dictionary that is no proper noun."""
    if len(name) == 1:
        return True
    for before, after, _, _ in FRAMES:
        for surface, kind in engine.words(before + name + after):
            if surface == name and kind != PROPER_NOUN:
                return True
    return False


@dataclass(frozen=True, slots=True)
class TownReading:
    """One town of the city and what FM needs to say it."""

    name: str
    kana: str  # the postal data's
    reading: str  # what the table holds for it ("" if the engine says it right unaided)
    place_only: bool  # an ordinary word too: read as the town only where the text names a place


def town_readings(settings: Settings, engine: Engine) -> list[TownReading]:
    """Every town of the city, with the reading FM needs for it (none where the engine already says it right)."""
    return list(_towns(districts.town_index(settings).towns, _given(settings), settings.city.name, engine))


def configured(settings: Settings, engine: Engine) -> dict[str, str]:
    """The readings the config gives, read everywhere: 大字, the districts, the city's name, [fm.readings].

    The city said how these are read, so each is applied wherever the name occurs; only its spelling for
    the engine (hiragana or katakana) is chosen here, by what the engine says right.
    """
    return _configured(_given(settings), engine)


def build(settings: Settings, engine: Engine) -> Readings:
    """The readings FM uses for this city (what the Speaker and run.py fm reading apply).

    Built once per city, config and engine in a process: it asks the engine about every town.
    """
    return _build(districts.town_index(settings).towns, _given(settings), settings.city.name, engine)


Given = tuple[tuple[str, str], ...]


def _given(settings: Settings) -> Given:
    """The readings the config gives, in precedence order (a later one wins): hashable, to cache on."""
    given = ADDRESS_WORDS | districts.readings(settings) | settings.readings
    return tuple((name, reading) for name, reading in given.items() if name and reading)


@functools.cache
def _configured(given: Given, engine: Engine) -> dict[str, str]:
    return {name: spelling(katakana(reading), engine) for name, reading in given}


@functools.cache
def _towns(towns: tuple[Town, ...], given: Given, city: str, engine: Engine) -> tuple[TownReading, ...]:
    """Each town with its reading, where it needs one.

    A reading can spoil a longer name the engine said right on its own (岩舟町静 inside 岩舟町静戸), so the
    towns that hold a name just given one are tried again with it, until none changes.
    """
    base = _configured(given, engine)
    needed: dict[str, TownReading] = {}
    unsure = [t for t in towns if t.name not in base]
    while unsure:
        table = _table(base, tuple(needed.values()), city)
        added = [t for t in unsure if not reads_right(t.name, t.kana, table, engine)]
        for t in added:
            needed[t.name] = TownReading(t.name, t.kana, spelling(t.kana, engine), common_word(t.name, engine))
        unsure = [t for t in unsure if t.name not in needed and any(a.name in t.name for a in added)]
    return tuple(needed.get(t.name) or TownReading(t.name, t.kana, "", False) for t in towns)


@functools.cache
def _build(towns: tuple[Town, ...], given: Given, city: str, engine: Engine) -> Readings:
    return _table(_configured(given, engine), _towns(towns, given, city, engine), city)


def _table(base: Mapping[str, str], found: tuple[TownReading, ...], city: str) -> Readings:
    """The Readings of the config's readings and the towns': the config's win; a town that is a word only as a place."""
    everywhere = {t.name: t.reading for t in found if t.reading and not t.place_only}
    as_places = {t.name: t.reading for t in found if t.reading and t.place_only and t.name not in base}
    names = frozenset(t.name for t in found) | (frozenset(base) - frozenset(ADDRESS_WORDS))
    prefixes = (city, *ADDRESS_PREFIXES) if city else ADDRESS_PREFIXES
    return Readings(everywhere | dict(base), as_places, names, prefixes)
