"""A user's mistake on the command line is one line on stderr naming it, and exit code 2; never a traceback.

run.py runs as a real subprocess: what the operator sees at the process boundary is the point. One
table holds the mistakes (a bad or taken port, a config file that is not UTF-8 TOML or not a file, a
file that cannot be read, a database that cannot be opened); a closed pipe has its own test.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.subscribers import CsvReader, checked
from tests.processes import CLI_TIMEOUT, child_env

SiteFactory = Callable[..., Path]  # the `site` fixture of conftest.py


@dataclass(frozen=True)
class Where:
    """What a case's command line may point at."""

    tmp: Path
    config: Path  # a valid site file
    busy: int  # a port something already listens on
    districts: Path  # a valid site file with the example districts (east, west, south, north)


@dataclass(frozen=True)
class Mistake:
    """A command line with a mistake in it, and what its one line of stderr must say."""

    args: Callable[[Where], list[str]]
    says: str  # formatted with Where's fields


def cfg(w: Where, *args: str) -> list[str]:
    """``args`` run with the valid site file."""
    return ["--config", str(w.config), *args]


IN_USE = "port {busy} on 127.0.0.1 is in use"
SEND = [
    "send",
    "--category",
    "disaster",
    "--level",
    "4",
    "--title",
    "避難指示",
    "--body",
    "川が増水しています。",
    "--yes",
]
UNKNOWN_TOWN = (
    '[[districts]]\nid = "a"\nname = "甲地区"\nreading = "こう"\nname_en = "A"\ntowns = ["東京"]\ngeometry = ""\n\n'
)
MISTAKES = {
    "serve --port 70000": Mistake(lambda w: cfg(w, "serve", "--port", "70000"), "70000 is not a port number"),
    "serve --port 0": Mistake(lambda w: cfg(w, "serve", "--port", "0"), "0 is not a port number"),
    "serve-samples --port -1": Mistake(
        lambda w: cfg(w, "jma", "serve-samples", str(w.tmp), "--port", "-1"), "-1 is not a port number"
    ),
    "serve, port in use": Mistake(lambda w: cfg(w, "serve", "--port", str(w.busy)), IN_USE),
    "serve-samples, port in use": Mistake(
        lambda w: cfg(w, "jma", "serve-samples", str(w.tmp), "--port", str(w.busy)), IN_USE
    ),
    "serve, unknown host": Mistake(lambda w: cfg(w, "serve", "--host", "nowhere.invalid"), "cannot listen on"),
    "config not UTF-8": Mistake(lambda w: ["--config", str(w.tmp / "shift-jis.toml"), "status", "x"], "not UTF-8"),
    "config a folder": Mistake(lambda w: ["--config", str(w.tmp), "status", "x"], "cannot read the config file"),
    "import a missing file": Mistake(
        lambda w: cfg(w, "subscribers", "import", str(w.tmp / "none.csv")), "cannot read {tmp}/none.csv"
    ),
    "import a folder": Mistake(lambda w: cfg(w, "subscribers", "import", str(w.tmp)), "cannot read {tmp}"),
    "import Shift_JIS": Mistake(lambda w: cfg(w, "subscribers", "import", str(w.tmp / "shift-jis.toml")), "not UTF-8"),
    "jma inspect a folder": Mistake(lambda w: cfg(w, "jma", "inspect", str(w.tmp)), "cannot read {tmp}"),
    "jma replay a missing file": Mistake(
        lambda w: cfg(w, "jma", "replay", str(w.tmp / "none.xml")), "cannot read {tmp}/none.xml"
    ),
    "database is a folder": Mistake(
        lambda w: ["--config", str(w.tmp / "db-folder.toml"), "status", "x"], "cannot open the database"
    ),
    "bad flag": Mistake(lambda w: cfg(w, "status", "x", "--colour"), "unrecognized arguments: --colour"),
    "send to an unknown district": Mistake(
        lambda w: ["--config", str(w.districts), *SEND, "--districts", "east,nowhere"],
        "districts: unknown district nowhere; valid: east, west, south, north",
    ),
    "a district's town the postal data does not know": Mistake(
        lambda w: ["--config", str(w.tmp / "unknown-town.toml"), "districts", "check"],
        "districts.0 (甲地区).towns: '東京' is no 町・大字 of 小山市",
    ),
}


@pytest.fixture
def where(tmp_path: Path, site: SiteFactory) -> Iterator[Where]:
    """A site file, the broken files the table names, and a port that is taken."""
    (tmp_path / "shift-jis.toml").write_bytes('[city]\nname = "小山市"\n'.encode("shift_jis"))
    (tmp_path / "a-folder").mkdir()
    site({"storage": {"path": str(tmp_path / "a-folder")}}, name="db-folder.toml")
    unknown_town = site(name="unknown-town.toml")
    unknown_town.write_text(UNKNOWN_TOWN + unknown_town.read_text("utf-8"), "utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield Where(tmp_path, site(), busy.getsockname()[1], site(name="districts.toml", districts=True))


def run(run_py: list[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """run.py with ``args`` to completion, no terminal, output captured."""
    return subprocess.run(
        [*run_py, *args],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def assert_one_line(stderr: str, says: str) -> None:
    """Exactly one line on stderr, naming the problem; no traceback."""
    assert "Traceback" not in stderr, stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert says in stderr, stderr


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_is_one_line_and_exit_code_2(where: Where, run_py: list[str], name: str) -> None:
    mistake = MISTAKES[name]
    result = run(run_py, mistake.args(where), where.tmp)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, mistake.says.format(**vars(where)))
    assert result.stdout == ""


def head_one(command: list[str], cwd: Path) -> tuple[str, int, str]:
    """``command | head -1``: read one line, close the pipe; returns that line, the exit code and stderr."""
    with subprocess.Popen(
        command, cwd=cwd, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        proc.stdout.close()  # the rest of the output has nowhere to go
        _, stderr = proc.communicate(timeout=CLI_TIMEOUT)
    return first, proc.returncode, stderr.decode()


async def test_a_closed_pipe_is_one_line_and_exit_code_2(
    settings: Settings, store: SQLiteStore, run_py: list[str], site: SiteFactory, tmp_path: Path
) -> None:
    rows = "\n".join(f"email,u{i}@example.jp,disaster,ja,active,false" for i in range(20_000))
    csv = io.StringIO("channel,contact,categories,language,state,tester\n" + rows + "\n")
    await store.import_subscribers(checked(CsvReader(settings), csv))  # far more than a pipe holds
    command = [*run_py, "--config", str(site()), "subscribers", "export"]
    first, returncode, stderr = await asyncio.to_thread(head_one, command, tmp_path)
    assert first.startswith("channel,contact,")
    assert returncode == 2, stderr
    assert_one_line(stderr, "standard output was closed")
