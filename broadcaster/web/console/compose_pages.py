"""Compose: the officer's form, 定型文, the preview on every channel, and editing drafts.

The mode is not a field: a new alert takes the session's mode switch (``who(request).mode``), and an
edited draft keeps its own. The form saves a draft (state draft); sending is the alert page's job.
"Preview" and "カテゴリの既定に戻す" re-show the form and store nothing.

``compose.html.j2`` is shared with the correction page: it takes ``action``, ``values`` (from
``values_of(alert)`` or ``values_of_form(form)``), ``errors``, ``phrases``, ``correction``,
``preview``, ``slots`` (the 定型文's slot fields, ``phrase_form.fields``), and ``reach`` with
``reach_url`` (the live reach, see district_picker). Its choices (categories, levels, channels, areas,
districts and their map, languages) are put on the template environment at start-up as
``compose_choices``, so a page passes only those.

A 定型文 is a phrasebook pattern (``phrase_form``): its slots are form fields, its Japanese is written
from them, and the stored alert keeps its ``phrase`` and ``slots`` so that every other language is the
pattern's too. Districts are ticked in the picker (``district_picker``); none ticked is the whole city.
A 【地区名】 pasted from an old template is filled with the ticked districts' names.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiMapping

from broadcaster import drafts, naming
from broadcaster.clock import JST
from broadcaster.drafts import Draft
from broadcaster.errors import InputError, Problem
from broadcaster.models import Alert, AlertState, ContactKind, Mode, MsgType, Source, Text
from broadcaster.phrasebook import Pattern
from broadcaster.settings import Settings
from broadcaster.variants import OFFICER
from broadcaster.web.console import district_picker, fm_preview, phrase_form, preview, wording
from broadcaster.web.console.web import (
    CAN_SEND,
    client,
    console,
    need,
    page,
    see_other,
    stored_alert,
    words,
)

CHOICES = "compose_choices"  # the template global holding the form's choices
MAX_MINUTES = drafts.MAX_EXPIRY_S // 60
PARTS = ("title", "body", "instruction")  # the words of an alert in one language
FIELDS = ("category", "level", *PARTS, "kind")  # the form's single-valued fields
EXPIRY = ("expires_at", "expires_in")  # a JST date and time, or minutes from now


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/console/compose", compose_form)
    app.router.add_post("/console/compose", compose)
    app.router.add_get("/console/alerts/{alert_id}/edit", edit_form)
    app.router.add_post("/console/alerts/{alert_id}/edit", edit)
    fm_preview.add_routes(app)
    district_picker.add_routes(app)


def choices(settings: Settings) -> dict[str, Any]:
    """What the form offers, from the config."""
    enabled = settings.enabled_channels
    listed = district_picker.entries(settings)
    return {
        "categories": [
            {
                "id": cid,
                "name": c.name,
                "name_en": c.name_en,
                "channels": [ch for ch in c.channels if ch in enabled],
                "levels": c.levels,  # whether the level picker is shown (and required) for it
            }
            for cid, c in settings.categories.items()
        ],
        "levels": [{"level": info.level, "name": info.name} for info in settings.levels],
        "channels": list(enabled),
        "areas": [  # shown by name, never by code
            {
                "code": code,
                "kind": kind,
                "name": naming.place_name(code, settings, "ja"),
                "name_en": naming.place_name(code, settings, "en"),
            }
            for kind, code in (("city", settings.areas.city), ("forecast_area", settings.areas.forecast_area))
        ],
        "districts": listed,  # empty: the city has none configured, and the form shows no picker
        "district_by_id": {d["id"]: d for d in listed},
        "district_map": district_picker.district_map(settings),  # None: no district has an outline
        "people": [str(kind) for kind in ContactKind],  # channels that reach people by name; the others are public
        "languages": [lang for lang in settings.city.languages if lang != "ja"],
    }


# -- 定型文 ----------------------------------------------------------------------------


def phrases_for(settings: Settings) -> list[Pattern]:
    """The 定型文 whose category this city has (phrasebook patterns with ``use = "phrase"``)."""
    return phrase_form.phrases(settings)


# -- form values -------------------------------------------------------------------------


def _one(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return value if isinstance(value, str) else ""


def _all(form: Mapping[str, Any], key: str) -> list[str]:
    getall = getattr(form, "getall", None)
    found = getall(key, []) if getall is not None else form.get(key, [])
    found = [found] if isinstance(found, str) else found
    return [v for v in found if isinstance(v, str) and v]


def _local(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, JST).strftime("%Y-%m-%dT%H:%M") if ts is not None else ""


def _translation(include: bool, text: Text) -> dict[str, Any]:
    return {"include": include, "title": text.title, "body": text.body, "instruction": text.instruction}


def has_levels(settings: Settings, category: str) -> bool:
    """Whether the category's alerts carry a 警戒レベル (an unknown category is refused elsewhere)."""
    cat = settings.categories.get(category)
    return cat is None or cat.levels


