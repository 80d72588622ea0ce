"""Drafts from people and other systems: one validation for the console's form and the REST API.

A draft is checked against the config (categories, channels, languages, areas) before anything is
stored; an error names the field. Corrections and cancels are made here too, from the alert they
replace, so that they keep its event, mode and channels.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from broadcaster import districts, intake, naming, variants
from broadcaster.cap_terms import assess
from broadcaster.clock import jst
from broadcaster.errors import InputError, Problem
from broadcaster.models import Alert, AlertState, Mode, MsgType, Source, Text
from broadcaster.settings import Settings
from broadcaster.tags import bare

MAX_TITLE = 120
MAX_BODY = 4000
MAX_INSTRUCTION = 1000
MAX_EXPIRY_S = 7 * 86_400
# a lift's body when the officer gives no reason; the rendered text already says what is lifted
LIFT_BODY = "引き続き、今後の情報に注意してください。"


def _title(value: str) -> str:
    cleaned = intake.clean_title(value)
    if not cleaned:
        raise PydanticCustomError("only_control", "holds nothing but control characters; write the title")
    # tags (【訓練】, 【訂正】, the level) are added by code where it renders: typed ones would show twice
    words = bare(cleaned)
    if not words:
        raise PydanticCustomError(
            "only_tags", "holds nothing but tags such as 【訂正】, which are added for you; write the title"
        )
    return words


def _words(value: str) -> str:
    cleaned = intake.clean_text(value).strip()
    if not cleaned:
        raise PydanticCustomError("only_control", "holds nothing but control characters; write the text")
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
    districts: tuple[str, ...] = Field(
        default=(), description="ids of the city's districts (run.py districts list); empty: the whole city"
    )
    translations: dict[str, Translation] = Field(default_factory=dict, description="language code -> words")
    channels: tuple[str, ...] | None = Field(default=None, description="empty or null: the category's channels")
    expires: datetime | None = Field(default=None, description="ISO 8601 with offset; null: no expiry")
    mode: Literal["exercise", "live"] = "exercise"
    kind: str = ""
    phrase: str = Field(
        default="", description="the 定型文 (phrasebook pattern id) the words were made from; empty: free text"
    )
    slots: dict[str, str | list[str]] = Field(
        default_factory=dict, description="the 定型文's slot values (time, hazard, shelter …); districts fill places"
    )

    @model_validator(mode="after")
    def _expiry_has_offset(self) -> Draft:
        if self.expires is not None and self.expires.tzinfo is None:
            raise PydanticCustomError("no_offset", "expires needs a UTC offset, e.g. 2026-12-01T18:00:00+09:00")
        return self


def parse(data: Mapping[str, Any]) -> Draft:
    """Validate a draft's shape; InputError names each bad field."""
    try:
        return Draft.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems=problems(exc)) from None


def describe(exc: ValidationError) -> str:
    """A ValidationError as one line: field: problem; ..."""
    return "; ".join(str(p) for p in problems(exc))


def problems(exc: ValidationError) -> list[Problem]:
    """A ValidationError's problems, one per field: the code is pydantic's error type (``missing``,
    ``string_too_long`` …, ours ``only_control``, ``only_tags``, ``no_offset``), the params its context."""
    found = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        what = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        found.append(Problem(err["type"], what, where, dict(err.get("ctx") or {})))
    return found


