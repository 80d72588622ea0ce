"""One alert's page and what can be done from it: send, confirm live, approve, reject, correct, cancel.

The rules that keep a false alert hard and a correction fast live here:

- An exercise draft goes out with one button; it can only reach exercise sinks (the dispatcher's
  exercise channels), whatever its text says.
- A live draft needs a confirmation page showing its channels, areas and recipient counts, and a
  second, deliberate action (typing 本番); the session must be in live mode too.
- A live alert the policy names (``lifecycle.needs_approval``) waits for a different person with the
  approver role; the store refuses its authors (whoever wrote or edited it) and the requester whatever
  the page shows.
- An approval and a typed 本番 are bound to the version on the page: the page carries the alert's
  fingerprint, and a POST for another version is answered 409 with a request to read it again.
- A live alert's page says 本番 in a banner whatever the reader's own mode switch says.
- Correct (訂正), lift (解除) and cancel (取消) are offered on the page of any version of an event once a
  version went out; their pages are ``event_pages``. A cancel never waits for approval: withdrawing a
  false alert must not wait for a second person at 3 a.m.

What each action does to the alert is ``broadcaster.lifecycle``'s; these pages check the person's
role and the typed confirmation, and say in words why something is refused.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from broadcaster import lint, tags
from broadcaster.errors import InputError, Stale, Unfilled
from broadcaster.fingerprint import fingerprint, short
from broadcaster.lifecycle import SENT_STATES
from broadcaster.models import Alert, AlertState, ContactKind, Mode, MsgType, Role, Source
from broadcaster.store import ApprovalRecord
from broadcaster.web.console import dashboard_pages, preview, wording
from broadcaster.web.console.web import (
    CAN_SEND,
    Console,
    client,
    console,
    jst,
    need,
    page,
    refuse,
    see_other,
    stored_alert,
    who,
)

PEOPLE = frozenset(ContactKind)  # channels that reach people by name; the others reach the public
LIVE_WORD = "本番"  # typed to confirm a live alert; the English page accepts LIVE too
REASON_MAX = 500  # characters of a rejection's reason kept


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/console/alerts/{alert_id}", show)
    app.router.add_post("/console/alerts/{alert_id}/send", send)
    app.router.add_get("/console/alerts/{alert_id}/confirm", confirm_form)
    app.router.add_post("/console/alerts/{alert_id}/confirm", confirm)
    app.router.add_post("/console/alerts/{alert_id}/approve", approve)
    app.router.add_post("/console/alerts/{alert_id}/reject", reject)
    app.router.add_get("/console/approvals", approvals)


async def _follow_up(state: Console, alert: Alert) -> Alert | None:
    """The event's newest sent version, which 訂正, 解除 and 取消 follow; None when none of them can."""
    found = await state.lifecycle.correctable(alert)
    return found if isinstance(found, Alert) else None


async def _cancelled(state: Console, alert: Alert) -> bool:
    """Whether the alert's event has been cancelled (by this version or a later one)."""
    latest = await state.store.latest_alert(alert.event_key, alert.mode) if alert.event_key else alert
    return latest is not None and latest.msg_type == MsgType.CANCEL and latest.state in SENT_STATES


async def show(request: web.Request) -> web.Response:
    """The alert: its words, people, versions, the preview on every channel, progress, and the actions."""
    state, current = console(request), who(request)
    alert = await stored_alert(request)
    record = await state.store.approval_record(alert.id)
    hands = _hands(state, current.session.lang, alert, record)
    versions = await state.store.versions(alert.event_key, alert.mode) if alert.event_key else [alert]
    latest = versions[-1] if versions else alert
    reports = await state.store.report(alert.id)
    first_sent = min((r.first_sent for r in reports if r.first_sent), default=None)
    sent = alert.state in SENT_STATES or alert.state == AlertState.CANCELLED
    context: dict[str, Any] = {
        "alert": alert,
        "level_name": tags.badge(alert, state.settings),  # the badge the public sees; "" for none
        "category": state.settings.categories.get(alert.category),
        "requester": hands[1][1],
        "versions": versions,
        "latest": latest,
        "event_cancelled": await _cancelled(state, alert),
        "follow_up": await _follow_up(state, alert),
        # the Hawaii measure: from the officer's click (the correction's creation) to its first delivery
        "to_first_delivery": first_sent - alert.created_at if first_sent and alert.msg_type != MsgType.ALERT else None,
        "preview": preview.build(state, alert, "ja"),
        "progress": await dashboard_pages.progress(state, alert.id) if sent else [],
        "audience": await state.store.reach(alert) if not sent else {},
        "needs_approval": state.lifecycle.needs_approval(alert),
        "can_send": current.user.role in CAN_SEND,
        "can_approve": current.user.role == Role.APPROVER
        and current.name not in (alert.created_by, record.requester, *record.authors),
        "source_origin": await _origin(state, alert),
        "fingerprint": fingerprint(alert),
        "fingerprint_short": short(fingerprint(alert)),
        "hands": hands,
        "rejection": record.rejection if alert.state == AlertState.DRAFT else "",
        "rejected_by": await _rejected_by(state, alert) if record.rejection else "",
    }
    return page(request, "alert.html.j2", **context)