def category_channels(settings: Settings, category: str) -> list[str]:
    """A category's default channels that are switched on."""
    cat = settings.categories.get(category)
    return [c for c in cat.channels if c in settings.enabled_channels] if cat else []


def default_values(settings: Settings) -> dict[str, Any]:
    """An empty form: the first category with its channels, the whole city, no level chosen."""
    category = next(iter(settings.categories))
    values: dict[str, Any] = dict.fromkeys((*FIELDS, *EXPIRY), "")
    values.update(category=category, areas=[settings.areas.city], channels=category_channels(settings, category))
    values["districts"] = []
    values["translations"] = {}
    values.update(phrase="", slots={}, phrase_filled="")
    return values


def values_of(alert: Alert, settings: Settings) -> dict[str, Any]:
    """The form filled in from an alert (to edit it, correct it, or copy it).

    Only the translations an officer typed are form fields: the phrasebook's and the notices are made
    again from the Japanese (or the 定型文) each time.
    """
    typed = {lang: t for lang, t in alert.translations.items() if t.source == OFFICER}
    # a JMA pattern, a lift or a cancel is no 定型文: a copy or an edit of one is the officer's free text
    phrase = alert.phrase if phrase_form.pattern(settings, alert.phrase) else ""
    filled = phrase_form.digest(alert.title, alert.body, alert.instruction) if phrase else ""
    return {
        "category": alert.category,
        "level": str(alert.level) if alert.level else "",
        "title": alert.title,
        "body": alert.body,
        "instruction": alert.instruction,
        "kind": alert.kind,
        "areas": list(alert.areas),
        "districts": list(alert.districts),
        "channels": list(alert.channels),
        "translations": {lang: _translation(True, t) for lang, t in typed.items()},
        "expires_at": _local(alert.expires),
        "expires_in": "",
        "mode": str(alert.mode),
        "phrase": phrase,
        "slots": dict(alert.slots) if phrase else {},
        "phrase_filled": filled,
    }


def values_of_phrase(settings: Settings, phrase: Pattern) -> dict[str, Any]:
    """The form filled in from a 定型文: its category and level, its slots' first values, its Japanese."""
    values = default_values(settings)
    slots = phrase_form.defaults(phrase)
    made = phrase_form.japanese(settings, phrase, {k: v for k, v in slots.items() if v}, ())
    values.update(
        category=phrase.category,
        level=str(phrase.level) if has_levels(settings, phrase.category) and phrase.level else "",
        title=made.title,
        body=made.body,
        instruction=made.instruction,
        channels=category_channels(settings, phrase.category),
        phrase=phrase.id,
        slots=slots,
        phrase_filled=phrase_form.digest(made.title, made.body, made.instruction),
    )
    return values


def values_of_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """What the officer typed, as the form shows it again."""
    langs = {key.split("_")[1] for key in form if key.startswith("tr_")}
    values: dict[str, Any] = {key: _one(form, key) for key in (*FIELDS, *EXPIRY)}
    values.update(areas=_all(form, "areas"), channels=_all(form, "channels"), districts=district_picker.ticked(form))
    values["whole_city"] = district_picker.whole_city(form)
    values["translations"] = {
        lang: {"include": bool(_one(form, f"tr_{lang}")), **{p: _one(form, f"tr_{lang}_{p}") for p in PARTS}}
        for lang in sorted(langs)
    }
    if _one(form, "form_mode"):
        values["mode"] = _one(form, "form_mode")  # shown only; the mode never comes from the form
    values["phrase"] = _one(form, phrase_form.FIELD)
    values["phrase_filled"] = _one(form, phrase_form.FILLED)
    values["slots"] = {
        key.removeprefix(phrase_form.SLOT): _all(form, key) for key in form if key.startswith(phrase_form.SLOT)
    }
    return values


def _expiry(form: Mapping[str, Any], now: datetime) -> datetime | None:
    at, minutes = _one(form, "expires_at").strip(), _one(form, "expires_in").strip()
    if at and minutes:
        raise InputError("give a date and time or minutes from now, not both", code="expiry_both", field="expires")
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise InputError(f"{at!r} is not a date and time", code="expiry_not_time", field="expires") from None
        return when if when.tzinfo else when.replace(tzinfo=JST)  # the form's clock is Japan time
    if minutes:
        if not (minutes.isascii() and minutes.isdigit() and len(minutes) <= 9) or not 0 < int(minutes) <= MAX_MINUTES:
            raise InputError(
                f"minutes from now must be 1 to {MAX_MINUTES}", code="expiry_minutes", field="expires", max=MAX_MINUTES
            )
        return now + timedelta(minutes=int(minutes))
    return None


