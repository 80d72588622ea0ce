"""The phrasebook: approved sentence patterns per alert kind, and each language's words for them.

config/phrasebook/ holds ``languages.toml`` (the languages the system can speak), ``patterns.toml``
(each pattern's use and named slots), ``names.toml`` (proper nouns and their readings) and one file
per language with its ``[words]`` (what channels put around an alert: tags, labels, dates),
``[terms.*]`` (the vocabularies slots are written from: hazards, 震度, actions …), ``[names]`` (how a
proper noun of each kind is written around its name), ``[spelling.*]`` (names that rule gets wrong)
and ``[patterns.*]`` (title, body and instruction of each pattern, and whether the city's
translators have ``reviewed`` it). The README in that folder is the guide for translators.

Loading checks everything once, at start-up: a language file lacks a pattern, a word or a term that
Japanese has; a pattern uses a slot it does not declare; a slot's type is unknown. Each problem is
a ConfigError naming the file and the key. Filling a pattern (``fill``) is pure string work: slot
values arrive already written in the language (broadcaster/slots.py writes them).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broadcaster.errors import ConfigError

SOURCE_LANG = "ja"
EASY = "ja-x-easy"  # やさしい日本語: Japanese words with furigana markup, in names too
IMPLICIT_SLOTS = frozenset({"city", "places", "link", "category", "level", "subject"})
SLOT_TYPES = frozenset({
    "time", "date", "datetime", "hazards", "hazard", "river", "shelter", "volcano", "region", "town",
    "intensity", "magnitude", "tsunami", "river_level", "volcano_level", "action", "number", "text", "what",
})  # fmt: skip
USES = frozenset({"jma", "phrase", "lifecycle", "notice"})
NAME_KINDS = ("city", "district", "town", "river", "shelter", "volcano", "region")
SLOT = re.compile(r"\{([a-z_]+)\}")
PARTS = ("title", "body", "instruction")


@dataclass(frozen=True, slots=True)
class Language:
    """One language the system can speak (config/phrasebook/languages.toml)."""

    code: str  # ja, ja-x-easy, en, pt-BR …
    name: str  # in itself, for menus
    name_ja: str
    name_en: str
    html: str  # the lang attribute of a page in it
    cap: str  # CAP <language>
    voice: str  # "openjtalk", an espeak-ng language, or "" for none
    script: str  # ja, latin, hangul, devanagari, hanzi: how proper nouns are written

    @property
    def japanese(self) -> bool:
        """Japanese or やさしい日本語: the city's own names stay as they are written."""
        return self.script == "ja"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One sentence pattern: what it is for and its slots (config/phrasebook/patterns.toml)."""

    id: str
    use: str  # jma, phrase, lifecycle, notice
    name: str
    name_en: str
    slots: Mapping[str, str]  # slot name -> type
    category: str = ""
    level: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """A pattern's words in one language."""

    title: str
    body: str
    instruction: str
    reviewed: bool


@dataclass(frozen=True, slots=True)
class Book:
    """One language's file: its words, terms, name formats and pattern entries."""

    words: Mapping[str, str]
    months: tuple[str, ...]
    terms: Mapping[str, Mapping[str, str]]
    names: Mapping[str, str]  # kind -> format around {name}
    spelling: Mapping[str, Mapping[str, str]]  # kind -> Japanese name -> the name in this language
    entries: Mapping[str, Entry]