# why nobody requested or approved an alert in this state (in any other: it needed no approval); a
# cancelled alert without an approver is a discarded draft, since a sent one that was cancelled has one
_NOBODY = {AlertState.DRAFT: "alert_none_yet", AlertState.CANCELLED: "alert_none_discarded"}


def _hands(state: Console, lang: str, alert: Alert, record: ApprovalRecord) -> list[tuple[str, str]]:
    """Who had a hand in the alert, as (label, names) rows: never an empty field, 「—」 and why instead."""
    t = state.text[lang]

    def named(name: str) -> str:  # a source's own account in words: JMA's alerts are queued by no person
        return t["alert_by_jma"] if alert.source == Source.JMA and name == alert.created_by else name

    authors = [named(name) for name in record.authors or (alert.created_by,)]
    if record.requester:
        requester = named(record.requester) + (f" ({jst(record.requested_at)})" if record.requested_at else "")
    else:
        requester = t[_NOBODY.get(alert.state, "alert_none_not_needed")]
    if record.approver and alert.state != AlertState.PENDING_APPROVAL:
        sent_at_once = not record.requester
        approver = named(record.approver) + (f" ({jst(record.approved_at)})" if record.approved_at else "")
        if sent_at_once:
            approver = t["alert_none_sent_by"].format(name=approver)
    elif alert.state == AlertState.PENDING_APPROVAL:
        approver = t["alert_none_waiting"]
    else:
        approver = t[_NOBODY.get(alert.state, "alert_none_not_needed")]
    return [
        (t["alert_authors"], "、".join(authors)),
        (t["alert_requested_by"], requester),
        (t["alert_approved_by"], approver),
    ]


async def _audit_of(state: Console, alert: Alert) -> list[tuple[str, str, str]]:
    """The alert's own audit lines, newest first, as (action, actor, origin)."""
    return [(e.action, e.actor, e.origin) for e in await state.store.audit_search(alert.id, limit=20)
            if e.target == alert.id]  # fmt: skip


async def _origin(state: Console, alert: Alert) -> str:
    """Where an alert came from, from its creation in the audit log (a JMA document's URL, an API system)."""
    for action, _, origin in await _audit_of(state, alert):
        if action == "create":
            return origin
    return ""


async def _rejected_by(state: Console, alert: Alert) -> str:
    """Who sent the alert back last, from the audit log."""
    for action, actor, _ in await _audit_of(state, alert):
        if action == "reject":
            return actor
    return ""


async def send(request: web.Request) -> web.StreamResponse:
    """Send an exercise draft at once; a live draft goes to its confirmation page first."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await stored_alert(request)
    if alert.state != AlertState.DRAFT:
        return refuse(request, state.text[current.session.lang]["alert_not_draft"])
    if alert.mode == Mode.LIVE:
        return see_other(f"/console/alerts/{alert.id}/confirm")
    return await _release(request, state, alert, current.name)


async def confirm_form(request: web.Request) -> web.Response:
    """The live confirmation: channels, areas, how many people, and the word to type."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await stored_alert(request)
    refusal = _live_refusal(state, current.session.lang, alert, current.mode)
    if refusal:
        return refuse(request, refusal)
    return await _confirm_page(request, alert, error="")


async def _confirm_page(request: web.Request, alert: Alert, error: str, status: int = 200) -> web.Response:
    state = console(request)
    audience = await state.store.reach(alert)
    return page(
        request,
        "confirm.html.j2",
        status=status,
        alert=alert,
        audience=audience,
        people=PEOPLE,
        total=sum(n for ch, n in audience.items() if ch in PEOPLE),
        needs_approval=state.lifecycle.needs_approval(alert),
        error=error,
        live_word=LIVE_WORD,
        preview=preview.build(state, alert, "ja"),
        fingerprint=fingerprint(alert),
        fingerprint_short=short(fingerprint(alert)),
    )


def _live_refusal(state: Console, lang: str, alert: Alert, mode: Mode) -> str:
    t = state.text[lang]
    if alert.mode != Mode.LIVE:
        return t["alert_not_live"]
    if alert.state != AlertState.DRAFT:
        return t["alert_not_draft"]
    if mode != Mode.LIVE:
        return t["alert_switch_to_live"]  # a live draft cannot go out from an exercise-mode screen
    return _unfilled(state, lang, alert)


