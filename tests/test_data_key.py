"""Subscriber contacts at rest: sealed under BROADCASTER_DATA_KEY, found by a keyed hash, rotated; none without it."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from broadcaster import instance
from broadcaster.data_key import DATA_KEY_ENV, OLD_KEY_ENV, DataKey, DataKeys, new_key
from broadcaster.errors import ConfigError
from broadcaster.models import Alert, ContactKind, Mode, Source, Subscriber
from broadcaster.settings import Settings
from broadcaster.store.schema import MIGRATIONS
from broadcaster.store.sqlite import SQLiteStore
from tests.conftest import TEST_DATA_KEY, SiteFactory
from tests.processes import free_port, query, run_cli, serving

EMAIL = "hanako.yamada@example.jp"
LINE_ID = "U" + "4f1c" * 8
CONTACTS = ((ContactKind.EMAIL, EMAIL), (ContactKind.LINE, LINE_ID))
LEGACY_VERSION = 10  # the schema before contacts were sealed


def subscriber(channel: ContactKind, contact: str, language: str = "ja") -> Subscriber:
    """An active subscriber of the disaster category."""
    return Subscriber(0, channel, contact, frozenset({"disaster"}), language)


def file_bytes(db: Path) -> bytes:
    """Everything SQLite keeps on disk for ``db``: the file, its WAL and shared memory."""
    return b"".join(
        p.read_bytes() for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")) if p.exists()
    )


def assert_no_plain_contact(db: Path) -> None:
    data = file_bytes(db)
    for _, contact in CONTACTS:
        assert contact.encode() not in data, f"{contact} is in the database files in plain text"
        assert contact.encode("utf-16-le") not in data


@contextlib.asynccontextmanager
async def opened(db: Path, keys: DataKeys | None = None, *, rotate: bool = False) -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(db, keys, rotate=rotate)
    try:
        yield store
    finally:
        await store.aclose()


def keys(current: str | None, old: str | None = None) -> DataKeys:
    return DataKeys(DataKey.parse(current) if current else None, DataKey.parse(old) if old else None)


def db_of(settings: Settings) -> Path:
    return settings.path(settings.storage.path)


async def with_contacts(settings: Settings) -> Path:
    """The settings' database with both CONTACTS stored (under the test key), closed."""
    db = db_of(settings)
    async with opened(db) as store:
        await store.import_subscribers(subscriber(ch, c) for ch, c in CONTACTS)
    return db


# -- sealed at rest, found by hash ----------------------------------------------------------


async def test_the_database_files_hold_no_contact_in_plain_text(settings: Settings) -> None:
    db = db_of(settings)
    async with opened(db) as store:
        await store.import_subscribers(subscriber(ch, c) for ch, c in CONTACTS)
        assert_no_plain_contact(db)  # the WAL too, while the store is open
        sealed = query(db, "SELECT channel, contact, contact_key, contact_hash FROM subscribers ORDER BY id")
    assert_no_plain_contact(db)
    key = DataKey.parse(TEST_DATA_KEY)
    assert [(ch, key.open(ch, c), kid) for ch, c, kid, _ in sealed] == [(ch, c, key.key_id) for ch, c in CONTACTS]
    assert [h for *_, h in sealed] == [key.lookup(ch, c) for ch, c in CONTACTS]


async def test_contacts_are_found_by_their_hash_and_stay_unique(settings: Settings) -> None:
    db = await with_contacts(settings)
    async with opened(db) as store:
        found = await store.get_subscriber(ContactKind.EMAIL, EMAIL)
        assert found is not None and found.contact == EMAIL
        assert await store.get_subscriber(ContactKind.LINE, EMAIL) is None  # the channel is part of the hash
        assert await store.get_subscriber(ContactKind.EMAIL, "someone.else@example.jp") is None
        # the same contact again updates its row (the unique hash), not a second one
        again = await store.save_subscriber(subscriber(ContactKind.EMAIL, EMAIL, language="en"))
        assert (again.id, again.language) == (found.id, "en")
        by_id = await store.get_subscriber_by_id(found.id)
        assert by_id is not None and by_id.contact == EMAIL
        exported: list[Subscriber] = []
        await store.export_subscribers(exported.extend)
    assert sorted((s.channel, s.contact) for s in exported) == sorted(CONTACTS)
    assert query(db, "SELECT count(*) FROM subscribers") == [(2,)]


