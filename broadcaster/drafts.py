"""Drafts from people and other systems: one validation for the console's form and the REST API.

A draft is checked against the config (categories, channels, languages, areas) before anything is
stored; an error names the field. Corrections and cancels are made here too, from the alert they
replace, so that they keep its event, mode and channels.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from broadcaster import intake, naming
from broadcaster.cap_terms import assess
from broadcaster.clock import jst
from broadcaster.errors import InputError
from broadcaster.models import Alert, AlertState, Mode, MsgType, Source, Text
from broadcaster.settings import Settings

MAX_TITLE = 120
MAX_BODY = 4000
MAX_INSTRUCTION = 1000
MAX_EXPIRY_S = 7 * 86_400


def _title(value: str) -> str:
    cleaned = intake.clean_title(value)
    if not cleaned:
        raise ValueError("holds nothing but control characters; write the title")
    return cleaned


def _words(value: str) -> str:
    cleaned = intake.clean_text(value).strip()
    if not cleaned:
        raise ValueError("holds nothing but control characters; write the text")
    return cleaned


def _optional_words(value: str) -> str:
    return intake.clean_text(value).strip()


def _no_level(value: Any) -> Any:
    return 0 if value is None or value == "" else value  # the form's 「選んでください」 sends ""


# Every text field is cleaned where it comes in (broadcaster/intake): a title is one line, a body has
# LF line breaks, and neither holds another control character or a bidi override.
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(_title)]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY), AfterValidator(_words)]
Instruction = Annotated[str, Field(max_length=MAX_INSTRUCTION), AfterValidator(_optional_words)]
LEVEL_HELP = "1-5, the JMA 警戒レベル: required for a category that carries one (disaster); 0, null or absent: none"


class Translation(BaseModel):
    """An alert's words in one more language."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Title
    body: Body
    instruction: Instruction = ""


class Draft(BaseModel):
    """What a draft may say. The JSON schema of this model is the API's request body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(description="a category id from the config, e.g. disaster")
    level: Annotated[int, Field(ge=0, le=5), BeforeValidator(_no_level)] = Field(
        default=0, description=LEVEL_HELP, json_schema_extra={"type": ["integer", "null"]}
    )
    title: Title
    body: Body
    instruction: Instruction = ""
    areas: tuple[str, ...] = Field(
        default=(), description="JMA area codes of the configured areas; empty: the whole city"
    )
    translations: dict[str, Translation] = Field(default_factory=dict, description="language code -> words")
    channels: tuple[str, ...] | None = Field(default=None, description="empty or null: the category's channels")
    expires: datetime | None = Field(default=None, description="ISO 8601 with offset; null: no expiry")
    mode: Literal["exercise", "live"] = "exercise"
    kind: str = ""

    @model_validator(mode="after")
    def _expiry_has_offset(self) -> Draft:
        if self.expires is not None and self.expires.tzinfo is None:
            raise ValueError("expires needs a UTC offset, e.g. 2026-12-01T18:00:00+09:00")
        return self


def parse(data: Mapping[str, Any]) -> Draft:
    """Validate a draft's shape; InputError names each bad field."""
    try:
        return Draft.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """A ValidationError as one line: field: problem; ..."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        what = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {what}")
    return "; ".join(parts)


def new_id(now: float) -> str:
    """A sortable, unguessable alert id that starts with its time in JST (20261129-143000-1a2b3c)."""
    return jst(now).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def build(settings: Settings, draft: Draft, author: str, source: Source, now: float | None = None) -> Alert:
    """The draft as an Alert (state draft), checked against the config; InputError names the field."""
    now = time.time() if now is None else now
    errors = []
    category = settings.categories.get(draft.category)
    if category is None:
        errors.append(f"category: unknown {draft.category!r}; valid: {', '.join(settings.categories)}")
    enabled = settings.enabled_channels
    if draft.channels:
        channels = tuple(dict.fromkeys(draft.channels))
        unknown = [c for c in channels if c not in enabled]
        if unknown:
            errors.append(f"channels: {', '.join(unknown)} not enabled; valid: {', '.join(enabled)}")
    else:
        channels = tuple(c for c in category.channels if c in enabled) if category else ()
        if category and not channels:
            errors.append("channels: the category's channels are all switched off; choose some")
    extra = [lang for lang in draft.translations if lang == "ja" or lang not in settings.city.languages]
    if extra:
        errors.append(f"translations: {', '.join(extra)} not offered; valid: {', '.join(settings.city.languages[1:])}")
    if category is not None and category.levels and not draft.level:
        # only here is a level required: daily-life categories never make the officer pick one
        errors.append(f"level: choose the 警戒レベル (1-5) of this {draft.category} alert")
    areas = tuple(dict.fromkeys(draft.areas)) or (settings.areas.city,)
    known = naming.areas(settings)
    if any(a not in known for a in areas):
        valid = ", ".join(f"{code} ({names[0]})" for code, names in known.items())
        errors.append(f"areas: JMA area codes of the configured areas only; valid: {valid}")
    expires = draft.expires.timestamp() if draft.expires else None
    if expires is not None and not now < expires <= now + MAX_EXPIRY_S:
        errors.append("expires: must be in the future and within 7 days")
    if errors:
        raise InputError("; ".join(errors))
    alert_id = new_id(now)
    alert = Alert(
        id=alert_id,
        source=source,
        category=draft.category,
        level=draft.level,
        title=draft.title,
        body=draft.body,
        instruction=draft.instruction,
        kind=draft.kind,
        areas=tuple(areas),
        translations={k: Text(t.title, t.body, t.instruction) for k, t in draft.translations.items()},
        event_key=alert_id,
        mode=Mode(draft.mode),
        expires=expires,
        channels=channels,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
    )
    return assess(alert, settings)  # CAP's urgency, severity and certainty from the category and level


def correction(original: Alert, changes: Draft, author: str, now: float | None = None) -> Alert:
    """The next version of ``original``'s event with new words: same event, mode and channels."""
    now = time.time() if now is None else now
    return dataclasses.replace(
        original,
        id=new_id(now),
        source=Source.STAFF,
        level=changes.level,
        title=changes.title,
        body=changes.body,
        instruction=changes.instruction,
        translations={k: Text(t.title, t.body, t.instruction) for k, t in changes.translations.items()},
        expires=changes.expires.timestamp() if changes.expires else original.expires,
        version=original.version + 1,
        msg_type=MsgType.UPDATE,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        references=original.id,
    )


def cancellation(original: Alert, author: str, reason: str = "", now: float | None = None) -> Alert:
    """The cancel of ``original``'s event: it reaches exactly who got any version of it."""
    now = time.time() if now is None else now
    title = f"【取消】{original.title.removeprefix('【取消】')}"
    body = reason.strip() or "先ほどの情報は取り消しました。"
    # the templates tag a cancel's translated title themselves ([CANCELLED])
    translations = {k: Text(t.title, reason.strip() or "The earlier message is cancelled.")
                    for k, t in original.translations.items()}  # fmt: skip
    return dataclasses.replace(
        original,
        id=new_id(now),
        source=Source.STAFF,
        title=title,
        body=body,
        instruction="",
        translations=translations,
        version=original.version + 1,
        msg_type=MsgType.CANCEL,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        references=original.id,
    )
