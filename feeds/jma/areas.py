"""Does a document concern the configured areas? Matching by code, at the level each type carries.

Names are never compared (one JMA sample spells 栃木県南部 as 栃木現南部). Each type lists the area
levels it can be matched at, finest first; a document is matched at the finest of them that it
actually carries. So a 震源・震度情報 with towns is matched by town, a 震度速報 (regions only) by
region, and a document with neither by prefecture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from feeds.jma.policy import INTENSITIES, UNREPORTED_5_MINUS, intensity_rank
from feeds.jma.report import AreaItem, Kind, Report, Scope

__all__ = ["INTENSITIES", "AreaCodes", "Match", "concerning", "highest_intensity", "intensity_rank"]

_WARNING_LIKE = ("VPWW53", "VPWW54", "VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61")
_QUAKE_LEVELS = (Scope.CITY, Scope.EARTHQUAKE_REGION, Scope.PREFECTURE)

# Per type: the area levels to match at, finest first. Types absent here name no areas at all.
MATCH_SCOPES: dict[str, tuple[Scope, ...]] = {
    **dict.fromkeys(_WARNING_LIKE, (Scope.CITY, Scope.FORECAST_AREA)),
    "VXWW50": (Scope.CITY,),
    "VPHW50": (Scope.CITY, Scope.ISSUE_AREA),
    "VPHW51": (Scope.CITY, Scope.ISSUE_AREA),
    "VPOA50": (Scope.ISSUE_AREA,),  # 記録的短時間大雨情報 names only the 府県予報区 or its 一次細分
    "VPFT50": (Scope.FORECAST_AREA,),  # the issuing office's area, from the feed URL
    "VXKOii": (Scope.CITY,),  # towns in 浸水想定地区
    "VXSUii": (Scope.CITY,),
    "VXSE51": _QUAKE_LEVELS,
    "VXSE53": _QUAKE_LEVELS,
    "VXSE62": _QUAKE_LEVELS,
    "VTSE41": (Scope.TSUNAMI_REGION,),
    "VTSE51": (Scope.TSUNAMI_REGION,),
    "VFVO50": (Scope.CITY,),
}

SCOPE_NAMES: dict[Scope, str] = {
    Scope.CITY: "市町村等",
    Scope.CITY_GROUP: "市町村等をまとめた地域",
    Scope.SUBDIVISION: "一次細分区域",
    Scope.FORECAST_AREA: "府県予報区",
    Scope.ISSUE_AREA: "発表細分",
    Scope.EARTHQUAKE_REGION: "地震情報／細分区域",
    Scope.PREFECTURE: "都道府県",
    Scope.TSUNAMI_REGION: "津波予報区",
    Scope.OTHER: "その他",
}


class AreaSource(Protocol):
    """Anything with the four configured codes, e.g. broadcaster.settings.Areas."""

    @property
    def city(self) -> str: ...
    @property
    def forecast_area(self) -> str: ...
    @property
    def earthquake_region(self) -> str: ...
    @property
    def prefecture(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AreaCodes:
    """The codes a document is matched against; strings, leading zeros kept."""

    city: str  # 市町村等, e.g. 0920800 小山市
    forecast_area: str  # 府県予報区, e.g. 090000 栃木県
    earthquake_region: str  # 地震 細分区域, e.g. 311 栃木県南部
    prefecture: str  # 地震 都道府県, e.g. 09
    subdivision: str | None = None  # 一次細分区域 (e.g. 090010); None accepts any 一次細分 of forecast_area
    tsunami_region: str | None = None  # 津波予報区 of a coastal town; None for an inland one

    @classmethod
    def of(cls, areas: AreaSource) -> AreaCodes:
        """From settings.Areas or any object with the same attributes (the optional two read if present)."""
        return cls(
            city=areas.city,
            forecast_area=areas.forecast_area,
            earthquake_region=areas.earthquake_region,
            prefecture=areas.prefecture,
            subdivision=getattr(areas, "subdivision", None),
            tsunami_region=getattr(areas, "tsunami_region", None),
        )


def _is_city(code: str, codes: AreaCodes) -> bool:
    # A 市町村等 code is the 5-digit municipality plus 2 digits, 00 for the whole of it. Split
    # municipalities (横浜市北部 1410011) are parts of the whole (1410000) and concern it.
    whole = codes.city.endswith("00") and len(code) == len(codes.city) and code[:5] == codes.city[:5]
    return code == codes.city or whole


def _is_issue_area(code: str, codes: AreaCodes) -> bool:
    # 発表細分 is the 府県予報区 itself or one of its 一次細分 (same first four digits: 016000 → 016010).
    if code in (codes.forecast_area, codes.subdivision):
        return True
    return codes.subdivision is None and code[:4] == codes.forecast_area[:4]


MATCHERS: dict[Scope, Callable[[str, AreaCodes], bool]] = {
    Scope.CITY: _is_city,
    Scope.FORECAST_AREA: lambda code, codes: code == codes.forecast_area,
    Scope.ISSUE_AREA: _is_issue_area,
    Scope.SUBDIVISION: lambda code, codes: code == codes.subdivision,
    Scope.EARTHQUAKE_REGION: lambda code, codes: code == codes.earthquake_region,
    Scope.PREFECTURE: lambda code, codes: code == codes.prefecture,
    Scope.TSUNAMI_REGION: lambda code, codes: code == codes.tsunami_region,
}


def highest_intensity(values: Iterable[str | None]) -> str | None:
    """The strongest 震度 among ``values``; an observed 5- wins over an unreported "5弱以上"."""
    known = [v for v in values if v is not None and intensity_rank(v) >= 0]
    return max(known, key=lambda v: (intensity_rank(v), v != UNREPORTED_5_MINUS), default=None)


@dataclass(frozen=True, slots=True)
class Match:
    """What a document says about the configured areas."""

    concerns_area: bool
    items: tuple[AreaItem, ...]  # only the matched areas, at the level matched
    level: int | None  # highest JMA 警戒レベル in force among them
    max_intensity: str | None  # highest 震度 observed in them
    reason: str

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The matched areas' kinds, each once, in document order."""
        return tuple(dict.fromkeys(k for item in self.items for k in item.kinds))


def _no(reason: str) -> Match:
    return Match(False, (), None, None, reason)


def concerning(report: Report, codes: AreaCodes) -> Match:
    """Match a report's items against the codes, at the finest level its type allows and it carries."""
    if report.kind is None:
        return _no(f"unknown document type 「{report.control_title}」")
    scopes = MATCH_SCOPES.get(report.kind, ())
    if not scopes:
        return _no(f"{report.kind} names no areas to match")
    carried = {item.scope for item in report.items}
    scope = next((s for s in scopes if s in carried), None)
    if scope is None:
        wanted = "、".join(SCOPE_NAMES[s] for s in scopes)
        return _no(f"{report.kind} {report.info_type}: lists no areas at {wanted}")
    matches = MATCHERS[scope]
    items = tuple(item for item in report.items if item.scope is scope and matches(item.code, codes))
    if not items:
        return _no(f"none of the configured codes is among the areas at {SCOPE_NAMES[scope]}")
    levels = [item.level for item in items if item.level is not None]
    names = "、".join(dict.fromkeys(f"{item.name} ({item.code})" for item in items))
    return Match(
        concerns_area=True,
        items=items,
        level=max(levels, default=None),
        max_intensity=highest_intensity(item.intensity for item in items),
        reason=f"{names} at {SCOPE_NAMES[scope]}",
    )
