"""Every offered language for every alert: from the phrasebook, as the officer typed it, or as a notice.

Pure: drafts are built as the console and the API build them, and lifts, cancels and corrections as
the lifecycle makes them; nothing is stored.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster import drafts, furigana, variants
from broadcaster.models import Alert, MsgType, Source
from broadcaster.settings import ROOT, Settings, load_settings

SiteFactory = Callable[..., Path]
SLOTS = {"time": "15:30", "hazard": "河川の氾濫", "households": "120", "shelter": "間々田小学校"}


def order(settings: Settings, **changes: object) -> Alert:
    """An evacuation order for 東部地区 from its 定型文, its Japanese as the pattern made it."""
    draft = drafts.Draft(category="disaster", level=4, title="x", body="x", districts=("east",),
                         phrase="evacuation_order", slots=SLOTS)  # fmt: skip
    shape = Alert(id="p", source=Source.STAFF, category="disaster", level=4, title="", body="", districts=("east",),
                  phrase="evacuation_order", slots=SLOTS)  # fmt: skip
    ja = variants.japanese_from_phrase(shape, settings)
    assert ja is not None
    fields = {"title": ja.title, "body": ja.body, "instruction": ja.instruction, **changes}
    return drafts.build(settings, draft.model_copy(update=fields), "sato", Source.STAFF)


def test_a_phrase_left_as_made_speaks_every_language_from_its_pattern(district_settings: Settings) -> None:
    alert = order(district_settings)
    assert alert.phrase == "evacuation_order"
    assert list(alert.translations) == list(district_settings.city.languages[1:])
    for lang, words in alert.translations.items():
        assert words.source == "phrasebook", lang
        assert "{" not in furigana.plain(" ".join((words.title, words.body, words.instruction))), lang
    assert alert.translations["en"].title == "Evacuation order for East district"
    assert "120" in alert.translations["vi"].body  # a number slot carries over as it is
    assert "{東部地区|とうぶちく}" in alert.translations["ja-x-easy"].title  # the place with its reading


def test_an_edited_phrase_and_free_text_go_to_other_languages_as_notices(district_settings: Settings) -> None:
    edited = order(district_settings, body="消防団の指示に従ってください。")
    assert edited.phrase == "" and edited.slots == {}
    for lang, words in edited.translations.items():
        assert words.source == "notice", lang
        assert f"/alerts/{edited.id}" in words.body  # the link to the Japanese words
    en = edited.translations["en"]
    # what it is, its level and where: the notice still carries what matters
    assert en.title == "Evacuation order (Alert Level 4) for East district", en.title
    daily = drafts.build(
        district_settings, drafts.Draft(category="crime", title="不審者", body="公園で不審者。"), "sato", Source.STAFF
    )
    assert daily.translations["en"].title.startswith("Crime prevention for")
    assert "Level" not in daily.translations["en"].title  # daily life has no level


def test_a_translation_the_officer_typed_is_kept_and_marked_the_officers(district_settings: Settings) -> None:
    draft = drafts.Draft(category="crime", title="不審者", body="公園で不審者。",
                         translations={"en": {"title": "Suspicious person", "body": "Seen in the park."}})  # fmt: skip
    alert = drafts.build(district_settings, draft, "sato", Source.STAFF)
    assert alert.translations["en"].source == "officer"
    assert alert.translations["en"].body == "Seen in the park."
    assert alert.translations["ko"].source == "notice"


def test_a_lift_a_cancel_and_a_correction_say_what_they_do_in_every_language(district_settings: Settings) -> None:
    settings = district_settings
    original = order(settings)
    lift = drafts.lift(settings, original, "sato", "")
    cancel = drafts.cancellation(settings, original, "sato", "")
    for lang in settings.city.languages[1:]:
        title = furigana.plain(original.text(lang).title)
        assert title in furigana.plain(lift.text(lang).body), (lang, lift.text(lang))
        assert title in furigana.plain(cancel.text(lang).body), (lang, cancel.text(lang))
        assert lift.text(lang).source == cancel.text(lang).source == "phrasebook"
    changes = drafts.Draft(category="disaster", level=5, title="東部地区に緊急安全確保", body="川が氾濫しました。")
    corrected = drafts.correction(settings, original, changes, "sato")
    assert corrected.msg_type == MsgType.CORRECTION and corrected.phrase == ""
    en = corrected.translations["en"]
    assert en.source == "notice" and en.title.startswith("Correction:"), en  # says it corrects, in words


@pytest.fixture
def reviewing(site: SiteFactory, tmp_path: Path) -> Settings:
    """A city that requires review, with English's evacuation order reviewed and Vietnamese's notice too."""
    folder = tmp_path / "phrasebook"
    shutil.copytree(ROOT / "config" / "phrasebook", folder)
    for lang, pattern in (("en", "evacuation_order"), ("vi", "notice")):
        path = folder / f"{lang}.toml"
        text = path.read_text(encoding="utf-8")
        old = f"[patterns.{pattern}]\nreviewed = false"
        assert old in text
        path.write_text(text.replace(old, f"[patterns.{pattern}]\nreviewed = true"), encoding="utf-8")
    return load_settings(site({"languages": {"phrasebook": str(folder), "require_review": True}}, districts=True))


def test_with_review_required_only_reviewed_words_are_sent(reviewing: Settings) -> None:
    alert = order(reviewing)
    assert alert.translations["en"].source == "phrasebook"  # reviewed: sent
    assert alert.translations["vi"].source == "notice"  # its pattern is not, its notice is
    assert "pt-BR" not in alert.translations  # nothing reviewed: the resident gets the Japanese
    assert alert.text("pt-BR").title == alert.title
    assert not variants.usable(reviewing.phrasebook, reviewing, "evacuation_order", "pt-BR")
