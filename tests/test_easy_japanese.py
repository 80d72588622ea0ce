"""やさしい日本語 (config/phrasebook/ja-x-easy.toml) keeps the rules it is written by.

Every kanji carries furigana, every reading is kana, sentences are short, and a filled pattern never
shows a resident the markup or a kanji without its reading, whatever the alert. The rules come from
弘前大学 社会言語学研究室「『やさしい日本語』作成のためのガイドライン」 and 出入国在留管理庁・文化庁
「在留支援のためのやさしい日本語ガイドライン」; the file's header says how each is applied.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster import furigana, phrasebook, variants
from broadcaster.models import Alert, MsgType, Source
from broadcaster.settings import ROOT, Settings, load_settings

EASY = "ja-x-easy"
FOLDER = ROOT / "config" / "phrasebook"
FILE = FOLDER / f"{EASY}.toml"
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]")
KANA = re.compile(r"^[ぁ-ゖァ-ヺー]+$")
RUBY_HTML = re.compile(r"<ruby>.*?</ruby>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")
SENTENCE_END = re.compile(r"[。？！\n]")
# The guidance holds a sentence to about 24 characters and never over 30; slot values (names, times)
# and 分かち書き spaces are not counted, since the text cannot shorten them.
MAX_SENTENCE = 30
# Words code puts in tags, badges and labels as they are (plain-text subject lines included): no
# markup there. The date and time words only ever fill pattern slots, which channels convert.
SLOT_WORDS = frozenset({"time", "date", "datetime"})
LABEL_TERMS = ("categories", "intensity")

# A value of each slot type, as an alert stores it (patterns.toml), with furigana to give in every case.
SAMPLE: dict[str, object] = {
    "time": "15:30",
    "date": "2026-12-07",
    "datetime": "2026-12-07T09:05",
    "hazards": ["大雨警報", "レベル３土砂災害警報（土砂災害、浸水害）", "竜巻注意情報"],
    "hazard": "河川の氾濫",
    "river": "思川",
    "shelter": ["小山第一小学校", "間々田小学校"],
    "volcano": "那須岳",
    "region": "栃木県南部",
    "town": "間々田",
    "intensity": "6-",
    "magnitude": "5.2",
    "tsunami": "none",
    "river_level": "4",
    "volcano_level": "3",
    "action": "quake_strong",
    "number": "120",
    "text": "やまだ こどもクリニック",  # an officer's words are shown as typed: kana here, to test the pattern
    "what": {"ja": "間々田地区に避難指示", EASY: "{間々田地区|ままだちく}：にげて ください"},
}
OVERRIDES = {("jma_tsunami", "tsunami"): "major_warning"}  # a tsunami pattern names a warning, not a note


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default settings (Oyama's 地区 with their readings, every language offered)."""
    folder: Path = tmp_path_factory.mktemp("easy")
    site = folder / "site.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "db.sqlite"}"\noutbox_dir = "{folder / "outbox"}"\n', encoding="utf-8"
    )
    return load_settings(site)


def strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a TOML value, with where it is."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{where}[{i}]")


def texts() -> list[tuple[str, str]]:
    """Every text of the file a resident may read: words, months, names, terms, patterns."""
    with FILE.open("rb") as f:
        data = tomllib.load(f)
    return [(where, text) for where, text in strings(data, EASY) if not where.endswith(".reviewed")]


TEXTS = texts()


def unruby(text: str) -> str:
    """``text`` without its furigana markup: what must hold no kanji."""
    return furigana.RUBY.sub("", text)


def test_the_file_has_every_text_the_japanese_has() -> None:
    book = phrasebook.load(FOLDER)
    easy, ja = book.books[EASY], book.books["ja"]
    assert set(easy.words) == set(ja.words)
    assert {g: set(t) for g, t in easy.terms.items()} == {g: set(t) for g, t in ja.terms.items()}
    assert set(easy.entries) == set(book.patterns)
    assert all(fmt == "{name}" for fmt in easy.names.values())  # Japanese names stay Japanese


def bare_kanji(items: list[tuple[str, str]]) -> list[str]:
    """Where a kanji stands outside furigana markup."""
    return [f"{where}: {text!r}" for where, text in items if KANJI.search(unruby(text))]


def bad_readings(items: list[tuple[str, str]]) -> list[str]:
    """Where a reading is not kana, or furigana stands over a word without kanji."""
    return [
        f"{where}: {{{base}|{reading}}}"
        for where, text in items
        for base, reading in furigana.RUBY.findall(text)
        if not KANA.match(reading) or not KANJI.search(base)
    ]


