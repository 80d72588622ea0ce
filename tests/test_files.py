"""write_atomic: a file is there whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.files import write_atomic


@pytest.mark.parametrize("fsync", [False, True])
def test_writes_the_file_and_its_folder(tmp_path: Path, fsync: bool) -> None:
    target = tmp_path / "drop" / "a1.wav"
    write_atomic(target, b"RIFF", fsync=fsync)
    assert target.read_bytes() == b"RIFF"
    assert [p.name for p in target.parent.iterdir()] == ["a1.wav"]


def test_replaces_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_a_failed_replace_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)  # a folder in the way: os.replace refuses
    with pytest.raises(OSError):
        write_atomic(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert [p.name for p in target.iterdir()] == ["inside"]
