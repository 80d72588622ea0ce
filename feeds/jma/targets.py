"""Which of the city's 地区 a JMA document concerns, where it names areas finer than the municipality.

Of the types followed, only the river documents do: the 浸水想定地区 item of VXKOii 指定河川洪水予報 and
VXSUii 水位周知河川 lists, per municipality, the 地区 that may flood as free text (``SubCityList``:
「荒川地区、石動地区 子撫地区」, or 「-」 for none). Warnings, 土砂災害警戒情報, 竜巻注意情報 and volcano
documents stop at the 市町村等 (the parts of a split municipality, 大和町東部, are JMA's, not the city's
地区), and a quake's 震度 stations are where shaking was measured, not the only place it was felt.

The rule, for the safety of residents who chose districts: an alert targets districts only when every
name the document lists for the city is placed, by the name of a configured district (南部地区) or by a
町 of the postal data that a district lists (間々田, 間々田地区, 大字間々田, 城東１丁目). One name that no
district holds, or a station's list naming the city without finer areas, keeps the whole city: a
resident must never miss an evacuation-relevant alert because a 町 was left out of the config or JMA
spelled a place we do not know. Names are matched whole, never by prefix (中河原 is not 中).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from broadcaster import districts, towns
from broadcaster.settings import District, Settings
from feeds.jma.areas import MATCHERS, AreaCodes
from feeds.jma.report import Report, Scope

# SubCityList separates names by 、 and groups by spaces; ・ joins names sharing a suffix (生井・寒川地区
# reads as two names, of which 生井 is placed only if it is a name in its own right).
_SEPARATORS = re.compile(r"[、,，・\s]+")
NONE = frozenset({"-", "‐", "―", "－", "なし"})  # a SubCityList naming nothing finer than the municipality
_CHOME = re.compile(r"[0-9一二三四五六七八九十〇]+丁目$")
SHOWN = 12  # names a reason lists before it counts the rest: a reason is one log line


@dataclass(frozen=True, slots=True)
class Target:
    """The districts an alert from a document targets; () is the whole city."""

    districts: tuple[str, ...]  # ids, in config order
    named: tuple[str, ...]  # the names the document lists within the city (NFKC, without the city's name)
    unplaced: tuple[str, ...]  # of those, the names no configured district holds
    reason: str


def _listed(names: tuple[str, ...]) -> str:
    """Names for a reason, the first SHOWN of them."""
    rest = f" (+{len(names) - SHOWN})" if len(names) > SHOWN else ""
    return "、".join(names[:SHOWN]) + rest


def names_in(text: str) -> tuple[str, ...]:
    """The area names of a SubCityList, each once, in order; () when it names none (「-」)."""
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    return tuple(dict.fromkeys(p for p in parts if p not in NONE))


def _within_city(name: str, cities: tuple[str, ...]) -> str:
    """The name without a leading city (小山市間々田, 栃木県小山市間々田 → 間々田)."""
    for city in cities:
        at = name.find(city) if city else -1
        if 0 <= at <= 4:  # after at most a prefecture's name
            return name[at + len(city) :]
    return name


def _names_within(sub_city_list: str, cities: tuple[str, ...]) -> tuple[str, ...]:
    """A station's names within the city, normalised, without the city's own name."""
    names = (_within_city(towns.normalise(name), cities) for name in names_in(sub_city_list))
    return tuple(name for name in names if name)


def _forms(name: str) -> tuple[str, ...]:
    """The name and the 町 it may spell with 大字/字 before it, 地区 or a 丁目 after it."""
    bare = re.sub(r"^(大字|字)", "", name)
    bare = _CHOME.sub("", bare.removesuffix("地区"))
    return tuple(dict.fromkeys((name, bare)))


def place(name: str, settings: Settings, index: towns.TownIndex | None) -> District | None:
    """The district a name means: a configured district's name, or a 町 a district lists; None if neither."""
    wanted = towns.normalise(name)
    for district in settings.districts:
        if towns.normalise(district.name) == wanted:
            return district
    if index is None:
        return None
    for form in _forms(wanted):
        town = index.get(form)
        if town is not None:
            return districts.district_of_town(town.name, settings)
    return None


def target(report: Report, codes: AreaCodes, settings: Settings) -> Target:
    """The districts the document's finer areas within the city map to, by the rule above."""
    flood_areas = report.river.flood_areas if report.river else ()
    is_city = MATCHERS[Scope.CITY]
    ours = [a for a in flood_areas if is_city(a.city_code, codes)]
    if not ours:
        return Target((), (), (), "the document names no area within the city finer than the city")
    cities = tuple(dict.fromkeys(towns.normalise(c) for c in (*(a.city for a in ours), settings.city.name)))
    # a list of nothing (「-」) or of the city alone names the whole city at that station
    lists = [_names_within(a.districts, cities) for a in ours]
    named = tuple(dict.fromkeys(n for names in lists for n in names))
    if not all(lists):
        return Target((), named, (), "浸水想定地区 names the whole city at a station, no finer area")
    if not settings.districts:
        return Target((), named, named, "no districts are configured")
    # the postal data is read only where districts list towns (a city that has not mapped them yet has none)
    index = districts.town_index(settings) if any(d.towns for d in settings.districts) else None
    placed = {name: place(name, settings, index) for name in named}
    unplaced = tuple(name for name, district in placed.items() if district is None)
    if unplaced:
        why = f"the whole city: no configured district holds {_listed(unplaced)} (浸水想定地区)"
        return Target((), named, unplaced, why)
    ids = districts.ordered((d.id for d in placed.values() if d is not None), settings)
    words = districts.names(ids, settings)
    if len(ids) == len(settings.districts):
        return Target((), named, (), f"浸水想定地区 {_listed(named)} covers every district: the whole city")
    return Target(ids, named, (), f"浸水想定地区 {_listed(named)}: {words}")
