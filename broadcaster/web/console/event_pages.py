"""What can be done to an event once a version of it went out: 訂正 (correct), 解除 (lift), 取消 (cancel).

Three different things, each its own action from the page of any version of the event:

- 訂正: new words. The correction of a live event is a live alert like any other, whatever the
  officer's mode switch says: the session must be in live mode, the officer reviews the correction
  exactly as it will go out and types 本番 (bound to the correction's fingerprint: another content is
  answered 409), and the approval policy applies. A changed Japanese text with a translation left as
  it was is refused until each such translation is updated or ticked 「この訳のままで正しい」.
- 解除: the order or warning is over. For a live event the same live mode and typed 本番, and the
  approval policy (a false all-clear sends people home into danger). It takes the event off the air.
- 取消: the alert was a mistake. A page shows what is withdrawn and from whom; the POST needs a
  confirmation (for a live event the typed word 取消). It never waits for approval and needs no mode
  switch: withdrawing a false alert must be fast.

Every page shows the reach the store will plan (``store.reach``: the approval's own planning, undone).
A correction may change the districts (a widened evacuation area is a typical one): its form has the
district picker, and its reach follows the ticks. Lift and cancel keep the original's districts.
Lift and cancel are bound to the version the page showed (its fingerprint): a newer version sent
meanwhile is answered 409 and the page shown again. What each action does is ``broadcaster.lifecycle``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict

from broadcaster import drafts, lint
from broadcaster.drafts import Draft, StaleTranslations
from broadcaster.errors import InputError, Stale, Unfilled
from broadcaster.fingerprint import fingerprint, short
from broadcaster.lifecycle import Uncorrectable
from broadcaster.models import Alert, ContactKind, Mode
from broadcaster.web.console import compose_pages, district_picker, phrase_form, preview, wording
from broadcaster.web.console.web import (
    CAN_SEND,
    Console,
    Who,
    client,
    console,
    need,
    page,
    refuse,
    see_other,
    stored_alert,
)

PEOPLE = frozenset(ContactKind)  # channels that reach people by name; the others reach the public
LIVE_WORDS = ("本番", "LIVE")  # typed to confirm a live correction or lift; the English page accepts LIVE
CANCEL_WORDS = ("取消", "CANCEL")  # typed to confirm the cancel of a live event
REASON_MAX = 1000  # characters of a lift's or a cancel's reason kept
CONFIRMED = "confirm_tr"  # the form's field: a translation the officer says is still right
UNCORRECTABLE = {
    Uncorrectable.NOTHING_SENT: "correct_nothing_sent",
    Uncorrectable.CANCELLED: "correct_already_cancelled",
    Uncorrectable.LIFTED: "correct_already_lifted",
}


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/console/alerts/{alert_id}/correct", correct_form)
    app.router.add_post("/console/alerts/{alert_id}/correct", correct)
    app.router.add_get("/console/alerts/{alert_id}/lift", lift_form)
    app.router.add_post("/console/alerts/{alert_id}/lift", lift)
    app.router.add_get("/console/alerts/{alert_id}/cancel", cancel_form)
    app.router.add_post("/console/alerts/{alert_id}/cancel", cancel)


async def _followed(request: web.Request) -> tuple[Console, Who, Alert] | web.Response:
    """The newest sent version of the alert's event, if it can still be corrected, lifted or cancelled."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await stored_alert(request)
    latest = await state.lifecycle.correctable(alert)
    if isinstance(latest, Uncorrectable):
        return refuse(request, state.text[current.session.lang][UNCORRECTABLE[latest]])
    return state, current, latest


def _text(state: Console, current: Who, key: str, **fields: str) -> str:
    words = str(state.text[current.session.lang][key])
    return words.format(**fields) if fields else words


def _mode_refusal(state: Console, current: Who, latest: Alert) -> str:
    """Why a live correction or lift cannot go from this screen: it is in exercise mode."""
    return (
        _text(state, current, "alert_switch_to_live") if latest.mode == Mode.LIVE and current.mode != Mode.LIVE else ""
    )


