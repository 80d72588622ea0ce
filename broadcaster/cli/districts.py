"""`run.py districts list | check`: the city's 地区 as configured, and a check of them for the city's IT staff.

Start-up already refuses a config whose districts are wrong in a way that stops the service (an unknown
town, one not written as the postal data writes it, a town in two districts, a duplicate id, an unreadable
outline: exit 2, one line). ``check`` goes
further for whoever prepares the site file: it lists every 町・大字 of the city as Japan Post's data
writes it, with its reading and its district, and exits 1 naming each problem start-up lets through:

- an outline that crosses itself, has no area, or crosses another district's outline;
- subscribers who chose a district id the config no longer has: they receive no alert for their area.

Districts with no towns or no outline, and the towns in no district, are reported for information.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broadcaster import districts
from broadcaster.cli.db import opened_store
from broadcaster.geometry import Point, Ring
from broadcaster.settings import District, Settings

PROBLEMS = 1
NO_DISTRICT = "-"


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py districts …`."""
    if args.action == "list":
        return asyncio.run(cmd_list(settings, args.json))
    return asyncio.run(cmd_check(settings))


def label(d: District) -> str:
    """A district as the command line names it: its name and its id."""
    return f"{d.name} ({d.id})"


# -- list --------------------------------------------------------------------------------


async def cmd_list(settings: Settings, as_json: bool) -> int:
    """Each district in config order: id, name, reading, towns, and how many active subscribers chose it."""
    async with opened_store(settings) as store:
        counts = await store.district_counts()
    rows = listing(settings, counts)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"no districts configured: every alert goes to the whole of {settings.city.name}")
    else:
        table = [("id", "name", "reading", "subscribers", "towns")]
        table += [
            (r["id"], r["name"], r["reading"], str(r["subscribers"]), "、".join(r["towns"]) or NO_DISTRICT)
            for r in rows
        ]
        for line in columns(table, right={3}):
            print(line)
    print(f"{districts.WHOLE_CITY_JA} (the whole city): {counts.get('', 0)} active subscriber(s)")
    for gone, n in _unconfigured(settings, counts).items():
        print(f"{gone!r} (no district has this id now): {n} active subscriber(s); run.py districts check")
    return 0


def listing(settings: Settings, counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The districts as `districts list --json` prints them, in config order."""
    return [
        {"id": d.id, "name": d.name, "reading": d.reading, "towns": list(d.towns), "subscribers": counts.get(d.id, 0)}
        for d in settings.districts
    ]


def width(text: str) -> int:
    """The columns ``text`` takes on a terminal: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def columns(rows: Sequence[Sequence[str]], right: set[int] | frozenset[int] = frozenset()) -> Iterator[str]:
    """The rows as aligned columns (wide characters counted twice); the last column is not padded."""
    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - width(cell))
            last = i == len(row) - 1
            cells.append(pad + cell if i in right else cell if last else cell + pad)
        yield "  ".join(cells).rstrip()


def _unconfigured(settings: Settings, counts: Mapping[str, int]) -> dict[str, int]:
    """Subscriber counts of district ids the config does not have (a district renamed or removed)."""
    return {d: n for d, n in sorted(counts.items()) if d and settings.district(d) is None and n}


# -- check -------------------------------------------------------------------------------


@dataclass
class Report:
    """What the check found: problems fail it, notes are for information."""

    problems: list[str]
    notes: list[str]


async def cmd_check(settings: Settings) -> int:
    """Print every town with its district, then notes and problems; 1 if there is a problem."""
    report = Report([], [])
    index = districts.town_index(settings)
    owner = _towns(settings, report)
    _outlines(settings, report)
    await _subscribers(settings, report)
    towns = len(index.towns)
    print(f"{settings.city.name}: {len(settings.districts)} district(s), {towns} 町・大字 in Japan Post's data")
    print()
    rows = [("town", "reading", "district")]
    rows += [(t.name, t.kana, label(owner[t.name]) if t.name in owner else NO_DISTRICT) for t in index.towns]
    for line in columns(rows):
        print(f"  {line}")
    outside = [t.name for t in index.towns if t.name not in owner]
    if outside and settings.districts:
        report.notes.append(
            f"{len(outside)} of {towns} towns are in no district (marked {NO_DISTRICT} above): "
            "an address or postal code there finds no district for a resident"
        )
    if not settings.districts:
        report.notes.append(f"no districts configured: every alert goes to the whole of {settings.city.name}")
    print()
    for title, lines in (("for information", report.notes), ("problems", report.problems)):
        if lines:
            print(f"{title}:")
            for line in lines:
                print(f"  {line}")
    if report.problems:
        print(f"{len(report.problems)} problem(s)")
        return PROBLEMS
    print("no problems: every town is written as Japan Post's data writes it, and every outline is a valid polygon")
    return 0


