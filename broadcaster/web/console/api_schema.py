"""The API's answers as pydantic models, and the OpenAPI 3.1 document generated from them.

The document's schemas come from the very models the API validates (``Draft``) and answers with, so
it cannot drift from what is sent.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from broadcaster import drafts
from broadcaster.models import AlertState, Mode, MsgType, Source
from broadcaster.scopes import MEANING, Scope

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024  # a draft is a few KiB at most
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
SCHEMAS = "#/components/schemas/{model}"
STATES = frozenset(s.value for s in AlertState)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII
OPENAPI = "openapi"  # the one operation without a token
# the scope each operation needs, by operationId (also the route's name, which the guard looks up)
SCOPES: dict[str, Scope] = {
    "createDraft": Scope.DRAFTS_WRITE,
    "listAlerts": Scope.ALERTS_READ,
    "getAlert": Scope.ALERTS_READ,
    "correctAlert": Scope.FOLLOWUPS_WRITE,
    "liftAlert": Scope.FOLLOWUPS_WRITE,
}


class ProblemOut(BaseModel):
    """One thing wrong with a draft, for a program: a stable code and the field it is about."""

    code: str = Field(description="e.g. missing, unknown_district, unknown_phrase, unknown_slot, slots_without_phrase")
    field: str = Field(description='the field, e.g. "phrase", "slots", "translations.en.title"; "" for none')
    detail: str = Field(description="the problem in English")


class Error(BaseModel):
    """Every error answer."""

    error: str = Field(description="a short code, e.g. invalid")
    detail: str = Field(description="what is wrong; for invalid fields: field: problem; ...")
    problems: list[ProblemOut] = Field(default_factory=list, description="for invalid fields: one per problem")


VariantSource = Literal["officer", "phrasebook", "notice"]


class Variant(BaseModel):
    """An alert's words in one language, and where they came from."""

    title: str
    body: str
    instruction: str
    source: VariantSource = Field(
        description="officer: typed by a person or a system; phrasebook: a reviewed pattern filled from the "
        "alert's fields (a JMA document, a 定型文); notice: free text is never machine-translated, so the "
        "language gets the phrasebook's notice (category, level, districts, the link to the Japanese)"
    )


class Created(BaseModel):
    """The answer to a posted draft."""

    id: str
    state: AlertState
    mode: Mode
    links: dict[str, str] = Field(description="self: this API; console: the page an officer sends it from")


class AlertSummary(BaseModel):
    """An alert in a list."""

    id: str
    state: AlertState
    mode: Mode
    msg_type: MsgType
    category: str
    level: int = Field(description="1-5: the JMA 警戒レベル; 0: none (crime, health and daily-life categories)")
    title: str
    created_at: dt.datetime = Field(description="ISO 8601 in JST (+09:00), to the second")
    expires: dt.datetime | None
    districts: list[str] = Field(
        description="ids of the city's districts it targets (as the draft's districts); empty: the whole city"
    )
    links: dict[str, str]


class ChannelStatus(BaseModel):
    """How far one channel has gone with an alert."""

    counts: dict[str, int] = Field(description="delivery rows by state: pending, sending, sent, failed, superseded")
    first_sent: dt.datetime | None
    last_sent: dt.datetime | None
    next_retry: dt.datetime | None


class AlertStatus(AlertSummary):
    """One alert and its delivery status; no recipients."""

    source: Source
    created_by: str = Field(description="api:<token name> for drafts from this API")
    version: int
    references: str | None = Field(description="the alert this one updates or cancels")
    channels: list[str]
    fingerprint: str = Field(description="sha256 of the content an approval is bound to (changes with every edit)")
    deliveries: dict[str, ChannelStatus] = Field(description="per channel; empty until an officer sends it")
    phrase: str = Field(description="the 定型文 or phrasebook pattern it was made from; empty: free text")
    variants: dict[str, Variant] = Field(
        description="language code (ja first) -> its words; やさしい日本語 gives furigana as 漢字（かんじ）. "
        "A language the city offers that is missing gets the Japanese"
    )


class AlertList(BaseModel):
    """The newest alerts first."""

    alerts: list[AlertSummary]