def _people(reach: Mapping[str, int]) -> int:
    return sum(n for ch, n in reach.items() if ch in PEOPLE)


# -- 訂正 ------------------------------------------------------------------------------


async def correct_form(request: web.Request) -> web.Response:
    """The correction form, filled in from the newest sent version of the event."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    return await _correction_page(request, state, current, latest, compose_pages.values_of(latest, state.settings))


async def _correction_page(
    request: web.Request,
    state: Console,
    current: Who,
    latest: Alert,
    values: dict[str, Any],
    errors: list[str] | None = None,
    stale: list[str] | None = None,
    confirmed: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    """The form: words, level, expiry and districts to change; category, areas and channels stay the original's."""
    try:
        ids = district_picker.chosen(_district_fields(values), state.settings) if "districts" in values else None
    except InputError:
        ids = None  # the form says what is wrong; the reach is the original's meanwhile
    chosen = phrase_form.pattern(state.settings, values.get("phrase") or "")
    return page(
        request,
        "correction.html.j2",
        status=status,
        latest=latest,
        values=values,
        errors=errors or [],
        stale=stale or [],
        confirmed=confirmed or [],
        reach=await district_picker.reach_of(state.store, district_picker.correction_probe(latest, current.name, ids)),
        people=PEOPLE,
        live=latest.mode == Mode.LIVE,
        mode_refusal=_mode_refusal(state, current, latest),
        phrase=chosen,
        slots=phrase_form.fields(state.settings, chosen, values.get("slots") or {}) if chosen else [],
        phrase_edited=phrase_form.edited(values),
    )


def _district_fields(values: Mapping[str, Any]) -> MultiDict[str]:
    """The districts of form values as the form sends them (for ``district_picker.chosen``)."""
    form: MultiDict[str] = MultiDict((district_picker.FIELD, d) for d in values.get("districts") or [])
    if values.get("whole_city"):
        form.add(district_picker.WHOLE, "on")
    return form


def _corrected(
    state: Console, current: Who, latest: Alert, form: Mapping[str, Any], confirmed: list[str]
) -> tuple[Draft, tuple[str, ...] | None, Alert]:
    """The form's changes, its districts (None: the original's) and the correction they make of ``latest``.

    InputError (StaleTranslations among them) says why not.
    """
    changes = compose_pages.draft_from_form(form, state.settings, latest.mode)
    # a city without districts has no picker: its corrections keep whatever the original had
    ids = changes.districts if state.settings.districts else None
    return (
        changes,
        ids,
        drafts.correction(state.settings, latest, changes, current.name, confirmed=confirmed, districts=ids),
    )


def _carried(values: Mapping[str, Any], confirmed: list[str]) -> list[tuple[str, str]]:
    """A correction's form as hidden fields, so the review posts back exactly what it showed."""
    fields = [(key, str(values.get(key) or "")) for key in (*compose_pages.FIELDS, "expires_at")]
    fields += [("areas", code) for code in values.get("areas", [])]
    fields += [(district_picker.FIELD, district) for district in values.get("districts", [])]
    fields += [("channels", name) for name in values.get("channels", [])]
    for lang, words in (values.get("translations") or {}).items():
        if words.get("include"):
            fields.append((f"tr_{lang}", "on"))
            fields += [(f"tr_{lang}_{part}", str(words.get(part, ""))) for part in compose_pages.PARTS]
    if values.get("phrase"):  # a 定型文's slots, as they were filled
        fields += [(phrase_form.FIELD, str(values["phrase"])), (phrase_form.FILLED, str(values.get("phrase_filled")))]
        for name, value in (values.get("slots") or {}).items():
            many = value if isinstance(value, list) else [value]
            fields += [(phrase_form.SLOT + name, str(v)) for v in many]
    fields += [(CONFIRMED, lang) for lang in confirmed]
    return fields


