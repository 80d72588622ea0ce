"""The website's own words in every language (templates/website/words.toml), and its dates.

The phrasebook (config/phrasebook/) holds what channels put around an alert; the pages' menus,
headings and notices are the website's alone, so they live beside its templates, one table per
language. Japanese and English are complete by rule; every other language falls back to English for
a word it lacks (tests/test_website_languages.py checks that none lacks one). A word may carry
furigana markup ({漢字|かんじ}): ``say`` shows it as <ruby>, ``plain`` as 漢字（かんじ） where no
markup can go (a <title>, an attribute).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path

from markupsafe import Markup

from broadcaster import clock, furigana
from broadcaster.phrasebook import fill
from broadcaster.rendering import TEMPLATES
from broadcaster.settings import Settings

WORDS = TEMPLATES / "website" / "words.toml"
FALLBACK = "en"  # the words of a language that lacks one
WEEKDAYS = "月火水木金土日"
Table = Mapping[str, Mapping[str, str]]


@functools.cache
def load(path: Path = WORDS) -> Table:
    """Every language's words, by language then key (read once)."""
    with path.open("rb") as f:
        data: dict[str, dict[str, str]] = tomllib.load(f)
    return data


class Words:
    """One language's words for the pages: ``say`` for HTML, ``plain`` for titles and attributes."""

    def __init__(self, lang: str, table: Table | None = None) -> None:
        table = load() if table is None else table
        self.lang = lang
        self._own = table.get(lang, {})
        self._fallback = table[FALLBACK]

    def raw(self, key: str, **values: object) -> str:
        """The word with its {slots} filled, furigana markup kept."""
        word = self._own.get(key) or self._fallback[key]
        return fill(word, {k: str(v) for k, v in values.items()})

    def say(self, key: str, **values: object) -> Markup:
        """The word as HTML: escaped, furigana as <ruby>."""
        return furigana.html(self.raw(key, **values))

    def plain(self, key: str, **values: object) -> str:
        """The word as plain text: furigana as 漢字（かんじ）."""
        return furigana.plain(self.raw(key, **values))


def when(timestamp: float, settings: Settings | None, lang: str) -> str:
    """A time as residents of ``lang`` read it: 2026年11月29日(日) 17:16, "December 7, 15:30" …

    Other languages write it with their phrasebook words, which may hold furigana markup (show it
    with ``| ruby``); ``settings`` may be None for Japanese only.
    """
    t = clock.jst(timestamp)
    if lang == "ja" or settings is None:
        return f"{t.year}年{t.month}月{t.day}日({WEEKDAYS[t.weekday()]}) {t.hour:02d}:{t.minute:02d}"
    book = settings.phrasebook
    lg = lang if lang in book.books else FALLBACK
    month_name = book.books[lg].months[t.month - 1]
    date = book.word(lg, "date", year=t.year, month=t.month, day=t.day, month_name=month_name)
    time = book.word(lg, "time", hour=t.hour, minute=f"{t.minute:02d}")
    return book.word(lg, "datetime", date=date, time=time)
