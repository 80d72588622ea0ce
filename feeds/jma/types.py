"""JMA's published list of 防災情報XML types in one table, and how a document's type is recognised.

JMA has renamed Control/Title between specification revisions (特別警報報知 → 気象特別警報報知,
府県高温注意情報 → 熱中症警戒アラート, 緊急地震速報テスト → 緊急地震速報配信テスト …) and writes the
same title in full- or half-width depending on the revision. So a title is compared only after
``normalise`` (NFKC, no spaces, one kind of bracket, no case), against every known variant; a title
still unknown is recognised by its Head/InfoKind where that names one type; and a data URL's file
name (…_VPWW55_090000.xml) names the type where neither does.

The table follows JMA's list of types (https://xml.kishou.go.jp/xmllist.pdf, as compiled by
DM-D.S.S's telegram list and other public parsers; JMA-NOTES §1) plus the R06 types of the 2026
warning system (JMA-NOTES §5). ``family`` groups the types; the five families that can reach residents
(warnings, rivers, earthquakes, tsunami, volcano) are the keys of ``[jma.max_age]``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from feeds.jma.atom import type_code

Family = Literal[
    "warnings",  # weather warnings and their kin (土砂災害警戒情報, 竜巻注意情報, 熱中症警戒アラート …)
    "rivers",  # 指定河川洪水予報, 水位周知河川
    "earthquakes",  # 震度速報, 震源・震度 …
    "tsunami",
    "volcano",
    "eew",  # 緊急地震速報: never on the free feeds in time to matter
    "information",  # prose 気象情報, 天候情報, 潮位情報 …
    "forecasts",  # 天気予報, 季節予報, 早期注意情報, 季節観測
    "typhoon",
    "marine",  # 海上警報・予報
    "charts",  # 天気図
    "notices",  # お知らせ, 南海トラフ・後発地震 information
]


@dataclass(frozen=True, slots=True)
class JmaType:
    """One row of JMA's list: the type code, its current Control/Title, its family, older titles."""

    code: str  # e.g. "VPWW55"; "ii" stands for a numbered range (VXKO50–89 → VXKOii)
    title: str  # the current Control/Title as JMA writes it
    family: Family
    variants: tuple[str, ...] = ()  # earlier or alternative titles of the same type


