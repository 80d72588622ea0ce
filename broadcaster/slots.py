"""Slot values written in a language: what a phrasebook pattern is filled with.

An alert keeps its slots as plain data (``Alert.slots``): a time as "15:30" or ISO 8601 in Japan time,
hazards as JMA's kind names, a river by its Japanese name, a 震度 as JMA codes it. Each is written here
in the language of the text being built, from that language's terms and names; the five slots every
pattern has (city, places, link, category, level, subject) come from the alert itself.

やさしい日本語 gets its names with furigana markup ({間々田地区|ままだちく}; broadcaster/furigana.py).
A value the language has no term for is kept as JMA or the officer wrote it: never dropped, never
guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from broadcaster import districts, names
from broadcaster.models import Alert
from broadcaster.phrasebook import EASY, Phrasebook
from broadcaster.settings import Settings

_LEVEL_PREFIX = re.compile(r"^レベル[1-5１-５]")
_CONDITION = re.compile(r"^(?P<name>[^（(]+)[（(](?P<condition>[^）)]+)[）)]$")
_NAME_TYPES = {"river", "shelter", "volcano", "region", "town"}


def moment(value: str) -> datetime | None:
    """ "15:30", "2026-12-07" or "2026-12-07T15:30" as a datetime (None when it is none of those)."""
    value = value.strip()
    for fmt in ("%H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _time(book: Phrasebook, lang: str, t: datetime) -> str:
    return book.word(lang, "time", hour=t.hour, minute=f"{t.minute:02d}")


def _date(book: Phrasebook, lang: str, d: date) -> str:
    month_name = book.books[lang].months[d.month - 1]
    return book.word(lang, "date", year=d.year, month=d.month, day=d.day, month_name=month_name)


def hazard(book: Phrasebook, lang: str, name: str) -> str:
    """A JMA kind or hazard word in ``lang``: レベル３大雨警報（浸水害） → "Heavy rain warning (inundation)"."""
    name = _LEVEL_PREFIX.sub("", name.strip())
    condition = ""
    if (m := _CONDITION.match(name)) and book.term(lang, "hazards", m["name"]) is not None:
        name, condition = m["name"], m["condition"]
    words = book.term(lang, "hazards", name) or name
    if condition:
        detail = book.term(lang, "conditions", condition) or condition
        words = book.word(lang, "qualified", name=words, detail=detail)
    return words


def _listed(book: Phrasebook, lang: str, items: list[str]) -> str:
    return book.word(lang, "list_joiner").join(items) if items else ""


def place(book: Phrasebook, lang: str, kind: str, ja: str) -> str:
    """A proper noun of ``kind`` in ``lang`` (with furigana in やさしい日本語)."""
    if lang == EASY:
        return names.ruby(book, kind, ja)
    return names.written(book, kind, ja, lang)


def value(book: Phrasebook, lang: str, kind: str, raw: object) -> str:
    """One slot value of type ``kind`` written in ``lang``."""
    if kind == "what":
        texts = raw if isinstance(raw, Mapping) else {}
        return str(texts.get(lang) or texts.get("ja") or "")
    if isinstance(raw, list | tuple):
        if kind in ("hazards", "hazard"):
            return _listed(book, lang, [hazard(book, lang, str(h)) for h in raw])
        return _listed(book, lang, [value(book, lang, kind, r) for r in raw])
    text = str(raw)
    if kind in ("time", "date", "datetime"):
        t = moment(text)
        if t is None:
            return text
        if kind == "time":
            return _time(book, lang, t)
        if kind == "date":
            return _date(book, lang, t.date())
        return book.word(lang, "datetime", date=_date(book, lang, t.date()), time=_time(book, lang, t))
    if kind in ("hazards", "hazard"):
        return hazard(book, lang, text)
    if kind in _NAME_TYPES:
        return place(book, lang, kind, text)
    if kind in ("intensity", "tsunami", "river_level", "volcano_level", "action"):
        found = book.term(lang, kind, text)
        return text if found is None else found
    return text  # number, magnitude, text: as written


def city(book: Phrasebook, settings: Settings, lang: str) -> str:
    """The city's name in ``lang``."""
    if lang == EASY:
        return names.ruby(book, "city", settings.city.name, settings.city.name_kana)
    return settings.city.name_in(lang)


def places(book: Phrasebook, settings: Settings, alert: Alert, lang: str) -> str:
    """The alert's districts in words (the city's name for the whole city)."""
    chosen = districts.chosen(alert.districts, settings)
    if not chosen:
        return city(book, settings, lang)
    if lang == EASY:
        return _listed(book, lang, [names.ruby(book, "district", d.name, d.reading) for d in chosen])
    return _listed(book, lang, [d.name_in(lang) for d in chosen])


def subject(book: Phrasebook, settings: Settings, alert: Alert, lang: str) -> str:
    """What the alert is, for a notice: 避難指示（警戒レベル４） for a disaster at level 4, else its category."""
    category = book.term(lang, "categories", alert.category) or alert.category
    evacuation = book.term(lang, "evacuation", str(alert.level)) if alert.category == "disaster" else None
    if evacuation:
        return book.word(lang, "subject_with_level", subject=evacuation, level=level(book, settings, alert, lang))
    return category


def level(book: Phrasebook, settings: Settings, alert: Alert, lang: str) -> str:
    """The alert's 警戒レベル in words, "" for an alert of a category without levels or at level 0."""
    cat = settings.categories.get(alert.category)
    if cat is None or not cat.levels or not 1 <= alert.level <= 5:
        return ""
    return book.word(lang, "badge_level", n=alert.level)


def written(book: Phrasebook, settings: Settings, alert: Alert, lang: str, pattern: str) -> dict[str, str]:
    """Every slot ``pattern`` may use, written in ``lang`` from ``alert`` and its slot values."""
    declared = book.patterns[pattern].slots
    out = {name: value(book, lang, kind, alert.slots[name]) for name, kind in declared.items() if name in alert.slots}
    out.update(
        city=city(book, settings, lang),
        places=places(book, settings, alert, lang),
        link=f"{settings.city.public_url.rstrip('/')}/alerts/{alert.id}",
        category=book.term(lang, "categories", alert.category) or alert.category,
        level=level(book, settings, alert, lang),
        subject=subject(book, settings, alert, lang),
    )
    return out
