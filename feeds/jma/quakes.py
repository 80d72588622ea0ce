"""Earthquakes and tsunamis: VXSE51/52/53/61/62 and VTSE41/51/52.

Intensities come as ``Body/Intensity/Observation/Pref/Area/City``, each level with its ``MaxInt``;
a document carries only the levels it has (震度速報 stops at Area). Each level becomes AreaItems of
its own scope, so the matcher can use the finest one the document has. Intensities stay strings
("5-", "6+", and 震度５弱以上未入電 for a town whose meter has not reported).
"""

from __future__ import annotations

from broadcaster.clock import JST
from feeds.jma.report import AreaItem, Doc, Kind, Parts, Quake, Scope
from feeds.jma.xmlsafe import ELEMENT_BASIS, Element, attr, find, findall, text, to_datetime

QUAKE_KINDS = frozenset({"VXSE51", "VXSE52", "VXSE53", "VXSE61", "VXSE62"})
TSUNAMI_KINDS = frozenset({"VTSE41", "VTSE51", "VTSE52"})

UNREPORTED = "震度５弱以上未入電"  # JMA: estimated at 5弱 or more, the town's intensity not yet received

# How JMA itself names intensities (Headline/Information/Item/Kind/Name of 震度速報).
INTENSITY_NAMES: dict[str, str] = {
    "1": "震度１",
    "2": "震度２",
    "3": "震度３",
    "4": "震度４",
    "5-": "震度５弱",
    "5+": "震度５強",
    "6-": "震度６弱",
    "6+": "震度６強",
    "7": "震度７",
    UNREPORTED: UNREPORTED,
}

# Observation levels, outermost first: (path below the previous level, scope, the code list's name).
LEVELS = (
    ("Pref", Scope.PREFECTURE, "地震情報／都道府県等"),
    ("Area", Scope.EARTHQUAKE_REGION, "地震情報／細分区域"),
    ("City", Scope.CITY, "気象・地震・火山情報／市町村等"),
)


def intensity_kind(intensity: str | None) -> tuple[Kind, ...]:
    """The observed intensity as a Kind, named the way JMA names it (震度５弱)."""
    if not intensity:
        return ()
    return (Kind(code=intensity, name=INTENSITY_NAMES.get(intensity, intensity)),)


def _intensity(el: Element, ns: str) -> str | None:
    # A town without its own MaxInt says why in Condition (震度５弱以上未入電).
    return text(el, ns, "MaxInt") or text(el, ns, "Condition") or None


def intensity_items(observation: Element | None, ns: str) -> list[AreaItem]:
    """Every Pref, Area and City of an Observation, each with its highest intensity."""
    items: list[AreaItem] = []
    parents = [observation] if observation is not None else []
    for step, scope, area_type in LEVELS:
        found = [child for parent in parents for child in findall(parent, ns, step)]
        for el in found:
            value = _intensity(el, ns)
            items.append(
                AreaItem(text(el, ns, "Code"), text(el, ns, "Name"), scope, area_type, intensity_kind(value), value)
            )
        parents = found
    return items


def tsunami_items(body: Element | None, ns: str) -> list[AreaItem]:
    """Tsunami/Forecast items (VTSE41/51): 津波予報区 with their warning kind."""
    items = []
    for item in findall(body, ns, "Tsunami/Forecast/Item"):
        kind = find(item, ns, "Category/Kind")
        kinds = (Kind(text(kind, ns, "Code"), text(kind, ns, "Name")),)
        items.append(
            AreaItem(
                text(item, ns, "Area/Code"), text(item, ns, "Area/Name"), Scope.TSUNAMI_REGION, "津波予報区", kinds
            )
        )
    return items


def _comments(body: Element | None, ns: str, paths: tuple[str, ...]) -> str:
    parts = [text(el) for path in paths for el in findall(body, ns, path)]
    return "\n".join(p for p in parts if p)


def read_quake(body: Element | None, ns: str) -> Quake | None:
    """Hypocentre, magnitude, the document's MaxInt and its comments; None when the body has none of them."""
    quake = find(body, ns, "Earthquake")
    observation = find(body, ns, "Intensity/Observation")
    if quake is None and observation is None and find(body, ns, "Tsunami") is None:
        return None
    area = find(quake, ns, "Hypocenter/Area")
    magnitude = find(quake, ELEMENT_BASIS, "Magnitude")
    return Quake(
        origin_time=to_datetime(text(quake, ns, "OriginTime"), JST),
        hypocentre=text(area, ns, "Name"),
        hypocentre_code=text(area, ns, "Code"),
        coordinate=attr(find(area, ELEMENT_BASIS, "Coordinate"), "description"),
        magnitude=text(magnitude),
        magnitude_text=attr(magnitude, "description"),
        max_intensity=text(observation, ns, "MaxInt") or None,
        tsunami_comment=_comments(body, ns, ("Comments/ForecastComment/Text", "Comments/WarningComment/Text")),
        comment=_comments(body, ns, ("Comments/FreeFormComment", "Comments/VarComment/Text")),
    )


def parse_quake(doc: Doc) -> Parts:
    """Earthquake documents: intensity items at every level the document carries, and the quake extras."""
    observation = find(doc.body, doc.body_ns, "Intensity/Observation")
    items = intensity_items(observation, doc.body_ns)
    return Parts(items=tuple(items), quake=read_quake(doc.body, doc.body_ns))


def parse_tsunami(doc: Doc) -> Parts:
    """Tsunami documents: 津波予報区 items (context only for an inland town) and the quake extras."""
    items = tsunami_items(doc.body, doc.body_ns)
    return Parts(items=tuple(items), quake=read_quake(doc.body, doc.body_ns))
