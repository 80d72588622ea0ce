"""Lint: a table of alerts and the warnings they must (and must not) get.

Every stored alert has words in each offered language (variants.complete): from the phrasebook, an
officer, or a notice. ``no_translation`` now means a language with nothing it may send (unreviewed
words while ``[languages] require_review`` is on), so its residents get the Japanese.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from broadcaster import drafts, lint, variants
from broadcaster.models import Alert, Mode, Source, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings, load_settings
from channels import build_renderers
from tests.conftest import SiteFactory

EVERY_CHANNEL = CHANNEL_NAMES
CLEAN = Alert(
    id="20261130-180000-abcdef",
    source=Source.STAFF,
    category="disaster",
    level=3,
    title="思川の水位が上昇しています",
    body="思川の水位が氾濫危険水位に近づいています。18時ごろ氾濫のおそれがあります。",
    instruction="川に近づかないでください。",
    areas=("0920800",),
    translations={"en": Text("The Omoi River is rising", "It may flood at about 18:00.", "Keep away.")},
    channels=EVERY_CHANNEL,
    mode=Mode.EXERCISE,
    created_at=1_796_032_800.0,
)
LONG_SENTENCE = "思川の水位が氾濫危険水位に達しました。"  # 19 characters


def alert(**changes: Any) -> Alert:
    """The clean alert with ``changes``."""
    return dataclasses.replace(CLEAN, **changes)


def check(settings: Settings, a: Alert, **options: Any) -> list[lint.Warning]:
    """lint.check with every channel's renderer, as the console gives it."""
    return lint.check(settings, a, build_renderers(settings, Renderer(settings)), **options)


def codes(settings: Settings, a: Alert) -> list[str]:
    return [w.code for w in check(settings, a)]


def test_a_clean_alert_has_no_warnings(settings: Settings) -> None:
    assert check(settings, variants.complete(CLEAN, settings)) == []


WARNS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("ticker line", {"instruction": "川に近づかないでください。" * 6}, "too_long",
     {"channel": "ticker", "part": "line", "limit": 60}),
    ("email subject", {"title": "思" * 115}, "too_long", {"channel": "email", "part": "subject", "lang": "ja"}),
    ("LINE bubble", {"body": LONG_SENTENCE * 111}, "too_long", {"channel": "line", "part": "bubble"}),
    ("FM script", {"body": LONG_SENTENCE * 111}, "too_long", {"channel": "fm", "part": "speech", "limit": 4000}),
    ("X thread", {"body": LONG_SENTENCE * 40}, "thread_long", {"target": "x", "limit": 4}),
    ("no time, no expiry", {"body": "水位が上昇しています。", "translations": {"en": Text("River", "Rising.")}},
     "no_time", {}),
    ("exercise word in live", {"mode": Mode.LIVE, "title": "【テスト】思川"}, "exercise_word", {"word": "テスト"}),
    ("訓練 in live", {"mode": Mode.LIVE, "body": "避難訓練の18時の集合"}, "exercise_word", {"word": "訓練"}),
    ("drill in a live translation", {"mode": Mode.LIVE, "translations": {"en": Text("Flood drill", "At 18:00.")}},
     "exercise_word", {"word": "drill"}),
    ("live phrase in exercise", {"body": "これは訓練ではありません。18時に避難"}, "live_word",
     {"word": "これは訓練ではありません"}),
    ("not a drill in exercise", {"translations": {"en": Text("This is not a drill", "At 18:00.")}}, "live_word",
     {"word": "This is not a drill"}),
    ("実際の in exercise", {"instruction": "実際の避難所へ向かってください。"}, "live_word", {"word": "実際の"}),
    ("free text in a live disaster alert", {"mode": Mode.LIVE, "translations": {}}, "notices", {}),
    ("placeholder left", {"title": "【地区名】に避難指示"}, "placeholder", {"placeholders": "【地区名】"}),
    ("empty placeholder", {"body": "【　】に避難所を開設しました。18時"}, "placeholder", {"placeholders": "【　】"}),
    ("English placeholder", {"translations": {"en": Text("Shelter: 【shelter】", "At 18:00.")}}, "placeholder",
     {"placeholders": "【shelter】"}),
    ("only punctuation", {"title": "【訓練】！！"}, "empty_title", {}),
    ("a generic word", {"title": "お知らせ"}, "empty_title", {}),
    ("blank", {"title": "　"}, "empty_title", {}),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "code", "params"), [row[1:] for row in WARNS], ids=[row[0] for row in WARNS])
def test_warns(settings: Settings, changes: dict[str, Any], code: str, params: dict[str, Any]) -> None:
    found = check(settings, variants.complete(alert(**changes), settings))
    assert any(w.code == code and params.items() <= dict(w.params).items() for w in found), found