ERRORS = {
    "400": (
        "BadRequest",
        "not JSON, a bad query or Idempotency-Key, or an unknown district id (unknown-district: the detail names "
        "the valid ids; nothing is stored)",
    ),
    "401": ("Unauthorized", "no working bearer token"),
    "403": ("Forbidden", "the token lacks the scope this operation needs (insufficient-scope; the detail names it)"),
    "404": ("NotFound", "no such alert or route"),
    "405": ("MethodNotAllowed", "the route does not take this method"),
    "413": ("TooLarge", f"the body is over {MAX_BODY} bytes"),
    "415": ("UnsupportedMediaType", "the body is not application/json in UTF-8"),
    "409": ("Conflict", "the alert's event cannot be corrected or lifted: nothing of it went out, or it is over"),
    "422": (
        "Invalid",
        "a field is wrong (the detail names it; problems give each code and field, e.g. unknown_phrase, "
        "unknown_slot, slots_without_phrase), or the Idempotency-Key was used for another body",
    ),
}


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, its schemas generated from the models the API reads and answers."""
    draft = drafts.Draft.model_json_schema(ref_template=SCHEMAS)
    answers: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "serialization") for m in (Error, Created, AlertSummary, ChannelStatus, AlertStatus, AlertList)
    ]
    _, generated = models_json_schema(answers, ref_template=SCHEMAS)
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
        "description": "a retry with the same key and body returns the same draft instead of making another",
    }
    state = {"name": "state", "in": "query", "schema": {"enum": sorted(STATES)}}
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}}
    alert_id = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {"required": True, "content": {"application/json": {"schema": _ref("Draft")}}}
    location = {"schema": {"type": "string"}, "description": "the new draft's URL in this API"}
    # a correction (【訂正】) or a lift (【解除】) of the event's newest sent version, as a draft an officer sends
    confirmed = {
        "type": "array",
        "items": {"type": "string"},
        "description": "languages whose translation is still right though the Japanese changed; any other "
        "translation left as it was is refused (422 stale-translations)",
    }
    corrected_districts = {
        "type": "array",
        "items": {"type": "string"},
        "description": "the corrected districts (a widened area, say); left out: the original's stay; empty: the "
        "whole city. An unknown id is a 400 unknown-district",
    }
    correction = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [_ref("Draft")],
                    "properties": {"confirmed_translations": confirmed, "districts": corrected_districts},
                }
            }
        },
    }
    reason = {"type": "string", "maxLength": drafts.MAX_BODY, "description": "the lift's text; empty: a reminder"}
    lift_body = {"type": "object", "properties": {"reason": reason}, "additionalProperties": False}
    lift = {"required": True, "content": {"application/json": {"schema": lift_body}}}
    created = {**_answer("Created", "the draft, waiting for an officer"), "headers": {"Location": location}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "City alert broadcaster",
            "version": "1",
            "description": "Other city systems post drafts, which a duty officer previews and sends in the console, "
            "and read their delivery status. Every answer is JSON.",
        },
        "security": [{"bearer": []}],
        "paths": {
            f"{PREFIX}/drafts": {
                "post": _operation("createDraft", {"201": created}, "400 401 403 405 413 415 422", [idempotency], body)
            },
            f"{PREFIX}/alerts": {
                "get": _operation(
                    "listAlerts", {"200": _answer("AlertList", "the newest first")}, "400 401 403 405", [state, limit]
                )
            },
            f"{PREFIX}/alerts/{{alert_id}}": {
                "get": _operation(
                    "getAlert", {"200": _answer("AlertStatus", "the alert")}, "401 403 404 405", [alert_id]
                )
            },
            f"{PREFIX}/alerts/{{alert_id}}/correct": {
                "post": _operation(
                    "correctAlert", {"201": created}, "400 401 403 404 405 409 413 415 422", [alert_id], correction
                )
            },
            f"{PREFIX}/alerts/{{alert_id}}/lift": {
                "post": _operation(
                    "liftAlert", {"201": created}, "400 401 403 404 405 409 413 415 422", [alert_id], lift
                )
            },
            f"{PREFIX}/openapi.json": {
                "get": {
                    "operationId": OPENAPI,
                    "security": [],
                    "responses": {"200": {"description": "this document", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "from `python run.py tokens add NAME --scope SCOPE ...`. A token carries the scopes "
                    "it was made with; an operation names the one it needs in its security requirement, and a token "
                    "without it gets 403 insufficient-scope. Scopes: "
                    + "; ".join(f"{scope}: {meaning}" for scope, meaning in MEANING.items()),
                }
            },
            "schemas": {
                "Draft": {k: v for k, v in draft.items() if k != "$defs"},
                **draft.get("$defs", {}),
                **generated["$defs"],
            },
            "responses": {name: {"description": text, **_content("Error")} for name, text in ERRORS.values()},
        },
    }


def _operation(
    operation_id: str,
    answers: dict[str, Any],
    errors: str,
    parameters: list[dict[str, Any]],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    refs = {s: {"$ref": f"#/components/responses/{ERRORS[s][0]}"} for s in errors.split()}
    scope = SCOPES[operation_id]
    found: dict[str, Any] = {
        "operationId": operation_id,
        "description": f"Needs a token with the scope `{scope}` ({MEANING[scope]}).",
        # OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs: here, the token's scope
        "security": [{"bearer": [str(scope)]}],
        "parameters": parameters,
        "responses": {**answers, **refs},
    }
    if body is not None:
        found["requestBody"] = body
    return found


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=name)}


def _content(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(schema)}}}


def _answer(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, **_content(schema)}
