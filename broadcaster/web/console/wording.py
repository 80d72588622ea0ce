"""The console's words for what the core says in machine terms: input errors and audit lines.

The core raises ``InputError`` in English, each problem with a stable code and its values
(``broadcaster.errors.Problem``). A Japanese page words every problem from ``text/errors.toml``
(``err_<code>``, the field as ``field_<name>``): ``explain``. The English console shows the core's
own line. A code the table does not know is shown as ``err_unknown``, never as the English line.

The audit log stores machine names (``request_approval``, ``role=approver email=set``); the page
shows them in the page language (``audit_do_<action>``, ``audit_word_<word>``) and the CSV export
keeps the machine names for whoever checks the log by program.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from broadcaster.errors import InputError, Problem
from broadcaster.models import AuditEntry
from broadcaster.web.console.web import console, lang_of, words

Words = Mapping[str, str]
TRANSLATION_FIELD = re.compile(r"translations\.([a-z]{2,3}(?:-[A-Za-z0-9]+)*)\.(title|body|instruction)")
ENUM_TABLES = ("alert_state_", "alert_mode_", "alert_msgtype_", "compose_channel_", "role_", "audit_word_")
# the actions whose detail the code writes in machine words (role=approver, live level 4, 3 in a row); any
# other detail (a rejection's reason, a search, a note) is what a person typed and is shown as typed
MACHINE_DETAIL = frozenset({
    "create", "edit", "request_approval", "withdraw", "user.add", "user.update", "user.contacts", "user.unlock",
    "user.totp_on", "login.failed", "login.refused", "login.password", "subscriber.update", "subscriber.unsubscribe",
    "subscribers.import",
})  # fmt: skip
COUNTS = (  # details that are a count in words
    (re.compile(r"(\d+) in a row"), "audit_in_a_row"),
    (re.compile(r"(\d+) rows"), "audit_rows"),
    (re.compile(r"(\d+) recovery codes"), "audit_recovery_codes"),
)


# -- errors ------------------------------------------------------------------------------


def explain(request: web.Request, exc: InputError) -> list[str]:
    """Each problem of ``exc`` as one line in the page language."""
    t, lang = words(request), lang_of(request)
    return [str(p) if lang == "en" else problem(t, p) for p in exc.problems]


def explained(request: web.Request, exc: InputError) -> str:
    """The problems of ``exc`` as one message in the page language."""
    return ("; " if lang_of(request) == "en" else "").join(explain(request, exc))


def problem(t: Words, found: Problem) -> str:
    """One problem in the words of ``t`` (a language other than English): 「件名：入力してください。」."""
    template = t.get(f"err_{found.code}") if found.code else None
    text = (template or t["err_unknown"]).format_map(_Values(t, found.params))
    name = field_name(t, found.field)
    return f"{name}：{text}" if name else text


def field_name(t: Words, field: str) -> str:
    """A draft's field in words: title 件名, translations.en.body 英語の翻訳の本文; "" for none."""
    if not field:
        return ""
    translation = TRANSLATION_FIELD.fullmatch(field)
    if translation:
        lang, part = translation.groups()
        return t["field_translation"].format(lang=language(t, lang), part=t[f"field_{part}"])
    top = field.split(".", 1)[0]
    return t.get(f"field_{top}", t["err_unknown_field"])


def language(t: Words, code: str) -> str:
    """A language code by its name (en 英語)."""
    return t.get(f"compose_lang_{code}", code)


def _one(t: Words, key: str, value: Any) -> str:
    if key in ("languages", "lang"):
        return language(t, str(value))
    return word(t, str(value))


class _Values(dict[str, str]):
    """A problem's values in words: states, channels and languages by name, lists joined with 、."""

    def __init__(self, t: Words, params: Mapping[str, Any]) -> None:
        super().__init__()
        for key, value in params.items():
            many = value if isinstance(value, list | tuple) else [value]
            self[key] = "、".join(_one(t, key, v) for v in many)

    def __missing__(self, key: str) -> str:  # words naming a value the error does not carry
        return ""


# -- audit lines -------------------------------------------------------------------------


def word(t: Words, value: str) -> str:
    """A machine word (a state, mode, channel, role, or one of the audit's own words) in words, else as is."""
    for table in ENUM_TABLES:
        found = t.get(table + value)
        if found is not None:
            return found
    return value


def action(t: Words, name: str) -> str:
    """An audit action in words (the CSV keeps ``name``)."""
    return t.get(f"audit_do_{name}", t["audit_do_unknown"])


def detail(t: Words, entry: AuditEntry, categories: Mapping[str, str]) -> str:
    """An audit line's detail in words: what a person typed stays as typed; machine words are translated."""
    text = entry.detail
    if entry.action == "approve":  # the delivery rows planned per channel, as JSON
        try:
            planned = json.loads(text)
        except ValueError:
            return text
        if isinstance(planned, dict):
            return "、".join(f"{word(t, str(ch))} {n}" for ch, n in planned.items())
    if not text or entry.action not in MACHINE_DETAIL:
        return text
    whole = t.get(f"audit_word_{text}")
    if whole is not None:
        return whole
    for pattern, key in COUNTS:
        matched = pattern.fullmatch(text)
        if matched and key in t:
            return t[key].format(n=matched.group(1))
    return " ".join(_token(t, token, categories) for token in text.split(" "))


def _token(t: Words, token: str, categories: Mapping[str, str]) -> str:
    key, sep, value = token.partition("=")
    if not sep:
        return categories.get(token) or word(t, token)
    values = "、".join(categories.get(v) or word(t, v) for v in value.split(",")) if value else word(t, "none")
    return f"{word(t, key)}：{values}"


def target(t: Words, entry: AuditEntry) -> str:
    """An audit line's target in words (a mode by name, a subscriber as 登録者 12); ids and names as they are."""
    kind, sep, rest = entry.target.partition(":")
    if sep and kind == "subscriber":
        return f"{word(t, kind)} {rest}"
    return word(t, entry.target) if entry.action == "mode" else entry.target


def audit_rows(request: web.Request, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """The audit page's lines: each entry with its action, target, detail and actor in the page language."""
    state, t, lang = console(request), words(request), lang_of(request)
    categories = {cid: c.name if lang == "ja" else c.name_en for cid, c in state.settings.categories.items()}
    return [
        {
            "entry": e,
            "action": action(t, e.action),
            "target": target(t, e),
            "detail": detail(t, e, categories) if lang != "en" else e.detail,
            "actor": word(t, e.actor) if e.actor in ("resident", "jma") else e.actor,
            "origin": word(t, e.origin),
        }
        for e in entries
    ]
