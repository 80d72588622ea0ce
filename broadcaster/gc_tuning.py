"""The garbage collector's settings for a process that fans out: the service, or `run.py send` delivering."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (20_000, 20, 20)  # young collections per 20,000 allocations, not 700


def tune_gc() -> None:
    """Keep the garbage collector from pausing a fan-out; call once everything long-lived exists.

    A fan-out to 100,000 people makes a few hundred thousand short-lived objects. With Python's
    defaults that sets off full collections that scan every object the process holds (modules,
    templates, the SDKs), pausing the loop ~100 ms each time (measured: bench/line_fanout.py).
    Freezing what exists at start-up takes it out of those scans, and fewer young collections
    mean fewer full ones; cyclic garbage is still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
