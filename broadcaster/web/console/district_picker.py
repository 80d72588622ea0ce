"""The district picker of the compose and correction forms, and the live reach as districts are ticked.

The picker is a list of checkboxes (``districts``, one per configured 地区, named in words with its
reading and its 町), a 「市内全域」 box meaning none, a search box that filters the list by name,
reading, 町 name, address or postal code (``console-districts.js`` on the terms each item carries),
and, when any district has an outline, a map drawn as inline SVG from the configured polygons:
nothing is fetched from anywhere. A city without districts gets no picker at all.

The reach routes answer ``{channel: n}``: how many delivery rows approving the form's alert would
plan now (``store.reach``, undone), for the form's category, channels and districts. A new alert
takes the session's mode; a draft keeps its own; a sent alert's page asks for its correction's reach.
"""

from __future__ import annotations

import dataclasses
import re
import time
import unicodedata
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from broadcaster import districts, drafts, geometry
from broadcaster.errors import InputError, Problem
from broadcaster.models import Alert, AlertState, Mode, MsgType, Source
from broadcaster.settings import District, Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.console import wording
from broadcaster.web.console.web import CAN_SEND, HEADERS, console, need, words

MAP_WIDTH, MAP_HEIGHT = 480.0, 360.0  # the SVG's own units; CSS scales it to the column
FIELD = "districts"  # the form's field: one value per ticked district id
WHOLE = "whole_city"  # the 「市内全域」 box: ticked with a district is a contradiction, refused
KATAKANA = re.compile(r"[ァ-ヶ]")
BOTH = Problem("districts_and_whole_city", "tick the whole city or districts, not both", FIELD)


def add_routes(app: web.Application) -> None:
    """Register the reach routes."""
    app.router.add_post("/console/compose/reach", compose_reach)
    app.router.add_post("/console/alerts/{alert_id}/reach", alert_reach)


# -- what the picker shows ---------------------------------------------------------------


def searchable(text: str) -> str:
    """Text as the search compares it: NFKC, lower case, no spaces or hyphens, katakana as hiragana.

    ``console-districts.js`` does the same to what is typed, so 「ままだ」 finds 間々田 (ママダ) and
    「323-0034」 finds the town of 3230034.
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("ヶ", "ケ")
    text = re.sub(r"[\s〒\-‐－−]", "", text)
    return KATAKANA.sub(lambda m: chr(ord(m.group()) - 0x60), text)


def _terms(settings: Settings, district: District) -> str:
    """A district's search terms: its names and reading, each 町 with its kana and postal codes."""
    found = [district.name, district.reading, district.name_en, district.id]
    index = districts.town_index(settings) if district.towns else None
    for name in district.towns:
        found.append(name)
        town = index.get(name) if index else None
        if town is not None:
            found.append(town.kana)
            found.extend(town.postal_codes)
    return " ".join(dict.fromkeys(searchable(t) for t in found if t))


def entries(settings: Settings) -> list[dict[str, Any]]:
    """Each configured district as the list shows it, in config order."""
    return [
        {
            "id": d.id,
            "name": d.name,
            "name_en": d.name_en,
            "reading": d.reading,
            "towns": list(d.towns),
            "outline": bool(d.rings),
            "terms": _terms(settings, d),
        }
        for d in settings.districts
    ]


def district_map(settings: Settings) -> dict[str, Any] | None:
    """The map of the districts that have an outline, fitted together; None when none has one."""
    drawn = [d for d in settings.districts if d.rings]
    if not drawn:
        return None
    project = geometry.fitted(geometry.bounds(ring for d in drawn for ring in d.rings), MAP_WIDTH, MAP_HEIGHT)
    shapes = []
    for d in drawn:
        path = geometry.svg_path(d.rings, project)
        west, south, east, north = geometry.bounds(d.rings)
        x, y = project(((west + east) / 2, (south + north) / 2))  # the label's place: the outline's middle
        shapes.append({"id": d.id, "name": d.name, "name_en": d.name_en, "d": path, "x": f"{x:.1f}", "y": f"{y:.1f}"})
    return {"width": int(MAP_WIDTH), "height": int(MAP_HEIGHT), "shapes": shapes}


# -- the form ------------------------------------------------------------------------------


def ticked(form: Mapping[str, Any]) -> list[str]:
    """The district ids the form ticked, as sent (checked by ``chosen``)."""
    getall = getattr(form, "getall", None)
    found = getall(FIELD, []) if getall is not None else form.get(FIELD, [])
    found = [found] if isinstance(found, str) else found
    return [v for v in found if isinstance(v, str) and v]


