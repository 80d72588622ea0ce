"""The long fuzzing run: tests/fuzz/targets.py's targets with many more examples than the test suite.

    python -m bench.fuzz [--examples 5000] [--seconds N] [--huge 4000] [--seed S] [--only cap,render]

Each target runs until its example count or its share of --seconds is spent, with a random seed
(printed, so a run can be repeated with --seed), no shrinking, and every failure counted rather than
stopping the run. Alert texts go up to --huge characters (4000 is a draft's longest body; the SNS renderer
takes seconds at that length, so the suite keeps them short). Prints one JSON line:
{"targets": {name: {"examples": n, "failures": k, "first": [up to 3 "Type: message at file:line"]}},
 "seconds": s, "seed": S}
It never asserts: what it found is for a person to read (and to add to the suite as a test).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
import traceback
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from broadcaster.settings import load_settings
from tests.fuzz.targets import ConfigLoading, Target, targets


class OutOfTime(Exception):
    """A target's share of the time is spent."""


def where(exc: BaseException) -> str:
    """The exception in one line, with the innermost frame of the project's code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/site-packages/" not in f.filename]
    at = f" at {frames[-1].filename.rsplit('/main/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:160]}{at}"


def run(target: Target, examples: int, seconds: float, run_seed: int) -> dict[str, Any]:
    """Run one target; count examples and failures, keep the first few distinct failures."""
    tried = failures = 0
    first: list[str] = []
    deadline = time.monotonic() + seconds

    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(example=target.strategy)
    def each(example: Any) -> None:
        nonlocal tried, failures
        if time.monotonic() > deadline:
            raise OutOfTime
        tried += 1
        try:
            target.check(example)
        except Exception as exc:  # the fuzzer's finding: counted, and the run goes on
            failures += 1
            found = where(exc)
            if found not in first and len(first) < 3:
                first.append(found)

    with contextlib.suppress(OutOfTime):
        each()
    return {"examples": tried, "failures": failures, "first": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="examples per target")
    parser.add_argument("--seconds", type=float, default=600.0, help="the whole run's time, shared by the targets")
    parser.add_argument("--huge", type=int, default=4000, help="the longest alert text, in characters")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (printed in its JSON)")
    parser.add_argument("--only", default="", help="comma-separated target names; default every target")
    parser.add_argument("--config", default=None, help="a site file (default: config/default.toml alone)")
    args = parser.parse_args()

    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    everything = targets(load_settings(args.config), huge=args.huge)
    names = [n for n in args.only.split(",") if n] or list(everything)
    unknown = sorted(set(names) - set(everything))
    if unknown:
        parser.error(f"unknown targets {unknown}; valid: {', '.join(everything)}")
    started = time.monotonic()
    found: dict[str, Any] = {}
    try:
        for i, name in enumerate(names):
            share = (args.seconds - (time.monotonic() - started)) / (len(names) - i)
            found[name] = run(everything[name], args.examples, share, run_seed)
    finally:
        for target in everything.values():
            if isinstance(target.check, ConfigLoading):
                target.check.close()
    result = {"targets": found, "seconds": round(time.monotonic() - started, 1), "seed": run_seed}
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
