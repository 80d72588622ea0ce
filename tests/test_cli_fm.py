"""`run.py fm reading TEXT`: what FM will say, in katakana, as an officer checks a name without listening."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from broadcaster.cli import fm
from broadcaster.settings import Settings, load_settings
from tests.conftest import SiteFactory
from tests.processes import run_cli


async def test_it_prints_the_town_and_the_time_as_fm_says_them(run_py: list[str], site: SiteFactory) -> None:
    result = await run_cli(run_py, site(), "fm", "reading", "神鳥谷に避難指示、15時30分")
    assert (result.rc, result.stderr) == (0, "")
    assert result.stdout == "ヒトトノヤニヒナンシジ、ジューゴジサンジュップン\n"


async def test_without_the_dictionary_it_names_what_to_install(
    run_py: list[str], site: SiteFactory, tmp_path: Path
) -> None:
    config = site({"fm": {"dictionary": str(tmp_path / "no-dictionary")}})
    result = await run_cli(run_py, config, "fm", "reading", "平和")
    assert result.rc == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Open JTalk dictionary not found in ")
    assert "apt-get install open-jtalk-mecab-naist-jdic" in result.stderr


def reading(settings: Settings, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What `run.py fm reading TEXT` prints, run in this process."""
    assert fm.run(settings, argparse.Namespace(command="fm", action="reading", text=text)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("平和", "ヒラワ\n"),  # a town checked on its own is read as the town
        ("世界の平和", "セカイノヘーワ\n"),  # the word keeps its own reading
        ("城北1丁目付近", "ジョーホクイッチョーメフキン\n"),
        ("間々田地区、生井地区", "ママダチク、ナマイチク\n"),  # districts, by their configured reading
        (
            "（チャイム）\n網戸に避難指示\n\n2026/11/29 9:05",
            "アジトニヒナンシジ\nニセンニジューロクネンジューイチガツニジュークニチ\u3000クジゴフン\n",
        ),
    ],
)
def test_each_line_is_printed_as_said(
    settings: Settings, capsys: pytest.CaptureFixture[str], text: str, printed: str
) -> None:
    assert reading(settings, text, capsys) == printed


def test_a_site_reading_is_what_it_prints(site: SiteFactory, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(site({"fm.readings": {'"城北"': "しろきた"}}))  # made up: the engine's own reading
    assert reading(settings, "城北", capsys) == "シロキタ\n"
