"""`run.py fm reading TEXT`: what the FM channel will say for TEXT, in katakana, without listening.

The text takes the path a script takes to the speaker: cue lines dropped, the place readings applied
(every town of the city, the districts, [fm.readings]: channels/fm/readings.py), numbers, dates and
times put in spoken form, then Open JTalk's own reading. An officer checks a name with it: a town the
engine misreads is fixed with an [fm.readings] entry in the site file.
"""

from __future__ import annotations

import argparse
import sys

from broadcaster.settings import Settings
from channels.fm import readings
from channels.fm.speech import EngineMissing, checked_openjtalk

ENGINE_MISSING = 2


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py fm reading TEXT`: katakana, a line per line of TEXT; exit 2 naming what to install without Open JTalk."""
    try:
        engine = checked_openjtalk(settings)
    except EngineMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ENGINE_MISSING
    print(readings.said(args.text, readings.build(settings, engine), engine))
    return 0
