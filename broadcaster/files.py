"""One way to write a file that readers (a station's watcher, a CMS, a developer) only ever see whole, and
owner-only folders and files for personal data at rest, whatever the process's umask.

Personal data (the database, the outbox, staff notices, the FM drop folder) is written owner-only:
files 0600, the folders this code creates 0700. ``mkdir`` and ``open`` honour the umask, so each
mode is set again with ``chmod``/``fchmod`` once the file or folder exists; only what this code
creates is changed, never a folder that was already there (a city may keep the data under a folder
it manages itself). The website's export is public and asks for the umask's permissions instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

PRIVATE_FILE = 0o600  # read and write for the service's own user only
PRIVATE_DIR = 0o700
PUBLIC_FILE = 0o666  # before the umask: what open() gives by default


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each owner-only (0700); existing folders are left as they are."""
    missing: list[Path] = []
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not created.is_dir():
                raise
            continue  # another writer made it first: theirs to set
        os.chmod(created, PRIVATE_DIR)  # mkdir honoured the umask


def create_private(path: Path) -> bool:
    """Create ``path`` empty and owner-only (0600) unless it exists, its folder too; True if it was created."""
    make_private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)  # os.open honoured the umask
    finally:
        os.close(fd)
    return True


def write_atomic(path: Path, data: bytes, *, fsync: bool = False, public: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all, creating its folder; ``fsync`` to survive a power cut.

    The bytes go to a hidden temporary file beside ``path`` (``.<name>.<random>.tmp``: a watcher that
    matches ``*.wav`` or ``*.json`` never picks it up, and two writers never share one), which
    ``os.replace`` then moves into place. Without ``fsync`` a crash of the process still leaves the old
    file or the new one, but a power cut may leave an empty one; callers that cannot rewrite the file
    later (the FM drop folder) ask for it. The file is owner-only (0600, its new folders 0700) whatever
    the umask; ``public`` (the website's export) gives it the umask's permissions instead.
    """
    if public:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PUBLIC_FILE if public else PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            if not public:
                os.fchmod(fd, PRIVATE_FILE)  # os.open honoured the umask
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
