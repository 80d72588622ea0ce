"""Importing the project changes nothing outside it: every module imported in a fresh interpreter leaves
``os.environ`` as it was (settings are passed explicitly, never through the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.paths import ROOT
from tests.test_layers import modules

CHILD = """
import importlib, json, os, sys
before = dict(os.environ)
for name in sys.argv[1:]:
    importlib.import_module(name)
after = dict(os.environ)
print(json.dumps(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))))
"""
# variables a library or an old version of this project would set for itself if they were missing
UNSET = ("OPEN_JTALK_DICT_DIR", "NO_PROXY", "no_proxy", "TZ", "LANG", "PYTHONHASHSEED")


def test_importing_every_module_leaves_the_environment_alone() -> None:
    names = sorted(modules())
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *names], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert len(names) > 50  # the walk found the project
