"""run.py districts: being written (issue 14); replaced by its helper."""

from __future__ import annotations

import argparse

from broadcaster.settings import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Not written yet."""
    raise NotImplementedError("run.py districts")
