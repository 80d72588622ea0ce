"""Weather warnings and their kin: VPWW53/54, the R06 per-hazard VPWW55–61, VXWW50, VPOA50, VPHW50/51, VPFT50.

All but VPFT50 share one body shape: ``Body/Warning[@type]/Item`` with one or more ``Kind``
(Name, Code, Status, Condition) and one ``Area`` (or ``Areas/Area``). The Warning's type says which
code list the area belongs to. Items come from the Body, which carries each kind's Status; the
Headline repeats them without it.
"""

from __future__ import annotations

from collections.abc import Callable

from feeds.jma.report import INACTIVE, AreaItem, Doc, Kind, Parts, Scope
from feeds.jma.xmlsafe import HEAD, Element, findall, text

R06_KINDS = ("VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61")
WARNING_KINDS = frozenset({"VPWW53", "VPWW54", *R06_KINDS})

# Warning@type → the code list of its areas. Unknown types are kept as OTHER and never matched.
WARNING_SCOPES: dict[str, Scope] = {
    "気象警報・注意報（府県予報区等）": Scope.FORECAST_AREA,
    "気象警報・注意報（一次細分区域等）": Scope.SUBDIVISION,
    "気象警報・注意報（市町村等をまとめた地域等）": Scope.CITY_GROUP,
    "気象警報・注意報（市町村等）": Scope.CITY,
    "土砂災害警戒情報": Scope.CITY,  # VXWW50 lists 市町村等 (split municipalities too, e.g. 横浜市北部)
    "竜巻注意情報（発表細分）": Scope.ISSUE_AREA,
    "竜巻注意情報（一次細分区域等）": Scope.SUBDIVISION,
    "竜巻注意情報（市町村等をまとめた地域等）": Scope.CITY_GROUP,
    "竜巻注意情報（市町村等）": Scope.CITY,
    "記録的短時間大雨情報（発表細分）": Scope.ISSUE_AREA,
}

# JMA 警戒レベル by kind code, for names that do not carry their level (VPWW53/54, and the R06
# documents' wind, wave, snow and other advisories, which keep the old codes and names). The project
# treats every 特別警報 as 5, every 警報 as 3 and every 注意報 as 2, so the policy table can rank all
# hazards on one scale. JMA's own 警戒レベル相当 chart is narrower (water hazards only, and legacy
# 高潮警報/高潮特別警報 are 4相当 there). R06 names (レベル３大雨警報 …) carry their level and win.
LEVEL_BY_CODE: dict[str, int] = {
    # 特別警報: 暴風雪, 大雨, 暴風, 大雪, 波浪, 高潮
    "32": 5, "33": 5, "35": 5, "36": 5, "37": 5, "38": 5,
    # R06 危険警報 (大雨, 高潮, 土砂災害), observed in the 2025 samples
    "43": 4, "48": 4, "49": 4,
    # 警報: 暴風雪, 大雨, 洪水, 暴風, 大雪, 波浪, 高潮; R06 土砂災害警報
    "02": 3, "03": 3, "04": 3, "05": 3, "06": 3, "07": 3, "08": 3, "09": 3,
    # 注意報: 大雨, 大雪, 風雪, 雷, 強風, 波浪, 融雪, 洪水, 高潮, 濃霧,
    #         乾燥, なだれ, 低温, 霜, 着氷, 着雪, その他; R06 土砂災害注意報
    "10": 2, "12": 2, "13": 2, "14": 2, "15": 2, "16": 2, "17": 2, "18": 2, "19": 2, "20": 2,
    "21": 2, "22": 2, "23": 2, "24": 2, "25": 2, "26": 2, "27": 2, "29": 2,
}  # fmt: skip

# VXWW50 kind codes: 3 警戒 (土砂災害警戒情報 in force) is 警戒レベル4相当; 1 解除 and 0 なし have none.
SEDIMENT_LEVEL_BY_CODE: dict[str, int] = {"3": 4}

# R06 names start with their level: レベル３大雨警報, レベル４土砂災害危険警報, レベル２氾濫注意報.
LEVEL_DIGITS: dict[str, int] = {"１": 1, "２": 2, "３": 3, "４": 4, "５": 5, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
LEVEL_PREFIX = "レベル"

LevelOf = Callable[[str, str], int | None]  # (kind code, kind name) → 警戒レベル


def level_in_name(name: str) -> int | None:
    """The level an R06-style name starts with (レベル３大雨警報 → 3), else None."""
    if not name.startswith(LEVEL_PREFIX):
        return None
    return LEVEL_DIGITS.get(name[len(LEVEL_PREFIX) : len(LEVEL_PREFIX) + 1])


def warning_level(code: str, name: str) -> int | None:
    """警戒レベル of a weather warning/advisory kind: from its R06 name, else from its code."""
    return level_in_name(name) or LEVEL_BY_CODE.get(code)


def sediment_level(code: str, name: str) -> int | None:
    """警戒レベル of a VXWW50 土砂災害警戒情報 kind."""
    return SEDIMENT_LEVEL_BY_CODE.get(code)


def no_level(code: str, name: str) -> int | None:
    """For information that sits outside the 警戒レベル scale (竜巻注意情報, 記録的短時間大雨情報)."""
    return None


LEVEL_RULES: dict[str, LevelOf] = {
    **dict.fromkeys(WARNING_KINDS, warning_level),
    "VXWW50": sediment_level,
    "VPOA50": no_level,
    "VPHW50": no_level,
    "VPHW51": no_level,
}


def read_kind(el: Element, ns: str, level_of: LevelOf) -> Kind:
    """One Kind element; its level only while it is in force."""
    code, name, status = text(el, ns, "Code"), text(el, ns, "Name"), text(el, ns, "Status")
    in_force = status not in INACTIVE and name not in INACTIVE
    return Kind(
        code=code,
        name=name,
        status=status,
        condition=text(el, ns, "Condition"),
        level=level_of(code, name) if in_force else None,
    )


def item_areas(item: Element, ns: str) -> list[Element]:
    """An Item's areas: warnings carry one Area, other types an Areas list."""
    return findall(item, ns, "Area") + findall(item, ns, "Areas/Area")


def parse_warnings(doc: Doc) -> Parts:
    """Body/Warning items of VPWW5x, VXWW50, VPOA50 and VPHW5x, one AreaItem per (Warning type, area)."""
    ns, level_of = doc.body_ns, LEVEL_RULES.get(doc.kind, no_level)
    items: list[AreaItem] = []
    for warning in findall(doc.body, ns, "Warning"):
        area_type = warning.get("type") or ""
        scope = WARNING_SCOPES.get(area_type, Scope.OTHER)
        for item in findall(warning, ns, "Item"):
            kinds = tuple(read_kind(k, ns, level_of) for k in findall(item, ns, "Kind"))
            items.extend(
                AreaItem(text(a, ns, "Code"), text(a, ns, "Name"), scope, area_type, kinds)
                for a in item_areas(item, ns)
            )
    return Parts(items=tuple(items))


HEAT_ALERT = "熱中症警戒アラート"


def parse_heat_alert(doc: Doc) -> Parts:
    """VPFT50 carries no area code: its area is the issuing office's 府県予報区, known from the feed URL."""
    if not doc.office_code:
        return Parts()
    area = text(doc.head, HEAD, "Title").removesuffix(HEAT_ALERT)
    kind = Kind(code="", name=HEAT_ALERT)
    return Parts(items=(AreaItem(doc.office_code, area, Scope.FORECAST_AREA, "発表官署", (kind,)),))
