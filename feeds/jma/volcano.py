"""Volcanoes: VFVO50 噴火警報・予報.

The towns concerned are listed by 市町村等 code under ``VolcanoInfo[@type=噴火警報・予報（対象市町村等）]``
(and again, with the action asked of them, under （対象市町村の防災対応等）). The volcano's own
噴火警戒レベル is a different scale from the 警戒レベル of weather warnings, so no item carries a level.
"""

from __future__ import annotations

from feeds.jma.report import AreaItem, Doc, Kind, Parts, Scope, Volcano
from feeds.jma.xmlsafe import Element, find, findall, text

VOLCANO_INFO = "噴火警報・予報（対象火山）"
# VolcanoInfo types that list towns; anything else in a VFVO50 body is prose or the volcano itself.
TOWN_INFOS = frozenset({"噴火警報・予報（対象市町村等）", "噴火警報・予報（対象市町村の防災対応等）"})


def _kind(el: Element | None, ns: str) -> Kind:
    # VFVO uses Condition (発表, 引上げ, 引下げ, 継続, 解除) where weather warnings use Status.
    return Kind(text(el, ns, "Code"), text(el, ns, "Name"), status=text(el, ns, "Condition"))


def parse_volcano(doc: Doc) -> Parts:
    """One CITY item per town and VolcanoInfo type, and the volcano's name, code and alert level."""
    ns = doc.body_ns
    items: list[AreaItem] = []
    volcano: Volcano | None = None
    for info in findall(doc.body, ns, "VolcanoInfo"):
        info_type = info.get("type") or ""
        for item in findall(info, ns, "Item"):
            kind = find(item, ns, "Kind")
            if info_type == VOLCANO_INFO and volcano is None:
                volcano = Volcano(
                    name=text(item, ns, "Areas/Area/Name"),
                    code=text(item, ns, "Areas/Area/Code"),
                    alert=text(kind, ns, "Name"),
                    alert_code=text(kind, ns, "Code"),
                    change=text(kind, ns, "Condition"),
                )
            elif info_type in TOWN_INFOS:
                kinds = (_kind(kind, ns),)
                items.extend(
                    AreaItem(text(a, ns, "Code"), text(a, ns, "Name"), Scope.CITY, info_type, kinds)
                    for a in findall(item, ns, "Areas/Area")
                )
    return Parts(items=tuple(items), volcano=volcano)