_T = JmaType
TYPES: tuple[JmaType, ...] = (
    # warnings
    _T("VPWW50", "気象警報・注意報", "warnings"),  # before 2013; now the InfoKind of every VPWW
    _T("VPWW53", "気象特別警報・警報・注意報", "warnings"),
    _T("VPWW54", "気象警報・注意報（Ｈ２７）", "warnings"),
    _T("VPWW55", "気象警報・注意報（Ｒ０６）（大雨）", "warnings"),
    _T("VPWW56", "気象警報・注意報（Ｒ０６）（土砂）", "warnings"),
    _T("VPWW57", "気象警報・注意報（Ｒ０６）（高潮）", "warnings"),
    _T("VPWW58", "気象警報・注意報（Ｒ０６）（暴風）", "warnings"),
    _T("VPWW59", "気象警報・注意報（Ｒ０６）（波浪）", "warnings"),
    _T("VPWW60", "気象警報・注意報（Ｒ０６）（大雪）", "warnings"),
    _T("VPWW61", "気象警報・注意報（Ｒ０６）（その他注意報）", "warnings"),
    _T("VPWP50", "気象警報・注意報時系列情報（Ｒ０６）", "warnings"),
    _T("VPWS50", "集約通報", "warnings"),
    _T("VPNO50", "気象特別警報報知", "warnings", ("特別警報報知",)),
    _T("VXWW50", "土砂災害警戒情報", "warnings"),
    _T("VPOA50", "記録的短時間大雨情報", "warnings"),
    _T("VPHW50", "竜巻注意情報", "warnings"),
    _T("VPHW51", "竜巻注意情報（目撃情報付き）", "warnings"),
    _T("VPFT50", "熱中症警戒アラート", "warnings", ("府県高温注意情報",)),
    # rivers
    _T("VXKOii", "指定河川洪水予報", "rivers"),  # VXKO50–89, one number per river
    _T("VXSUii", "水位周知河川に関する情報", "rivers"),
    # earthquakes
    _T("VXSE51", "震度速報", "earthquakes"),
    _T("VXSE52", "震源に関する情報", "earthquakes"),
    _T("VXSE53", "震源・震度に関する情報", "earthquakes"),
    _T("VXSE56", "地震の活動状況等に関する情報", "earthquakes"),
    _T("VXSE60", "地震回数に関する情報", "earthquakes"),
    _T("VXSE61", "顕著な地震の震源要素更新のお知らせ", "earthquakes"),
    _T("VXSE62", "長周期地震動に関する観測情報", "earthquakes"),
    _T("VXSE42", "緊急地震速報配信テスト", "eew", ("緊急地震速報テスト",)),
    _T("VXSE43", "緊急地震速報（警報）", "eew"),
    _T("VXSE44", "緊急地震速報（予報）", "eew"),
    _T("VXSE45", "緊急地震速報（地震動予報）", "eew"),
    _T("VYSE50", "南海トラフ地震臨時情報", "notices"),
    _T("VYSE51", "南海トラフ地震関連解説情報", "notices"),  # VYSE52 (定例) has the same title
    _T("VYSE52", "南海トラフ地震関連解説情報", "notices"),
    _T("VYSE60", "北海道・三陸沖後発地震注意情報", "notices"),
    _T("VZSE40", "地震・津波に関するお知らせ", "notices"),
    # tsunami
    _T("VTSE41", "津波警報・注意報・予報a", "tsunami", ("津波警報・注意報・予報",)),
    _T("VTSE51", "津波情報a", "tsunami", ("津波情報",)),
    _T("VTSE52", "沖合の津波観測に関する情報", "tsunami"),
    # volcano
    _T("VFVO50", "噴火警報・予報", "volcano"),
    _T("VFVO51", "火山の状況に関する解説情報", "volcano"),
    _T("VFVO52", "噴火に関する火山観測報", "volcano"),
    _T("VFVO53", "降灰予報（定時）", "volcano"),
    _T("VFVO54", "降灰予報（速報）", "volcano"),
    _T("VFVO55", "降灰予報（詳細）", "volcano"),
    _T("VFVO56", "噴火速報", "volcano"),
    _T("VFVO60", "推定噴煙流向報", "volcano"),
    _T("VZVO40", "火山に関するお知らせ", "notices"),
    _T("VFSVii", "火山現象に関する海上警報・海上予報", "marine", ("火山現象に関する海上警報・予報",)),  # 50–61
    # prose information
    _T("VPZJ50", "全般気象情報", "information"),
    _T("VPCJ50", "地方気象情報", "information"),
    _T("VPFJ50", "府県気象情報", "information"),
    _T("VPFJ51", "府県気象解説情報", "information"),
    _T("VPBS50", "府県気象防災速報", "information"),
    _T("VPZI50", "全般天候情報", "information"),
    _T("VPCI50", "地方天候情報", "information"),
    _T("VPFI50", "府県天候情報", "information"),
    _T("VPAW51", "早期天候情報", "information"),
    _T("VPSG50", "スモッグ気象情報", "information"),
    _T("VPZS50", "全般スモッグ気象情報", "information"),
    _T("VPCT50", "地方高温注意情報", "information"),  # ended
    _T("VPRN50", "大雨危険度通知", "information"),
    _T("VMCJ50", "全般潮位情報", "information"),
    _T("VMCJ51", "地方潮位情報", "information"),
    _T("VMCJ52", "府県潮位情報", "information"),
    # forecasts and observations
    _T("VPFD50", "府県天気予報", "forecasts"),
    _T("VPFD51", "府県天気予報（Ｒ１）", "forecasts"),
    _T("VPFG50", "府県天気概況", "forecasts"),
    _T("VPFW50", "府県週間天気予報", "forecasts"),
    _T("VPFD60", "警報級の可能性（明日まで）", "forecasts"),
    _T("VPFW60", "警報級の可能性（明後日以降）", "forecasts"),
    _T("VPFD61", "早期注意情報（明後日まで）", "forecasts"),
    _T("VPZK50", "全般１か月予報，全般３か月予報，全般暖・寒候期予報", "forecasts"),
    _T("VPCK50", "地方１か月予報，地方３か月予報，地方暖・寒候期予報", "forecasts"),
    _T("VPZK70", "全般季節予報（２週間気温予報）", "forecasts"),
    _T("VPCK70", "地方季節予報（２週間気温予報）", "forecasts"),
    _T("VGSK50", "季節観測", "forecasts"),
    _T("VGSK55", "生物季節観測", "forecasts"),
    _T("VGSK60", "特殊気象報", "forecasts"),
    # typhoons
    _T("VPTI50", "全般台風情報", "typhoon"),
    _T("VPTI51", "全般台風情報（定型）", "typhoon"),
    _T("VPTI52", "全般台風情報（詳細）", "typhoon"),
    _T(
        "VPTWii",
        "台風解析・予報情報（５日予報）（Ｈ３０）",
        "typhoon",
        ("台風解析・予報情報（５日予報）", "台風解析・予報情報（３日予報）"),
    ),
    _T("VPTAii", "台風の暴風域に入る確率", "typhoon"),
    # marine
    _T("VPZU50", "全般海上警報（定時）", "marine"),
    _T("VPZU51", "全般海上警報（臨時）", "marine"),
    _T("VPZU52", "全般海上警報（定時）（Ｈ２９）", "marine"),
    _T("VPZU53", "全般海上警報（臨時）（Ｈ２９）", "marine"),
    _T("VPCU50", "地方海上警報", "marine"),
    _T("VPCU51", "地方海上警報（Ｈ２８）", "marine"),
    _T("VPCY50", "地方海上予報", "marine"),
    _T("VPCY51", "地方海上予報（Ｈ２８）", "marine"),
    # charts
    _T("VZSA50", "地上実況図", "charts"),
    _T("VZSF50", "地上２４時間予想図", "charts"),
    _T("VZSF51", "地上４８時間予想図", "charts"),
    _T("VZSA60", "アジア太平洋地上実況図", "charts"),
    _T("VZSF60", "アジア太平洋海上悪天２４時間予想図", "charts"),
    _T("VZSF61", "アジア太平洋海上悪天４８時間予想図", "charts"),
)
BY_CODE: dict[str, JmaType] = {t.code: t for t in TYPES}

