"""Helpers for tests that drive run.py as real subprocesses, the way an operator would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI_TIMEOUT = 60.0


@dataclass(frozen=True)
class Result:
    """What one finished run.py command did."""

    rc: int
    stdout: str
    stderr: str


def child_env() -> dict[str, str]:
    """The environment of every run.py child: INFO logs (the tests read them), no inherited site file."""
    env = {k: v for k, v in os.environ.items() if k != "BROADCASTER_CONFIG"}
    env["BROADCASTER_LOG_LEVEL"] = "INFO"
    return env


async def run_cli(run_py: list[str], config: Path, *args: str, cwd: Path | None = None) -> Result:
    """Run one run.py command to completion, stdin closed (no terminal), and capture its output."""
    proc = await asyncio.create_subprocess_exec(
        *run_py,
        "--config",
        str(config),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd or config.parent,
        env=child_env(),
    )
    try:
        async with asyncio.timeout(CLI_TIMEOUT):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Service:
    """A `run.py serve` subprocess whose log lines (stderr) the test reads as they arrive."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.lines: list[str] = []

    @classmethod
    async def start(cls, run_py: list[str], config: Path, port: int, cwd: Path) -> Service:
        """Start the service on ``port``."""
        proc = await asyncio.create_subprocess_exec(
            *run_py,
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=child_env(),
        )
        return cls(proc, port)

    def tail(self, n: int = 15) -> str:
        """The last log lines, for failure messages."""
        return "\n".join(self.lines[-n:])

    async def next_line(self) -> str:
        """The next log line; fails if the service exited first."""
        assert self.proc.stderr is not None
        raw = await self.proc.stderr.readline()
        if not raw:
            await self.proc.wait()
            raise AssertionError(f"serve exited (rc={self.proc.returncode}) early; log tail:\n{self.tail()}")
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def wait_for(self, needle: str, within: float = 60.0) -> str:
        """Read log lines until one contains ``needle`` (at most ``within`` seconds); returns that line."""
        try:
            async with asyncio.timeout(within):
                while needle not in (line := await self.next_line()):
                    pass
                return line
        except TimeoutError:
            raise AssertionError(f"no log line with {needle!r} within {within:g} s; tail:\n{self.tail()}") from None

    async def _finish(self) -> int:
        async with asyncio.timeout(30):
            _, rest = await self.proc.communicate()  # drains stderr so the pipe closes cleanly
        self.lines.extend(rest.decode().splitlines())
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def stop(self) -> int:
        """SIGTERM (graceful shutdown); returns the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self._finish()

    async def kill(self) -> int:
        """SIGKILL; returns the exit code."""
        if self.proc.returncode is None:
            self.proc.kill()
        return await self._finish()


@contextlib.asynccontextmanager
async def serving(run_py: list[str], config: Path) -> AsyncIterator[Service]:
    """`run.py serve` on a free port, SIGKILLed on the way out if the test left it running."""
    service = await Service.start(run_py, config, free_port(), config.parent)
    try:
        yield service
    finally:
        if service.proc.returncode is None:
            await service.kill()


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read a database file directly, read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, args).fetchall()
