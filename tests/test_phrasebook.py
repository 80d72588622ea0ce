"""The phrasebook loads only whole and consistent: a mistake in a translator's file stops start-up naming it.

Each case copies config/phrasebook/ to a temporary folder, breaks one thing, and loads it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster import phrasebook
from broadcaster.errors import ConfigError
from broadcaster.settings import ROOT, load_settings

SHIPPED = ROOT / "config" / "phrasebook"
SiteFactory = Callable[..., Path]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "phrasebook"
    shutil.copytree(SHIPPED, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_phrasebook_is_whole_in_every_language() -> None:
    book = phrasebook.load(SHIPPED)
    assert list(book.books) == list(book.languages)  # every language has its file
    for code, language in book.languages.items():
        text = (SHIPPED / f"{code}.toml").read_text(encoding="utf-8")
        assert "INTERIM" not in text, code
        if code != "ja":
            assert book.books[code].words != book.books["en"].words or code == "en", code  # translated
        assert language.name and language.html and language.cap
    assert {p.use for p in book.patterns.values()} == {"jma", "phrase", "lifecycle", "notice"}


def test_what_is_not_reviewed_is_listed_per_language() -> None:
    book = phrasebook.load(SHIPPED)
    listed = book.unreviewed(("ja", "en"))
    assert ("en", "evacuation_order") in listed
    assert all(lang == "en" for lang, _ in listed)  # Japanese is the source, reviewed
    assert len(listed) == len(book.patterns)


@pytest.mark.parametrize(
    ("file", "old", "new", "said"),
    [
        ("vi.toml", 'list_joiner = ', 'list_joinr = ', "vi.toml: words.list_joiner is missing"),
        ("en.toml", "title = \"Evacuation order for {places}\"", "title = \"Evacuation order for {place}\"",
         "en.toml: patterns.evacuation_order.title: slot {place} is not declared"),
        ("patterns.toml", 'households = "number"', 'households = "count"', "unknown type 'count'"),
        ("patterns.toml", 'use = "notice"', 'use = "memo"', "notice.use: 'memo' is not one of"),
        ("ko.toml", "[patterns.shelter_close]", "[patterns.shelter_closed]", "no such pattern in patterns.toml"),
        ("en.toml", "[words]", "[words\n", "en.toml: not valid TOML"),
        ("names.toml", 'reading = "おもいがわ"', 'reading = "おもいがわ"\nen = "Omoi River"', "en: unknown key"),
        ("es.toml", "[patterns.lift]\nreviewed = false", "[patterns.lift]\nreviewed = 0",
         "reviewed: must be true or false"),
    ],
    ids=["missing-word", "undeclared-slot", "unknown-slot-type", "unknown-use", "unknown-pattern", "bad-toml",
         "spelling-in-names", "reviewed-not-bool"],
)  # fmt: skip
def test_a_broken_file_stops_loading_naming_file_and_key(copy: Path, file: str, old: str, new: str, said: str) -> None:
    edit(copy / file, old, new)
    with pytest.raises(ConfigError, match=said.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        phrasebook.load(copy)


def test_a_language_missing_a_pattern_or_a_term_is_refused(copy: Path) -> None:
    edit(copy / "tl.toml", '"暴風警報" = ', '"暴風警報x" = ')
    with pytest.raises(ConfigError, match=r"tl.toml: terms.hazards.'暴風警報' is missing"):
        phrasebook.load(copy)


def test_a_city_cannot_offer_a_language_the_phrasebook_lacks(copy: Path, site: SiteFactory) -> None:
    (copy / "ne.toml").unlink()
    config = site({"languages": {"phrasebook": str(copy)}})
    with pytest.raises(ConfigError, match=r"city.languages: 'ne' is not a language of the phrasebook"):
        load_settings(config)
    fine = site(
        {"languages": {"phrasebook": str(copy)}, "city": {"languages": ["ja", "en"]}, "fm": {"languages": ["en"]}}
    )
    assert load_settings(fine).city.languages == ("ja", "en")


def test_fm_and_sns_languages_must_be_offered(site: SiteFactory) -> None:
    only = {"city": {"languages": ["ja", "en"]}}
    with pytest.raises(ConfigError, match=r"fm.languages: 'vi' is not offered"):
        load_settings(site(only | {"fm": {"languages": ["vi"]}}))
    with pytest.raises(ConfigError, match=r"sns.languages: 'xx' is not a language of the phrasebook"):
        load_settings(site(only | {"fm": {"languages": []}, "sns": {"languages": ["ja", "xx"]}}))
    with pytest.raises(ConfigError, match=r"Japanese \(ja\) first"):
        load_settings(site({"city": {"languages": ["en", "ja"]}}))