QUIET: list[tuple[str, dict[str, Any], str]] = [
    ("an expiry stands for a time", {"body": "水位が上昇", "translations": {}, "expires": 1.9e9}, "no_time"),
    ("18時", {"body": "18時ごろ"}, "no_time"),
    ("18:00", {"body": "18:00ごろ"}, "no_time"),
    ("full-width １８：００", {"body": "１８：００ごろ"}, "no_time"),
    ("午後6時", {"body": "午後6時ごろ"}, "no_time"),
    ("6日", {"body": "6日に開設します"}, "no_time"),
    ("十八時 in the instruction", {"body": "増水", "instruction": "十八時までに避難"}, "no_time"),
    ("a live phrase in a live alert", {"mode": Mode.LIVE, "body": "これは訓練ではありません。18時"}, "exercise_word"),
    ("訓練 in an exercise", {"title": "訓練 思川の水位"}, "exercise_word"),
    ("words that only contain test", {"mode": Mode.LIVE, "translations": {"en": Text("The latest", "At 18:00")}},
     "exercise_word"),
    ("a bracketed tag of one's own", {"title": "【重要】思川の水位"}, "placeholder"),
    ("a short real title", {"title": "地震"}, "empty_title"),
    ("ticker within 60", {"instruction": "川に近づかないで。"}, "too_long"),
    ("free text in an exercise", {"translations": {}}, "notices"),
    ("free text of daily life", {"mode": Mode.LIVE, "category": "crime", "level": 0, "translations": {}},
     "notices"),
    ("a 定型文's generated words are not the officer's", {"phrase": "shelter_close",
     "slots": {"time": "15:00", "shelter": "間々田小学校"}}, "no_time"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "code"), [row[1:] for row in QUIET], ids=[row[0] for row in QUIET])
def test_does_not_warn(settings: Settings, changes: dict[str, Any], code: str) -> None:
    assert code not in codes(settings, variants.complete(alert(**changes), settings))


def test_only_the_alerts_channels_are_measured(settings: Settings) -> None:
    long = alert(instruction="川に近づかないでください。" * 6, channels=("email", "website"))
    assert "too_long" not in codes(settings, long)


def test_a_longer_ticker_allows_a_longer_line(site: SiteFactory) -> None:
    wide = load_settings(site({"ticker": {"max_length": 200}}))
    assert "too_long" not in codes(wide, alert(instruction="川に近づかないでください。" * 6))


def test_a_language_with_nothing_reviewed_to_send_is_named(site: SiteFactory) -> None:
    three = {"city": {"languages": ["ja", "en", "vi"]}, "fm": {"languages": ["en", "vi"]}}
    strict = load_settings(site(three | {"languages": {"require_review": True}}))
    book = strict.phrasebook
    silent = [lang for lang in ("en", "vi") if not variants.usable(book, strict, "notice", lang)]
    assert "vi" in silent  # the shipped translations are unreviewed first drafts
    free = variants.complete(alert(translations={}), strict)
    assert [w.params["lang"] for w in check(strict, free) if w.code == "no_translation"] == silent
    typed = variants.complete(CLEAN, strict)  # what an officer typed in English is sent as typed
    assert [w.params["lang"] for w in check(strict, typed) if w.code == "no_translation"] == ["vi"]
    relaxed = load_settings(site(three))
    assert "no_translation" not in codes(relaxed, variants.complete(alert(translations={}), relaxed))


def test_a_phrase_with_empty_slots_is_named(settings: Settings) -> None:
    draft = drafts.Draft(category="disaster", level=3, title="x", body="x", phrase="shelter_close")
    empty = variants.japanese_from_phrase(alert(phrase="shelter_close", slots={}), settings)
    assert empty is not None
    made = drafts.build(settings, draft.model_copy(update={"title": empty.title, "body": empty.body}), "sato",
                        Source.STAFF)  # fmt: skip
    assert made.phrase == "shelter_close"  # the words are still the pattern's
    found = [w.params for w in check(settings, made) if w.code == "empty_slots"]
    assert found == [{"slots": "time,shelter"}]


@pytest.mark.parametrize("word", ["地区名", "避難所名", "時刻", "災害の種類", "対象世帯数", "○○", "area", "shelter",
                                  "number of households", "　"])  # fmt: skip
def test_a_template_blank_is_a_placeholder(word: str) -> None:
    assert lint.blank(word)


@pytest.mark.parametrize("word", ["重要", "続報", "訂正", "お知らせ", "Update"])
def test_a_tag_of_ones_own_is_not(word: str) -> None:
    assert not lint.blank(word)


def test_placeholders_can_be_given(settings: Settings) -> None:
    own = alert(title="【ここ】で断水")
    assert "placeholder" not in codes(settings, own)
    found = check(settings, own, placeholders={"ここ"})
    assert [w.params for w in found if w.code == "placeholder"] == [{"placeholders": "【ここ】"}]
