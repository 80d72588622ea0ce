"""CAP's urgency, severity and certainty follow from the source, category, level and badge; msgType
and responseType follow the kind of message; every document stays valid against the OASIS schema.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from lxml import etree

from broadcaster import drafts
from broadcaster.cap_terms import terms
from broadcaster.models import Alert, Certainty, Mode, MsgType, Severity, Source, Urgency
from broadcaster.settings import Settings
from channels.website.cap import cap_alert
from tests.paths import CAP_XSD

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


def staff(settings: Settings, category: str = "disaster", level: int | None = 4) -> Alert:
    """An officer's live alert, as the console and the API build it."""
    data = {
        "category": category,
        "level": level,
        "title": "避難指示",
        "body": "直ちに避難してください。",
        "mode": "live",
    }
    return drafts.build(settings, drafts.parse(data), "sato", Source.STAFF)


def cap(alert: Alert, settings: Settings) -> etree._Element:
    """The alert's CAP document, validated against CAP-v1.2.xsd."""
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    doc = etree.fromstring(cap_alert(alert, settings, (dataclasses.replace(alert, id="earlier"),)))
    assert schema.validate(doc), schema.error_log
    return doc


def info_terms(doc: etree._Element) -> tuple[str, str, str]:
    """(urgency, severity, certainty) of the first <info>."""
    return tuple(str(doc.find(f"cap:info/cap:{t}", NS).text) for t in ("urgency", "severity", "certainty"))  # type: ignore[return-value,union-attr]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (5, ("Immediate", "Extreme", "Observed")),
        (4, ("Immediate", "Severe", "Likely")),  # an evacuation order is never Unknown/Unknown/Unknown
        (3, ("Expected", "Severe", "Likely")),
        (2, ("Future", "Moderate", "Possible")),
        (1, ("Future", "Minor", "Possible")),
    ],
)
def test_a_staff_alert_gets_the_terms_of_its_level(settings: Settings, level: int, expected: tuple[str, ...]) -> None:
    alert = staff(settings, level=level)
    assert (alert.urgency.value, alert.severity.value, alert.certainty.value) == expected
    assert info_terms(cap(alert, settings)) == expected


@pytest.mark.parametrize("category", ["crime", "health", "general"])
def test_daily_life_needs_no_level_and_is_minor(settings: Settings, category: str) -> None:
    alert = staff(settings, category, level=None)
    assert alert.level == 0
    assert info_terms(cap(alert, settings)) == ("Expected", "Minor", "Likely")
    assert "警戒レベル" not in etree.tostring(cap(alert, settings), encoding="unicode")


@pytest.mark.parametrize(
    ("badge", "expected"),
    [
        ("震度７", (Urgency.IMMEDIATE, Severity.EXTREME, Certainty.OBSERVED)),
        ("震度６強", (Urgency.IMMEDIATE, Severity.EXTREME, Certainty.OBSERVED)),
        ("震度５強", (Urgency.IMMEDIATE, Severity.SEVERE, Certainty.OBSERVED)),
        ("震度５弱", (Urgency.IMMEDIATE, Severity.MODERATE, Certainty.OBSERVED)),
        ("震度５弱以上", (Urgency.IMMEDIATE, Severity.MODERATE, Certainty.LIKELY)),
        ("震度４", (Urgency.PAST, Severity.MINOR, Certainty.OBSERVED)),
        ("噴火警戒レベル３（那須岳）", (Urgency.EXPECTED, Severity.MODERATE, Certainty.LIKELY)),
        ("噴火警戒レベル５（那須岳）", (Urgency.IMMEDIATE, Severity.EXTREME, Certainty.LIKELY)),
    ],
)
def test_earthquakes_by_intensity_and_volcanoes_by_their_level(
    settings: Settings, badge: str, expected: tuple[str, ...]
) -> None:
    quake = dataclasses.replace(staff(settings), source=Source.JMA, kind="earthquake", level=0, badge=badge)
    assert terms(quake, settings) == expected


def test_a_stored_alert_left_unknown_is_filled_from_its_level(settings: Settings) -> None:
    old = dataclasses.replace(
        staff(settings), urgency=Urgency.UNKNOWN, severity=Severity.UNKNOWN, certainty=Certainty.UNKNOWN
    )
    assert info_terms(cap(old, settings)) == ("Immediate", "Severe", "Likely")
    kept = dataclasses.replace(old, severity=Severity.EXTREME)  # a term the source gave is kept
    assert info_terms(cap(kept, settings))[1] == "Extreme"


@pytest.mark.parametrize(
    ("msg_type", "cap_type", "response"),
    [
        (MsgType.ALERT, "Alert", []),
        (MsgType.UPDATE, "Update", []),
        (MsgType.CORRECTION, "Update", []),
        (MsgType.LIFT, "Update", ["AllClear"]),
        (MsgType.CANCEL, "Cancel", []),
    ],
)
def test_each_kind_of_message_has_its_cap_type(
    settings: Settings, msg_type: MsgType, cap_type: str, response: list[str]
) -> None:
    alert = dataclasses.replace(staff(settings), msg_type=msg_type, version=2, created_at=time.time())
    doc = cap(alert, settings)
    assert doc.findtext("cap:msgType", namespaces=NS) == cap_type
    assert [e.text for e in doc.findall("cap:info/cap:responseType", NS)][:1] == response
    if msg_type == MsgType.LIFT:
        assert info_terms(doc) == ("Past", "Minor", "Observed")


def test_an_exercise_keeps_its_status_and_the_terms_of_the_real_thing(settings: Settings) -> None:
    alert = dataclasses.replace(staff(settings), mode=Mode.EXERCISE)
    doc = cap(alert, settings)
    assert doc.findtext("cap:status", namespaces=NS) == "Exercise"
    assert info_terms(doc) == ("Immediate", "Severe", "Likely")
