"""Personal data at rest is owner-only whatever the umask: the database with its -wal and -shm files, the
outbox, staff notices and the FM drop folder (files 0600, the folders the service makes 0700)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.approval_notice import Medium, Notice, Stage
from broadcaster.files import create_private, make_private_dirs, write_atomic
from broadcaster.instance import try_lock
from broadcaster.models import Recipient
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from channels import build_renderers
from channels.fm.channel import FmChannel, drop_paths
from channels.fm.speech import speaker_from_settings
from channels.outbox import OutboxChannel
from channels.staff_notice import StaffNotifier
from tests.test_store import ACTOR, ORIGIN, make_alert

UMASKS = [pytest.param(0o022, id="umask-022"), pytest.param(0o000, id="umask-000")]


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=UMASKS)
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process's umask set for the test, and restored after it."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_write_atomic_makes_owner_only_files_and_folders(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "outbox" / "email" / "a1.json"
    write_atomic(target, b"{}")
    assert mode(target) == 0o600
    assert mode(tmp_path / "outbox") == 0o700 and mode(tmp_path / "outbox" / "email") == 0o700
    write_atomic(target, b"{}", fsync=True)  # a rewrite is owner-only too
    assert mode(target) == 0o600


def test_a_folder_that_was_there_keeps_its_permissions(umask: int, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)  # a folder the city manages: not ours to change
    make_private_dirs(shared / "mine")
    assert mode(shared) == 0o750 and mode(shared / "mine") == 0o700


def test_the_public_website_export_keeps_the_umasks_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "site" / "index.html", b"<html>", public=True)
    finally:
        os.umask(old)
    assert mode(tmp_path / "site" / "index.html") == 0o644 and mode(tmp_path / "site") == 0o755


def test_create_private_leaves_an_existing_file_alone(umask: int, tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    assert create_private(path) and mode(path) == 0o600 and path.read_bytes() == b""
    path.write_bytes(b"data")
    assert not create_private(path) and path.read_bytes() == b"data"


async def test_the_database_and_its_wal_and_shm_are_owner_only(umask: int, tmp_path: Path) -> None:
    db = tmp_path / "var" / "broadcaster.db"
    lock = try_lock(db)  # the service takes its lock first, making the database's folder
    assert lock is not None
    try:
        store = await SQLiteStore.open(db)
        try:
            await store.create_alert(make_alert("a1"), ACTOR, ORIGIN)  # a write: the -wal and -shm are there now
            files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
            assert mode(db.parent) == 0o700
        finally:
            await store.aclose()
    finally:
        lock.close()


async def test_outbox_files_are_owner_only(umask: int, settings: Settings) -> None:
    folder = settings.path(settings.storage.outbox_dir)
    renderer = build_renderers(settings, Renderer(settings))["email"]
    outbox = OutboxChannel(folder, renderer)
    await outbox.send(outbox.render(make_alert("a1"), "ja"), [Recipient("12", "tester@example.jp", "ja")])
    [written] = (folder / "email").glob("*.json")
    assert mode(written) == 0o600 and mode(folder / "email") == 0o700 and mode(folder) == 0o700


async def test_staff_notices_written_to_the_outbox_are_owner_only(umask: int, settings: Settings) -> None:
    notifier = StaffNotifier(settings, {})  # no relay, no LINE token: both media write to the outbox
    try:
        for medium in Medium:
            notice = Notice(f"k-{medium}", "a1", Stage.ASKED, "sato", medium, "sato@example.jp", "承認依頼", "本文")
            await notifier.send(notice)
    finally:
        await notifier.aclose()
    written = sorted(notifier.outbox.glob("*.txt"))
    assert len(written) == 2
    assert [mode(path) for path in written] == [0o600, 0o600] and mode(notifier.outbox) == 0o700


async def test_the_fm_drop_folder_is_owner_only(umask: int, settings: Settings) -> None:
    channel = FmChannel(settings, Renderer(settings), speaker_from_settings(settings, processes=0))
    try:
        await channel.send(channel.render(make_alert("a1", ("fm",)), "ja"), [Recipient("*", "", "ja")])
    finally:
        await channel.aclose()
    txt, wav = drop_paths(channel.drop_dir, "a1")
    assert (mode(txt), mode(wav), mode(channel.drop_dir)) == (0o600, 0o600, 0o700)