def _unfilled(state: Console, lang: str, alert: Alert) -> str:
    """Why a live alert cannot go out yet: a 定型文's 【placeholder】 still in the text (the lifecycle's rule)."""
    left = lint.unfilled(alert) if alert.mode == Mode.LIVE else []
    return _placeholders_left(state, lang, left) if left else ""


def _placeholders_left(state: Console, lang: str, placeholders: list[str]) -> str:
    return str(state.text[lang]["alert_placeholders_left"].format(placeholders="、".join(placeholders)))


async def confirm(request: web.Request) -> web.StreamResponse:
    """The second action: typed 本番. Then send now, or queue for approval when the policy says so."""
    state, current = console(request), need(request, *CAN_SEND)
    alert = await stored_alert(request)
    t = state.text[current.session.lang]
    refusal = _live_refusal(state, current.session.lang, alert, current.mode)
    if refusal:
        return refuse(request, refusal)
    form = await request.post()
    typed = str(form.get("typed", "")).strip()
    if typed not in (LIVE_WORD, "LIVE"):
        return await _confirm_page(request, alert, error=t["confirm_type_word"], status=400)
    # the confirmation holds for the version on the page only (an edit since: read it again)
    seen = str(form.get("fingerprint", ""))
    return await _release(request, state, alert, current.name, seen)


async def _release(
    request: web.Request, state: Console, alert: Alert, actor: str, seen: str | None = None
) -> web.Response:
    """Send the draft now, or queue it for a second person when the [approval] policy names it.

    ``seen``: the fingerprint of the version the sender confirmed; another version is refused (409).
    """
    try:
        await state.lifecycle.release(alert.id, actor, client(request), seen)
    except Stale:
        changed = await stored_alert(request)
        error = state.text[who(request).session.lang]["confirm_stale"]
        return await _confirm_page(request, changed, error=error, status=409)
    except Unfilled as exc:
        return refuse(request, _placeholders_left(state, who(request).session.lang, exc.placeholders), status=400)
    except InputError as exc:  # sent or discarded since the page was shown
        return refuse(request, wording.explained(request, exc))
    return see_other(f"/console/alerts/{alert.id}")


async def approve(request: web.Request) -> web.StreamResponse:
    """A second person approves a pending live alert; it goes out at once."""
    state, current = console(request), need(request, Role.APPROVER)
    alert = await stored_alert(request)
    form = await request.post()
    if form.get("checked") != "yes":
        return refuse(request, state.text[current.session.lang]["approve_check_first"], status=400)
    try:
        await state.lifecycle.approve(alert.id, current.name, client(request), str(form.get("fingerprint", "")))
    except Stale:  # changed since the approver read it: approving it would approve words nobody read
        return refuse(request, state.text[current.session.lang]["approve_stale"].format(id=alert.id))
    except Unfilled as exc:
        return refuse(request, _placeholders_left(state, current.session.lang, exc.placeholders), status=400)
    except InputError as exc:
        return refuse(request, wording.explained(request, exc), status=403)
    return see_other(f"/console/alerts/{alert.id}")


async def reject(request: web.Request) -> web.StreamResponse:
    """Send a pending alert back to draft (approver), or discard a draft (anyone who may send)."""
    state, current = console(request), who(request)
    alert = await stored_alert(request)
    if alert.state == AlertState.PENDING_APPROVAL:
        need(request, Role.APPROVER)
    else:
        need(request, *CAN_SEND)
    reason = str((await request.post()).get("reason", "")).strip()[:REASON_MAX]
    if alert.state == AlertState.PENDING_APPROVAL and not reason:  # the author must learn what to change
        return refuse(request, state.text[current.session.lang]["reject_reason_first"], status=400)
    try:
        await state.lifecycle.reject(alert.id, current.name, reason, client(request))
    except InputError as exc:
        return refuse(request, wording.explained(request, exc))
    return see_other(f"/console/alerts/{alert.id}")


async def approvals(request: web.Request) -> web.Response:
    """Live alerts waiting for a second person, and the drafts (JMA, API, officers) not yet sent."""
    state = console(request)
    pending = await state.store.alerts_in_state(AlertState.PENDING_APPROVAL)
    waiting = await state.store.alerts_in_state(AlertState.DRAFT)
    lang = who(request).session.lang
    requesters = {a.id: _hands(state, lang, a, await state.store.approval_record(a.id))[1][1] for a in pending}
    rejected = {a.id: (await state.store.approval_record(a.id)).rejection for a in waiting}
    return page(request, "approvals.html.j2", pending=pending, drafts=waiting, requesters=requesters,
                rejected=rejected, now=time.time())  # fmt: skip