async def correct(request: web.Request) -> web.StreamResponse:
    """The correction: checked, reviewed with the typed 本番 for a live event, then released under the policy."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    form = compose_pages.posted(await request.post(), state.settings)
    confirmed = [
        v for v in dict.fromkeys(form.getall(CONFIRMED, [])) if isinstance(v, str) and v in latest.translations
    ]
    values = compose_pages.values_of_form(form)
    if str(form.get("do", "")) in ("edit", "fill"):  # back to the form, with what was typed (or filled)
        return await _correction_page(request, state, current, latest, values, confirmed=confirmed)
    try:
        changes, ids, correction = _corrected(state, current, latest, form, confirmed)
    except StaleTranslations as exc:
        t = state.text[current.session.lang]
        names = "、".join(wording.language(t, lang) for lang in exc.languages)
        problem = _text(state, current, "correct_stale_translations", languages=names)
        return await _correction_page(request, state, current, latest, values, [problem], exc.languages, confirmed,
                                      status=400)  # fmt: skip
    except InputError as exc:
        return await _correction_page(request, state, current, latest, values, wording.explain(request, exc), None,
                                      confirmed, 400)  # fmt: skip
    left = lint.unfilled(correction) if correction.mode == Mode.LIVE else []
    if left:
        problem = _text(state, current, "alert_placeholders_left", placeholders="、".join(left))
        return await _correction_page(request, state, current, latest, values, [problem], None, confirmed, 400)
    seen = None
    if latest.mode == Mode.LIVE:
        refusal = _mode_refusal(state, current, latest)
        if refusal:
            return await _correction_page(request, state, current, latest, values, [refusal], None, confirmed, 409)
        seen = str(form.get("fingerprint", ""))
        typed = str(form.get("typed", "")).strip()
        if not seen or seen != fingerprint(correction) or typed not in LIVE_WORDS:
            error = "" if not seen else "correct_changed" if seen != fingerprint(correction) else "confirm_type_word"
            status = 200 if not error else 409 if error == "correct_changed" else 400
            return await _review(request, state, current, latest, correction, values, confirmed, error, status)
    try:
        released = await state.lifecycle.correct(
            latest, changes, current.name, client(request), confirmed, seen, districts=ids
        )
    except Unfilled as exc:
        problem = _text(state, current, "alert_placeholders_left", placeholders="、".join(exc.placeholders))
        return await _correction_page(request, state, current, latest, values, [problem], None, confirmed, 400)
    except Stale:  # a newer version went out between the review and the send
        return refuse(request, _text(state, current, "correct_changed"))
    except InputError as exc:  # cancelled or lifted meanwhile
        return refuse(request, wording.explained(request, exc))
    return see_other(f"/console/alerts/{released.alert_id}")


async def _review(
    request: web.Request,
    state: Console,
    current: Who,
    latest: Alert,
    correction: Alert,
    values: dict[str, Any],
    confirmed: list[str],
    error: str,
    status: int,
) -> web.Response:
    """The live correction as it will go out: every channel, the reach, its fingerprint, and 本番 to type.

    The hidden fields are the correction as built (the expiry as a time, not "minutes from now"), and
    the fingerprint is that of the correction they make, so the same fields send the same correction.
    """
    shown = compose_pages.values_of(correction, state.settings)
    fields = _carried(shown, confirmed)
    rebuilt = _corrected(state, current, latest, MultiDict(fields), confirmed)[2]
    reach = await state.store.reach(rebuilt)
    return page(
        request,
        "correction.html.j2",
        status=status,
        review=True,
        latest=latest,
        correction=rebuilt,
        fields=fields,
        values=values,
        errors=[_text(state, current, error)] if error else [],
        stale=[],
        confirmed=confirmed,
        reach=reach,
        total=_people(reach),
        people=PEOPLE,
        live=True,
        mode_refusal="",
        needs_approval=state.lifecycle.needs_approval(rebuilt),
        fingerprint=fingerprint(rebuilt),
        fingerprint_short=short(fingerprint(rebuilt)),
        preview=preview.build(state, rebuilt, "ja", stored=False),
    )


# -- 解除 ------------------------------------------------------------------------------


async def lift_form(request: web.Request) -> web.Response:
    """The lift: what is lifted, its words, whom it reaches, and for a live event the word to type."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    return await _lift_page(request, state, current, latest, "", "")


