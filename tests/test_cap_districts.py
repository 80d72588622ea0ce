"""CAP 1.2 for alerts that target districts: one <area> per <info> naming them in words, a <polygon> per
outline ring (latitude first, closed), the municipality's geocode as ever, valid against the OASIS schema.

The outlines are read here straight from the GeoJSON files the config names, so the test checks the
order of coordinates (GeoJSON: longitude first; CAP: latitude first) independently of the code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lxml import etree

from broadcaster.models import Alert, Text
from broadcaster.settings import Settings, load_settings
from channels.website.cap import cap_alert
from tests.paths import CAP_XSD, ROOT
from tests.test_store import make_alert
from tests.test_website import SiteFactory

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SCHEMA = etree.XMLSchema(etree.parse(str(CAP_XSD)))


def alert_for(*districts: str) -> Alert:
    """A live alert for these districts (none: the whole city), in Japanese and English."""
    alert = make_alert("d1", ("website",))
    english = {"en": Text("Evacuation order", "Leave now.")}
    return dataclasses.replace(alert, districts=districts, translations=english)


def valid(xml: bytes) -> etree._Element:
    """The parsed document, once the schema accepts it."""
    doc = etree.fromstring(xml)
    assert SCHEMA.validate(doc), SCHEMA.error_log
    return doc


def outline(name: str) -> list[list[tuple[float, float]]]:
    """The rings of config/example-districts/<name>.geojson as (latitude, longitude) pairs."""
    data = json.loads((ROOT / "config" / "example-districts" / f"{name}.geojson").read_text(encoding="utf-8"))
    geometry = data["features"][0]["geometry"]
    assert geometry["type"] == "Polygon"
    return [[(lat, lon) for lon, lat in geometry["coordinates"][0]]]


def pairs(polygon: str) -> list[tuple[float, float]]:
    """A CAP polygon's "lat,lon lat,lon …" as numbers."""
    return [(float(lat), float(lon)) for lat, lon in (point.split(",") for point in polygon.split(" "))]


def test_a_polygon_per_outlined_district_in_latitude_longitude_order(district_settings: Settings) -> None:
    doc = valid(cap_alert(alert_for("east", "south", "north"), district_settings))
    ja, en = doc.findall("cap:info/cap:area", NS)
    assert len(doc.findall("cap:info", NS)) == 2 and len(doc.findall("cap:info/cap:area", NS)) == 2  # one per info
    assert ja.findtext("cap:areaDesc", namespaces=NS) == "東部地区、南部地区、北部地区"  # all three, in words
    assert en.findtext("cap:areaDesc", namespaces=NS) == "East district, South district, North district"
    for area in (ja, en):
        polygons = [pairs(str(p.text)) for p in area.findall("cap:polygon", NS)]
        assert polygons == outline("east") + outline("south")  # north has no outline: named only
        assert all(p[0] == p[-1] and len(p) >= 4 for p in polygons)  # closed, as CAP wants it
        # the schema's order: areaDesc, polygon*, circle*, geocode*
        assert [child.tag.removeprefix(CAP) for child in area] == [
            "areaDesc",
            "polygon",
            "polygon",
            "geocode",
            "geocode",
        ]
        geocodes = dict(
            zip(
                [str(e.text) for e in area.findall("cap:geocode/cap:valueName", NS)],
                [str(e.text) for e in area.findall("cap:geocode/cap:value", NS)],
                strict=True,
            )
        )
        assert geocodes == {"JIS X 0402": district_settings.website.municipality_code, "JMA areaCode": "0920800"}


def test_a_district_without_an_outline_is_named_only(district_settings: Settings) -> None:
    doc = valid(cap_alert(alert_for("north"), district_settings))
    assert [e.text for e in doc.findall("cap:info/cap:area/cap:areaDesc", NS)] == ["北部地区", "North district"]
    assert doc.findall(".//cap:polygon", NS) == []


def test_a_whole_city_alert_names_the_city_and_draws_no_polygon(district_settings: Settings) -> None:
    doc = valid(cap_alert(alert_for(), district_settings))
    assert [e.text for e in doc.findall("cap:info/cap:area/cap:areaDesc", NS)] == ["小山市", "Oyama City"]
    assert doc.findall(".//cap:polygon", NS) == []
    assert len(doc.findall("cap:info/cap:area/cap:geocode", NS)) == 4


def test_every_ring_of_a_multipolygon_is_a_polygon(site: SiteFactory, tmp_path: Path) -> None:
    # an enclave: one district in two pieces; a hole in a piece is left out (CAP has no holes)
    square = [[139.70, 36.20], [139.72, 36.20], [139.72, 36.22], [139.70, 36.22], [139.70, 36.20]]
    hole = [[139.705, 36.205], [139.71, 36.205], [139.71, 36.21], [139.705, 36.205]]
    island = [[139.75, 36.25], [139.76, 36.25], [139.755, 36.26], [139.75, 36.25]]
    geojson = tmp_path / "two.geojson"
    geojson.write_text(json.dumps({"type": "MultiPolygon", "coordinates": [[square, hole], [island]]}))
    path = site()
    district = (
        '\n[[districts]]\nid = "two"\nname = "飛び地地区"\nreading = "とびちちく"\nname_en = "Two-piece district"\n'
        f"towns = []\ngeometry = {json.dumps(str(geojson))}\n"
    )
    path.write_text(path.read_text(encoding="utf-8") + district, encoding="utf-8")
    settings = load_settings(path)
    doc = valid(cap_alert(alert_for("two"), settings))
    ja = doc.find("cap:info/cap:area", NS)
    assert ja is not None and ja.findtext("cap:areaDesc", namespaces=NS) == "飛び地地区"
    polygons = [pairs(str(p.text)) for p in ja.findall("cap:polygon", NS)]
    assert polygons == [[(lat, lon) for lon, lat in ring] for ring in (square, island)]