def new_id(now: float) -> str:
    """A sortable, unguessable alert id that starts with its time in JST (20261129-143000-1a2b3c)."""
    return jst(now).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def build(settings: Settings, draft: Draft, author: str, source: Source, now: float | None = None) -> Alert:
    """The draft as an Alert (state draft), checked against the config; InputError names the field."""
    now = time.time() if now is None else now
    errors: list[Problem] = []
    category = settings.categories.get(draft.category)
    if category is None:
        valid = ", ".join(settings.categories)
        errors.append(Problem("unknown_category", f"unknown {draft.category!r}; valid: {valid}", "category"))
    enabled = settings.enabled_channels
    if draft.channels:
        channels = tuple(dict.fromkeys(draft.channels))
        unknown = [c for c in channels if c not in enabled]
        if unknown:
            what = f"{', '.join(unknown)} not enabled; valid: {', '.join(enabled)}"
            errors.append(Problem("channels_not_enabled", what, "channels", {"channels": unknown}))
    else:
        channels = tuple(c for c in category.channels if c in enabled) if category else ()
        if category and not channels:
            errors.append(Problem("channels_all_off", "the category's channels are all switched off; choose some",
                                  "channels"))  # fmt: skip
    extra = [lang for lang in draft.translations if lang == "ja" or lang not in settings.city.languages]
    if extra:
        what = f"{', '.join(extra)} not offered; valid: {', '.join(settings.city.languages[1:])}"
        errors.append(Problem("languages_not_offered", what, "translations", {"languages": extra}))
    if category is not None and category.levels and not draft.level:
        # only here is a level required: daily-life categories never make the officer pick one
        what = f"choose the 警戒レベル (1-5) of this {draft.category} alert"
        errors.append(Problem("level_required", what, "level", {"category": draft.category}))
    areas = tuple(dict.fromkeys(draft.areas)) or (settings.areas.city,)
    known = naming.areas(settings)
    if any(a not in known for a in areas):
        valid = ", ".join(f"{code} ({names[0]})" for code, names in known.items())
        errors.append(Problem("unknown_area", f"JMA area codes of the configured areas only; valid: {valid}", "areas"))
    try:
        chosen = districts.check_ids(draft.districts, settings)
    except InputError as exc:
        errors.extend(exc.problems)
        chosen = ()
    expires = draft.expires.timestamp() if draft.expires else None
    if expires is not None and not now < expires <= now + MAX_EXPIRY_S:
        errors.append(Problem("expiry_out_of_range", "must be in the future and within 7 days", "expires"))
    errors += _phrase_problems(settings, draft)
    if errors:
        raise InputError(problems=errors)
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
        districts=chosen,
        translations={k: Text(t.title, t.body, t.instruction) for k, t in draft.translations.items()},
        event_key=alert_id,
        mode=Mode(draft.mode),
        expires=expires,
        channels=channels,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        phrase=draft.phrase,
        slots=dict(draft.slots),
    )
    alert = variants.complete(_still_the_pattern(alert, settings), settings)
    return assess(alert, settings)  # CAP's urgency, severity and certainty from the category and level


def _phrase_problems(settings: Settings, draft: Draft) -> list[Problem]:
    if not draft.phrase:
        if draft.slots:
            return [Problem("slots_without_phrase", "slots belong to a 定型文: give its id in phrase", "slots")]
        return []
    pattern = settings.phrasebook.patterns.get(draft.phrase)
    if pattern is None or pattern.use != "phrase":
        valid = ", ".join(p.id for p in settings.phrasebook.patterns.values() if p.use == "phrase")
        return [Problem("unknown_phrase", f"unknown 定型文 {draft.phrase!r}; valid: {valid}", "phrase")]
    unknown = [name for name in draft.slots if name not in pattern.slots]
    if unknown:
        what = f"{', '.join(unknown)} not a slot of {draft.phrase}; its slots: {', '.join(pattern.slots)}"
        return [Problem("unknown_slot", what, "slots", {"slots": unknown})]
    return []


def _still_the_pattern(alert: Alert, settings: Settings) -> Alert:
    """The alert, without its pattern if the officer's Japanese no longer says what the pattern says.

    Its other languages then go out as notices: a translation must never say more, or other, than the
    Japanese.
    """
    made = variants.japanese_from_phrase(alert, settings) if alert.phrase else None
    if made is None:
        return alert
    if _parts(Text(alert.title, alert.body, alert.instruction)) == _parts(_cleaned(made)):
        return alert
    return dataclasses.replace(alert, phrase="", slots={})


def _cleaned(text: Text) -> Text:
    return Text(intake.clean_title(text.title), _optional_words(text.body), _optional_words(text.instruction))


class StaleTranslations(InputError):
    """A correction changed the Japanese while these translations stayed as they were.

    A resident reading English must not keep the old time or place: each translation is updated, or
    the officer confirms it is still right (the console's 「この訳のままで正しい」, the API's
    ``confirmed_translations``).
    """

    def __init__(self, languages: list[str]) -> None:
        super().__init__(
            f"{', '.join(languages)} unchanged while the Japanese changed; update them or confirm each is still right",
            code="stale_translations",
            field="translations",
            languages=languages,
        )
        self.languages = languages


