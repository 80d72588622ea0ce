"""CAP 1.2 out: one alert as an OASIS CAP 1.2 document, valid against CAP-v1.2.xsd.

Times are JST to the second with an explicit offset (``2026-11-26T14:28:16+09:00``): the schema refuses
fractions of a second and ``Z``. ``sent`` is the alert's creation time, so the document of a version is
the same whenever it is rendered, and an Update or Cancel can name its originals in ``references``.

Each <info> has one <area>: ``areaDesc`` in words (the alert's districts, or its areas for the whole
city), a <polygon> per outline ring of each district that has one, then the geocodes (the schema's
order: areaDesc, polygon*, circle*, geocode*). A district without an outline is named only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from broadcaster import districts, intake, naming, tags
from broadcaster.cap_terms import filled
from broadcaster.clock import iso_jst
from broadcaster.geometry import cap_polygon
from broadcaster.models import Alert, Mode, MsgType
from broadcaster.rendering import EXERCISE_PREFIX
from broadcaster.settings import Settings

NS = "urn:oasis:names:tc:emergency:cap:1.2"
GEOCODE_MUNICIPALITY = "JIS X 0402"  # 全国地方公共団体コード with its check digit
GEOCODE_JMA = "JMA areaCode"  # 気象庁 市町村等 (気象・地震・火山情報)
# a correction and a lift are updates of the event; a lift's responseType AllClear says it is over
MSG_TYPES = {
    MsgType.ALERT: "Alert",
    MsgType.UPDATE: "Update",
    MsgType.CORRECTION: "Update",
    MsgType.LIFT: "Update",
    MsgType.CANCEL: "Cancel",
}
CATEGORIES = {"disaster": "Safety", "crime": "Security", "health": "Health", "elderly": "Health"}
GEO_KINDS = ("earthquake", "tsunami", "volcano")
LANGUAGES = {"ja": "ja-JP", "en": "en-US"}
UNSAFE = re.compile(r"[\s,<&]")  # CAP identifiers may hold no spaces, commas, < or &


def cap_time(timestamp: float) -> str:
    """A CAP dateTime: JST, to the second, with the +09:00 offset."""
    return iso_jst(timestamp)


def identifier(alert: Alert) -> str:
    """The CAP identifier of an alert version."""
    return UNSAFE.sub("-", alert.id)


def reference(alert: Alert, sender: str) -> str:
    """The extended identifier "sender,identifier,sent" of an earlier message."""
    return f"{sender},{identifier(alert)},{cap_time(alert.created_at)}"


def cap_category(alert: Alert) -> str:
    """Our category (and template kind) as a CAP category."""
    if alert.category == "disaster":
        if any(k in alert.kind for k in GEO_KINDS):
            return "Geo"
        if alert.source == "jma":
            return "Met"
    return CATEGORIES.get(alert.category, "Other")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def cap_alert(alert: Alert, settings: Settings, earlier: Sequence[Alert] = (), page_url: str = "") -> bytes:
    """The CAP 1.2 document of ``alert``; ``earlier`` are the versions an Update or Cancel refers to."""
    sender = settings.website.cap_sender
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    _sub(root, "identifier", identifier(alert))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.created_at))
    _sub(root, "status", "Exercise" if alert.mode == Mode.EXERCISE else "Actual")
    _sub(root, "msgType", MSG_TYPES[alert.msg_type])
    _sub(root, "scope", "Public")
    if alert.mode == Mode.EXERCISE:
        _sub(root, "note", "訓練です。実際の災害ではありません。")
    if alert.msg_type != MsgType.ALERT and earlier:
        _sub(root, "references", " ".join(reference(a, sender) for a in earlier))
    if alert.event_key:
        _sub(root, "incidents", UNSAFE.sub("-", alert.event_key))
    url = page_url or f"{settings.city.public_url.rstrip('/')}/alerts/{alert.id}"
    for lang in alert.languages:
        _info(root, alert, settings, lang, url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _info(root: etree._Element, alert: Alert, settings: Settings, lang: str, url: str) -> None:
    text = alert.text(lang)
    info = _sub(root, "info")
    _sub(info, "language", LANGUAGES.get(lang, lang))
    _sub(info, "category", cap_category(alert))
    category = settings.categories.get(alert.category)
    event = (category.name if lang == "ja" else category.name_en) if category else alert.category
    badge = tags.badge(alert, settings)  # 警戒レベル only where one belongs; 震度, 噴火警戒レベル …
    if lang == "ja" and badge:
        event = f"{event}（{badge}）"
    _sub(info, "event", event)
    if alert.msg_type == MsgType.LIFT:
        _sub(info, "responseType", "AllClear")
    urgency, severity, certainty = filled(alert, settings)  # never Unknown where the level says more
    _sub(info, "urgency", urgency.value)
    _sub(info, "severity", severity.value)
    _sub(info, "certainty", certainty.value)
    if alert.expires is not None:
        _sub(info, "expires", cap_time(alert.expires))
    _sub(info, "senderName", naming.sender_name(alert, settings, lang))
    # intake cleans every text; cleaning again keeps a row stored before it from showing &#13;
    headline = intake.clean_title(text.title).removeprefix(EXERCISE_PREFIX).lstrip()
    _sub(info, "headline", EXERCISE_PREFIX + headline if alert.mode == Mode.EXERCISE else headline)
    if text.body:
        _sub(info, "description", intake.clean_text(text.body))
    if text.instruction:
        _sub(info, "instruction", intake.clean_text(text.instruction))
    _sub(info, "web", url)
    _area(info, alert, settings, lang)


def _area(info: etree._Element, alert: Alert, settings: Settings, lang: str) -> None:
    area = _sub(info, "area")
    chosen = districts.chosen(alert.districts, settings)
    # in words; the codes are geocodes. The whole city: its areas (the city, or the city and the prefecture)
    if chosen:
        _sub(area, "areaDesc", districts.names(alert.districts, settings, lang))
    else:
        _sub(area, "areaDesc", naming.place_names(alert.areas, settings, lang))
    for district in chosen:
        for ring in district.rings:
            _sub(area, "polygon", cap_polygon(ring))
    for name, value in ((GEOCODE_MUNICIPALITY, settings.website.municipality_code), (GEOCODE_JMA, settings.areas.city)):
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", name)
        _sub(geocode, "value", value)
