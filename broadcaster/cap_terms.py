"""CAP's urgency, severity and certainty of an alert, from its source, category, level and badge.

The table below is the mapping; the dicts under it are the same table as code. ``drafts.build`` and the
JMA ingest set an alert's terms with ``assess``, and the CAP document fills with ``filled`` any term a
stored alert left Unknown. Unknown is given only where nothing can honestly be said: a hazard
category's alert with neither a level nor a badge. A cancel keeps the terms of what it cancels.

| what                         | urgency   | severity | certainty | why                                        |
|------------------------------|-----------|----------|-----------|--------------------------------------------|
| 警戒レベル5 緊急安全確保     | Immediate | Extreme  | Observed  | the disaster is happening or imminent      |
| 警戒レベル4 避難指示         | Immediate | Severe   | Likely    | leave now                                  |
| 警戒レベル3 高齢者等避難     | Expected  | Severe   | Likely    | prepare now, those who need time leave     |
| 警戒レベル2 注意報           | Future    | Moderate | Possible  | check how to evacuate                      |
| 警戒レベル1 早期注意情報     | Future    | Minor    | Possible  | be ready                                   |
| 震度7, 6強 (observed)        | Immediate | Extreme  | Observed  | collapse, fire, aftershocks                |
| 震度6弱, 5強                 | Immediate | Severe   | Observed  |                                            |
| 震度5弱                      | Immediate | Moderate | Observed  |                                            |
| 震度5弱以上 (not yet in)     | Immediate | Moderate | Likely    | estimated from nearby stations             |
| 震度4 and below              | Past      | Minor    | Observed  | felt; no action needed                     |
| an earthquake without 震度   | Unknown   | Unknown  | Observed  | it happened; how hard is not said          |
| 噴火警戒レベル5, 4           | Immediate | Extreme / Severe | Likely | 避難, 高齢者等避難                  |
| 噴火警戒レベル3, 2, 1        | Expected / Future | Moderate / Minor | Likely / Possible | 入山規制 …    |
| 解除 (a lift)                | Past      | Minor    | Observed  | the danger is over: CAP's AllClear         |
| a category without levels    | Expected  | Minor    | Likely    | crime, health, daily life                  |
| a hazard without level/badge | Unknown   | Unknown  | Unknown   | nothing to go by                           |

An exercise has the terms of the real thing; CAP's status Exercise is what marks it.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import NamedTuple

from broadcaster.models import Alert, Certainty, MsgType, Severity, Urgency
from broadcaster.settings import Settings

NOW, SOON, LATER, OVER = Urgency.IMMEDIATE, Urgency.EXPECTED, Urgency.FUTURE, Urgency.PAST
EXTREME, SEVERE, MODERATE, MINOR = Severity.EXTREME, Severity.SEVERE, Severity.MODERATE, Severity.MINOR
SEEN, LIKELY, POSSIBLE = Certainty.OBSERVED, Certainty.LIKELY, Certainty.POSSIBLE


class Terms(NamedTuple):
    """CAP's three terms of one alert."""

    urgency: Urgency
    severity: Severity
    certainty: Certainty


UNKNOWN = Terms(Urgency.UNKNOWN, Severity.UNKNOWN, Certainty.UNKNOWN)
LEVELS = {
    5: Terms(NOW, EXTREME, SEEN),
    4: Terms(NOW, SEVERE, LIKELY),
    3: Terms(SOON, SEVERE, LIKELY),
    2: Terms(LATER, MODERATE, POSSIBLE),
    1: Terms(LATER, MINOR, POSSIBLE),
}
INTENSITIES = {
    **dict.fromkeys(("7", "6強"), Terms(NOW, EXTREME, SEEN)),
    **dict.fromkeys(("6弱", "5強"), Terms(NOW, SEVERE, SEEN)),
    "5弱": Terms(NOW, MODERATE, SEEN),
    "5弱以上": Terms(NOW, MODERATE, LIKELY),  # JMA's "震度５弱以上未入電": estimated, not yet observed
    **dict.fromkeys(("4", "3", "2", "1"), Terms(OVER, MINOR, SEEN)),
}
QUAKE_UNMEASURED = Terms(Urgency.UNKNOWN, Severity.UNKNOWN, SEEN)
VOLCANO_LEVELS = {
    5: Terms(NOW, EXTREME, LIKELY),
    4: Terms(NOW, SEVERE, LIKELY),
    3: Terms(SOON, MODERATE, LIKELY),
    2: Terms(LATER, MINOR, LIKELY),
    1: Terms(LATER, MINOR, POSSIBLE),
}
LIFTED = Terms(OVER, MINOR, SEEN)
DAILY_LIFE = Terms(SOON, MINOR, LIKELY)

INTENSITY_BADGE = re.compile(r"震度(\d[弱強]?(?:以上)?)")
VOLCANO_BADGE = re.compile(r"噴火警戒レベル(\d)")


def terms(alert: Alert, settings: Settings) -> Terms:
    """What the alert's source, category, level and badge say about urgency, severity and certainty."""
    if alert.msg_type == MsgType.LIFT:
        return LIFTED
    badge = unicodedata.normalize("NFKC", alert.badge)
    if found := INTENSITY_BADGE.search(badge):
        return INTENSITIES.get(found.group(1), UNKNOWN)
    if found := VOLCANO_BADGE.search(badge):
        return VOLCANO_LEVELS.get(int(found.group(1)), UNKNOWN)
    if alert.kind == "earthquake":
        return QUAKE_UNMEASURED
    category = settings.categories.get(alert.category)
    if category is not None and not category.levels:
        return DAILY_LIFE
    return LEVELS.get(alert.level, UNKNOWN)


def assess(alert: Alert, settings: Settings) -> Alert:
    """The alert with the terms its source, level and badge give it."""
    urgency, severity, certainty = terms(alert, settings)
    return dataclasses.replace(alert, urgency=urgency, severity=severity, certainty=certainty)


def filled(alert: Alert, settings: Settings) -> Terms:
    """The alert's own terms, each Unknown one (a row stored before terms were assessed) from ``terms``.

    A lift is always ``LIFTED``: it is made from the alert it lifts and may carry that alert's terms.
    """
    derived = terms(alert, settings)
    if alert.msg_type == MsgType.LIFT:
        return derived
    return Terms(
        alert.urgency if alert.urgency != Urgency.UNKNOWN else derived.urgency,
        alert.severity if alert.severity != Severity.UNKNOWN else derived.severity,
        alert.certainty if alert.certainty != Certainty.UNKNOWN else derived.certainty,
    )