def long_sentences(items: list[tuple[str, str]]) -> list[str]:
    """Sentences over MAX_SENTENCE characters, counted on the kanji as written (furigana.bare)."""
    out = []
    for where, text in items:
        bare = phrasebook.SLOT.sub("", furigana.bare(text)).replace(" ", "").replace("\u3000", "")
        out += [f"{where}: {s}" for s in SENTENCE_END.split(bare) if len(s) > MAX_SENTENCE]
    return out


def test_every_kanji_has_furigana() -> None:
    assert not bare_kanji(TEXTS)


def test_readings_are_kana_over_kanji() -> None:
    assert not bad_readings(TEXTS)


def test_sentences_are_short() -> None:
    assert not long_sentences(TEXTS)


def test_the_checks_catch_what_they_look_for() -> None:
    """Each check finds its fault in a made-up text (a check that passes everything proves nothing)."""
    assert bare_kanji([("x", "{避難|ひなん}所へ")])
    assert bad_readings([("x", "{避難|hinan}")]) and bad_readings([("x", "{ひなん|ひなん}")])
    assert long_sentences([("x", "あ" * (MAX_SENTENCE + 1) + "。")])
    assert not long_sentences([("x", "{places} " + "あ" * MAX_SENTENCE + "。")])  # slots and spaces uncounted


def test_words_and_label_terms_carry_no_markup() -> None:
    book = phrasebook.load(FOLDER).books[EASY]
    marked = [k for k, v in book.words.items() if k not in SLOT_WORDS and furigana.has(v)]
    marked += [f"{g}.{k}" for g in LABEL_TERMS for k, v in book.terms[g].items() if furigana.has(v)]
    assert not marked


def test_keeps_every_slot_the_japanese_uses() -> None:
    book = phrasebook.load(FOLDER)
    for pid in book.patterns:
        used = {part: set(phrasebook.SLOT.findall(getattr(book.entry(pid, "ja"), part))) for part in phrasebook.PARTS}
        easy = book.entry(pid, EASY)
        assert easy is not None
        mine = set().union(*(phrasebook.SLOT.findall(getattr(easy, part)) for part in phrasebook.PARTS))
        assert set().union(*used.values()) <= mine, pid


def test_sample_covers_every_slot_type() -> None:
    assert set(SAMPLE) == phrasebook.SLOT_TYPES


def sample_alert(settings: Settings, pid: str, districts: tuple[str, ...]) -> Alert:
    """An alert built from pattern ``pid`` with a value in each of its slots."""
    pattern = settings.phrasebook.patterns[pid]
    values = {name: OVERRIDES.get((pid, name), SAMPLE[kind]) for name, kind in pattern.slots.items()}
    return Alert(
        id="a1",
        source=Source.JMA if pattern.use == "jma" else Source.STAFF,
        category=pattern.category or "disaster",
        level=pattern.level or 4,
        title="t",
        body="b",
        msg_type=MsgType.CORRECTION if pid == "correction" else MsgType.ALERT,
        phrase=pid,
        slots=values,
        districts=districts,
    )


PATTERN_IDS = list(phrasebook.load(FOLDER).patterns)


@pytest.mark.parametrize("districts", [(), ("oya", "mamada")], ids=["whole-city", "two-districts"])
@pytest.mark.parametrize("pid", PATTERN_IDS)
def test_a_filled_pattern_shows_no_markup_and_no_bare_kanji(
    settings: Settings, pid: str, districts: tuple[str, ...]
) -> None:
    words = variants.complete(sample_alert(settings, pid, districts), settings).translations[EASY]
    assert words.source == variants.PHRASEBOOK
    assert words.title and words.body
    for part in (words.title, words.body, words.instruction):
        plain = furigana.plain(part)
        assert "{" not in plain and "}" not in plain, plain
        page = TAG.sub("", RUBY_HTML.sub("", str(furigana.html(part))))
        assert not KANJI.findall(page), f"{pid}: kanji without <ruby> in {page!r}"
        assert "{" not in furigana.spoken(part)


def test_evacuation_says_what_to_do_with_its_level(settings: Settings) -> None:
    alert = sample_alert(settings, "notice", ("mamada",))  # free text at level 4: the notice names the order
    words = variants.complete(alert, settings).translations[EASY]
    assert furigana.bare(words.title) == "間々田地区：にげて ください（レベル4）"
    assert furigana.plain(words.body).startswith("小山市（おやまし）から 間々田地区（ままだちく）への")