def draft_from_form(form: Mapping[str, Any], settings: Settings, mode: Mode | str) -> Draft:
    """The compose form as a Draft in ``mode``; InputError names each bad field."""
    translations = {
        lang: {p: _one(form, f"tr_{lang}_{p}") for p in PARTS}
        for lang in settings.city.languages
        if lang != "ja" and _one(form, f"tr_{lang}")
    }
    errors: list[Problem] = []
    try:
        expires = _expiry(form, datetime.now(JST))
    except InputError as exc:
        errors += exc.problems
        expires = None
    data: dict[str, Any] = {key: _one(form, key) for key in FIELDS}
    if not has_levels(settings, data["category"]):
        data["level"] = None  # the picker is hidden for this category: a level left over from another is none
    try:
        data["districts"] = district_picker.chosen(form, settings)
    except InputError as exc:
        errors += exc.problems
    data |= {
        "areas": tuple(_all(form, "areas")),
        "channels": tuple(_all(form, "channels")) or None,
        "translations": translations,
        "expires": expires,
        "mode": Mode(mode).value,
        **_phrase_of_form(form, settings),
    }
    try:
        draft = drafts.parse(data)
    except InputError as exc:
        errors[:0] = exc.problems
    if errors:
        raise InputError(problems=errors)
    return draft