# Head/InfoKind values that name exactly one type (others, e.g. 気象警報・注意報 or 同一現象用平文情報,
# are shared by several and say nothing on their own).
KIND_BY_INFO_KIND: dict[str, str] = {
    "震度速報": "VXSE51",
    "震源速報": "VXSE52",
    "津波警報・注意報・予報": "VTSE41",
    "噴火警報・予報": "VFVO50",
    "噴火速報": "VFVO56",
    "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50",
    "指定河川洪水予報": "VXKOii",
    "水位周知河川に関する情報": "VXSUii",
    "長周期地震動に関する観測情報": "VXSE62",
    "北海道・三陸沖後発地震注意情報": "VYSE60",
}
WARNING_INFO_KIND = "気象警報・注意報"
# The R06 documents name their hazard in the title's last bracket; that survives a renamed prefix.
R06_BY_HAZARD = {"大雨": "VPWW55", "土砂": "VPWW56", "高潮": "VPWW57", "暴風": "VPWW58", "波浪": "VPWW59",
                 "大雪": "VPWW60", "その他注意報": "VPWW61"}  # fmt: skip

_BRACKETS = str.maketrans({o: "(" for o in "[【〔〈《「『｢"} | {c: ")" for c in "]】〕〉》」』｣"})
_SPACES = re.compile(r"\s+")


def normalise(title: str) -> str:
    """A title as compared: NFKC (full and half width alike), no spaces, round brackets, lower case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", title)).translate(_BRACKETS).casefold()


KIND_BY_TITLE: dict[str, str] = {}
for _type in TYPES:
    for _title in (_type.title, *_type.variants):
        KIND_BY_TITLE.setdefault(normalise(_title), _type.code)  # a shared title names the first listed
_INFO_KINDS = {normalise(k): v for k, v in KIND_BY_INFO_KIND.items()}


def listed(code: str | None) -> str | None:
    """The table's code for a type code (VXKO52 → VXKOii), None if JMA's list does not have it."""
    if code is None:
        return None
    if code in BY_CODE:
        return code
    ranged = code[:4] + "ii"
    return ranged if ranged in BY_CODE else None


def kind_of(control_title: str, info_kind: str = "", source: str = "") -> str | None:
    """The type code of a document: by its title, else its InfoKind, else its file name; None if unknown."""
    if kind := KIND_BY_TITLE.get(normalise(control_title)):
        return kind
    info = normalise(info_kind)
    if kind := _INFO_KINDS.get(info):
        return kind
    if info == normalise(WARNING_INFO_KIND):
        hazard = re.findall(r"\(([^()]*)\)", normalise(control_title))
        if hazard and (kind := R06_BY_HAZARD.get(hazard[-1])):
            return kind
    return listed(type_code(source)) if source else None


def family_of(code: str | None) -> Family | None:
    """The family of a listed type."""
    found = BY_CODE.get(code or "")
    return found.family if found else None


def name_of(code: str) -> str:
    """The current title of a listed type (the code itself if unlisted)."""
    found = BY_CODE.get(code)
    return found.title if found else code
