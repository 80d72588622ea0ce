"""Public pages and feeds name places in words and always say who an alert is from: no JMA area code
(``0920800``, ``090000``) where a name belongs, and a 発信者 / senderName that is never empty.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest
from lxml import etree

from broadcaster import drafts
from broadcaster.errors import InputError
from broadcaster.models import Alert, Published, Source
from broadcaster.on_air import build_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from channels.website.pages import render_site
from tests.paths import CAP_XSD

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
# six or seven digits standing alone: a JMA area code (or a municipality code); not a colour (#000000)
AREA_CODE = re.compile(r"(?<![\d#])\d{6,7}(?!\d)")
# a link is no place name: a notice's link holds the id the alert was built with (a time)
LINK = re.compile(r"https?://\S+")


def alerts(settings: Settings) -> list[Alert]:
    """A staff alert for the city and its forecast area, a daily-life notice, and one from JMA."""
    a = settings.areas
    english = {"en": {"title": "Evacuation order", "body": "Leave now."}}
    base = {"title": "避難指示", "body": "直ちに避難してください。", "mode": "live", "translations": english}
    city_and_area = {"category": "disaster", "level": 4, "areas": [a.city, a.forecast_area]} | base
    notice = {"category": "crime", "title": "不審者情報", "body": "駅前で目撃されました。", "mode": "live"}
    staff = drafts.build(settings, drafts.parse(city_and_area), "sato", Source.STAFF)
    crime = drafts.build(settings, drafts.parse(notice), "sato", Source.STAFF)
    jma = dataclasses.replace(staff, id="jma-20261207-abcdef", source=Source.JMA, event_key="jma", areas=(a.city,))
    # ids without a time in them: the test looks for any six or seven digits
    return [
        dataclasses.replace(staff, id="staff-a", event_key="a"),
        dataclasses.replace(crime, id="staff-b", event_key="b"),
        jma,
    ]


def site(settings: Settings) -> dict[str, str]:
    """Every page and feed of the public site, by path."""
    now = time.time()
    snap = build_snapshot([Published(a, now - i) for i, a in enumerate(alerts(settings))], settings, now)
    return {p: page.decode() for p, page in render_site(snap, settings, Renderer(settings)).items()}


def without_geocodes(cap: str) -> str:
    """A CAP document without its <geocode>s, the one place where codes belong."""
    doc = etree.fromstring(cap.encode())
    for geocode in doc.findall(".//cap:geocode", NS):
        geocode.getparent().remove(geocode)
    return etree.tostring(doc, encoding="unicode")


def test_no_public_page_or_feed_shows_an_area_code(settings: Settings) -> None:
    pages = site(settings)
    assert {"index.html", "alerts.atom", "alerts.json", "cap.atom", "cap/staff-a.xml"} <= set(pages)
    shown = {p: LINK.sub("", without_geocodes(text) if p.startswith("cap/") else text) for p, text in pages.items()}
    assert {p: AREA_CODE.findall(text) for p, text in shown.items() if AREA_CODE.search(text)} == {}
    assert settings.areas.city in pages["cap/staff-a.xml"]  # as a geocode, where CAP asks for one


def test_places_are_named_in_words(settings: Settings) -> None:
    pages = site(settings)
    assert "小山市、栃木県" in pages["alerts/staff-a/index.html"]
    assert "Oyama City, Tochigi Prefecture" in pages["en/alerts/staff-a/index.html"]
    assert "小山市、栃木県" in pages["ja-x-easy/alerts/staff-a/index.html"]  # やさしい日本語 names places in Japanese
    info = etree.fromstring(pages["cap/staff-a.xml"].encode()).findall("cap:info", NS)
    described = {
        i.findtext("cap:language", namespaces=NS): i.findtext("cap:area/cap:areaDesc", namespaces=NS) for i in info
    }
    assert described["ja-JP"] == described["ja-JP-x-easy"] == "小山市、栃木県"
    assert described["en-US"] == "Oyama City, Tochigi Prefecture"
    assert len(described) == len(settings.city.languages)  # every language, each in its own words
    record = next(r for r in json.loads(pages["alerts.json"])["recent"] if r["id"] == "staff-a")
    assert record["areas"] == ["小山市", "栃木県"]


@pytest.mark.parametrize(
    ("alert_id", "ja", "en"),
    [("staff-a", "小山市", "Oyama City"), ("jma-20261207-abcdef", "気象庁", "Japan Meteorological Agency")],
)
def test_who_an_alert_is_from_is_never_empty(settings: Settings, alert_id: str, ja: str, en: str) -> None:
    pages = site(settings)
    assert f'<p class="sender">発信者: {ja}</p>' in pages[f"alerts/{alert_id}/index.html"]
    assert f'<p class="sender">From: {en}</p>' in pages[f"en/alerts/{alert_id}/index.html"]
    doc = etree.fromstring(pages[f"cap/{alert_id}.xml"].encode())
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    assert schema.validate(doc), schema.error_log
    assert doc.findtext("cap:sender", namespaces=NS) == settings.website.cap_sender
    senders = [e.text for e in doc.findall("cap:info/cap:senderName", NS)]
    assert senders[:3] == [ja, ja, en]  # ja, やさしい日本語, en: the city's order of languages
    assert all(senders) and len(senders) == len(settings.city.languages)
    atom = etree.fromstring(pages["alerts.atom"].encode())
    entry = next(e for e in atom.iter("{*}entry") if e.findtext("{*}id", "").endswith(alert_id))
    assert entry.findtext("{*}author/{*}name") == ja


def test_a_draft_names_only_the_configured_areas(settings: Settings) -> None:
    data = {"category": "disaster", "level": 3, "title": "t", "body": "b", "areas": ["0920900"]}
    with pytest.raises(InputError, match=r"^areas: .*0920800 \(小山市\), 090000 \(栃木県\)$"):
        drafts.build(settings, drafts.parse(data), "sato", Source.STAFF)
