"""CSV exports are neutral for spreadsheets in every cell (OWASP CSV injection), and a subscriber export
imports back unchanged: the import takes off the one apostrophe the export put in front."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from broadcaster.csv_cells import FORMULA_STARTS, neutral, restored
from broadcaster.models import AuditEntry, ContactKind, Subscriber, SubscriberState
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import COLUMNS, CsvReader, CsvWriter
from broadcaster.web.console.admin_pages import csv_row
from tests.conftest import SiteFactory
from tests.test_subscribers import HEADER, cli, csv_file, import_ok

HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=already quoted", "'", "=", ""]
# valid mail addresses (the import's pattern) that a spreadsheet would run as formulas
HOSTILE_CONTACTS = ["=1+2@example.jp", "+81x@example.jp", "-cmd@example.jp", "=hyperlink(x)@example.jp"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),  # an apostrophe of its own is kept by doubling it
        ("taro@example.jp", "taro@example.jp"),
        ("a=b", "a=b"),  # only the first character counts
        ("", ""),
    ],
)
def test_a_formula_start_gets_an_apostrophe(value: str, cell: str) -> None:
    assert neutral(value) == cell
    assert restored(cell) == value


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text())
def test_no_cell_starts_a_formula_and_every_value_comes_back(value: str) -> None:
    cell = neutral(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert restored(cell) == value


def subscriber(contact: str, categories: frozenset[str] = frozenset({"disaster"})) -> Subscriber:
    """An email subscriber with ``contact``."""
    return Subscriber(0, ContactKind.EMAIL, contact, categories, "ja", SubscriberState.ACTIVE, False, 0.0, 0.0)


def test_the_subscriber_csv_round_trips_hostile_contacts(settings: Settings) -> None:
    out = io.StringIO()
    CsvWriter(out).write([subscriber(contact) for contact in HOSTILE_CONTACTS])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(COLUMNS)  # the export writes every column, districts included
    assert all(not cell.startswith(FORMULA_STARTS) for row in rows for cell in row)
    assert [row[1] for row in rows[1:]] == ["'" + contact for contact in HOSTILE_CONTACTS]

    reader = CsvReader(settings)
    back = list(reader.rows(io.StringIO(out.getvalue())))
    assert reader.errors == []
    assert [s.contact for s in back] == HOSTILE_CONTACTS


def test_a_file_saved_by_a_spreadsheet_without_the_apostrophes_imports_the_same(settings: Settings) -> None:
    text = f"{HEADER}\nemail,=1+2@example.jp,disaster,ja,active,false\nemail,'-cmd@example.jp,'disaster,ja,,\n"
    reader = CsvReader(settings)
    back = list(reader.rows(io.StringIO(text)))
    assert reader.errors == []
    assert [(s.contact, s.categories) for s in back] == [
        ("=1+2@example.jp", {"disaster"}),
        ("-cmd@example.jp", {"disaster"}),
    ]


def test_every_audit_csv_cell_is_neutral() -> None:
    entry = AuditEntry(7, 1_795_900_000.0, "=actor", "+action", "-target", "@detail", "\torigin")
    row = csv_row(entry)
    assert row[0] == "7" and not row[1].startswith(FORMULA_STARTS)
    assert row[2:] == ["'=actor", "'+action", "'-target", "'@detail", "'\torigin"]
    for value in HOSTILE:
        cells = csv_row(AuditEntry(1, 0.0, value, value, value, value, value))
        assert all(not cell.startswith(FORMULA_STARTS) for cell in cells), value


async def test_run_py_export_is_neutral_and_imports_back(
    run_py: list[str], site: SiteFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "clerk")
    config = site()
    rows = [f"email,{contact},disaster,ja,active,false" for contact in HOSTILE_CONTACTS]
    await import_ok(run_py, config, csv_file(tmp_path, *rows))
    exported = await cli(run_py, config, "subscribers", "export")
    assert exported.code == 0, exported.err
    cells = [cell for row in csv.reader(io.StringIO(exported.out)) for cell in row]
    assert cells and all(not cell.startswith(FORMULA_STARTS) for cell in cells)

    dump = tmp_path / "export.csv"
    dump.write_text(exported.out, encoding="utf-8")
    second = site({"storage": {"path": str(tmp_path / "other" / "b.db")}}, name="other.toml")
    await import_ok(run_py, second, dump)  # a fresh database: the same contacts, no apostrophes added
    assert (await cli(run_py, second, "subscribers", "export")).out == exported.out

    listed = await cli(run_py, config, "subscribers", "list", "--show-contacts")
    assert listed.code == 0 and HOSTILE_CONTACTS[0] in listed.out

    store = await SQLiteStore.open(tmp_path / "var" / "broadcaster.db")
    try:
        entries = await store.audit_search("subscribers.export")
    finally:
        await store.aclose()
    n = len(HOSTILE_CONTACTS)
    assert [(e.actor, e.target, e.detail, e.origin) for e in entries] == [
        ("clerk", "list --show-contacts", f"{n} rows", "cli"),  # newest first
        ("clerk", "export", f"{n} rows", "cli"),
    ]
    assert not any(contact in f"{e.target} {e.detail}" for e in entries for contact in HOSTILE_CONTACTS)
