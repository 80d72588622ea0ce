"""A district's outline from a GeoJSON file: read, checked, and written as CAP and SVG want it.

GeoJSON (RFC 7946) gives positions as [longitude, latitude]; CAP 1.2 wants "latitude,longitude" pairs
separated by spaces, the first and last the same. A district may be one Polygon or a MultiPolygon
(an enclave); only each polygon's outer ring is kept: CAP has no holes, and a hole in a 地区 is
another district, which names itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from broadcaster.errors import ConfigError

Point = tuple[float, float]  # (longitude, latitude)
Ring = tuple[Point, ...]  # closed: the first point is the last

MAX_BYTES = 20 * 1024 * 1024  # a city district's outline is kilobytes; more is the wrong file
MAX_POINTS = 100_000


class GeometryError(ConfigError):
    """A GeoJSON file that cannot give a district's outline; the message says what is wrong."""


def load(path: Path) -> tuple[Ring, ...]:
    """The outer rings of the Polygon or MultiPolygon in a GeoJSON file (a geometry, Feature or FeatureCollection)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise GeometryError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise GeometryError(f"{path} is larger than {MAX_BYTES // 1024 // 1024} MiB")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeometryError(f"{path} is not JSON: {exc}") from None
    rings = tuple(ring for geometry in _geometries(document) for ring in _outer_rings(geometry))
    if not rings:
        raise GeometryError(f"{path} holds no Polygon or MultiPolygon")
    if sum(len(r) for r in rings) > MAX_POINTS:
        raise GeometryError(f"{path} has more than {MAX_POINTS} points; simplify the outline")
    return rings


def _geometries(document: object) -> Iterable[dict[str, object]]:
    if not isinstance(document, dict):
        raise GeometryError("a GeoJSON document is an object")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise GeometryError("a FeatureCollection needs a features list")
        for feature in features:
            yield from _geometries(feature)
    elif kind == "Feature":
        yield from _geometries(document.get("geometry"))
    elif kind in ("Polygon", "MultiPolygon"):
        yield document
    else:
        raise GeometryError(f"type {kind!r}: a district is a Polygon or MultiPolygon")


def _outer_rings(geometry: dict[str, object]) -> Iterable[Ring]:
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    if not isinstance(polygons, list):
        raise GeometryError("coordinates must be a list")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise GeometryError("a polygon is a non-empty list of rings")
        yield _ring(polygon[0])


def _ring(positions: object) -> Ring:
    if not isinstance(positions, list):
        raise GeometryError("a ring is a list of positions")
    points = []
    for position in positions:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2])
        ):
            raise GeometryError(f"{position!r} is not a [longitude, latitude] position")
        lon, lat = float(position[0]), float(position[1])
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeometryError(f"{position!r} is outside longitude -180..180, latitude -90..90")
        points.append((lon, lat))
    if len(points) < 4:
        raise GeometryError("a ring needs at least four positions, the last the same as the first")
    if points[0] != points[-1]:
        raise GeometryError("a ring must end where it starts (RFC 7946 3.1.6)")
    return tuple(points)


def cap_polygon(ring: Ring) -> str:
    """A ring as CAP 1.2's <polygon>: "lat,lon lat,lon …", first and last the same."""
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in ring)


def bounds(rings: Iterable[Ring]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of all the rings."""
    points = [p for ring in rings for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


Projection = Callable[[Point], tuple[float, float]]


def fitted(box: tuple[float, float, float, float], width: float, height: float) -> Projection:
    """(longitude, latitude) → SVG (x, y), the bounding box ``box`` fitted into ``width`` × ``height``.

    Longitude is scaled by the cosine of the middle latitude, so a district keeps its shape.
    """
    west, south, east, north = box
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * squeeze, 1e-9), max(north - south, 1e-9)
    scale = min(width / span_x, height / span_y)
    dx = (width - span_x * scale) / 2
    dy = (height - span_y * scale) / 2
    return lambda p: (dx + (p[0] - west) * squeeze * scale, dy + (north - p[1]) * scale)


def svg_path(rings: Sequence[Ring], project: Projection) -> str:
    """An SVG path of the rings, each point through ``project``."""
    parts = []
    for ring in rings:
        coords = [project(point) for point in ring[:-1]]
        parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z")
    return " ".join(parts)