def whole_city(form: Mapping[str, Any]) -> bool:
    """Whether the form's 「市内全域」 box is ticked."""
    return bool(form.get(WHOLE))


def chosen(form: Mapping[str, Any], settings: Settings) -> tuple[str, ...]:
    """The form's districts, checked (config order; () for the whole city); InputError names what is wrong."""
    ids = ticked(form)
    if ids and whole_city(form):
        raise InputError(problems=[BOTH])
    return districts.check_ids(ids, settings)


def fill_places(text: str, ids: tuple[str, ...], settings: Settings, lang: str = "ja") -> str:
    """A 定型文's place placeholder (【地区名】; 【area】 in a translation) filled with the districts' names."""
    if not ids:
        return text
    placeholder = "【地区名】" if lang == "ja" else "【area】"
    return text.replace(placeholder, districts.names(ids, settings, lang))


# -- the live reach ---------------------------------------------------------------------------


async def reach_of(store: SQLiteStore, alert: Alert) -> dict[str, int]:
    """What ``store.reach`` plans for each of the alert's channels, 0 for a channel that would reach nobody."""
    planned = await store.reach(alert)
    return {channel: planned.get(channel, 0) for channel in alert.channels}


def _json(data: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(dict(data), status=status, headers=HEADERS)


def _refused(request: web.Request, exc: InputError) -> web.Response:
    code = next((p.code for p in exc.problems if p.code), "invalid")
    return _json({"error": code, "detail": wording.explained(request, exc)}, 400)


def _channels(form: Mapping[str, Any], settings: Settings) -> tuple[str, ...]:
    getall = getattr(form, "getall", None)
    found = getall("channels", []) if getall is not None else []
    return tuple(dict.fromkeys(c for c in found if isinstance(c, str) and c in settings.enabled_channels))


def probe(settings: Settings, form: Mapping[str, Any], author: str, mode: Mode) -> Alert:
    """A new alert of the form's category, channels and districts in ``mode``: whom it would reach does not
    depend on its words. InputError for an unknown category or district."""
    category = str(form.get("category", ""))
    if category not in settings.categories:
        raise InputError(f"unknown {category!r}", code="unknown_category", field="category")
    now = time.time()
    alert_id = drafts.new_id(now)
    return Alert(
        id=alert_id,
        source=Source.STAFF,
        category=category,
        level=0,
        title="",
        body="",
        channels=_channels(form, settings),
        districts=chosen(form, settings),
        event_key=alert_id,
        mode=mode,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
    )


def correction_probe(latest: Alert, author: str, ids: tuple[str, ...] | None = None) -> Alert:
    """A correction of ``latest`` (to ``ids`` if given): whom a correction reaches does not depend on its words."""
    return dataclasses.replace(
        latest,
        id=drafts.new_id(time.time()),
        version=latest.version + 1,
        msg_type=MsgType.CORRECTION,
        state=AlertState.DRAFT,
        created_by=author,
        references=latest.id,
        districts=latest.districts if ids is None else ids,
    )


async def compose_reach(request: web.Request) -> web.Response:
    """The reach of a new alert as the compose form stands (the session's mode)."""
    state, current = console(request), need(request, *CAN_SEND)
    form = await request.post()
    try:
        alert = probe(state.settings, form, current.name, current.mode)
    except InputError as exc:
        return _refused(request, exc)
    return _json(await reach_of(state.store, alert))


async def alert_reach(request: web.Request) -> web.Response:
    """The reach of a stored draft as its edit form stands, or of a sent alert's correction as its form stands."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await state.store.get_alert(request.match_info["alert_id"])
    if alert is None:
        return _json({"error": "no_alert", "detail": words(request)["refused_no_alert"]}, 404)
    form = await request.post()
    try:
        if alert.state == AlertState.DRAFT and alert.msg_type == MsgType.ALERT:
            found = probe(state.settings, form, current.name, alert.mode)
        elif alert.state == AlertState.DRAFT:  # a follow-up's draft keeps its event, category and channels
            found = dataclasses.replace(alert, id=drafts.new_id(time.time()), districts=chosen(form, state.settings))
        else:
            latest = await state.lifecycle.correctable(alert)
            if not isinstance(latest, Alert):
                return _json({}, 409)
            found = correction_probe(latest, current.name, chosen(form, state.settings))
    except InputError as exc:
        return _refused(request, exc)
    return _json(await reach_of(state.store, found))