async def _lift_page(
    request: web.Request, state: Console, current: Who, latest: Alert, reason: str, error: str, status: int = 200
) -> web.Response:
    lifted = drafts.lift(state.settings, latest, current.name, reason)
    reach = await state.store.reach(lifted)
    return page(
        request,
        "lift.html.j2",
        status=status,
        latest=latest,
        lifted=lifted,
        reason=reason,
        error=error,
        reach=reach,
        total=_people(reach),
        people=PEOPLE,
        live=latest.mode == Mode.LIVE,
        mode_refusal=_mode_refusal(state, current, latest),
        needs_approval=state.lifecycle.needs_approval(lifted),
        seen=fingerprint(latest),
        preview=preview.build(state, lifted, "ja", stored=False),
    )


async def lift(request: web.Request) -> web.StreamResponse:
    """Lift the event: at once, or queued for a second person under the policy."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:REASON_MAX]
    refusal = _mode_refusal(state, current, latest)
    if refusal:
        return await _lift_page(request, state, current, latest, reason, refusal, 409)
    if latest.mode == Mode.LIVE and str(form.get("typed", "")).strip() not in LIVE_WORDS:
        return await _lift_page(
            request, state, current, latest, reason, _text(state, current, "confirm_type_word"), 400
        )
    try:
        seen = str(form.get("seen", "")) or None
        released = await state.lifecycle.lift(latest, current.name, reason, client(request), seen)
    except Stale:
        return await _lift_page(request, state, current, latest, reason, _text(state, current, "correct_changed"), 409)
    except InputError as exc:  # cancelled or lifted meanwhile
        return refuse(request, wording.explained(request, exc))
    return see_other(f"/console/alerts/{released.alert_id}")


# -- 取消 ------------------------------------------------------------------------------


async def cancel_form(request: web.Request) -> web.Response:
    """The cancel: what is withdrawn and from whom, and the confirmation (取消 typed for a live event)."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    return await _cancel_page(request, state, current, latest, "", "")


async def _cancel_page(
    request: web.Request, state: Console, current: Who, latest: Alert, reason: str, error: str, status: int = 200
) -> web.Response:
    withdrawal = drafts.cancellation(state.settings, latest, current.name, reason)
    reach = await state.store.reach(withdrawal)
    return page(
        request,
        "cancel.html.j2",
        status=status,
        latest=latest,
        reason=reason,
        error=error,
        reach=reach,
        total=_people(reach),
        people=PEOPLE,
        live=latest.mode == Mode.LIVE,
        seen=fingerprint(latest),
    )


async def cancel(request: web.Request) -> web.StreamResponse:
    """The cancel goes at once, with priority, to exactly whom the event reached; no approval."""
    found = await _followed(request)
    if isinstance(found, web.Response):
        return found
    state, current, latest = found
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:REASON_MAX]
    if latest.mode == Mode.LIVE:
        confirmed = str(form.get("typed", "")).strip() in CANCEL_WORDS
    else:
        confirmed = form.get("confirm") == "yes"
    if not confirmed:
        error = _text(state, current, "cancel_confirm_first")
        return await _cancel_page(request, state, current, latest, reason, error, 400)
    try:
        seen = str(form.get("seen", "")) or None
        released = await state.lifecycle.cancel(latest, current.name, reason, client(request), seen)
    except Stale:
        error = _text(state, current, "correct_changed")
        return await _cancel_page(request, state, current, latest, reason, error, 409)
    except InputError as exc:  # cancelled or lifted meanwhile
        return refuse(request, wording.explained(request, exc))
    return see_other(f"/console/alerts/{released.alert_id}")