def _towns(settings: Settings, report: Report) -> dict[str, District]:
    """The district of each town (start-up made sure each is written as the postal data writes it)."""
    index = districts.town_index(settings)
    owner: dict[str, District] = {}
    for d in settings.districts:
        if not d.towns:
            report.notes.append(f"{label(d)}: no towns yet: residents cannot find it by address or postal code")
        seen: set[str] = set()
        for written in d.towns:
            town = index.get(written)
            if town is None:  # start-up refuses this; a check run on its own says it the same way
                report.problems.append(f"{label(d)}: towns: {written!r} is no 町・大字 of {settings.city.name}")
                continue
            if town.name in seen:
                report.notes.append(f"{label(d)}: towns: {town.name} is listed twice")
            seen.add(town.name)
            owner[town.name] = d
    return owner


def _outlines(settings: Settings, report: Report) -> None:
    """Each outline a simple polygon with an area, and no two districts' outlines crossing."""
    for d in settings.districts:
        if not d.rings:
            report.notes.append(
                f"{label(d)}: no outline (geometry): the console's map leaves it out and CAP names it in words only"
            )
        for ring in d.rings:
            if _area(ring) == 0:
                report.problems.append(f"{label(d)}: geometry {d.geometry}: a polygon has no area")
    found: set[tuple[int, int]] = set()
    for (a, b), where in _crossings([d.rings for d in settings.districts]):
        if (a, b) in found:
            continue
        found.add((a, b))
        da, db = settings.districts[a], settings.districts[b]
        lat, lon = where[1], where[0]
        if a == b:
            report.problems.append(
                f"{label(da)}: geometry {da.geometry}: the outline crosses itself near {lat:.6f},{lon:.6f} (lat,lon)"
            )
        else:
            report.problems.append(
                f"{label(da)} and {label(db)}: their outlines cross near {lat:.6f},{lon:.6f} (lat,lon): "
                "a place would be in both"
            )


async def _subscribers(settings: Settings, report: Report) -> None:
    """Subscribers who chose a district the config no longer has (only if the database exists: check creates none)."""
    if not settings.path(settings.storage.path).exists():
        return
    async with opened_store(settings) as store:
        counts = await store.district_counts()
    for gone, n in _unconfigured(settings, counts).items():
        report.problems.append(
            f"{n} active subscriber(s) chose district {gone!r}, which the config no longer has: they get no alert "
            "for their area; give the district back its id, or re-import them with a configured one"
        )


# -- outlines that cross -----------------------------------------------------------------

EPSILON = 1e-12  # degrees squared: below it three points are taken as on one line (a shared border)
Segment = tuple[Point, Point]


def _area(ring: Ring) -> float:
    """The ring's area by the shoelace formula, in square degrees (0 when its points are on one line)."""
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))) / 2


def _side(a: Point, b: Point, c: Point) -> int:
    """-1, 0 or 1: whether c is right of, on, or left of the line through a and b."""
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return 0 if abs(cross) < EPSILON else 1 if cross > 0 else -1


def _cross(s: Segment, t: Segment) -> bool:
    """The segments cross at one point inside both: touching, sharing an end or running along each other is not."""
    (a, b), (c, d) = s, t
    sides = (_side(a, b, c), _side(a, b, d), _side(c, d, a), _side(c, d, b))
    return 0 not in sides and sides[0] != sides[1] and sides[2] != sides[3]


def _crossings(outlines: Sequence[Sequence[Ring]]) -> Iterator[tuple[tuple[int, int], Point]]:
    """(district a, district b) with a ≤ b, and where, for every pair of edges that cross.

    Edges are put in the cells of a grid they pass, so only edges near each other are compared: a real
    outline has thousands of points, and every edge against every other would take minutes.
    """
    edges: list[tuple[int, Segment]] = [
        (i, (p, q)) for i, rings in enumerate(outlines) for ring in rings for p, q in itertools.pairwise(ring)
    ]
    if not edges:
        return
    xs = [p[0] for _, seg in edges for p in seg]
    ys = [p[1] for _, seg in edges for p in seg]
    west, south = min(xs), min(ys)
    side = max(int(len(edges) ** 0.5), 1)  # cells per axis: about one edge per cell on a long outline
    cell_w = max((max(xs) - west) / side, 1e-9)
    cell_h = max((max(ys) - south) / side, 1e-9)
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    for n, (_, ((x1, y1), (x2, y2))) in enumerate(edges):
        for cx in range(int((min(x1, x2) - west) / cell_w), int((max(x1, x2) - west) / cell_w) + 1):
            for cy in range(int((min(y1, y2) - south) / cell_h), int((max(y1, y2) - south) / cell_h) + 1):
                grid[cx, cy].append(n)
    for members in grid.values():
        for i, m in enumerate(members):
            for n in members[i + 1 :]:
                (a, s), (b, t) = edges[m], edges[n]
                if _cross(s, t):
                    yield (min(a, b), max(a, b)), _meeting(s, t)


def _meeting(s: Segment, t: Segment) -> Point:
    """Where two crossing segments meet."""
    (x1, y1), (x2, y2) = s
    (x3, y3), (x4, y4) = t
    denominator = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    u = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / denominator
    return x1 + u * (x2 - x1), y1 + u * (y2 - y1)
