"""The 定型文 on the compose form: the phrasebook's patterns with ``use = "phrase"``, one field per slot.

Choosing a 定型文 (``/console/compose?phrase=<id>``) sets its category and level and shows a field for
each of its slots, by the slot's type: a time (now, in Japan time), a date, a hazard from the words a
定型文 uses, the shelters of the proper-noun dictionary (several may be chosen), a number or text.
Places are not a slot of the form: the pattern's {places} are the districts ticked in the picker.

「日本語の文に当てはめる」 (``do=fill``) writes the Japanese from the pattern and the slots, and the form
remembers a digest of what it wrote (``phrase_filled``). While the Japanese is still what was written,
every preview or save writes it again from the slots as they are now, so a changed time or shelter
carries over without pressing the button again. Once the officer edits the Japanese, their words stand,
and drafts.build sends the other languages as notices (a translation must never say other than the
Japanese). Everything here works without JavaScript.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from multidict import MultiDict, MultiMapping

from broadcaster import variants
from broadcaster.clock import JST
from broadcaster.errors import InputError
from broadcaster.models import Alert, Source, Text
from broadcaster.phrasebook import Pattern
from broadcaster.settings import Settings
from broadcaster.web.console import district_picker

FIELD = "phrase"  # the form's pattern id
FILLED = "phrase_filled"  # the digest of the Japanese the form last wrote from the pattern
SLOT = "slot_"  # slot_<name>: a slot's value (shelter: one per chosen shelter)
PARTS = ("title", "body", "instruction")
MANY = frozenset({"shelter"})  # slot types that take several values
JMA_HAZARDS = ("警報", "注意報", "情報", "アラート")  # a JMA kind: the 定型文 name hazards, not warnings
INPUTS = {"time": "time", "date": "date", "datetime": "datetime-local", "number": "number"}


def phrases(settings: Settings) -> list[Pattern]:
    """The 定型文 whose category this city has, in the phrasebook's order."""
    return [p for p in settings.phrasebook.patterns.values() if p.use == "phrase" and p.category in settings.categories]


def pattern(settings: Settings, pid: str) -> Pattern | None:
    """The 定型文 ``pid`` (None for an unknown id, or a pattern that is not a 定型文)."""
    found = settings.phrasebook.patterns.get(pid)
    return found if found is not None and found.use == "phrase" else None


def hazards(settings: Settings) -> list[str]:
    """The hazard words a 定型文 offers: the phrasebook's hazard terms that are not JMA kinds."""
    terms = settings.phrasebook.books["ja"].terms.get("hazards", {})
    return [key for key in terms if not key.endswith(JMA_HAZARDS)]


def shelters(settings: Settings) -> list[str]:
    """The shelters of the proper-noun dictionary (config/phrasebook/names.toml), by their Japanese names."""
    return [name for kind, name in settings.phrasebook.readings if kind == "shelter"]


def defaults(found: Pattern, now: datetime | None = None) -> dict[str, str | list[str]]:
    """The slots' first values: times and dates are now, in Japan time; the rest are empty."""
    now = now or datetime.now(JST)
    by_type = {
        "time": now.strftime("%H:%M"),
        "date": now.strftime("%Y-%m-%d"),
        "datetime": now.strftime("%Y-%m-%dT%H:%M"),
    }
    return {name: ([] if kind in MANY else by_type.get(kind, "")) for name, kind in found.slots.items()}


def _values(form: Mapping[str, Any], key: str) -> list[str]:
    getall = getattr(form, "getall", None)
    found = getall(key, []) if getall is not None else form.get(key, [])
    found = [found] if isinstance(found, str) else found
    return [v.strip() for v in found if isinstance(v, str) and v.strip()]


def slots_of_form(form: Mapping[str, Any], found: Pattern) -> dict[str, str | list[str]]:
    """The slot values the form holds (empty ones left out: the pattern then says nothing there)."""
    out: dict[str, str | list[str]] = {}
    for name, kind in found.slots.items():
        values = _values(form, SLOT + name)
        if kind in MANY and values:
            out[name] = list(dict.fromkeys(values))
        elif values:
            out[name] = values[0]
    return out


def japanese(
    settings: Settings, found: Pattern, slots: Mapping[str, str | list[str]], districts: tuple[str, ...]
) -> Text:
    """The Japanese the pattern says with these slots and districts."""
    draft = Alert(
        id="", source=Source.STAFF, category=found.category, level=found.level, title="", body="",
        districts=districts, phrase=found.id, slots=dict(slots),
    )  # fmt: skip
    made = variants.japanese_from_phrase(draft, settings)
    assert made is not None  # a 定型文 is a pattern
    return made


def digest(title: str, body: str, instruction: str) -> str:
    """A short digest of Japanese words, as a form sends them (CR LF line breaks, spaces around)."""
    parts = (p.replace("\r\n", "\n").strip() for p in (title, body, instruction))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _one(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return value if isinstance(value, str) else ""


def refill(form: MultiMapping[Any], settings: Settings, always: bool = False) -> MultiMapping[Any]:
    """The form with its Japanese written again from the 定型文 and its slots.

    Only when ``always`` (the officer pressed 「当てはめる」), or the Japanese is still what the form last
    wrote, or it is empty: words the officer edited are theirs. The form as it came without a 定型文,
    or when the districts are wrong (the form says why when it is checked).
    """
    found = pattern(settings, _one(form, FIELD))
    if found is None:
        return form
    typed = digest(*(_one(form, p) for p in PARTS))
    untouched = typed == _one(form, FILLED) or not any(_one(form, p).strip() for p in PARTS)
    if not (always or untouched):
        return form
    try:
        ids = district_picker.chosen(form, settings)
    except InputError:
        return form
    made = japanese(settings, found, slots_of_form(form, found), ids)
    out: MultiDict[Any] = MultiDict((k, v) for k, v in form.items() if k not in (*PARTS, FILLED))
    out.extend({"title": made.title, "body": made.body, "instruction": made.instruction})
    out[FILLED] = digest(made.title, made.body, made.instruction)
    return out


def edited(values: Mapping[str, Any]) -> bool:
    """Whether form values of a 定型文 hold Japanese other than the pattern wrote (their other languages
    then go out as notices)."""
    if not values.get(FIELD):
        return False
    return digest(*(str(values.get(p) or "") for p in PARTS)) != values.get(FILLED)


def fields(settings: Settings, found: Pattern, slots: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One form field per slot, for the template: name, type, the input or the choices, and its value."""
    out = []
    for name, kind in found.slots.items():
        value = slots.get(name, [] if kind in MANY else "")
        if isinstance(value, list) and kind not in MANY:  # the form's values come as lists
            value = value[0] if value else ""
        field: dict[str, Any] = {"name": name, "type": kind, "field": SLOT + name}
        if kind == "hazard":
            choices = hazards(settings)
            field |= {"choices": choices + ([value] if value and value not in choices else []), "value": value}
        elif kind in MANY:
            chosen = [value] if isinstance(value, str) else list(value)
            # a shelter no longer in the dictionary stays chosen, so editing a draft never drops it
            field |= {"choices": list(dict.fromkeys([*shelters(settings), *chosen])), "value": chosen}
        else:
            field |= {"input": INPUTS.get(kind, "text"), "value": value if isinstance(value, str) else ""}
        out.append(field)
    return out
