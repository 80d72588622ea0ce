"""The audit log is a hash chain: every line carries the SHA-256 of the line before it and its own fields;
migration 12 chains the lines already there; `run.py audit verify` names the first line that breaks it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster.cli import audit
from broadcaster.settings import Settings
from broadcaster.store.schema import MIGRATIONS
from broadcaster.store.sqlite import SQLiteStore
from tests.conftest import SiteFactory
from tests.test_store import ACTOR, ORIGIN, email_subscriber, make_alert
from tests.test_subscribers import cli

CHAIN_MIGRATION = 12


def expected_hash(previous: str, row: tuple[Any, ...]) -> str:
    """The documented canonical form, written out independently of the code under test."""
    entry_id, at, actor, action, target, detail, origin = row
    text = json.dumps([previous, entry_id, float(at), actor, action, target, detail, origin],
                      ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def raw(db: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection, as someone with the file would have: no service, no audit_hash."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def rows(db: Path) -> list[tuple[Any, ...]]:
    """Every audit line with its hash, in id order."""
    with raw(db) as conn:
        return conn.execute(
            "SELECT id, at, actor, action, target, detail, origin, hash FROM audit ORDER BY id"
        ).fetchall()


def assert_chained(db: Path) -> None:
    """Each stored hash is the documented hash of the line before it's and the line's own fields."""
    previous = ""
    for *fields, stored in rows(db):
        assert stored == expected_hash(previous, tuple(fields)), fields[0]
        previous = stored


def tamper(db: Path, *statements: str) -> None:
    """Change the log as an attacker with the file would: drop the triggers, then write."""
    with raw(db) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        for statement in statements:
            conn.execute(statement)


async def busy_store(db: Path) -> None:
    """A store whose log has lines from every kind of writer, a rolled-back one among them (reach)."""
    store = await SQLiteStore.open(db)
    try:
        await store.import_subscribers([email_subscriber("taro@example.jp")])
        await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)
        await store.reach(make_alert("a2"))  # plans and audits, then undoes it all
        await store.approve("a1", ACTOR, ORIGIN)
        for i in range(3):
            await store.audit("ｻﾄｳ 佐藤", "login", f"target {i}", 'détail \u2028 "quoted"', ORIGIN)
    finally:
        await store.aclose()


async def test_every_line_carries_the_hash_of_the_one_before(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    await busy_store(db)
    assert len(rows(db)) == 5  # create, approve, three logins: reach left nothing
    assert_chained(db)
    store = await SQLiteStore.open(db)
    try:
        check = await store.audit_verify()
    finally:
        await store.aclose()
    assert (check.entries, check.broken, check.last_hash) == (5, None, rows(db)[-1][-1])


async def test_migration_12_chains_the_lines_already_there(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with raw(db) as conn:  # a database as the release before the chain left it
        for number, script in enumerate(MIGRATIONS[: CHAIN_MIGRATION - 1], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        conn.executemany(
            "INSERT INTO audit (at, actor, action, target, detail, origin) VALUES (?, ?, ?, ?, ?, ?)",
            [(1_700_000_000 + i, "sato", "login", "", f"old {i}", "cli") for i in range(50)],
        )
    store = await SQLiteStore.open(db)
    try:
        await store.audit("suzuki", "login", "", "after the migration", "cli")
        check = await store.audit_verify()
    finally:
        await store.aclose()
    assert (check.entries, check.broken) == (51, None)
    assert_chained(db)
    with raw(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET detail = 'changed'")  # the trigger is back after the backfill


async def test_run_py_audit_verify_says_intact(run_py: list[str], site: SiteFactory, tmp_path: Path) -> None:
    config = site()
    await busy_store(tmp_path / "var" / "broadcaster.db")
    result = await cli(run_py, config, "audit", "verify")
    assert result.code == 0, result.err
    first, second = result.out.splitlines()
    assert first == "audit log intact: 5 entries"
    assert second == f"newest hash: {rows(tmp_path / 'var' / 'broadcaster.db')[-1][-1]}"


async def test_an_empty_log_is_intact(run_py: list[str], site: SiteFactory) -> None:
    result = await cli(run_py, site(), "audit", "verify")
    assert (result.code, result.out) == (0, "audit log intact: 0 entries\n")


@pytest.mark.parametrize(
    ("statement", "broken"),
    [
        pytest.param("UPDATE audit SET detail = 'nothing to see' WHERE id = 3", 3, id="a-field-changed"),
        pytest.param("UPDATE audit SET at = at + 1 WHERE id = 2", 2, id="the-time-changed"),
        pytest.param("UPDATE audit SET hash = 'x' || substr(hash, 2) WHERE id = 5", 5, id="the-last-hash-changed"),
        pytest.param("DELETE FROM audit WHERE id = 2", 3, id="a-line-removed"),
        pytest.param("UPDATE audit SET id = 9 WHERE id = 4", 5, id="a-line-moved"),
        pytest.param(
            "INSERT INTO audit VALUES (0, 0, 'mallory', 'login', '', '', 'cli', '')", 0, id="a-line-slipped-in-first"
        ),
    ],
)
async def test_audit_verify_names_the_first_broken_entry(
    settings: Settings, capsys: pytest.CaptureFixture[str], statement: str, broken: int
) -> None:
    db = settings.path(settings.storage.path)
    await busy_store(db)
    tamper(db, statement)
    assert await audit.cmd_verify(settings) == 1  # the command's own code, in this process: run.py's is below
    out = capsys.readouterr().out
    assert out.startswith(f"audit log broken at entry {broken}:"), out


async def test_run_py_audit_verify_exits_1_naming_the_entry(
    run_py: list[str], site: SiteFactory, tmp_path: Path
) -> None:
    config = site()
    db = tmp_path / "var" / "broadcaster.db"
    await busy_store(db)
    tamper(db, "UPDATE audit SET detail = 'nothing to see' WHERE id = 4")
    result = await cli(run_py, config, "audit", "verify")
    assert (result.code, result.err) == (1, "")
    assert result.out.startswith("audit log broken at entry 4: "), result.out


async def test_a_rewritten_line_with_a_recomputed_hash_breaks_the_next_one(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    db = settings.path(settings.storage.path)
    await busy_store(db)
    [*fields, _] = rows(db)[1]
    forged = expected_hash(rows(db)[0][-1], (fields[0], fields[1], "mallory", *fields[3:]))
    tamper(db, f"UPDATE audit SET actor = 'mallory', hash = '{forged}' WHERE id = 2")
    assert await audit.cmd_verify(settings) == 1
    assert capsys.readouterr().out.startswith("audit log broken at entry 3:")