@dataclass(frozen=True, slots=True)
class Phrasebook:
    """Everything in config/phrasebook/, checked."""

    folder: Path
    languages: Mapping[str, Language]
    patterns: Mapping[str, Pattern]
    books: Mapping[str, Book]
    readings: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (kind, Japanese name) -> reading

    def language(self, code: str) -> Language:
        """The language of this code (KeyError for one the phrasebook does not have)."""
        return self.languages[code]

    def own(self, lang: str) -> str:
        """The language whose words text in ``lang`` takes: itself, or Japanese for one without a file."""
        return lang if lang in self.books else SOURCE_LANG

    def word(self, lang: str, key: str, **values: object) -> str:
        """One of the language's words (Japanese's for a language without a file), its {slots} filled."""
        return fill(self.books[self.own(lang)].words[key], {k: str(v) for k, v in values.items()})

    def term(self, lang: str, group: str, key: str) -> str | None:
        """A term of ``group`` (hazards, intensity …) in ``lang``; None when the language lacks it."""
        return self.books[self.own(lang)].terms.get(group, {}).get(key)

    def entry(self, pattern: str, lang: str) -> Entry | None:
        """The pattern's words in ``lang``; None when there are none."""
        book = self.books.get(lang)
        return book.entries.get(pattern) if book else None

    def missing(self, languages: tuple[str, ...]) -> list[str]:
        """Of ``languages``, those the phrasebook cannot speak: unknown, or without their file."""
        return [lang for lang in languages if lang not in self.books]

    def unreviewed(self, languages: tuple[str, ...]) -> list[tuple[str, str]]:
        """(language, pattern) for each pattern not yet reviewed, in the given languages' order."""
        return [
            (lang, pid) for lang in languages for pid in self.patterns if not self.books[lang].entries[pid].reviewed
        ]


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each {slot} replaced; a slot without a value becomes "" (optional parts)."""
    return SLOT.sub(lambda m: values.get(m.group(1), ""), text)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: the phrasebook file is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _str(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    return value


def _languages(folder: Path) -> dict[str, Language]:
    path = folder / "languages.toml"
    out: dict[str, Language] = {}
    for i, row in enumerate(_read(path).get("language", [])):
        where = f"{path}: language.{i}"
        fields = {k: _str(row, k, where, k != "voice") for k in ("code", "name", "name_ja", "name_en", "html", "cap")}
        lang = Language(**fields, voice=_str(row, "voice", where, False), script=_str(row, "script", where))
        if lang.code in out:
            raise ConfigError(f"{where}.code: {lang.code!r} is listed twice")
        out[lang.code] = lang
    if SOURCE_LANG not in out:
        raise ConfigError(f"{path}: Japanese (ja) must be listed")
    return out


def _patterns(folder: Path) -> dict[str, Pattern]:
    path = folder / "patterns.toml"
    out: dict[str, Pattern] = {}
    for pid, row in _read(path).items():
        where = f"{path}: {pid}"
        use = _str(row, "use", where)
        if use not in USES:
            raise ConfigError(f"{where}.use: {use!r} is not one of {', '.join(sorted(USES))}")
        slots = row.get("slots", {})
        for name, kind in slots.items():
            if kind not in SLOT_TYPES:
                raise ConfigError(
                    f"{where}.slots.{name}: unknown type {kind!r}; known: {', '.join(sorted(SLOT_TYPES))}"
                )
            if name in IMPLICIT_SLOTS:
                raise ConfigError(f"{where}.slots.{name}: every pattern has this slot already; do not declare it")
        level = row.get("level", 0)
        if not isinstance(level, int) or not 0 <= level <= 5:
            raise ConfigError(f"{where}.level: must be 0 to 5")
        out[pid] = Pattern(
            pid, use, _str(row, "name", where), _str(row, "name_en", where), dict(slots),
            str(row.get("category", "")), level,
        )  # fmt: skip
    return out


def _book(path: Path, patterns: Mapping[str, Pattern], source: Book | None) -> Book:
    data = _read(path)
    words = {k: str(v) for k, v in data.get("words", {}).items()}
    months = tuple(data.get("calendar", {}).get("months", ()))
    terms = {g: {str(k): str(v) for k, v in t.items()} for g, t in data.get("terms", {}).items()}
    names = {k: str(v) for k, v in data.get("names", {}).items()}
    spelling = {k: {str(j): str(v) for j, v in t.items()} for k, t in data.get("spelling", {}).items()}
    unknown_kinds = [k for k in spelling if k not in NAME_KINDS]
    if unknown_kinds:
        raise ConfigError(f"{path}: spelling.{unknown_kinds[0]}: not a kind of name; kinds: {', '.join(NAME_KINDS)}")
    entries: dict[str, Entry] = {}
    for pid, row in data.get("patterns", {}).items():
        where = f"{path}: patterns.{pid}"
        if pid not in patterns:
            raise ConfigError(f"{where}: no such pattern in patterns.toml")
        if not isinstance(row.get("reviewed"), bool):
            raise ConfigError(f"{where}.reviewed: must be true or false")
        entry = Entry(
            _str(row, "title", where), _str(row, "body", where), _str(row, "instruction", where, False), row["reviewed"]
        )
        allowed = IMPLICIT_SLOTS | set(patterns[pid].slots)
        for part in PARTS:
            unknown = sorted(set(SLOT.findall(getattr(entry, part))) - allowed)
            if unknown:
                raise ConfigError(f"{where}.{part}: slot {{{unknown[0]}}} is not declared for this pattern")
        entries[pid] = entry
    if len(months) != 12:
        raise ConfigError(f"{path}: calendar.months must name the twelve months")
    if source is not None:  # every language has everything Japanese has
        for key in source.words:
            if key not in words:
                raise ConfigError(f"{path}: words.{key} is missing (Japanese has it)")
        for group, table in source.terms.items():
            for key in table:
                if key not in terms.get(group, {}):
                    raise ConfigError(f"{path}: terms.{group}.{key!r} is missing (Japanese has it)")
        for kind in source.names:
            if kind not in names:
                raise ConfigError(f"{path}: names.{kind} is missing (Japanese has it)")
    for pid in patterns:
        if pid not in entries:
            raise ConfigError(f"{path}: patterns.{pid} is missing; every language has every pattern")
    for kind, fmt in names.items():
        if kind not in NAME_KINDS or "{name}" not in fmt:
            raise ConfigError(f"{path}: names.{kind}: a kind of {', '.join(NAME_KINDS)} and a format with {{name}}")
    return Book(words, months, terms, names, spelling, entries)


def _readings(folder: Path) -> dict[tuple[str, str], str]:
    path = folder / "names.toml"
    out: dict[tuple[str, str], str] = {}
    for kind, rows in _read(path).items():
        if kind not in NAME_KINDS:
            raise ConfigError(f"{path}: {kind}: not a kind of name; kinds: {', '.join(NAME_KINDS)}")
        for i, row in enumerate(rows):
            where = f"{path}: {kind}.{i}"
            unknown = [k for k in row if k not in ("ja", "reading")]
            if unknown:
                raise ConfigError(f"{where}.{unknown[0]}: unknown key; a language's spelling goes in its own file")
            out[kind, _str(row, "ja", where)] = _str(row, "reading", where)
    return out


@functools.cache
def load(folder: Path) -> Phrasebook:
    """The phrasebook in ``folder``, read and checked once per process; ConfigError naming file and key."""
    languages = _languages(folder)
    patterns = _patterns(folder)
    source = _book(folder / f"{SOURCE_LANG}.toml", patterns, None)
    books = {SOURCE_LANG: source}
    for code in languages:  # a language without its file cannot be offered (settings say so)
        if code != SOURCE_LANG and (folder / f"{code}.toml").exists():
            books[code] = _book(folder / f"{code}.toml", patterns, source)
    return Phrasebook(folder, languages, patterns, books, _readings(folder))
