"""One parsed JMA document as plain data: the common header, per-area items, and per-family extras.

Codes are strings everywhere (leading zeros matter). Times are aware datetimes. Nothing here reads
XML; the family parsers build these (``Doc`` in, ``Parts`` out), and the area matcher reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from feeds.jma.xmlsafe import Element

# Statuses and names that say "nothing is in force here": such a kind is listed, but carries no level.
INACTIVE = frozenset({"解除", "なし", "発表警報・注意報はなし"})
EXERCISE_STATUSES = frozenset({"訓練", "試験"})


class Scope(StrEnum):
    """Which code list an area code belongs to; matching compares codes only within one scope."""

    CITY = "city"  # 市町村等 (7 digits, e.g. 0920800 小山市)
    CITY_GROUP = "city_group"  # 市町村等をまとめた地域等 (6 digits)
    SUBDIVISION = "subdivision"  # 一次細分区域 (6 digits, e.g. 090010)
    FORECAST_AREA = "forecast_area"  # 府県予報区 (6 digits, e.g. 090000)
    ISSUE_AREA = "issue_area"  # 発表細分: a 府県予報区 or one of its 一次細分 (VPOA50, VPHW)
    EARTHQUAKE_REGION = "earthquake_region"  # 地震情報／細分区域 (3 digits, e.g. 311)
    PREFECTURE = "prefecture"  # 地震情報／都道府県等 (2 digits, e.g. 09)
    TSUNAMI_REGION = "tsunami_region"  # 津波予報区 (3 digits; not the same list as earthquake regions)
    OTHER = "other"  # rivers' forecast sections, storm-surge sections, volcanoes …: never matched


@dataclass(frozen=True, slots=True)
class Kind:
    """One warning/advisory/information kind in one area, as the document states it."""

    code: str  # e.g. "03"; "" where the document gives none (発表警報・注意報はなし)
    name: str  # e.g. "レベル３大雨警報"
    status: str = ""  # 発表 / 継続 / 解除 / 特別警報から警報 …; "" where the kind has none
    condition: str = ""  # e.g. 土砂災害、浸水害 for 大雨特別警報; 洪水警報（発表） for rivers
    level: int | None = None  # JMA 警戒レベル 1–5 while in force, where one applies

    @property
    def active(self) -> bool:
        """In force: neither lifted nor a "nothing here" placeholder."""
        return self.status not in INACTIVE and self.name not in INACTIVE


@dataclass(frozen=True, slots=True)
class AreaItem:
    """What a document says about one area at one level of the area hierarchy."""

    code: str
    name: str
    scope: Scope
    area_type: str  # the document's own label, e.g. 気象警報・注意報（市町村等）
    kinds: tuple[Kind, ...] = ()
    intensity: str | None = None  # quakes: the highest 震度 observed in this area ("5-", "震度５弱以上未入電" …)

    @property
    def level(self) -> int | None:
        """The highest JMA 警戒レベル among this area's kinds in force."""
        levels = [k.level for k in self.kinds if k.level is not None]
        return max(levels, default=None)


@dataclass(frozen=True, slots=True)
class Quake:
    """Earthquake and tsunami extras (VXSE5x/6x, VTSE4x/5x)."""

    origin_time: datetime | None
    hypocentre: str  # 震央地名, e.g. 福島県沖
    hypocentre_code: str  # e.g. "289"
    coordinate: str  # the coordinate's own description, e.g. 北緯３７．６度　東経１４１．６度　深さ　５０ｋｍ
    magnitude: str  # as written: "4.5", or "NaN" when unknown
    magnitude_text: str  # its description: "Ｍ４．５", "Ｍ８を超える巨大地震", "Ｍ不明"
    max_intensity: str | None  # the whole document's MaxInt
    tsunami_comment: str  # ForecastComment/WarningComment text, e.g. この地震による津波の心配はありません。
    comment: str = ""  # free-form and variable comments


@dataclass(frozen=True, slots=True)
class Station:
    """A river water-level (or discharge) station."""

    code: str
    name: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class FloodArea:
    """One municipality in 浸水想定地区, with the station whose section floods it."""

    city_code: str
    city: str
    station_code: str
    station: str
    districts: str = ""  # SubCityList, free text


@dataclass(frozen=True, slots=True)
class River:
    """River extras (VXKOii 指定河川洪水予報, VXSUii 水位周知河川)."""

    name: str  # e.g. 小矢部川 (several rivers joined with 、)
    code: str  # the first river's code
    section: str  # 予報区域 / 発表区間 name
    section_code: str
    stations: tuple[Station, ...]
    flood_areas: tuple[FloodArea, ...]
    texts: tuple[str, ...]  # 主文 / 概況 paragraphs

    @property
    def flood_cities(self) -> tuple[str, ...]:
        """The 市町村 codes in 浸水想定地区, each once, in document order."""
        return tuple(dict.fromkeys(a.city_code for a in self.flood_areas))


@dataclass(frozen=True, slots=True)
class Volcano:
    """Volcano extras (VFVO50 噴火警報・予報)."""

    name: str
    code: str
    alert: str  # e.g. レベル３（入山規制）; this is 噴火警戒レベル, not the 警戒レベル of weather warnings
    alert_code: str  # e.g. "13"
    change: str  # e.g. 引上げ


@dataclass(frozen=True, slots=True)
class Report:
    """One parsed JMA document."""

    kind: str | None  # type code, e.g. "VPWW55", "VXSE53", "VXKOii"; None for a title we do not know
    control_title: str  # Control/Title, e.g. 気象警報・注意報（Ｒ０６）（大雨）
    title: str  # Head/Title, e.g. 島根県大雨警報・注意報
    status: str  # Control/Status: 通常 / 訓練 / 試験
    info_type: str  # Head/InfoType: 発表 / 訂正 / 取消
    event_id: str
    serial: str
    editorial_office: str
    publishing_office: str
    sent_at: datetime  # Control/DateTime (UTC)
    reported_at: datetime  # Head/ReportDateTime (+09:00)
    target_at: datetime | None
    valid_until: datetime | None  # Head/ValidDateTime
    info_kind: str
    info_kind_version: str
    headline: str
    notice: str = ""  # Body/Notice, e.g. この電文はテストサンプルです。
    body_text: str = ""  # Body/Text: the wording of a 取消
    items: tuple[AreaItem, ...] = ()
    quake: Quake | None = None
    river: River | None = None
    volcano: Volcano | None = None
    office_code: str = ""  # the issuing office's code from the feed URL or file name, when given

    @property
    def is_exercise(self) -> bool:
        """Training, test, or anything not plainly 通常: never to reach a live channel."""
        # Anything but 通常 counts: an unexpected Status must fail safe, never go live.
        return self.status != "通常" or "テスト" in self.notice or "訓練" in self.notice

    @property
    def is_cancellation(self) -> bool:
        """A 取消: retracts the earlier document of the same series."""
        return self.info_type == "取消"

    @property
    def is_correction(self) -> bool:
        """A 訂正: restates the whole earlier document."""
        return self.info_type == "訂正"


@dataclass(frozen=True, slots=True)
class Doc:
    """What the common parse step hands a family parser."""

    kind: str
    head: Element
    body: Element | None  # None for a document without a Body
    body_ns: str
    editorial_office: str
    office_code: str


@dataclass(frozen=True, slots=True)
class Parts:
    """What a family parser returns: the per-area items and its extras."""

    items: tuple[AreaItem, ...] = ()
    quake: Quake | None = None
    river: River | None = None
    volcano: Volcano | None = None