def stale_translations(original: Alert, changed: Alert, confirmed: Iterable[str] = ()) -> list[str]:
    """The languages ``changed`` keeps word for word from ``original`` though its Japanese changed.

    Those in ``confirmed`` (the officer says the translation is still right) are not stale.
    """
    japanese = (bare(original.title), original.body, original.instruction)
    if (bare(changed.title), changed.body, changed.instruction) == japanese:
        return []
    kept = set(confirmed)
    before = {lang: _parts(text) for lang, text in original.translations.items()}
    return sorted(
        lang for lang, text in changed.translations.items() if lang not in kept and before.get(lang) == _parts(text)
    )


def _parts(text: Text) -> tuple[str, str, str]:
    return bare(text.title), text.body, text.instruction


def correction(
    settings: Settings,
    original: Alert,
    changes: Draft,
    author: str,
    now: float | None = None,
    confirmed: Iterable[str] = (),
    districts: tuple[str, ...] | None = None,
) -> Alert:
    """The next version of ``original``'s event with new words (【訂正】): same event, mode, channels, areas.

    ``districts``: the corrected set of districts, already checked (``districts.check_ids``); None keeps
    the original's. A correction reaches whoever got the original, and whoever its districts reach now.
    StaleTranslations when the Japanese changed and a translation did not, unless ``confirmed`` names it.
    The title is stored bare: the 【訂正】 tag is added where it is rendered.
    """
    now = time.time() if now is None else now
    corrected = dataclasses.replace(
        original,
        id=new_id(now),
        source=Source.STAFF,
        level=changes.level,
        title=bare(changes.title),
        body=changes.body,
        instruction=changes.instruction,
        translations={k: Text(bare(t.title), t.body, t.instruction) for k, t in changes.translations.items()},
        expires=changes.expires.timestamp() if changes.expires else original.expires,
        districts=original.districts if districts is None else districts,
        version=original.version + 1,
        msg_type=MsgType.CORRECTION,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        references=original.id,
    )
    stale = stale_translations(original, corrected, confirmed)
    if stale:
        raise StaleTranslations(stale)
    # an officer's correction is free text unless it kept the 定型文's Japanese word for word
    corrected = dataclasses.replace(corrected, phrase=changes.phrase, slots=dict(changes.slots))
    return variants.complete(_still_the_pattern(corrected, settings), settings)


def cancellation(settings: Settings, original: Alert, author: str, reason: str = "", now: float | None = None) -> Alert:
    """The cancel of ``original``'s event (【取消】: it was a mistake); it reaches exactly who got it.

    The title is the original's, bare: the 【取消】 tag is added where it is rendered.
    """
    now = time.time() if now is None else now
    body = reason.strip() or "先ほどの情報は取り消しました。"
    cancel = dataclasses.replace(
        original,
        id=new_id(now),
        source=Source.STAFF,
        title=bare(original.title),
        body=body,
        instruction="",
        translations={},
        phrase="cancel",
        slots={"what": _titles(original)},
        version=original.version + 1,
        msg_type=MsgType.CANCEL,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        references=original.id,
    )
    return variants.complete(cancel, settings)


def _titles(original: Alert) -> dict[str, str]:
    """The original's title in each of its languages: what a lift or a cancel says is over."""
    return {lang: bare(original.text(lang).title) for lang in original.languages}


def lift(settings: Settings, original: Alert, author: str, reason: str = "", now: float | None = None) -> Alert:
    """The lift of ``original``'s event (【解除】: the order or warning is over); it takes it off the air.

    It reaches whom a correction would: everyone who got the event and whom it would reach now. The
    title is the original's, bare: the 【解除】 tag, and the line saying what is lifted
    (「…を解除しました。」, ``tags.lead``), are added where it is rendered; the body is the officer's
    reason, or a plain reminder. No expiry: a lift is not on the air, and stays the event's last word.
    """
    now = time.time() if now is None else now
    # the reason is in Japanese: the other languages get the phrasebook's lift of the original's title
    lifted = dataclasses.replace(
        original,
        id=new_id(now),
        source=Source.STAFF,
        title=bare(original.title),
        body=reason.strip() or LIFT_BODY,
        instruction="",
        translations={},
        phrase="lift",
        slots={"what": _titles(original)},
        expires=None,
        version=original.version + 1,
        msg_type=MsgType.LIFT,
        state=AlertState.DRAFT,
        created_at=now,
        created_by=author,
        references=original.id,
    )
    return variants.complete(lifted, settings)
