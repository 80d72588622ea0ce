"""run.py's entry: parse the command line, load settings, run one command. Exit 2 means bad input or config.

A user's mistake (a bad flag, file, port or config, a closed pipe) is one line on stderr, never a
traceback. Each command's module is imported only when that command runs: the web service, the
channels and their SDKs take seconds to import, and `--help` or `status` need none of them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from broadcaster.cli.args import parser
from broadcaster.clock import jst
from broadcaster.errors import ConfigError, InputError

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class JstFormatter(logging.Formatter):
    """Log lines stamped in JST with their offset, as the console shows times."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in JST, to the millisecond."""
        return jst(record.created).isoformat(timespec="milliseconds")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings, run the subcommand; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        _log_to_stderr(os.environ.get("BROADCASTER_LOG_LEVEL", "INFO"))
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, where it can be caught, rather than at exit
    except (ConfigError, InputError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        # Python's recipe (docs: signal, "Note on SIGPIPE"): stdout to devnull, so the flush at exit cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("standard output was closed before all was written; redirect it to a file to get all of it")
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    return code


def _fail(message: str, code: int = USAGE_ERROR) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _log_to_stderr(level: str) -> None:
    if not isinstance(logging.getLevelName(level.upper()), int):
        raise ConfigError(f"BROADCASTER_LOG_LEVEL={level!r} is not a level; use DEBUG, INFO, WARNING or ERROR")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JstFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def _run(args: argparse.Namespace) -> int:
    from broadcaster.settings import load_settings  # pydantic: not for --help

    settings = load_settings(args.config)
    match args.command:
        case None | "serve":
            from broadcaster.cli import serve

            return serve.run(settings, getattr(args, "host", None), getattr(args, "port", None))
        case "send":
            from broadcaster.cli import send

            return send.run(settings, args)
        case "alerts":
            from broadcaster.cli import alerts

            return alerts.run(settings, args)
        case "status":
            from broadcaster.cli import status

            return status.run(settings, args)
        case "subscribers":
            from broadcaster.cli import subscribers

            return subscribers.run(settings, args)
        case "jma":
            from broadcaster.cli import jma

            return jma.run(settings, args)
        case "users" | "tokens":
            from broadcaster.cli import accounts

            return accounts.run(settings, args)
        case "keys":
            from broadcaster.cli import keys

            return keys.run(settings, args)
        case "audit":
            from broadcaster.cli import audit

            return audit.run(settings, args)
        case "districts":
            from broadcaster.cli import districts

            return districts.run(settings, args)
        case "fm":
            from broadcaster.cli import fm

            return fm.run(settings, args)
    raise AssertionError(f"no command {args.command!r}")
