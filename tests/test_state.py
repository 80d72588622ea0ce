"""The store's named, typed state (broadcaster/state.py) through a real SQLite store."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from broadcaster import state
from broadcaster.state import NAMESPACES, Namespace
from broadcaster.store.sqlite import SQLiteStore
from tests.paths import ROOT
from tests.test_store import make_alert, opened, query

FEED = "https://www.data.jma.go.jp/developer/xml/feed/extra.xml"
BSKY_POST = json.dumps({"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": "bafyrei"})

# per namespace: the key, a value of its type, and the text the code before broadcaster/state.py stored
SAMPLES: dict[str, tuple[str, Any, str]] = {
    "jma-handled": ("20240613_VXSE53.xml", "jma-20240613120000-ab12cd", "jma-20240613120000-ab12cd"),
    "jma-warnings": (
        "live:0920800",
        {"kinds": {"03": ["大雨警報", "発表", "土砂災害", 3, "VPWW53"]}, "r06": False, "event": "jma:warnings:x"},
        json.dumps(
            {"kinds": {"03": ["大雨警報", "発表", "土砂災害", 3, "VPWW53"]}, "r06": False, "event": "jma:warnings:x"},
            ensure_ascii=False,
        ),
    ),
    "jma-series": ("live:jma:quake:気象庁本庁:20080614084350", [1213400820.0, 2], "[1213400820.0,2]"),
    "jma": ("queue", {"urn:x:1": [FEED, 2, 1718000060.5]}, '{"urn:x:1":["' + FEED + '",2,1718000060.5]}'),
    "last_modified": (FEED, "Thu, 13 Jun 2024 03:00:00 GMT", "Thu, 13 Jun 2024 03:00:00 GMT"),
    "etag": (FEED, '"66e1-61ab"', '"66e1-61ab"'),
    "last_success": (FEED, 1718247600.125, repr(1718247600.125)),
    "backfill": (FEED, True, "1"),
    "sns-posted": ("a1:bluesky", [BSKY_POST, BSKY_POST], json.dumps([BSKY_POST, BSKY_POST])),
    "sns-failed": ("a1:x", "x: 403 duplicate content", "x: 403 duplicate content"),
    "sns-quota": ("x", [1718247600.5, 1718247660.25], json.dumps([1718247600.5, 1718247660.25])),
    "sns-session": ("bluesky", "oyama.example:::did:plc:abc:::jwt", "oyama.example:::did:plc:abc:::jwt"),
    "ticker-done": ("a1:tcp", 1718247600.987654, str(1718247600.987654)),
    "api-idempotency": ("river:key-1", "api-20240613-ab12 0f3c9e", "api-20240613-ab12 0f3c9e"),
    "approval-notice": ("a1@1718247600.5:asked:sato:mail", 1718247612.25, repr(1718247612.25)),
}
WRONG: dict[type, list[Any]] = {
    str: [1, None, b"bytes"],
    float: ["1.5", True, None],
    bool: [1, "1", None],
    list: [{"a": 1}, "[]", (1, 2), [object()]],
    dict: [[1], "{}", {"a": object()}],
}


def old_row(namespace: Namespace[Any], key: str) -> tuple[str, str]:
    """Where the code before broadcaster/state.py put a row: the poller's rows by feed URL first."""
    per_feed = namespace.name in ("last_modified", "etag", "last_success", "backfill")
    return (key, namespace.name) if per_feed else (namespace.name, key)


def test_every_namespace_has_a_sample() -> None:
    assert sorted(SAMPLES) == sorted(n.name for n in NAMESPACES)


def test_every_namespace_name_is_unique_and_listed() -> None:
    names = [n.name for n in NAMESPACES]
    assert len(names) == len(set(names))
    defined = {id(v) for v in vars(state).values() if isinstance(v, Namespace)}
    assert defined == {id(n) for n in NAMESPACES}  # every namespace in the module is in the list, once


def test_no_other_module_makes_a_namespace() -> None:
    made = re.compile(r"\bNamespace\(")
    elsewhere = [
        str(path.relative_to(ROOT))
        for package in ("broadcaster", "channels", "feeds")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "state.py" and made.search(path.read_text(encoding="utf-8"))
    ]
    assert elsewhere == []


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda n: n.name)
async def test_a_value_round_trips_its_type_through_the_store(tmp_path: Path, namespace: Namespace[Any]) -> None:
    key, value, _ = SAMPLES[namespace.name]
    db = tmp_path / "state.db"
    async with opened(db) as store:
        assert await store.get_state(namespace, key) is None
        await store.put_state(namespace, key, value)
    async with opened(db) as store:  # a restart
        got = await store.get_state(namespace, key)
    assert got == value and type(got) is namespace.kind
    [(feed, row_key, _)] = query(db, "SELECT feed, key, value FROM feed_state")
    assert (feed, row_key) == old_row(namespace, key)


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda n: n.name)
async def test_rows_an_existing_database_holds_still_read(tmp_path: Path, namespace: Namespace[Any]) -> None:
    key, value, text = SAMPLES[namespace.name]
    db = tmp_path / "state.db"
    async with opened(db):
        pass
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("INSERT INTO feed_state VALUES (?, ?, ?)", (*old_row(namespace, key), text))
    async with opened(db) as store:
        assert await store.get_state(namespace, key) == value


async def test_a_float_takes_an_int(store: SQLiteStore) -> None:
    await store.put_state(state.TICKER_DONE, "a1:mail", 1718247600)
    assert await store.get_state(state.TICKER_DONE, "a1:mail") == 1718247600.0


@pytest.mark.parametrize(
    ("namespace", "wrong"),
    [(n, w) for n in NAMESPACES for w in WRONG[n.kind]],
    ids=lambda x: x.name if isinstance(x, Namespace) else type(x).__name__,
)
async def test_a_value_of_the_wrong_type_is_refused_before_anything_is_written(
    tmp_path: Path, namespace: Namespace[Any], wrong: Any
) -> None:
    key = SAMPLES[namespace.name][0]
    db = tmp_path / "state.db"
    async with opened(db) as store:
        with pytest.raises(TypeError):
            await store.put_state(namespace, key, wrong)
        with pytest.raises(TypeError):
            await store.put_states([state.JMA_HANDLED.entry("other.xml", "ignore"), namespace.entry(key, wrong)])
        with pytest.raises(TypeError):
            await store.create_alert(make_alert("a1"), "tester", "test", state=[namespace.entry(key, wrong)])
        assert await store.get_state(namespace, key) is None
    assert query(db, "SELECT count(*) FROM feed_state") == [(0,)]
    assert query(db, "SELECT count(*) FROM alerts") == [(0,)]


async def test_rows_not_made_by_a_namespace_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    bare = ("jma-handled", "x.xml", "ignore")  # a free namespace string, as callers once wrote
    async with opened(db) as store:
        with pytest.raises(TypeError, match=r"Namespace\.entry"):
            await store.put_states([bare])  # type: ignore[list-item]
        with pytest.raises(TypeError, match=r"Namespace\.entry"):
            await store.create_alert(make_alert("a1"), "tester", "test", state=[bare])  # type: ignore[list-item]
    assert query(db, "SELECT count(*) FROM feed_state") == [(0,)]
    assert query(db, "SELECT count(*) FROM alerts") == [(0,)]


def test_a_namespace_of_a_type_it_cannot_store_is_an_error() -> None:
    with pytest.raises(TypeError, match="no encoding for int"):
        Namespace("counts", int)