def _phrase_of_form(form: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The draft's ``phrase`` and ``slots``: a pattern the form does not know goes to drafts.build as it
    came, which names it (``unknown_phrase``)."""
    pid = _one(form, phrase_form.FIELD)
    if not pid:
        return {}
    found = phrase_form.pattern(settings, pid)
    if found is not None:
        return {"phrase": pid, "slots": phrase_form.slots_of_form(form, found)}
    raw = {k.removeprefix(phrase_form.SLOT): v for k in form if k.startswith(phrase_form.SLOT) if (v := _one(form, k))}
    return {"phrase": pid, "slots": raw}


def filled(form: MultiMapping[Any], settings: Settings) -> MultiMapping[Any]:
    """The form with a 定型文's 【地区名】 (【area】 in a translation) filled with the ticked districts' names.

    The form as it came when no district is ticked or the districts are wrong (the form says why).
    """
    try:
        ids = district_picker.chosen(form, settings)
    except InputError:
        return form
    if not ids:
        return form
    out: MultiDict[Any] = MultiDict()
    for key, value in form.items():
        if isinstance(value, str) and key in PARTS:
            value = district_picker.fill_places(value, ids, settings, "ja")
        elif isinstance(value, str) and key.startswith("tr_") and key.rsplit("_", 1)[-1] in PARTS:
            value = district_picker.fill_places(value, ids, settings, key.split("_")[1])
        out.add(key, value)
    return out


NO_CHANNELS = Problem("no_channels", "choose at least one channel", "channels")


def alert_from_form(form: Mapping[str, Any], settings: Settings, author: str, mode: Mode) -> Alert:
    """The form as a new draft Alert, every problem reported at once; InputError."""
    errors: list[Problem] = []
    draft = None
    try:
        draft = draft_from_form(form, settings, mode)
    except InputError as exc:
        errors += exc.problems
    if not _all(form, "channels"):
        errors.append(NO_CHANNELS)  # an empty choice would silently mean "the category's channels"
    if errors or draft is None:
        raise InputError(problems=errors)
    return drafts.build(settings, draft, author, Source.STAFF)


# -- pages -----------------------------------------------------------------------------------


def form_page(
    request: web.Request,
    values: dict[str, Any],
    *,
    action: str = "/console/compose",
    errors: list[str] | None = None,
    show: preview.Preview | None = None,
    correction: bool = False,
    phrases: bool = True,
    heading: str = "",
    status: int = 200,
    reach: Mapping[str, int] | None = None,
    reach_url: str = "/console/compose/reach",
) -> web.Response:
    """The compose form; ``reach`` the channels' reach when it was worked out (a preview), else None."""
    state = console(request)
    chosen = phrase_form.pattern(state.settings, values.get("phrase") or "")
    return page(
        request,
        "compose.html.j2",
        status=status,
        action=action,
        values=values,
        errors=errors or [],
        phrases=phrases_for(state.settings) if phrases else [],
        correction=correction,
        preview=show,
        heading=heading,
        reach=reach,
        reach_url=reach_url,
        phrase=chosen,
        slots=phrase_form.fields(state.settings, chosen, values.get("slots") or {}) if chosen else [],
        phrase_edited=phrase_form.edited(values),
    )


def posted(form: MultiMapping[Any], settings: Settings) -> MultiMapping[Any]:
    """The posted form, 【地区名】 filled and a 定型文's Japanese written again (see phrase_form.refill)."""
    return phrase_form.refill(filled(form, settings), settings, always=_one(form, "do") == "fill")


async def compose_form(request: web.Request) -> web.Response:
    """The empty form, or one filled from a 定型文 (?phrase=) or from an earlier alert (?from=)."""
    state, t = console(request), words(request)
    need(request, *CAN_SEND)
    values = default_values(state.settings)
    if "phrase" in request.query:
        phrase = next((p for p in phrases_for(state.settings) if p.id == request.query["phrase"]), None)
        if phrase is None:
            return form_page(request, values, errors=[t["compose_unknown_phrase"]], status=404)
        values = values_of_phrase(state.settings, phrase)
    elif "from" in request.query:
        original = await state.store.get_alert(request.query["from"])
        if original is None:
            return form_page(request, values, errors=[t["compose_unknown_alert"]], status=404)
        values = values_of(original, state.settings)
        values.pop("mode")  # a copy takes the session's mode
        values["expires_at"] = ""
        values["channels"] = [c for c in original.channels if c in state.settings.enabled_channels]
    return form_page(request, values)


async def compose(request: web.Request) -> web.Response:
    """Save the draft and go to its page; or re-show the form with the preview, the category's channels, or errors."""
    state, current = console(request), need(request, *CAN_SEND)
    form = posted(await request.post(), state.settings)
    values, do = values_of_form(form), _one(form, "do")
    values.pop("mode", None)  # a new alert shows, and takes, the session's mode
    if do == "defaults":
        values["channels"] = category_channels(state.settings, values["category"])
        return form_page(request, values)
    if do == "fill":
        return form_page(request, values)
    try:
        alert = alert_from_form(form, state.settings, current.name, current.mode)
    except InputError as exc:
        return form_page(request, values, errors=wording.explain(request, exc), status=400)
    if do == "preview":
        reach = await district_picker.reach_of(state.store, alert)
        return form_page(request, values, show=preview.build(state, alert, stored=False), reach=reach)
    await state.lifecycle.save(alert, current.name, client(request))
    return see_other(f"/console/alerts/{alert.id}")


def _not_draft(request: web.Request) -> web.Response:
    return page(request, "message.html.j2", status=409, message=words(request)["compose_not_draft"])


async def edit_form(request: web.Request) -> web.Response:
    """A draft in the compose form (only a draft: what was sent is corrected, not edited)."""
    need(request, *CAN_SEND)
    alert = await stored_alert(request)
    if alert.state != AlertState.DRAFT:
        return _not_draft(request)
    return _edit_page(request, alert, values_of(alert, console(request).settings))


def _edit_page(request: web.Request, alert: Alert, values: dict[str, Any], **kw: Any) -> web.Response:
    return form_page(
        request,
        values,
        action=f"/console/alerts/{alert.id}/edit",
        phrases=False,
        correction=alert.msg_type != MsgType.ALERT,
        heading=words(request)["compose_title_edit"],
        reach_url=f"/console/alerts/{alert.id}/reach",
        **kw,
    )


async def edit(request: web.Request) -> web.Response:
    """Save the edited draft; it keeps its id, event, mode and author."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await stored_alert(request)
    if alert.state != AlertState.DRAFT:
        return _not_draft(request)
    form = posted(await request.post(), state.settings)
    values, do = values_of_form(form), _one(form, "do")
    values["mode"] = str(alert.mode)
    if do == "defaults":
        values["channels"] = category_channels(state.settings, values["category"])
        return _edit_page(request, alert, values)
    if do == "fill":
        return _edit_page(request, alert, values)
    try:
        new = alert_from_form(form, state.settings, current.name, alert.mode)
    except InputError as exc:
        return _edit_page(request, alert, values, errors=wording.explain(request, exc), status=400)
    edited = dataclasses.replace(
        new,
        id=alert.id,
        source=alert.source,
        kind=alert.kind,
        event_key=alert.event_key,
        version=alert.version,
        msg_type=alert.msg_type,
        created_at=alert.created_at,
        created_by=alert.created_by,
        references=alert.references,
    )
    if alert.msg_type != MsgType.ALERT:  # a correction's draft keeps the original's reach
        edited = dataclasses.replace(edited, category=alert.category, channels=alert.channels, areas=alert.areas)
    if do == "preview":
        # reached as a new row would be: the stored draft is planned as stored, not as edited
        reach = await district_picker.reach_of(state.store, dataclasses.replace(edited, id=drafts.new_id(time.time())))
        return _edit_page(request, alert, values, show=preview.build(state, edited, stored=False), reach=reach)
    try:
        await state.lifecycle.edit(edited, current.name, client(request))
    except InputError:
        return _not_draft(request)  # sent or discarded meanwhile
    return see_other(f"/console/alerts/{alert.id}")
