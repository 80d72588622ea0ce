"""One way to write a file that readers (a station's watcher, a CMS, a developer) only ever see whole."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all, creating its folder; ``fsync`` to survive a power cut.

    The bytes go to a hidden temporary file beside ``path`` (``.<name>.<random>.tmp``: a watcher that
    matches ``*.wav`` or ``*.json`` never picks it up, and two writers never share one), which
    ``os.replace`` then moves into place. Without ``fsync`` a crash of the process still leaves the old
    file or the new one, but a power cut may leave an empty one; callers that cannot rewrite the file
    later (the FM drop folder) ask for it. The file gets the process's default permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
