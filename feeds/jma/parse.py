"""Bytes in, ``Report`` out: the common Control and Head here, the Body by family through one registry.

    report = parse(data, source=url)      # RefusedDocument(reason) for anything we will not read
    ignored_reason(report)                # None for the types this service acts on, else why not

The type code (VPWW55, VXSE53, VXKOii …) comes from feeds.jma.types: the normalised Control/Title
with its known variants, else the InfoKind, else the file name. A type in JMA's list that this
service does not act on is recognised and ignored by name; only a type in no list gives ``kind=None``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from lxml import etree

from broadcaster.clock import JST
from feeds.jma.quakes import QUAKE_KINDS, TSUNAMI_KINDS, parse_quake, parse_tsunami
from feeds.jma.report import Doc, Parts, Report
from feeds.jma.rivers import parse_river
from feeds.jma.types import kind_of, name_of
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
    why = IGNORED.get(report.kind, "not a type this service acts on")
    return f"{report.kind} {name_of(report.kind)}: recognised, ignored by policy ({why})"


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
    info_kind = text(head, HEAD, "InfoKind")
    kind = kind_of(control_title, info_kind, source)
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
        info_kind=info_kind,
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
