"""River flood information: VXKOii 指定河川洪水予報 and VXSUii 水位周知河川に関する情報.

A river document is about a river section, not a town. The towns it concerns are the 市町村 listed
under 浸水想定地区 (``Area/CityCode``), so each of them becomes an AreaItem carrying the section's
kind (氾濫注意情報, レベル４氾濫危険警報 …) as the Headline states it.
"""

from __future__ import annotations

from feeds.jma.report import AreaItem, Doc, FloodArea, Kind, Parts, River, Scope, Station
from feeds.jma.warnings import level_in_name
from feeds.jma.xmlsafe import HEAD, Element, attr, find, findall, text

# Headline Information types, per family: the forecast section (whose kind is the document's kind)
# and the rivers it covers.
SECTION_INFO = frozenset({"指定河川洪水予報（予報区域）", "水位周知河川に関する情報（発表区間）"})
RIVER_INFO = frozenset({"指定河川洪水予報（河川）", "水位周知河川に関する情報（河川）"})

# Pre-2026 names, by JMA's 警戒レベル相当 chart. 2026 names carry their level (レベル２氾濫注意報).
RIVER_LEVEL_BY_NAME: dict[str, int] = {
    "氾濫注意情報": 2,
    "氾濫警戒情報": 3,
    "氾濫危険情報": 4,
    "氾濫発生情報": 5,
}

FLOOD_AREA = "浸水想定地区"  # Kind/Property/Type of the item listing the towns that may flood
TEXT_TYPES = frozenset({"主文", "概況"})  # Kind/Property/Type of the prose paragraphs
STATION_CODE_TYPE = "水位観測所"


def river_level(code: str, name: str) -> int | None:
    """警戒レベル of a river kind; a lifting (…解除) has none."""
    if "解除" in name:
        return None
    return level_in_name(name) or RIVER_LEVEL_BY_NAME.get(name)


def status_in(condition: str) -> str:
    """The status a river Condition ends with: 洪水警報（発表） → 発表; "" when it has none."""
    opening = condition.rfind("（")
    if opening < 0 or not condition.endswith("）"):
        return ""
    return condition[opening + 1 : -1]


def _headline_items(head: Element, types: frozenset[str]) -> list[Element]:
    return [
        item
        for info in findall(head, HEAD, "Headline/Information")
        if attr(info, "type") in types
        for item in findall(info, HEAD, "Item")
    ]


def _section_kinds(head: Element) -> tuple[Kind, ...]:
    kinds = []
    for item in _headline_items(head, SECTION_INFO) or _headline_items(head, RIVER_INFO):
        el = find(item, HEAD, "Kind")
        code, name, condition = text(el, HEAD, "Code"), text(el, HEAD, "Name"), text(el, HEAD, "Condition")
        kinds.append(Kind(code, name, status_in(condition), condition, river_level(code, name)))
    return tuple(dict.fromkeys(kinds))  # the same kind is repeated per section


def _areas(head: Element, types: frozenset[str]) -> list[tuple[str, str]]:
    return [
        (text(area, HEAD, "Code"), text(area, HEAD, "Name"))
        for item in _headline_items(head, types)
        for area in findall(item, HEAD, "Areas/Area")
    ]


def _property_types(item: Element, ns: str) -> set[str]:
    return {text(p, ns, "Type") for p in findall(item, ns, "Kind/Property")}


def _station(el: Element | None, ns: str) -> Station:
    return Station(text(el, ns, "Code"), text(el, ns, "Name"), text(el, ns, "Location"))


def _flood_areas(item: Element, ns: str) -> list[FloodArea]:
    first_station = _station(find(item, ns, "Stations/Station"), ns)
    areas = []
    for area in findall(item, ns, "Areas/Area"):
        # VXKO lists each town under the station whose section floods it; VXSU lists sub-areas
        # of towns and names the station once for the item.
        at_station = attr(area, "codeType") == STATION_CODE_TYPE
        station = _station(area, ns) if at_station else first_station
        city_code = text(area, ns, "CityCode") or text(area, ns, "Code")
        city = text(area, ns, "City") or text(area, ns, "Name")
        areas.append(FloodArea(city_code, city, station.code, station.name, text(area, ns, "SubCityList")))
    return areas


def parse_river(doc: Doc) -> Parts:
    """The section's kinds, the rivers and stations, and one CITY item per town in 浸水想定地区."""
    ns = doc.body_ns
    kinds = _section_kinds(doc.head)
    stations: dict[str, Station] = {}
    flood_areas: list[FloodArea] = []
    texts: list[str] = []
    for item in findall(doc.body, ns, "Warning/Item"):
        types = _property_types(item, ns)
        if FLOOD_AREA in types:
            flood_areas.extend(_flood_areas(item, ns))
            continue
        for station in findall(item, ns, "Stations/Station"):
            stations.setdefault(text(station, ns, "Code"), _station(station, ns))
        texts.extend(
            text(p, ns, "Text") for p in findall(item, ns, "Kind/Property") if text(p, ns, "Type") in TEXT_TYPES
        )
    rivers = _areas(doc.head, RIVER_INFO)
    section = _areas(doc.head, SECTION_INFO)
    river = River(
        name="、".join(dict.fromkeys(name for _, name in rivers)),
        code=rivers[0][0] if rivers else "",
        section=section[0][1] if section else "",
        section_code=section[0][0] if section else "",
        stations=tuple(stations.values()),
        flood_areas=tuple(flood_areas),
        texts=tuple(texts),
    )
    towns = {a.city_code: a.city for a in flood_areas}
    items = tuple(AreaItem(code, name, Scope.CITY, FLOOD_AREA, kinds) for code, name in towns.items())
    return Parts(items=items, river=river)
