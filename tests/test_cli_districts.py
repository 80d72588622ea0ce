"""`run.py districts list [--json]` and `run.py districts check`, in process (broadcaster.cli.main.main).

``list`` names each district with its towns and how many active subscribers chose it; ``check`` lists
every 町 of the city with its reading and district, and exits 1 naming each problem start-up lets
through. A config start-up refuses is exit 2 and one line, as for every command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster import districts
from broadcaster.cli.main import main
from broadcaster.settings import load_settings

SiteFactory = Callable[..., Path]  # the `site` fixture of conftest.py
LINE_A, LINE_B = "U" + "0123456789abcdef" * 2, "U" + "fedcba9876543210" * 2
# who chose what: east 2 (one also west), south's only subscriber paused, 2 active for the whole city
SUBSCRIBERS = (
    "email,a@example.jp,disaster,ja,active,false,east",
    "email,b@example.jp,disaster crime,ja,active,false,east west",
    f"line,{LINE_A},disaster,ja,paused,false,south",
    f"line,{LINE_B},crime,ja,active,false,",
    "email,c@example.jp,health,en,active,true,",
)


def run(config: Path, *args: str) -> int:
    """`run.py --config CONFIG ARGS…` in this process; its output goes to capsys."""
    return main(["--config", str(config), *args])


def imported(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *rows: str) -> None:
    """Import ``rows`` through `run.py subscribers import`, with the districts column."""
    csv = tmp_path / "subscribers.csv"
    csv.write_text("\n".join(["channel,contact,categories,language,state,tester,districts", *rows]) + "\n", "utf-8")
    assert run(config, "subscribers", "import", str(csv)) == 0
    assert capsys.readouterr().out == f"imported {len(rows)} subscriber(s)\n"


def no_districts(site: SiteFactory) -> Path:
    """A site file of a town with no districts (as config/example-other-town.toml sets it)."""
    path = site()
    path.write_text("districts = []\n" + path.read_text("utf-8"), "utf-8")
    return path


# -- list -------------------------------------------------------------------------------


def test_list_json_gives_each_district_its_towns_and_active_subscribers(
    site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    imported(config, tmp_path, capsys, *SUBSCRIBERS)
    assert run(config, "districts", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d.pop("towns") for d in listed] == [
        ["城東", "東城南", "駅東通り", "犬塚"],
        ["城西", "西城南", "神鳥谷"],
        ["間々田", "東間々田", "乙女", "南乙女", "粟宮"],
        ["城北", "喜沢", "羽川", "雨ケ谷"],
    ]
    assert listed == [
        {"id": "east", "name": "東部地区", "reading": "とうぶちく", "subscribers": 2},
        {"id": "west", "name": "西部地区", "reading": "せいぶちく", "subscribers": 1},
        {"id": "south", "name": "南部地区", "reading": "なんぶちく", "subscribers": 0},
        {"id": "north", "name": "北部地区", "reading": "ほくぶちく", "subscribers": 0},
    ]


def test_list_is_a_table_in_words_with_the_whole_city(
    site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    imported(config, tmp_path, capsys, *SUBSCRIBERS)
    assert run(config, "districts", "list") == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["id", "name", "reading", "subscribers", "towns"]
    assert rows[1:5] == [
        ["east", "東部地区", "とうぶちく", "2", "城東、東城南、駅東通り、犬塚"],
        ["west", "西部地区", "せいぶちく", "1", "城西、西城南、神鳥谷"],
        ["south", "南部地区", "なんぶちく", "0", "間々田、東間々田、乙女、南乙女、粟宮"],
        ["north", "北部地区", "ほくぶちく", "0", "城北、喜沢、羽川、雨ケ谷"],
    ]
    assert out.splitlines()[5] == "市内全域 (the whole city): 2 active subscriber(s)"
    assert "@" not in out and LINE_B not in out  # counts, never contacts


def test_a_town_with_no_districts_lists_none(site: SiteFactory, capsys: pytest.CaptureFixture[str]) -> None:
    config = no_districts(site)
    assert run(config, "districts", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run(config, "districts", "list") == 0
    assert "no districts configured: every alert goes to the whole of 小山市" in capsys.readouterr().out


# -- check ------------------------------------------------------------------------------


def test_check_lists_every_town_with_its_reading_and_district(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    settings = load_settings(config)
    assert run(config, "districts", "check") == 0
    out = capsys.readouterr().out
    table = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ") and ":" not in line
    }
    every = districts.town_index(settings).towns
    assert set(table) == {"town"} | {t.name for t in every}
    in_one = {town: d for d in settings.districts for town in d.towns}
    for town in every:
        where = [in_one[town.name].name, f"({in_one[town.name].id})"] if town.name in in_one else ["-"]
        assert table[town.name] == [town.kana, *where]
    assert "北部地区 (north): no outline" in out
    assert f"{len(every) - len(in_one)} of {len(every)} towns are in no district" in out
    assert out.splitlines()[-1].startswith("no problems")
    assert not settings.path(settings.storage.path).exists()  # a check of the config creates no database


def square(west: float, south: float, side: float) -> list[list[float]]:
    return [[west, south], [west + side, south], [west + side, south + side], [west, south + side], [west, south]]


def outline(folder: Path, name: str, ring: list[list[float]]) -> str:
    path = folder / f"{name}.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}), "utf-8")
    return str(path)


def district(id_: str, name: str, towns: list[str], geometry: str = "") -> str:
    return (
        f'[[districts]]\nid = "{id_}"\nname = "{name}"\nreading = "てすと"\nname_en = "Test"\n'
        f"towns = {json.dumps(towns, ensure_ascii=False)}\ngeometry = {json.dumps(geometry)}\n\n"
    )


def test_check_names_each_problem_start_up_lets_through_and_exits_1(
    site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # subscribers chose "gone" while the city still had it ...
    before = site(name="before.toml")
    before.write_text(district("gone", "旧地区", []) + before.read_text("utf-8"), "utf-8")
    imported(before, tmp_path, capsys, "email,a@example.jp,disaster,ja,active,false,gone")
    # ... and the new site file has it no more, besides its other mistakes
    bow_tie = [[139.80, 36.30], [139.82, 36.32], [139.82, 36.30], [139.80, 36.31], [139.80, 36.30]]
    flat = [[139.90, 36.30], [139.91, 36.30], [139.92, 36.30], [139.90, 36.30]]
    after = site(name="after.toml")
    after.write_text(
        district("a", "甲地区", ["雨ケ谷"], outline(tmp_path, "bow-tie", bow_tie))
        + district("b", "乙地区", ["間々田"], outline(tmp_path, "b", square(139.70, 36.20, 0.02)))
        + district("c", "丙地区", [], outline(tmp_path, "c", square(139.71, 36.21, 0.02)))  # overlaps 乙地区
        + district("d", "丁地区", ["乙女"], outline(tmp_path, "flat", flat))
        + district("e", "戊地区", ["粟宮"])
        + after.read_text("utf-8"),
        "utf-8",
    )
    assert run(after, "districts", "check") == 1
    out = capsys.readouterr().out
    problems = out[out.index("\nproblems:\n") :].splitlines()[2:-1]
    assert out.splitlines()[-1] == "4 problem(s)"
    assert len(problems) == 4
    expected = [
        "丁地区 (d): geometry",
        "甲地区 (a): geometry",
        "乙地区 (b) and 丙地区 (c): their outlines cross near",
        "1 active subscriber(s) chose district 'gone', which the config no longer has",
    ]
    for line, says in zip(problems, expected, strict=True):
        assert line.startswith(f"  {says}"), line
    assert "a polygon has no area" in problems[0] and "crosses itself near 36.3" in problems[1]
    notes = out[out.index("for information:") : out.index("\nproblems:")]
    assert "丙地区 (c): no towns yet" in notes and "戊地区 (e): no outline" in notes
    assert "甲地区 (a)" not in notes and "乙地区 (b)" not in notes


def test_check_of_a_town_with_no_districts_passes_and_says_so(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(no_districts(site), "districts", "check") == 0
    out = capsys.readouterr().out
    assert "no districts configured: every alert goes to the whole of 小山市" in out
    assert ["間々田", "ママダ", "-"] in [line.split() for line in out.splitlines()]


def test_a_config_start_up_refuses_is_exit_2_and_one_line(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site()
    config.write_text(district("a", "甲地区", ["東京"]) + config.read_text("utf-8"), "utf-8")
    assert run(config, "districts", "check") == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'東京' is no 町・大字 of 小山市" in err
