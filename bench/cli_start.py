"""How fast run.py answers: `--help` and `status ID`, each beside a bare `python -c pass` timed in the same run.

A temporary folder gets a site config and a real SQLite database holding one exercise alert, made
with `run.py send --exercise --no-wait` (stored and planned, delivered by nobody). Each command then
runs N times as a fresh process, in turn, so that a busy moment of the machine falls on all three.

Prints one JSON line: {"python_pass_s", "help_s", "status_s", "help_vs_pass", "status_vs_pass", "runs"}
(medians in seconds; ratios to the bare interpreter's start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"


def child_env() -> dict[str, str]:
    """The environment without a site file of the caller's, logging only warnings."""
    env = {k: v for k, v in os.environ.items() if k != "BROADCASTER_CONFIG"}
    env["BROADCASTER_LOG_LEVEL"] = "WARNING"
    return env


def site(folder: Path) -> Path:
    """A site config whose database and sinks live in ``folder``."""
    config = folder / "site.toml"
    config.write_text(
        f'[storage]\npath = "{folder / "broadcaster.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        f'[fm]\ndrop_dir = "{folder / "fm"}"\n[jma]\nenabled = false\n',
        encoding="utf-8",
    )
    return config


def one_alert(config: Path) -> str:
    """Store one exercise alert through the command line; returns its id."""
    send = [sys.executable, str(RUN_PY), "--config", str(config), "send", "--exercise", "--no-wait"]
    send += ["--category", "disaster", "--level", "3", "--title", "ベンチマーク", "--body", "起動時間の計測です。"]
    done = subprocess.run(send, capture_output=True, text=True, env=child_env(), check=True)
    return done.stdout.strip()


def seconds(command: list[str]) -> float:
    """Wall time of one run of ``command`` to its exit (which must be 0)."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, env=child_env(), check=True)
    return time.perf_counter() - started


def measure(runs: int, folder: Path) -> dict[str, float | int]:
    """Median start times of the three commands over ``runs`` rounds."""
    config = site(folder)
    alert_id = one_alert(config)
    commands = {
        "python_pass_s": [sys.executable, "-c", "pass"],
        "help_s": [sys.executable, str(RUN_PY), "--help"],
        "status_s": [sys.executable, str(RUN_PY), "--config", str(config), "status", alert_id],
    }
    for command in commands.values():
        seconds(command)  # warm the file cache, as every later run finds it
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(seconds(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    bare = medians["python_pass_s"]
    return {
        **{name: round(value, 4) for name, value in medians.items()},
        "help_vs_pass": round(medians["help_s"] / bare, 1),
        "status_vs_pass": round(medians["status_s"] / bare, 1),
        "runs": runs,
    }


def main() -> None:
    """Run the benchmark and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=7, help="rounds of the three commands (default 7)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli-start-") as folder:
        print(json.dumps(measure(args.runs, Path(folder))))


if __name__ == "__main__":
    main()
