"""Bytes in, ``Report`` out: the common Control and Head here, the Body by family through one registry.

    report = parse(data, source=url)      # RefusedDocument(reason) for anything we will not read
    ignored_reason(report)                # None for the types this service acts on, else why not

The type code (VPWW55, VXSE53, VXKOii …) comes from Control/Title through KIND_BY_TITLE, since a
parser sees bytes, not file names. Every title observed in JMA's samples and real feeds is in that
table; a title not in it gives ``kind=None`` and is ignored with its title as the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from lxml import etree

from broadcaster.clock import JST
from feeds.jma.quakes import QUAKE_KINDS, TSUNAMI_KINDS, parse_quake, parse_tsunami
from feeds.jma.report import Doc, Parts, Report
from feeds.jma.rivers import parse_river
from feeds.jma.volcano import parse_volcano
from feeds.jma.warnings import WARNING_KINDS, parse_heat_alert, parse_warnings
from feeds.jma.xmlsafe import (
    ATOM,
    BODY_NAMESPACES,
    DEFAULT_MAX_BYTES,
    HEAD,
    JMX,
    Element,
    RefusedDocument,
    find,
    parse_xml,
    text,
    to_datetime,
)

# Control/Title → type code. VPWW53 and VPWW54 have distinct titles (the long feed pairs them
# 1,518 to 1,518), so the title alone decides; the R06 per-hazard documents name their hazard in it.
KIND_BY_TITLE: dict[str, str] = {
    # handled: warnings and their kin
    "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報（Ｈ２７）": "VPWW54",
    "気象警報・注意報（Ｒ０６）（大雨）": "VPWW55",
    "気象警報・注意報（Ｒ０６）（土砂）": "VPWW56",
    "気象警報・注意報（Ｒ０６）（高潮）": "VPWW57",
    "気象警報・注意報（Ｒ０６）（暴風）": "VPWW58",
    "気象警報・注意報（Ｒ０６）（波浪）": "VPWW59",
    "気象警報・注意報（Ｒ０６）（大雪）": "VPWW60",
    "気象警報・注意報（Ｒ０６）（その他注意報）": "VPWW61",
    "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50",
    "竜巻注意情報": "VPHW50",
    "竜巻注意情報（目撃情報付き）": "VPHW51",
    "熱中症警戒アラート": "VPFT50",
    "指定河川洪水予報": "VXKOii",  # ii: one number per river (VXKO51 …); the kind is the family
    "水位周知河川に関する情報": "VXSUii",
    # handled: earthquakes, tsunamis, volcanoes
    "震度速報": "VXSE51",
    "震源に関する情報": "VXSE52",
    "震源・震度に関する情報": "VXSE53",
    "顕著な地震の震源要素更新のお知らせ": "VXSE61",
    "長周期地震動に関する観測情報": "VXSE62",
    "津波警報・注意報・予報a": "VTSE41",
    "津波情報a": "VTSE51",
    "沖合の津波観測に関する情報": "VTSE52",
    "噴火警報・予報": "VFVO50",
    # recognised, and ignored (see IGNORED)
    "緊急地震速報（警報）": "VXSE43",
    "緊急地震速報（予報）": "VXSE44",
    "緊急地震速報（地震動予報）": "VXSE45",
    "地震・津波に関するお知らせ": "VZSE40",
    "南海トラフ地震臨時情報": "VYSE50",
    "北海道・三陸沖後発地震注意情報": "VYSE60",
    "火山の状況に関する解説情報": "VFVO51",
    "噴火に関する火山観測報": "VFVO52",
    "降灰予報（定時）": "VFVO53",
    "降灰予報（速報）": "VFVO54",
    "噴火速報": "VFVO56",
    "気象特別警報報知": "VPNO50",
    "気象警報・注意報時系列情報（Ｒ０６）": "VPWP50",
    "府県気象情報": "VPFJ50",
    "府県気象解説情報": "VPFJ51",
    "府県気象防災速報": "VPBS50",
    "地方気象情報": "VPCJ50",
    "全般気象情報": "VPZJ50",
    "府県天気予報": "VPFD50",
    "府県天気予報（Ｒ１）": "VPFD51",
    "早期注意情報（明後日まで）": "VPFD61",
    "早期天候情報": "VPAW51",
}

_EEW = "reaches people through licensed relays within seconds, never through a 60-second feed"
_PROSE = "a prose bulletin without per-town codes: officers read it, the service does not act on it"
_FORECAST = "a forecast, not a warning"
_VOLCANO = "volcano observation or ash forecast: only 噴火警報 (VFVO50) names the towns at risk"
IGNORED: dict[str, str] = {
    "VXSE43": _EEW,
    "VXSE44": _EEW,
    "VXSE45": _EEW,
    "VZSE40": "an operational notice",
    "VYSE50": "national context, acted on by officers",
    "VYSE60": "national context, acted on by officers",
    "VFVO51": _VOLCANO,
    "VFVO52": _VOLCANO,
    "VFVO53": _VOLCANO,
    "VFVO54": _VOLCANO,
    "VFVO56": "噴火速報 names only the volcano: the 噴火警報 (VFVO50) that follows names the towns",
    "VPNO50": "repeats a 特別警報 that VPWW53/54/55–61 already carry",
    "VPWP50": "time series of the R06 warnings: the per-hazard documents VPWW55–61 carry the warnings",
    "VPFJ50": _PROSE,
    "VPFJ51": _PROSE,
    "VPBS50": _PROSE,
    "VPCJ50": _PROSE,
    "VPZJ50": _PROSE,
    "VPFD50": _FORECAST,
    "VPFD51": _FORECAST,
    "VPFD61": _FORECAST,
    "VPAW51": _FORECAST,
}

FamilyParser = Callable[[Doc], Parts]
PARSERS: dict[str, FamilyParser] = {
    **dict.fromkeys(WARNING_KINDS, parse_warnings),
    "VXWW50": parse_warnings,
    "VPOA50": parse_warnings,
    "VPHW50": parse_warnings,
    "VPHW51": parse_warnings,
    "VPFT50": parse_heat_alert,
    "VXKOii": parse_river,
    "VXSUii": parse_river,
    **dict.fromkeys(QUAKE_KINDS, parse_quake),
    **dict.fromkeys(TSUNAMI_KINDS, parse_tsunami),
    "VFVO50": parse_volcano,
}
HANDLED_KINDS = frozenset(PARSERS)


def kind_of(control_title: str) -> str | None:
    """The type code for a Control/Title, None for a title we do not know."""
    return KIND_BY_TITLE.get(control_title)


def office_code_of(source: str) -> str:
    """The issuing office from a feed URL or file name (…_0_VPFT50_090000.xml → 090000), else ""."""
    stem = source.rsplit("/", 1)[-1].removesuffix(".xml")
    parts = stem.split("_")
    last = parts[-1] if len(parts) >= 3 else ""
    return last if len(last) == 6 and last.isascii() and last.isdigit() else ""


def ignored_reason(report: Report) -> str | None:
    """Why the service does not act on this type of document; None for the types it handles."""
    if report.kind is None:
        return f"unknown document type 「{report.control_title}」"
    if report.kind in HANDLED_KINDS:
        return None
    return f"{report.kind} {report.control_title}: {IGNORED.get(report.kind, 'not a type this service acts on')}"


def _required(el: Element | None, ns: str, path: str, where: str) -> str:
    value = text(el, ns, path)
    if not value:
        raise RefusedDocument(f"not a JMA report: {where}/{path} is missing or empty")
    return value


def _body(root: Element) -> tuple[Element | None, str]:
    for child in root.iterchildren("{*}Body"):
        ns = etree.QName(child).namespace or ""
        if ns not in BODY_NAMESPACES:
            raise RefusedDocument(f"not a JMA report: Body in unknown namespace {ns or '(none)'}")
        return child, ns
    return None, ""


def _check_root(root: Element) -> None:
    if root.tag == f"{{{JMX}}}Report":
        return
    if root.tag == f"{{{ATOM}}}feed":
        raise RefusedDocument("an Atom feed, not a report")
    name = etree.QName(root)
    raise RefusedDocument(
        f"not a JMA report: root <{name.localname}> in namespace {name.namespace or '(none)'}, expected Report in {JMX}"
    )


def parse_tree(root: Element, *, source: str = "") -> Report:
    """A Report from an already safely parsed tree (see xmlsafe.parse_xml)."""
    _check_root(root)
    control = find(root, JMX, "Control")
    if control is None:
        raise RefusedDocument(f"not a JMA report: no Control in {JMX}")
    head = find(root, HEAD, "Head")
    if head is None:
        raise RefusedDocument(f"not a JMA report: no Head in {HEAD}")
    body, body_ns = _body(root)
    sent_at = to_datetime(_required(control, JMX, "DateTime", "Control"), UTC)  # the schema says UTC
    reported_at = to_datetime(_required(head, HEAD, "ReportDateTime", "Head"), JST)  # the schema says JST
    if sent_at is None or reported_at is None:
        raise RefusedDocument("not a JMA report: Control/DateTime or Head/ReportDateTime is not a date-time")
    control_title = _required(control, JMX, "Title", "Control")
    kind = kind_of(control_title)
    editorial_office = text(control, JMX, "EditorialOffice")
    office_code = office_code_of(source)
    parts = Parts()
    if kind in PARSERS:
        parts = PARSERS[kind](Doc(kind, head, body, body_ns, editorial_office, office_code))
    return Report(
        kind=kind,
        control_title=control_title,
        title=text(head, HEAD, "Title"),
        status=_required(control, JMX, "Status", "Control"),
        info_type=_required(head, HEAD, "InfoType", "Head"),
        event_id=text(head, HEAD, "EventID"),
        serial=text(head, HEAD, "Serial"),
        editorial_office=editorial_office,
        publishing_office=text(control, JMX, "PublishingOffice"),
        sent_at=sent_at,
        reported_at=reported_at,
        target_at=to_datetime(text(head, HEAD, "TargetDateTime"), JST),
        valid_until=to_datetime(text(head, HEAD, "ValidDateTime"), JST),
        info_kind=text(head, HEAD, "InfoKind"),
        info_kind_version=text(head, HEAD, "InfoKindVersion"),
        headline=text(head, HEAD, "Headline/Text"),
        notice=text(body, body_ns, "Notice"),
        body_text=text(body, body_ns, "Text"),
        items=parts.items,
        quake=parts.quake,
        river=parts.river,
        volcano=parts.volcano,
        office_code=office_code,
    )


def parse(data: bytes, *, source: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> Report:
    """Parse one JMA document; ``source`` (feed URL or file name) supplies the office code where needed."""
    return parse_tree(parse_xml(data, max_bytes=max_bytes), source=source)