def test_a_seal_opens_only_with_its_key_and_channel() -> None:
    key, other = DataKey.parse(new_key()), DataKey.parse(new_key())
    sealed = key.seal("email", EMAIL)
    assert key.open("email", sealed) == EMAIL
    assert key.seal("email", EMAIL) != sealed  # a fresh nonce each time: equal contacts do not look equal
    with pytest.raises(ConfigError, match=DATA_KEY_ENV):
        other.open("email", sealed)
    with pytest.raises(ConfigError):
        key.open("line", sealed)  # a seal moved onto another channel's row
    assert key.lookup("email", EMAIL) == key.lookup("email", EMAIL) != other.lookup("email", EMAIL)


@pytest.mark.parametrize("text", ["", "short", "A" * 43 + "!", new_key() + "AAAA"])
def test_a_key_that_is_not_32_bytes_of_base64url_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match=f"{DATA_KEY_ENV} is not a key"):
        DataKey.parse(text)


# -- the wrong key, no key --------------------------------------------------------------------


async def test_a_wrong_key_is_refused_at_open_with_one_clear_line(settings: Settings) -> None:
    db = await with_contacts(settings)
    with pytest.raises(ConfigError, match=f"{DATA_KEY_ENV} .* is not the key the subscriber contacts are encrypted"):
        await SQLiteStore.open(db, keys(new_key()))
    async with opened(db) as store:  # the right key still opens everything
        assert await store.get_subscriber(ContactKind.LINE, LINE_ID) is not None


async def test_without_the_key_the_store_opens_but_refuses_contacts(settings: Settings) -> None:
    db = await with_contacts(settings)
    async with opened(db, DataKeys(None)) as store:
        assert sum(n for (*_, state), n in (await store.subscriber_counts()).items() if state == "active") == 2
        with pytest.raises(ConfigError, match=DATA_KEY_ENV):
            await store.check_data_key()
        with pytest.raises(ConfigError, match=DATA_KEY_ENV):
            await store.get_subscriber(ContactKind.EMAIL, EMAIL)
        with pytest.raises(ConfigError, match=DATA_KEY_ENV):
            await store.import_subscribers([subscriber(ContactKind.EMAIL, "new@example.jp")])
    assert query(db, "SELECT count(*) FROM subscribers") == [(2,)]


