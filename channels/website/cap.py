"""CAP 1.2 out: one alert as an OASIS CAP 1.2 document, valid against CAP-v1.2.xsd.

Times are JST to the second with an explicit offset (``2026-11-26T14:28:16+09:00``): the schema refuses
fractions of a second and ``Z``. ``sent`` is the alert's creation time, so the document of a version is
the same whenever it is rendered, and an Update or Cancel can name its originals in ``references``.

One <info> per language the alert has words in, Japanese first and then in the city's order of
languages (``[city] languages``), each with its <language> from the phrasebook (``Language.cap``:
ja-JP, ja-JP-x-easy, en-US, pt-BR …) and its own event, headline, description, instruction, senderName,
areaDesc and web page in that language. やさしい日本語's furigana are written as 漢字（かんじ）: CAP is
plain text. A translation in a language the phrasebook does not know has no CAP language tag and is
left out.

Each <info> has one <area>: ``areaDesc`` in words (the alert's districts, or its areas for the whole
city), a <polygon> per outline ring of each district that has one, then the geocodes (the schema's
order: areaDesc, polygon*, circle*, geocode*). A district without an outline is named only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from broadcaster import districts, furigana, intake, naming, tags
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
    base = settings.city.public_url.rstrip("/")
    for lang in languages(alert, settings):
        url = (page_url or f"{base}/alerts/{alert.id}") if lang == "ja" else f"{base}/{lang}/alerts/{alert.id}"
        _info(root, alert, settings, lang, url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def languages(alert: Alert, settings: Settings) -> list[str]:
    """The languages of the alert's <info>s: Japanese, then the city's order, then any other the phrasebook knows."""
    known = settings.phrasebook.languages
    order = {lang: i for i, lang in enumerate(settings.city.languages)}
    others = [lang for lang in alert.languages if lang != "ja" and lang in known]
    return ["ja", *sorted(others, key=lambda lang: (order.get(lang, len(order)), lang))]


def _naming(lang: str, settings: Settings) -> str:
    # やさしい日本語 names places and senders as Japanese does
    return "ja" if settings.phrasebook.languages[lang].japanese else lang


def _info(root: etree._Element, alert: Alert, settings: Settings, lang: str, url: str) -> None:
    text = alert.text(lang)
    book = settings.phrasebook
    info = _sub(root, "info")
    _sub(info, "language", book.languages[lang].cap)
    _sub(info, "category", cap_category(alert))
    category = settings.categories.get(alert.category)
    if lang == "ja":
        event = category.name if category else alert.category
    else:
        named = category.name_en if category else alert.category
        event = furigana.plain(book.term(lang, "categories", alert.category) or named)
    badge = tags.badge(alert, settings, lang)  # 警戒レベル only where one belongs; 震度, 噴火警戒レベル …
    if badge:
        event = book.word(lang, "qualified", name=event, detail=badge)
    _sub(info, "event", event)
    if alert.msg_type == MsgType.LIFT:
        _sub(info, "responseType", "AllClear")
    urgency, severity, certainty = filled(alert, settings)  # never Unknown where the level says more
    _sub(info, "urgency", urgency.value)
    _sub(info, "severity", severity.value)
    _sub(info, "certainty", certainty.value)
    if alert.expires is not None:
        _sub(info, "expires", cap_time(alert.expires))
    _sub(info, "senderName", naming.sender_name(alert, settings, _naming(lang, settings)))
    # intake cleans every text; cleaning again keeps a row stored before it from showing &#13;
    mark = tags.exercise_tag(lang, settings)
    headline = furigana.plain(intake.clean_title(text.title))
    headline = headline.removeprefix(EXERCISE_PREFIX).removeprefix(mark.strip()).lstrip()
    _sub(info, "headline", mark + headline if alert.mode == Mode.EXERCISE else headline)
    if text.body:
        _sub(info, "description", furigana.plain(intake.clean_text(text.body)))
    if text.instruction:
        _sub(info, "instruction", furigana.plain(intake.clean_text(text.instruction)))
    _sub(info, "web", url)
    _area(info, alert, settings, lang)


def _area(info: etree._Element, alert: Alert, settings: Settings, lang: str) -> None:
    area = _sub(info, "area")
    chosen = districts.chosen(alert.districts, settings)
    # in words; the codes are geocodes. The whole city: its areas (the city, or the city and the prefecture)
    if chosen:
        _sub(area, "areaDesc", furigana.plain(districts.names(alert.districts, settings, lang)))
    else:
        _sub(area, "areaDesc", naming.place_names(alert.areas, settings, _naming(lang, settings)))
    for district in chosen:
        for ring in district.rings:
            _sub(area, "polygon", cap_polygon(ring))
    for name, value in ((GEOCODE_MUNICIPALITY, settings.website.municipality_code), (GEOCODE_JMA, settings.areas.city)):
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", name)
        _sub(geocode, "value", value)
