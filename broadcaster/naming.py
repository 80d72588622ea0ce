"""Places and senders in words: what residents read where the data holds a code or a source.

An alert's areas are JMA area codes (``0920800``), which no resident can read. Every public page,
feed and CAP ``areaDesc`` names them with these functions instead: the city's code is the city's
name, the 府県予報区's is its configured name. ``drafts`` accepts no other code, so an unnamed code
can come only from a row stored before that rule; it is named as the city, whose alert it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcaster.models import Alert, Source
from broadcaster.settings import Settings

# Who issued an alert that the city passes on; the city itself for every other source.
ISSUERS = {Source.JMA: ("気象庁", "Japan Meteorological Agency")}


def areas(settings: Settings) -> dict[str, tuple[str, str]]:
    """The codes an alert may name, each with its name in Japanese and in other languages."""
    a, city = settings.areas, settings.city
    return {a.city: (city.name, city.name_en), a.forecast_area: (a.forecast_area_name, a.forecast_area_name_en)}


def place_name(code: str, settings: Settings, lang: str = "ja") -> str:
    """One area in words; text that is no code is taken to be words already."""
    if not code.isdigit():
        return code
    if code == settings.areas.city or code not in areas(settings):
        return settings.city.name_in(lang)  # "Cidade de Oyama" in Portuguese, not the English name
    ja, other = areas(settings)[code]
    return ja if lang.startswith("ja") else other


def place_names(codes: Iterable[str], settings: Settings, lang: str = "ja") -> str:
    """Areas in words, joined as the language joins a list; no areas means the whole city."""
    names = list(dict.fromkeys(place_name(c, settings, lang) for c in codes)) or [settings.city.name_in(lang)]
    return settings.phrasebook.word(lang, "list_joiner").join(names)


def sender_name(alert: Alert, settings: Settings, lang: str = "ja") -> str:
    """Who the alert is from (発信者): 気象庁 for JMA's, the city for everything else; never empty."""
    if alert.source in ISSUERS:
        ja, other = ISSUERS[alert.source]
        return ja if lang.startswith("ja") else other
    return settings.city.name_in(lang)