async def test_an_empty_database_needs_no_key(settings: Settings) -> None:
    async with opened(db_of(settings), DataKeys(None)) as store:
        await store.check_data_key()


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["send", "--category", "disaster", "--level", "3", "--title", "t", "--body", "b", "--exercise"],
        ["subscribers", "export"],
        ["subscribers", "list", "--show-contacts"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
async def test_commands_that_open_contacts_refuse_without_the_key(
    settings: Settings, site: SiteFactory, run_py: list[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    db = await with_contacts(settings)
    monkeypatch.delenv(DATA_KEY_ENV)
    if command == ["serve"]:
        command += ["--port", str(free_port())]
    result = await run_cli(run_py, site(), *command)
    assert result.rc == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == [result.stderr.splitlines()[-1]] and DATA_KEY_ENV in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert query(db, "SELECT count(*) FROM alerts") == [(0,)]  # send stored nothing


async def test_the_service_starts_on_an_empty_database_without_the_key(
    site: SiteFactory, run_py: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_KEY_ENV)
    async with serving(run_py, site()) as service:
        warning = await service.wait_for(DATA_KEY_ENV)
        assert "subscription pages" in warning
        await service.wait_for("serving on")
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{service.port}"
            async with session.get(f"{base}/healthz") as health:
                assert health.status == 200
            async with session.get(f"{base}/subscribe") as page:  # no contact can be stored: unavailable
                assert page.status == 503
        assert await service.stop() == 0


# -- rotation ---------------------------------------------------------------------------------


async def test_rotate_reencrypts_every_contact_and_lookups_keep_working(
    settings: Settings, site: SiteFactory, run_py: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await with_contacts(settings)
    before = query(db, "SELECT id, channel, contact, contact_hash FROM subscribers ORDER BY id")
    new = new_key()

    # the new key alone: refused, pointing at the rotation
    with pytest.raises(ConfigError, match="keys rotate"):
        await SQLiteStore.open(db, keys(new, TEST_DATA_KEY))
    monkeypatch.setenv(DATA_KEY_ENV, new)
    monkeypatch.setenv(OLD_KEY_ENV, TEST_DATA_KEY)
    result = await run_cli(run_py, site(), "keys", "rotate")
    assert result.rc == 0, result.stderr
    assert "re-encrypted 2 contact(s)" in result.stdout

    old_key, new_key_ = DataKey.parse(TEST_DATA_KEY), DataKey.parse(new)
    after = query(db, "SELECT id, channel, contact, contact_hash, contact_key FROM subscribers ORDER BY id")
    assert [r[0] for r in after] == [r[0] for r in before]
    for (_, channel, sealed, lookup, key_id), (_, _, was, _), (_, contact) in zip(after, before, CONTACTS, strict=True):
        assert sealed != was and key_id == new_key_.key_id
        assert new_key_.open(channel, sealed) == contact
        with pytest.raises(ConfigError):
            old_key.open(channel, sealed)
        assert lookup == new_key_.lookup(channel, contact) != old_key.lookup(channel, contact)
    assert_no_plain_contact(db)

    async with opened(db, keys(new)) as store:
        found = await store.get_subscriber(ContactKind.EMAIL, EMAIL)
        assert found is not None and found.contact == EMAIL
        assert (await store.audit_log(1))[0].action == "keys.rotate"
    with pytest.raises(ConfigError, match="is not the key"):
        await SQLiteStore.open(db, keys(TEST_DATA_KEY))  # the old key opens nothing any more

    again = await run_cli(run_py, site(), "keys", "rotate")  # run twice: nothing left to move
    assert again.rc == 0 and "re-encrypted 0 contact(s)" in again.stdout, again.stderr


async def test_rotate_refuses_while_a_service_holds_the_database(
    settings: Settings, site: SiteFactory, run_py: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await with_contacts(settings)
    monkeypatch.setenv(DATA_KEY_ENV, new_key())
    monkeypatch.setenv(OLD_KEY_ENV, TEST_DATA_KEY)
    lock = instance.try_lock(db)
    assert lock is not None
    with lock:
        result = await run_cli(run_py, site(), "keys", "rotate")
    assert result.rc == 2 and result.stderr.strip().splitlines()[-1].startswith("error: a broadcaster is running")
    assert {r[0] for r in query(db, "SELECT contact_key FROM subscribers")} == {DataKey.parse(TEST_DATA_KEY).key_id}


async def test_keys_new_prints_a_key_that_parses(site: SiteFactory, run_py: list[str]) -> None:
    config = site()
    first, second = [await run_cli(run_py, config, "keys", "new") for _ in range(2)]
    assert first.rc == 0 and DataKey.parse(first.stdout.strip()).key_id != DataKey.parse(second.stdout.strip()).key_id


# -- a database from before the contacts were sealed -----------------------------------------------


def legacy_database(db: Path) -> None:
    """A database at schema 10 with both CONTACTS and a delivery row each, in plain text, as it was."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for number, script in enumerate(MIGRATIONS[:LEGACY_VERSION], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        now = time.time()
        for channel, contact in CONTACTS:
            sid = conn.execute(
                "INSERT INTO subscribers (channel, contact, language, state, created_at, updated_at) "
                "VALUES (?, ?, 'ja', 'active', ?, ?) RETURNING id",
                (channel, contact, now, now),
            ).fetchone()[0]
            conn.execute("INSERT INTO subscriptions VALUES ('disaster', ?)", (sid,))
    assert EMAIL.encode() in file_bytes(db)


async def test_a_legacy_plain_text_database_is_sealed_at_the_first_start_with_the_key(settings: Settings) -> None:
    db = db_of(settings)
    legacy_database(db)
    async with opened(db, DataKeys(None)) as store:  # without the key: migrated, nothing sealed, contacts refused
        with pytest.raises(ConfigError, match=DATA_KEY_ENV):
            await store.check_data_key()
    assert EMAIL.encode() in file_bytes(db)

    async with opened(db) as store:
        assert (store.sealed.plain, store.sealed.rotated) == (2, 0)
        assert_no_plain_contact(db)
        found = await store.get_subscriber(ContactKind.EMAIL, EMAIL)
        assert found is not None and found.categories == {"disaster"}
        alert = Alert(
            id="a1",
            source=Source.STAFF,
            category="disaster",
            level=3,
            title="避難準備",
            body="川の水位が上がっています。",
            mode=Mode.LIVE,
            channels=("email", "line"),
            created_at=time.time(),
        )
        await store.create_alert(alert, "tester", "test", approve=True)
        claimed = [
            (ch, c.contact)
            for ch in ("email", "line")
            for c in await store.claim(ch, 10, time.time() + 60, time.time())
        ]
    assert claimed == list(CONTACTS)  # the hot path opens what was sealed
    assert_no_plain_contact(db)
    async with opened(db) as store:  # a second start has nothing left to seal
        assert (store.sealed.plain, store.sealed.rotated) == (0, 0)
