"""Subscribers through `run.py subscribers`: CSV import is all or nothing, export round-trips, lists hide contacts."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadcaster.cli.main import main
from broadcaster.errors import InputError
from broadcaster.models import Subscriber
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import CsvReader

SiteFactory = Callable[..., Path]  # the conftest `site` fixture
HEADER = "channel,contact,categories,language,state,tester"  # a file from before districts: it still imports
EXPORT_HEADER = f"{HEADER},districts"  # what the export writes, and the import takes
LINE_ID = "U" + "0123456789abcdef" * 2
OTHER_ID = "U" + "fedcba9876543210" * 2  # bent out of shape by the bad rows below
GOOD_ROWS = (
    "email,taro@example.jp,disaster crime,ja,active,false",
    f"line,{LINE_ID},disaster,en,active,true",
    "email,hanako@example.jp,health,,,",
)
CONTACTS = ("taro@example.jp", LINE_ID, "hanako@example.jp")

# (case id, bad row, what the error says about it); each follows GOOD_ROWS[0] in the file
BAD_ROWS: list[tuple[str, str, str]] = [
    ("bad-email", "email,not-an-email,disaster,ja,active,false", "contact is not an email address"),
    ("email-with-space", "email,jiro @example.jp,disaster,ja,active,false", "contact is not an email address"),
    ("email-with-control", "email,jiro@example.jp\x01,disaster,ja,active,false", "contact is not an email address"),
    ("line-uppercase-hex", f"line,{OTHER_ID.upper()},disaster,ja,active,false", "contact is not a LINE user id"),
    ("line-too-short", f"line,{OTHER_ID[:-1]},disaster,ja,active,false", "contact is not a LINE user id"),
    ("line-lowercase-u", f"line,u{OTHER_ID[1:]},disaster,ja,active,false", "contact is not a LINE user id"),
    ("unknown-category", "email,a1@example.jp,disaster weather,ja,active,false", "unknown categories ['weather']"),
    ("no-category", "email,a2@example.jp,,ja,active,false", "categories is empty"),
    ("unknown-channel", "fax,0285-22-0000,disaster,ja,active,false", "channel must be one of email, line"),
    ("duplicate-contact", "email,taro@example.jp,health,ja,active,false", "the same contact appears"),
    ("duplicate-other-case", "email,Taro@Example.JP,health,ja,active,false", "the same contact appears"),
    (
        "bad-language",
        "email,a3@example.jp,disaster,fr,active,false",
        "language 'fr' is not one the city offers; valid: ja, ja-x-easy, en, pt-BR, es, vi, tl, zh-Hans, ko, ne",
    ),
    ("old-language-code", "email,a7@example.jp,disaster,pt,active,false", "language 'pt' is not one the city offers"),
    ("extra-field", "email,a4@example.jp,disaster,ja,active,false,extra", "more fields than the header has"),
    ("bad-tester", "email,a5@example.jp,disaster,ja,active,maybe", "tester must be true or false"),
    ("bad-state", "email,a6@example.jp,disaster,ja,asleep,false", "state must be one of"),
]


@dataclass(frozen=True, slots=True)
class Result:
    """What one run.py invocation did."""

    code: int
    out: str
    err: str


@pytest.fixture
def config(site: SiteFactory) -> Path:
    """The site file whose database the `store` fixture opens."""
    return site()


async def cli(run_py: list[str], config: Path, *args: str) -> Result:
    """Run `run.py --config CONFIG ARGS...` to completion."""
    env = {k: v for k, v in os.environ.items() if k != "BROADCASTER_CONFIG"}
    proc = await asyncio.create_subprocess_exec(
        *run_py, "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def csv_file(folder: Path, *rows: str, name: str = "subscribers.csv", header: str = HEADER) -> Path:
    """A CSV file with ``header`` and ``rows``."""
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


async def import_ok(run_py: list[str], config: Path, path: Path) -> None:
    """Import a file that must be accepted."""
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 0, result.err
    assert result.out.startswith("imported ")


async def everyone(store: SQLiteStore) -> dict[str, Subscriber]:
    """Every stored subscriber by contact."""
    found: list[Subscriber] = []
    await store.export_subscribers(found.extend)
    return {s.contact: s for s in found}


def error_lines(err: str) -> list[str]:
    """The per-row lines of an import error."""
    return [line for line in err.splitlines() if line.startswith("line ")]


async def test_good_file_imports(run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path) -> None:
    result = await cli(run_py, config, "subscribers", "import", str(csv_file(tmp_path, *GOOD_ROWS)))
    assert (result.code, result.out) == (0, "imported 3 subscriber(s)\n")
    stored = await everyone(store)
    assert set(stored) == set(CONTACTS)
    assert stored["taro@example.jp"].categories == {"disaster", "crime"}
    assert (stored[LINE_ID].language, stored[LINE_ID].tester) == ("en", True)
    hanako = stored["hanako@example.jp"]  # empty optional fields take their defaults
    assert (hanako.language, hanako.state, hanako.tester) == ("ja", "active", False)
    assert await store.subscriber_counts() == {
        ("email", "disaster", "active"): 1,
        ("email", "crime", "active"): 1,
        ("email", "health", "active"): 1,
        ("line", "disaster", "active"): 1,
    }


async def test_list_shows_counts_and_no_contacts(run_py: list[str], config: Path, tmp_path: Path) -> None:
    await import_ok(run_py, config, csv_file(tmp_path, *GOOD_ROWS))
    result = await cli(run_py, config, "subscribers", "list")
    assert result.code == 0
    by_category, by_district = result.out.split("\n\n")
    rows = [line.split() for line in by_category.splitlines()]
    assert rows[0] == ["category", "channel", "state", "count"]
    assert sorted(rows[1:]) == [
        ["crime", "email", "active", "1"],
        ["disaster", "email", "active", "1"],
        ["disaster", "line", "active", "1"],
        ["health", "email", "active", "1"],
    ]
    # the file has no districts column: all three chose the whole city, and no district has anyone
    rows = [line.split() for line in by_district.splitlines()]
    assert rows[:2] == [["district", "id", "active"], ["市内全域", "3"]]
    assert [row[2] for row in rows[2:]] == ["0"] * 11 and rows[4] == ["間々田地区", "mamada", "0"]
    for contact in CONTACTS:
        assert contact not in result.out
        assert contact not in result.err
    assert "@" not in result.out


async def test_list_shows_contacts_only_when_asked(run_py: list[str], config: Path, tmp_path: Path) -> None:
    await import_ok(run_py, config, csv_file(tmp_path, *GOOD_ROWS))
    result = await cli(run_py, config, "subscribers", "list", "--show-contacts")
    assert result.code == 0
    assert "disaster   line   active   1" in result.out
    for contact in CONTACTS:
        assert contact in result.out


@pytest.mark.parametrize(("row", "problem"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS])
async def test_a_bad_row_imports_nothing(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path, row: str, problem: str
) -> None:
    path = csv_file(tmp_path, GOOD_ROWS[0], row, *GOOD_ROWS[1:])
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert "1 bad row(s), nothing imported" in result.err
    (only,) = error_lines(result.err)
    assert only.startswith(f"line 3: {problem}")
    assert await everyone(store) == {}


async def test_every_bad_row_is_reported_with_its_line(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    rows = [GOOD_ROWS[0], *(row for _, row, _ in BAD_ROWS), *GOOD_ROWS[1:]]
    result = await cli(run_py, config, "subscribers", "import", str(csv_file(tmp_path, *rows)))
    assert result.code == 2
    assert f"{len(BAD_ROWS)} bad row(s), nothing imported" in result.err
    lines = error_lines(result.err)
    assert len(lines) == len(BAD_ROWS)  # the good rows around them are not reported
    for number, (line, (_, _, problem)) in enumerate(zip(lines, BAD_ROWS, strict=True), start=3):
        assert line.startswith(f"line {number}: {problem}")
    assert await everyone(store) == {}


def test_a_field_too_large_for_csv_is_a_bad_row_not_a_crash(settings: Settings) -> None:
    reader = CsvReader(settings)
    huge = "channel,contact,categories\n" + f"email,{'x' * 200_000}@example.jp,disaster\n"
    assert list(reader.rows(io.StringIO(huge))) == []
    with pytest.raises(InputError, match=r"line \d+: not readable as CSV"):
        reader.check()


async def test_contacts_are_not_repeated_in_errors(run_py: list[str], config: Path, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "email,secret.person@example,disaster,ja,active,false")
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert "secret.person" not in result.err


async def test_line_numbers_count_blank_lines_and_quoted_newlines(
    run_py: list[str], config: Path, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        GOOD_ROWS[0],  # line 2
        "",  # line 3, skipped
        f'line,{LINE_ID},"disaster',  # lines 4-5: one row, its categories span two lines
        'crime",ja,active,false',
        "email,bad-address,disaster,ja,active,false",  # line 6
    )
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert error_lines(result.err) == ["line 6: contact is not an email address"]


async def test_reimport_updates_categories(run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path) -> None:
    await import_ok(run_py, config, csv_file(tmp_path, *GOOD_ROWS))
    first = await everyone(store)
    path = csv_file(tmp_path, "email,taro@example.jp,health elderly,en,paused,true", name="again.csv")
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert (result.code, result.out) == (0, "imported 1 subscriber(s)\n")
    now = await everyone(store)
    assert set(now) == set(CONTACTS)  # updated in place, not added
    taro = now["taro@example.jp"]
    assert taro.id == first["taro@example.jp"].id
    assert (taro.categories, taro.language, taro.state, taro.tester) == ({"health", "elderly"}, "en", "paused", True)
    assert {c: s for c, s in now.items() if c != "taro@example.jp"} == {
        c: s for c, s in first.items() if c != "taro@example.jp"
    }
    counts = await store.subscriber_counts()
    assert ("email", "crime", "active") not in counts
    assert counts[("email", "elderly", "paused")] == 1


async def test_reimport_with_another_case_updates_the_same_subscriber(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    # one file treats Taro@ and taro@ as the same contact; two files must agree, or taro gets every alert twice
    await import_ok(run_py, config, csv_file(tmp_path, *GOOD_ROWS))
    await import_ok(run_py, config, csv_file(tmp_path, "email,Taro@Example.JP,health,ja,active,false", name="b.csv"))
    stored = await everyone(store)
    assert len(stored) == len(CONTACTS)
    assert sum(1 for contact in stored if contact.lower() == "taro@example.jp") == 1


async def test_import_is_all_or_nothing_over_existing_subscribers(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    await import_ok(run_py, config, csv_file(tmp_path, *GOOD_ROWS))
    before = await everyone(store)
    counts = await store.subscriber_counts()
    path = csv_file(
        tmp_path,
        "email,taro@example.jp,general,en,paused,true",  # an update of an existing subscriber
        "email,new.person@example.jp,disaster,ja,active,false",  # a new one
        "email,broken,disaster,ja,active,false",
        name="mixed.csv",
    )
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert error_lines(result.err) == ["line 4: contact is not an email address"]
    assert await everyone(store) == before
    assert await store.subscriber_counts() == counts


@pytest.mark.parametrize(
    "header",
    [
        "channel,email,categories,language,state,tester",  # contact missing
        "channel,contact,language",  # categories missing
        "channel,contact,categories,phone",  # unknown column
        "Channel,Contact,Categories",  # names are exact
    ],
)
async def test_bad_header_is_rejected(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path, header: str
) -> None:
    path = csv_file(tmp_path, "email,taro@example.jp,disaster,ja,active,false", header=header)
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert error_lines(result.err)[0].startswith("line 1: header:")
    assert f"expected {EXPORT_HEADER}" in result.err
    assert await everyone(store) == {}


async def test_empty_file_is_rejected(run_py: list[str], config: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    result = await cli(run_py, config, "subscribers", "import", str(path))
    assert result.code == 2
    assert "line 1: header:" in result.err


async def test_missing_file_is_an_input_error(run_py: list[str], config: Path, tmp_path: Path) -> None:
    result = await cli(run_py, config, "subscribers", "import", str(tmp_path / "nope.csv"))
    assert result.code == 2
    assert "nope.csv" in result.err
    assert "Traceback" not in result.err


async def test_excel_byte_order_mark_is_accepted(
    run_py: list[str], config: Path, store: SQLiteStore, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("\ufeff" + "\r\n".join([HEADER, *GOOD_ROWS]) + "\r\n", encoding="utf-8")
    await import_ok(run_py, config, path)
    assert set(await everyone(store)) == set(CONTACTS)


async def test_export_round_trips(run_py: list[str], site: SiteFactory, tmp_path: Path) -> None:
    first = site()
    await import_ok(run_py, first, csv_file(tmp_path, *GOOD_ROWS, "email,jiro@example.jp,general elderly,en,gone,"))
    exported = await cli(run_py, first, "subscribers", "export")
    assert exported.code == 0
    assert exported.out.splitlines()[0] == EXPORT_HEADER
    assert "email,taro@example.jp,crime disaster,ja,active,false," in exported.out.splitlines()
    assert "email,jiro@example.jp,elderly general,en,gone,false," in exported.out.splitlines()

    dump = tmp_path / "export.csv"
    dump.write_text(exported.out, encoding="utf-8")
    await import_ok(run_py, first, dump)  # into the same database: nothing changes
    assert (await cli(run_py, first, "subscribers", "export")).out == exported.out

    second = site({"storage": {"path": str(tmp_path / "other" / "b.db")}}, name="other.toml")
    await import_ok(run_py, second, dump)  # into a fresh database: the same export
    assert (await cli(run_py, second, "subscribers", "export")).out == exported.out


# -- districts: a column of ids, empty (or absent, in an older file) for the whole city; in process --


def subscribers(config: Path, *args: str) -> int:
    """`run.py --config CONFIG subscribers ARGS…` in this process; its output goes to capsys."""
    return main(["--config", str(config), "subscribers", *args])


def test_the_districts_column_imports_and_exports_and_an_older_file_means_the_whole_city(
    site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)  # east, west, south, north
    rows = (
        "email,taro@example.jp,disaster,ja,active,false,east west",
        f"line,{LINE_ID},disaster,ja,active,false,",
        "email,hanako@example.jp,health,ja,active,false, north ",
    )
    assert subscribers(config, "import", str(csv_file(tmp_path, *rows, header=EXPORT_HEADER))) == 0
    older = csv_file(tmp_path, "email,jiro@example.jp,disaster,ja,active,false", name="older.csv")
    assert subscribers(config, "import", str(older)) == 0
    capsys.readouterr()

    assert subscribers(config, "export") == 0
    exported = capsys.readouterr().out
    assert exported.splitlines()[0] == EXPORT_HEADER
    assert sorted(exported.splitlines()[1:]) == [
        "email,hanako@example.jp,health,ja,active,false,north",
        "email,jiro@example.jp,disaster,ja,active,false,",
        "email,taro@example.jp,disaster,ja,active,false,east west",
        f"line,{LINE_ID},disaster,ja,active,false,",
    ]
    dump = tmp_path / "export.csv"
    dump.write_text(exported, encoding="utf-8")
    assert subscribers(config, "import", str(dump)) == 0  # the export imports back unchanged
    assert subscribers(config, "export") == 0
    assert capsys.readouterr().out.split("\n", 1)[1] == exported

    assert subscribers(config, "list") == 0
    by_district = capsys.readouterr().out.split("\n\n")[1]
    assert [line.split() for line in by_district.splitlines()] == [
        ["district", "id", "active"],
        ["市内全域", "2"],
        ["東部地区", "east", "1"],
        ["西部地区", "west", "1"],
        ["南部地区", "south", "0"],
        ["北部地区", "north", "1"],
    ]


def test_an_unknown_district_fails_the_whole_import_naming_its_line(
    site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site(districts=True)
    first = csv_file(tmp_path, "email,taro@example.jp,disaster,ja,active,false,east", header=EXPORT_HEADER)
    assert subscribers(config, "import", str(first)) == 0
    bad = csv_file(
        tmp_path,
        "email,taro@example.jp,disaster,ja,active,false,west",  # an update: not made either
        "email,new.person@example.jp,disaster,ja,active,false,east mamada",  # the default config's id, not this site's
        name="bad.csv",
        header=EXPORT_HEADER,
    )
    capsys.readouterr()
    assert subscribers(config, "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert "1 bad row(s), nothing imported" in err
    assert error_lines(err) == ["line 3: unknown districts ['mamada']; valid: east, west, south, north"]
    assert subscribers(config, "export") == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["email,taro@example.jp,disaster,ja,active,false,east"]


def test_a_town_with_no_districts_takes_only_an_empty_districts_cell(site: SiteFactory) -> None:
    config = site()
    config.write_text("districts = []\n" + config.read_text("utf-8"), "utf-8")
    reader = CsvReader(load_settings(config))
    text = f"{EXPORT_HEADER}\nemail,taro@example.jp,disaster,ja,active,false,\nemail,jiro@example.jp,disaster,,,,east\n"
    assert [s.districts for s in reader.rows(io.StringIO(text))] == [frozenset()]
    with pytest.raises(InputError, match=r"line 3: unknown districts \['east'\]; valid: none \(leave it empty"):
        reader.check()


def test_every_offered_language_imports_in_any_case_as_the_city_spells_it(settings: Settings) -> None:
    reader = CsvReader(settings)
    rows = [f"email,r{i}@example.jp,disaster,{code.upper() if i % 2 else code},active,false"
            for i, code in enumerate(settings.city.languages)]  # fmt: skip
    imported = list(reader.rows(io.StringIO("\n".join([HEADER, *rows]) + "\n")))
    reader.check()
    assert [s.language for s in imported] == list(settings.city.languages)  # PT-BR -> pt-BR, JA-X-EASY -> ja-x-easy
