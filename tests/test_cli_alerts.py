"""`run.py alerts show ID [--json]`, in process: an alert's words in every language and where each came from."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster import drafts, furigana
from broadcaster.cli.main import main
from broadcaster.models import Alert, Source
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore

SiteFactory = Callable[..., Path]
ORDER = {"phrase": "evacuation_order", "slots": {"time": "15:30", "hazard": "河川の氾濫", "households": "120",
         "shelter": "間々田小学校"}}  # fmt: skip
ORDER_JA = {
    "title": "東部地区、西部地区に避難指示を発令しました",
    "body": "15時30分、河川の氾濫の危険が高まっているため、東部地区、西部地区に避難指示を発令しました。\n"
    "対象：120世帯\n開設中の避難所：間々田小学校",
    "instruction": "危険な場所から全員避難してください。"
    "避難所への移動が危険なときは、近くの安全な建物の上の階へ避難してください。",
}


def stored(settings: Settings, **fields: object) -> Alert:
    """A draft built as the console builds it, stored (the command then runs its own event loop)."""
    draft = drafts.parse({"category": "disaster", "level": 4, "districts": ["east", "west"], **fields})
    alert = drafts.build(settings, draft, "sato", Source.STAFF)

    async def save() -> None:
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        try:
            await store.create_alert(alert, "sato", "test")
        finally:
            await store.aclose()

    asyncio.run(save())
    return alert


def shown(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["--config", str(config), "alerts", "show", *args, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_a_phrase_alert_shows_every_language_from_the_phrasebook(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    settings = load_settings(config)
    alert = stored(settings, **ORDER, **ORDER_JA)
    out = shown(config, capsys, alert.id)
    assert set(out) == {"id", "mode", "state", "category", "level", "districts", "variants"}
    assert (out["id"], out["mode"], out["state"], out["category"], out["level"]) == (
        alert.id, "exercise", "draft", "disaster", 4,
    )  # fmt: skip
    assert out["districts"] == ["east", "west"]
    variants = out["variants"]
    assert isinstance(variants, dict) and list(variants) == list(settings.city.languages)
    assert {v["source"] for v in variants.values()} == {"phrasebook"}
    assert variants["ja"]["title"] == ORDER_JA["title"]
    assert "Evacuation order" in variants["en"]["title"] and "East district" in variants["en"]["title"]
    assert set(variants["en"]) == {"title", "body", "instruction", "source"}


def test_free_text_goes_to_other_languages_as_a_notice_and_typed_words_stay_the_officers(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    settings = load_settings(config)
    typed = {"en": {"title": "Evacuation order", "body": "Leave the riverside now."}}
    alert = stored(settings, title="思川沿いに避難指示", body="思川の水位が上がっています。", translations=typed)
    variants = shown(config, capsys, alert.id)["variants"]
    assert isinstance(variants, dict)
    assert variants["ja"]["source"] == "officer" and variants["en"]["source"] == "officer"
    assert variants["en"]["body"] == "Leave the riverside now."
    notices = {lang: v for lang, v in variants.items() if lang not in ("ja", "en")}
    assert notices and {v["source"] for v in notices.values()} == {"notice"}
    link = f"/alerts/{alert.id}"
    assert all(link in v["body"] for v in notices.values())
    assert "Evacuação" in variants["pt-BR"]["title"] or "evacuação" in variants["pt-BR"]["title"].lower()


def test_an_edited_phrase_goes_out_as_notices_and_the_text_view_marks_sources(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    settings = load_settings(config)
    edited = dict(ORDER_JA, body=ORDER_JA["body"] + "\n消防団が巡回しています。")  # no pattern says this
    alert = stored(settings, **ORDER, **edited)
    variants = shown(config, capsys, alert.id)["variants"]
    assert isinstance(variants, dict) and variants["ja"]["source"] == "officer"
    assert {v["source"] for lang, v in variants.items() if lang != "ja"} == {"notice"}
    assert main(["--config", str(config), "alerts", "show", alert.id]) == 0
    text = capsys.readouterr().out
    assert "[ja] (officer)" in text and "[vi] (notice)" in text
    assert "{" not in text  # furigana are shown as 漢字（かんじ）
    easy = variants["ja-x-easy"]["title"]
    assert furigana.has(easy) and furigana.plain(easy) in text


def test_an_unknown_alert_is_one_line_and_exit_2(site: SiteFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(site()), "alerts", "show", "nope", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no alert 'nope'" in err
