"""The website's feeds: /alerts.atom, /alerts.json, /cap.atom and /cap/<id>.xml, from one Snapshot.

Each carried alert version is one feed entry (an update or a cancel is news of its own), newest first.
Links are absolute, from ``[city] public_url``, so the feeds read the same served or exported.

A feed for one district (``?district=id``) carries the alerts that name it and every alert for the
whole city: an alert for the whole city concerns every district.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from broadcaster import districts, furigana, intake, naming, tags
from broadcaster.models import Alert, AlertId, Mode, Published
from broadcaster.on_air import STATUS_NAMES, Event, Snapshot, headline
from broadcaster.settings import District, Settings
from channels.website.cap import cap_alert, cap_time

ATOM = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
FEED_ENTRIES = 100


def base_url(settings: Settings) -> str:
    """The public site's root, without a trailing slash."""
    return settings.city.public_url.rstrip("/")


def alert_url(settings: Settings, alert_id: AlertId) -> str:
    """The public page of one alert (the same URL the other channels' messages link to)."""
    return f"{base_url(settings)}/alerts/{alert_id}"


def cap_url(settings: Settings, alert_id: AlertId) -> str:
    """The CAP document of one alert."""
    return f"{base_url(settings)}/cap/{alert_id}.xml"


def whole_city(alert: Alert, settings: Settings) -> bool:
    """True when the alert names no configured district: it is for the whole city."""
    return settings.district_ids.isdisjoint(alert.districts)


def concerns(alert: Alert, district: District | None, settings: Settings) -> bool:
    """True when the alert is for ``district`` or for the whole city; every alert when no district is asked for."""
    return district is None or district.id in alert.districts or whole_city(alert, settings)


def event_concerns(event: Event, district: District | None, settings: Settings) -> bool:
    """True when any carried version of the event concerns ``district`` (a correction may change the districts)."""
    return any(concerns(p.alert, district, settings) for p in event.versions)


def current_in(snap: Snapshot, district: District | None, settings: Settings) -> list[Event]:
    """The current events whose latest version concerns ``district``, in page order."""
    return [e for e in snap.current if concerns(e.latest.alert, district, settings)]


def entries_in(snap: Snapshot, district: District | None, settings: Settings) -> list[Published]:
    """The carried versions that concern ``district``, latest sent first, at most FEED_ENTRIES."""
    return [p for p in snap.entries() if concerns(p.alert, district, settings)][:FEED_ENTRIES]


def feed_path(name: str, district: District | None) -> str:
    """A feed's path from the site root, with its district query when filtered."""
    return f"{name}?district={district.id}" if district is not None else name


def cap_document(snap: Snapshot, settings: Settings, alert_id: AlertId) -> bytes | None:
    """The CAP 1.2 document of a carried alert, or None when the site does not show it."""
    if alert_id not in snap.by_id:
        return None
    alert = snap.by_id[alert_id][0].alert
    return cap_alert(alert, settings, snap.earlier(alert), alert_url(settings, alert.id))


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _feed(
    snap: Snapshot, settings: Settings, path: str, title: str, entries: list[Published], district: District | None
) -> etree._Element:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "ja")
    where = f"{settings.city.name} {district.name}" if district is not None else settings.city.name
    _el(feed, "id", f"{base_url(settings)}/{feed_path(path, district)}")
    _el(feed, "title", f"{where} {title}")
    _el(feed, "updated", cap_time(entries[0].sent_at if entries else snap.now))
    _el(feed, "link", rel="self", href=f"{base_url(settings)}/{feed_path(path, district)}")
    page = f"districts/{district.id}" if district is not None else ""
    _el(feed, "link", rel="alternate", type="text/html", href=f"{base_url(settings)}/{page}")
    author = _el(feed, "author")
    _el(author, "name", settings.city.name)
    return feed


def _entry(feed: etree._Element, snap: Snapshot, settings: Settings, p: Published) -> etree._Element:
    alert = p.alert
    entry = _el(feed, "entry")
    _el(entry, "id", alert_url(settings, alert.id))
    _el(entry, "title", intake.clean_title(headline(alert, settings)))  # one line, whenever it was stored
    _el(entry, "updated", cap_time(p.sent_at))
    _el(entry, "published", cap_time(p.sent_at))
    category = settings.categories.get(alert.category)
    _el(entry, "category", term=alert.category, label=category.name if category else alert.category)
    for d in districts.chosen(alert.districts, settings):  # the districts in words
        _el(entry, "category", term=f"district:{d.id}", label=d.name)
    if settings.districts and whole_city(alert, settings):
        _el(entry, "category", term="district:*", label=districts.WHOLE_CITY_JA)
    author = _el(entry, "author")
    _el(author, "name", naming.sender_name(alert, settings))  # 気象庁 for JMA's, else the city
    # intake cleans every text; cleaning again keeps a row stored before it from showing &#13;
    summary = "\n\n".join(intake.clean_text(part) for part in (alert.body, alert.instruction) if part)
    _el(entry, "summary", summary)
    return entry


