"""The city's 地区 in words, and which district a 町, an address or a postal code is in.

An alert's districts and a subscriber's are ids (``mamada``); no resident reads an id. Every channel
names them with ``names``; a channel short of room says ``short`` (市内3地区) and links to the page
that lists them. An empty set means the whole city, in both places.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from broadcaster import furigana, towns
from broadcaster import names as names_
from broadcaster.errors import InputError
from broadcaster.phrasebook import EASY
from broadcaster.settings import District, Settings

WHOLE_CITY_JA = "市内全域"


def whole_city(settings: Settings, lang: str = "ja") -> str:
    """「市内全域」, "the whole city" …: a resident's choice of every district, in ``lang``."""
    return settings.phrasebook.word(lang, "whole_city")


def ordered(ids: Iterable[str], settings: Settings) -> tuple[str, ...]:
    """Known ids, each once, in config order (the order every list of districts is shown in)."""
    wanted = set(ids)
    return tuple(d.id for d in settings.districts if d.id in wanted)


def check_ids(ids: Iterable[str], settings: Settings, field: str = "districts") -> tuple[str, ...]:
    """The ids in config order; InputError (code ``unknown_district``) naming the unknown ones and the valid ids."""
    ids = tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))
    unknown = [i for i in ids if settings.district(i) is None]
    if unknown:
        valid = ", ".join(d.id for d in settings.districts) or "(none configured)"
        raise InputError(
            f"unknown district {', '.join(unknown)}; valid: {valid}",
            code="unknown_district",
            field=field,
            districts=unknown,
            valid=valid,
        )
    return ordered(ids, settings)


def chosen(ids: Iterable[str], settings: Settings) -> list[District]:
    """The configured districts of these ids, in config order; unknown ids are passed over."""
    wanted = set(ids)
    return [d for d in settings.districts if d.id in wanted]


def names(ids: Iterable[str], settings: Settings, lang: str = "ja") -> str:
    """The districts in words, joined as the language joins a list; none: the whole city, by name."""
    if lang == EASY:  # with its reading: 間々田地区（ままだちく）
        found = [
            furigana.plain(names_.ruby(settings.phrasebook, "district", d.name, d.reading))
            for d in chosen(ids, settings)
        ]
    else:
        found = [d.name_in(lang) for d in chosen(ids, settings)]
    if not found:
        return settings.city.name_in(lang)
    return settings.phrasebook.word(lang, "list_joiner").join(found)


def short(ids: Iterable[str], settings: Settings, lang: str = "ja") -> str:
    """A count in place of the names, for a channel short of room: 市内3地区; one district by name."""
    found = chosen(ids, settings)
    if len(found) <= 1:
        return names(ids, settings, lang)
    return settings.phrasebook.word(lang, "n_districts", n=len(found), city=settings.city.name_in(lang))


def readings(settings: Settings) -> dict[str, str]:
    """Each district's name and its reading, for speech."""
    return {d.name: d.reading for d in settings.districts}


@dataclass(frozen=True, slots=True)
class Place:
    """Where a 町 name, an address or a postal code points: the town, and its district if configured."""

    town: towns.Town
    district: District | None  # None: the town is in no configured district


def town_index(settings: Settings) -> towns.TownIndex:
    """The city's towns from the postal data (cached per municipality)."""
    return towns.index(settings.areas.city[:5])


def district_of_town(town_name: str, settings: Settings) -> District | None:
    """The district that lists this town (as the postal data writes it), or None."""
    return next((d for d in settings.districts if town_name in d.towns), None)


def locate(text: str, settings: Settings) -> Place | None:
    """The town (and district) a 町 name, an address or a postal code names; None if it is none of the city's."""
    town = town_index(settings).find(text)
    if town is None:
        return None
    return Place(town, district_of_town(town.name, settings))
