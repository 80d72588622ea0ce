"""The REST API (/api/v1) for other city systems: they post drafts and read how alerts went out.

The API never sends anything: what a system posts is a draft that waits in the console until a duty
officer previews and sends it. The guard in console/app.py has checked the bearer token, and that it
carries the scope the route needs (``api_schema.SCOPES``, by the route's name, which is its
operationId), before a handler runs (except for the OpenAPI document). Every answer is JSON, errors
included, as ``{"error": code, "detail": text}``. An unknown district id is a 400 (``unknown-district``)
whose detail names the valid ids, and nothing is stored. A token with ``alerts:read`` may read any alert, but
never personal data: no recipients and no delivery errors (a bounce can quote an address).

The answers are pydantic models, so the OpenAPI document describes exactly what is sent; the request
body's schema is the ``Draft`` model's, the same validation the console's form uses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from broadcaster import districts, drafts, variants
from broadcaster.clock import JST
from broadcaster.errors import InputError, RefusedError
from broadcaster.fingerprint import fingerprint as content_fingerprint
from broadcaster.lifecycle import Uncorrectable
from broadcaster.models import Alert, AlertState, ChannelReport, Source, Timestamp
from broadcaster.state import API_IDEMPOTENCY, StateRow
from broadcaster.web.console import api_schema
from broadcaster.web.console.api_schema import (
    DEFAULT_LIMIT,
    IDEMPOTENCY_KEY,
    MAX_BODY,
    MAX_LIMIT,
    PREFIX,
    STATES,
    AlertList,
    AlertStatus,
    AlertSummary,
    ChannelStatus,
    Created,
    Error,
    ProblemOut,
    Variant,
    VariantSource,
)
from broadcaster.web.console.web import API_USER, Handler, client, console

log = logging.getLogger("broadcaster.api")

SCAN = 1000  # a state filter looks among this many of the newest alerts
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# held across look-up, create and remember, so two retries that arrive together make one draft, not two
POSTING = web.AppKey("api.posting", asyncio.Lock)


class Refused(RefusedError):
    """A request the API answers with a JSON error; ``problems``: each invalid field's code, for a program."""

    def __init__(self, status: int, error: str, detail: str, problems: list[ProblemOut] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.problems = problems or []


def add_routes(app: web.Application) -> None:
    """Register the API's routes and its JSON errors."""
    app[POSTING] = asyncio.Lock()
    app.middlewares.append(json_errors)
    # each route is named by its operationId: the guard finds the scope it needs under that name
    app.router.add_post(f"{PREFIX}/drafts", post_draft, name="createDraft")
    app.router.add_get(f"{PREFIX}/alerts", list_alerts, name="listAlerts")
    app.router.add_post(f"{PREFIX}/alerts/{{alert_id}}/correct", post_correction, name="correctAlert")
    app.router.add_post(f"{PREFIX}/alerts/{{alert_id}}/lift", post_lift, name="liftAlert")
    app.router.add_get(f"{PREFIX}/alerts/{{alert_id}}", get_alert, name="getAlert")
    app.router.add_get(f"{PREFIX}/openapi.json", openapi, name=api_schema.OPENAPI)


def _json(
    data: BaseModel | dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # an error carries problems only when there are some: every other error keeps its two fields
    body = (
        data.model_dump(mode="json", exclude_defaults=isinstance(data, Error)) if isinstance(data, BaseModel) else data
    )
    dumps = functools.partial(json.dumps, ensure_ascii=False)
    return web.json_response(body, status=status, headers={**API_HEADERS, **(headers or {})}, dumps=dumps)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer errors under /api as JSON, aiohttp's own 404 and 405 included."""
    if not (request.path == "/api" or request.path.startswith("/api/")):
        return await handler(request)
    try:
        return await handler(request)
    except Refused as exc:
        return _json(Error(error=exc.error, detail=exc.detail, problems=exc.problems), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        code = exc.reason.lower().replace(" ", "-")
        return _json(Error(error=code, detail=f"{request.method} {request.path}: {exc.reason}"), exc.status, kept)
    except Exception:
        log.exception("api: %s %s failed", request.method, request.path)
        return _json(Error(error="internal", detail="the server failed; the error is in its log"), 500)


# -- drafts ---------------------------------------------------------------------


async def post_draft(request: web.Request) -> web.Response:
    """Make a draft from another system's JSON; an officer sends it from the console."""
    name = request[API_USER]
    data = await _json_body(request)
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return _created(await _create(request, name, data), replayed=False)
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Refused(400, "bad-idempotency-key", "Idempotency-Key: 1-200 visible ASCII characters")
    store = console(request).store
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    async with request.app[POSTING]:
        remembered = await store.get_state(API_IDEMPOTENCY, f"{name}:{key}")
        if remembered is not None:
            alert_id, _, was = remembered.partition(" ")
            if was != fingerprint:
                raise Refused(
                    422, "idempotency-key-reused", f"Idempotency-Key: already used for another body ({alert_id})"
                )
            alert = await store.get_alert(alert_id)
            if alert is not None:
                return _created(alert, replayed=True)
        # the key is remembered in the draft's own transaction: a retry after a crash finds both or neither
        alert = await _create(
            request, name, data, lambda a: [API_IDEMPOTENCY.entry(f"{name}:{key}", f"{a.id} {fingerprint}")]
        )
    return _created(alert, replayed=False)


async def _json_body(request: web.Request) -> dict[str, Any]:
    ctype, charset = request.content_type, (request.charset or "utf-8").lower()
    if not (ctype == "application/json" or ctype.endswith("+json")) or charset not in ("utf-8", "utf8"):
        raise Refused(415, "unsupported-media-type", f"send Content-Type: application/json (UTF-8), not {ctype}")
    if (request.content_length or 0) > MAX_BODY:
        raise Refused(413, "too-large", f"the body is over {MAX_BODY} bytes")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(16_384):  # a chunked body has no length to check first
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Refused(413, "too-large", f"the body is over {MAX_BODY} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise Refused(400, "bad-json", "the body is not JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise Refused(400, "bad-json", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Refused(422, "invalid", f"request body: a JSON object is expected, not {type(data).__name__}")
    return data


async def _create(
    request: web.Request, name: str, data: dict[str, Any], remember: Callable[[Alert], list[StateRow]] | None = None
) -> Alert:
    lifecycle = console(request).lifecycle
    author = f"api:{name}"
    try:
        alert = lifecycle.build(drafts.parse(data), author, Source.API)
    except InputError as exc:
        raise _invalid(exc) from None
    await lifecycle.save(alert, author, client(request), remember(alert) if remember else ())
    log.info("api: %s made draft %s (%s %s level %d)", name, alert.id, alert.mode, alert.category, alert.level)
    return alert


def _invalid(exc: InputError) -> Refused:
    """A draft the API refuses: 400 for an unknown district id (the detail names the valid ids), 422 otherwise."""
    problems = [ProblemOut(code=p.code, field=p.field, detail=p.message) for p in exc.problems]
    if any(p.code == "unknown_district" for p in exc.problems):
        return Refused(400, "unknown-district", str(exc), problems)
    return Refused(422, "invalid", str(exc), problems)


def _created(alert: Alert, replayed: bool) -> web.Response:
    links = _links(alert.id)
    headers = {"Location": links["self"]}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(Created(id=alert.id, state=alert.state, mode=alert.mode, links=links), 201, headers)


# -- corrections and lifts -------------------------------------------------------
# Like every draft, a correction or a lift another system posts waits in the console: an officer
# reviews it and sends it (typed 本番 for a live event), and the approval policy applies. A cancel has
# no API: it is one fast action in the console, and a token must never withdraw a real order.


async def _followed(request: web.Request) -> Alert:
    """The newest sent version of the alert's event; 404, or 409 when it cannot be followed up."""
    lifecycle = console(request).lifecycle
    alert_id = request.match_info["alert_id"]
    alert = await console(request).store.get_alert(alert_id)
    if alert is None:
        raise Refused(404, "not-found", f"alert_id: no alert {alert_id!r}")
    latest = await lifecycle.correctable(alert)
    if isinstance(latest, Uncorrectable):
        raise Refused(409, f"event-{latest.value.replace('_', '-')}", f"alert {alert_id}: {latest.value}")
    return latest


async def post_correction(request: web.Request) -> web.Response:
    """A correction (【訂正】) of the alert's event as a draft; body: a draft and ``confirmed_translations``.

    A changed Japanese text with a translation left as it was is refused (422 stale-translations) unless
    the language is in ``confirmed_translations`` (the translation is still right). ``districts``, when
    given, are the corrected districts (a widened area); left out, the original's stay.
    """
    name = request[API_USER]
    data = await _json_body(request)
    confirmed = data.pop("confirmed_translations", [])
    if not isinstance(confirmed, list) or not all(isinstance(c, str) for c in confirmed):
        raise Refused(422, "invalid", "confirmed_translations: a list of language codes")
    latest = await _followed(request)
    author = f"api:{name}"
    settings = console(request).settings
    try:
        changes = drafts.parse(data | {"mode": str(latest.mode)})
        corrected = districts.check_ids(changes.districts, settings) if "districts" in data else None
        correction = drafts.correction(settings, latest, changes, author, confirmed=confirmed, districts=corrected)
    except drafts.StaleTranslations as exc:
        raise Refused(422, "stale-translations", str(exc)) from None
    except InputError as exc:
        raise _invalid(exc) from None
    await console(request).lifecycle.save(correction, author, client(request))
    log.info("api: %s made correction %s of %s", name, correction.id, latest.id)
    return _created(correction, replayed=False)


async def post_lift(request: web.Request) -> web.Response:
    """A lift (【解除】: the order or warning is over) of the alert's event as a draft; body: ``{"reason": ""}``."""
    name = request[API_USER]
    data = await _json_body(request)
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > drafts.MAX_BODY or set(data) - {"reason"}:
        raise Refused(422, "invalid", f'body: {{"reason": text of at most {drafts.MAX_BODY} characters}}')
    latest = await _followed(request)
    author = f"api:{name}"
    lift = drafts.lift(console(request).settings, latest, author, reason)
    await console(request).lifecycle.save(lift, author, client(request))
    log.info("api: %s made lift %s of %s", name, lift.id, latest.id)
    return _created(lift, replayed=False)


# -- alerts ---------------------------------------------------------------------


async def get_alert(request: web.Request) -> web.Response:
    """One alert and how far its delivery has gone, per channel."""
    store = console(request).store
    alert_id = request.match_info["alert_id"]
    alert = await store.get_alert(alert_id)
    if alert is None:
        raise Refused(404, "not-found", f"alert_id: no alert {alert_id!r}")
    return _json(_status(alert, await store.report(alert_id)))


async def list_alerts(request: web.Request) -> web.Response:
    """The newest alerts, optionally in one state; summary fields only."""
    store = console(request).store
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not 1 <= int(text) <= MAX_LIMIT:
        raise Refused(400, "bad-query", f"limit: a whole number from 1 to {MAX_LIMIT}")
    limit, wanted = int(text), request.query.get("state", "")
    if wanted and wanted not in STATES:
        raise Refused(400, "bad-query", f"state: unknown {wanted!r}; valid: {', '.join(AlertState)}")
    if wanted:  # alerts_in_state lists the oldest first; a system asks about the newest
        found = [a for a in await store.list_alerts(SCAN) if a.state == wanted][:limit]
    else:
        found = await store.list_alerts(limit)
    return _json(AlertList(alerts=[_summary(a) for a in found]))


def _time(timestamp: Timestamp) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(timestamp), JST)  # to the second, as CAP and the website


def _maybe(timestamp: Timestamp | None) -> dt.datetime | None:
    return None if timestamp is None else _time(timestamp)


def _links(alert_id: str) -> dict[str, str]:
    return {"self": f"{PREFIX}/alerts/{alert_id}", "console": f"/console/alerts/{alert_id}"}


def _fields(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "state": alert.state,
        "mode": alert.mode,
        "msg_type": alert.msg_type,
        "category": alert.category,
        "level": alert.level,
        "title": alert.title,
        "created_at": _time(alert.created_at),
        "expires": _maybe(alert.expires),
        "districts": list(alert.districts),
        "links": _links(alert.id),
    }


def _summary(alert: Alert) -> AlertSummary:
    return AlertSummary(**_fields(alert))


def _status(alert: Alert, reports: list[ChannelReport]) -> AlertStatus:
    deliveries = {
        r.channel: ChannelStatus(
            counts=dict(r.counts),
            first_sent=_maybe(r.first_sent),
            last_sent=_maybe(r.last_sent),
            next_retry=_maybe(r.next_retry),
        )
        for r in reports
    }
    return AlertStatus(
        **_fields(alert),
        source=alert.source,
        created_by=alert.created_by,
        version=alert.version,
        references=alert.references,
        channels=list(alert.channels),
        fingerprint=content_fingerprint(alert),
        deliveries=deliveries,
        phrase=alert.phrase,
        variants=_variants(alert),
    )


def _variants(alert: Alert) -> dict[str, Variant]:
    """The alert's words per language, furigana as 漢字（かんじ）: a program shows them as they are."""
    out = {}
    for lang in alert.languages:
        text = variants.plain(alert.text(lang))
        source: VariantSource = (
            "notice" if text.source == "notice" else "phrasebook" if text.source == "phrasebook" else "officer"
        )
        out[lang] = Variant(title=text.title, body=text.body, instruction=text.instruction, source=source)
    return out


# -- the OpenAPI document ---------------------------------------------------------


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API (public: it holds no data)."""
    return _json(api_schema.document())
