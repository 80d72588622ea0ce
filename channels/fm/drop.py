"""Where the fm channel puts an alert's files in the station's drop folder, and what the combined script is.

Pure names, no engine: the station's HTTP routes (broadcaster/web/fm.py) read the same files.

- ``<alert_id>.txt`` and ``<alert_id>.wav``: the announcement in every language it is read in, the
  file the station airs;
- ``languages/<alert_id>.<lang>.txt`` and ``.wav``: one language alone, when there are several. A
  folder of their own, so that a watcher airing every new WAV in the drop folder airs each alert once.
  When an alert is written again with fewer languages (the config changed between two tries), the
  files of the languages it no longer has are the ``leftovers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from channels.fm.spoken import without_cues

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # alert ids become file names in the drop folder
LANGUAGES = "languages"  # the drop folder's subfolder of one-language files


def drop_paths(drop_dir: Path, alert_id: str) -> tuple[Path, Path]:
    """The (script, audio) files of one alert in the drop folder: every language it is read in."""
    return drop_dir / f"{alert_id}.txt", drop_dir / f"{alert_id}.wav"


def language_paths(drop_dir: Path, alert_id: str, lang: str) -> tuple[Path, Path]:
    """The (script, audio) files of one alert in one language."""
    folder = drop_dir / LANGUAGES
    return folder / f"{alert_id}.{lang}.txt", folder / f"{alert_id}.{lang}.wav"


def leftovers(drop_dir: Path, alert_id: str, languages: Iterable[str], kept: Iterable[str]) -> list[Path]:
    """The one-language files of ``alert_id`` in any of ``languages`` but those ``kept``, that exist."""
    keep = set(kept)
    found = [path for lang in languages if lang not in keep for path in language_paths(drop_dir, alert_id, lang)]
    return [path for path in found if path.exists()]


def combined_script(parts: list[tuple[str, str]]) -> str:
    """The scripts one after another as the combined file reads them: the chime cue once, at the top."""
    texts = [parts[0][1].strip("\n"), *(without_cues(script).strip("\n") for _, script in parts[1:])]
    return "\n\n".join(texts) + "\n"
