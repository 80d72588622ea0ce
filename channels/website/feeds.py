"""The website's feeds: /alerts.atom, /alerts.json, /cap.atom and /cap/<id>.xml, from one Snapshot.

Each carried alert version is one feed entry (an update or a cancel is news of its own), newest first.
Links are absolute, from ``[city] public_url``, so the feeds read the same served or exported.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from broadcaster import intake, naming, tags
from broadcaster.models import Alert, AlertId, Mode, Published
from broadcaster.on_air import STATUS_NAMES, Snapshot, headline
from broadcaster.settings import Settings
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


def _feed(snap: Snapshot, settings: Settings, path: str, title: str) -> etree._Element:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "ja")
    entries = snap.entries()
    _el(feed, "id", f"{base_url(settings)}/{path}")
    _el(feed, "title", f"{settings.city.name} {title}")
    _el(feed, "updated", cap_time(entries[0].sent_at if entries else snap.now))
    _el(feed, "link", rel="self", href=f"{base_url(settings)}/{path}")
    _el(feed, "link", rel="alternate", type="text/html", href=f"{base_url(settings)}/")
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
    author = _el(entry, "author")
    _el(author, "name", naming.sender_name(alert, settings))  # 気象庁 for JMA's, else the city
    # intake cleans every text; cleaning again keeps a row stored before it from showing &#13;
    summary = "\n\n".join(intake.clean_text(part) for part in (alert.body, alert.instruction) if part)
    _el(entry, "summary", summary)
    return entry


def alerts_atom(snap: Snapshot, settings: Settings) -> bytes:
    """Atom 1.0: every carried alert version, linking to its page."""
    feed = _feed(snap, settings, "alerts.atom", "緊急情報・お知らせ")
    for p in snap.entries()[:FEED_ENTRIES]:
        entry = _entry(feed, snap, settings, p)
        _el(entry, "link", rel="alternate", type="text/html", href=alert_url(settings, p.alert.id))
        _el(entry, "link", rel="related", type=CAP_TYPE, href=cap_url(settings, p.alert.id))
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def cap_atom(snap: Snapshot, settings: Settings) -> bytes:
    """The CAP index feed: one entry per CAP document, as alert hubs and aggregators read them."""
    feed = _feed(snap, settings, "cap.atom", "CAP 1.2")
    for p in snap.entries()[:FEED_ENTRIES]:
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
        "sender": naming.sender_name(alert, settings),
        "sent": cap_time(p.sent_at),
        "expires": cap_time(alert.expires) if alert.expires is not None else None,
        "translations": {
            lang: {"title": t.title, "body": t.body, "instruction": t.instruction}
            for lang, t in sorted(alert.translations.items())
        },
    }


def alerts_json(snap: Snapshot, settings: Settings) -> bytes:
    """JSON: the current alerts in page order, and every carried version of the history window."""
    data = {
        "city": settings.city.name,
        "generated": cap_time(snap.now),
        "current": [alert_record(snap, settings, e.latest) for e in snap.current],
        "recent": [alert_record(snap, settings, p) for p in snap.entries()[:FEED_ENTRIES]],
    }
    return json.dumps(data, ensure_ascii=False, indent=1).encode()