def alerts_atom(snap: Snapshot, settings: Settings, district: District | None = None) -> bytes:
    """Atom 1.0: every carried alert version (for ``district`` and the whole city, if given), linking to its page."""
    entries = entries_in(snap, district, settings)
    feed = _feed(snap, settings, "alerts.atom", "緊急情報・お知らせ", entries, district)
    for p in entries:
        entry = _entry(feed, snap, settings, p)
        _el(entry, "link", rel="alternate", type="text/html", href=alert_url(settings, p.alert.id))
        _el(entry, "link", rel="related", type=CAP_TYPE, href=cap_url(settings, p.alert.id))
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def cap_atom(snap: Snapshot, settings: Settings, district: District | None = None) -> bytes:
    """The CAP index feed: one entry per CAP document, as alert hubs and aggregators read them."""
    entries = entries_in(snap, district, settings)
    feed = _feed(snap, settings, "cap.atom", "CAP 1.2", entries, district)
    for p in entries:
        entry = _entry(feed, snap, settings, p)
        _el(entry, "link", rel="alternate", type=CAP_TYPE, href=cap_url(settings, p.alert.id))
        _el(entry, "link", rel="related", type="text/html", href=alert_url(settings, p.alert.id))
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def alert_record(snap: Snapshot, settings: Settings, p: Published) -> dict[str, Any]:
    """One alert as the JSON feed shows it."""
    alert: Alert = p.alert
    category = settings.categories.get(alert.category)
    status = snap.status(alert.id)
    return {
        "id": alert.id,
        "url": alert_url(settings, alert.id),
        "cap": cap_url(settings, alert.id),
        "status": status.value,
        "status_name": STATUS_NAMES[status],
        "exercise": alert.mode == Mode.EXERCISE,
        "msg_type": alert.msg_type.value,
        "event_key": alert.event_key,
        "version": alert.version,
        "references": alert.references,
        "category": alert.category,
        "category_name": category.name if category else alert.category,
        "level": alert.level,
        "level_name": tags.badge(alert, settings),  # the badge's words; "" for none
        "severity": alert.severity.value,
        "urgency": alert.urgency.value,
        "certainty": alert.certainty.value,
        "headline": headline(alert, settings),
        "title": alert.title,
        "body": alert.body,
        "instruction": alert.instruction,
        "areas": [naming.place_name(code, settings) for code in alert.areas],  # in words, never codes
        # ids for programs, names for people; [] and whole_city: every district
        "districts": [{"id": d.id, "name": d.name} for d in districts.chosen(alert.districts, settings)],
        "whole_city": whole_city(alert, settings),
        "places": districts.names(alert.districts, settings),
        "sender": naming.sender_name(alert, settings),
        "sent": cap_time(p.sent_at),
        "expires": cap_time(alert.expires) if alert.expires is not None else None,
        # furigana written as 漢字（かんじ）: a program may show these words as they are
        "translations": {
            lang: {
                "title": furigana.plain(t.title),
                "body": furigana.plain(t.body),
                "instruction": furigana.plain(t.instruction),
                "source": t.source,
            }
            for lang, t in sorted(alert.translations.items())
        },
    }


def alerts_json(snap: Snapshot, settings: Settings, district: District | None = None) -> bytes:
    """JSON: the current alerts in page order, and every carried version of the history window.

    For a ``district``: the alerts for it and for the whole city, and the district itself.
    """
    data: dict[str, Any] = {"city": settings.city.name}
    if district is not None:
        data["district"] = {"id": district.id, "name": district.name}
    data |= {
        "generated": cap_time(snap.now),
        "current": [alert_record(snap, settings, e.latest) for e in current_in(snap, district, settings)],
        "recent": [alert_record(snap, settings, p) for p in entries_in(snap, district, settings)],
    }
    # compact: json's C encoder, where indent takes the pure-Python one (ten languages per alert add up)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
