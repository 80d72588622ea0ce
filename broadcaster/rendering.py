"""Rendering: select the template, render its blocks, normalise, fit the channel's limits.

Templates live at templates/<channel>/<kind>.<lang>.j2 (text parts) and <kind>.<lang>.html.j2
(the HTML part, autoescaped). Lookup falls back from the alert's kind to its category, then to
"default", first in the requested language, then in English, whose templates serve every language
other than Japanese (their words come from the phrasebook: ``w("what_to_do")``), then in Japanese.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from broadcaster import districts, furigana, tags, variants
from broadcaster.intake import clean_text
from broadcaster.models import Alert, Message, Mode
from broadcaster.settings import ROOT, Settings

TEMPLATES = ROOT / "templates"
TEXT_PARTS = ("subject", "text", "ticker", "speech")
EXERCISE_PREFIX = tags.EXERCISE_TAG  # kept for the modules that check a part starts with it
ELLIPSIS = "…"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """What a channel can carry; rendering fits every message inside these."""

    subject: int | None = None  # longest subject, or None for no limit
    text: int | None = None  # longest body text
    ticker: int | None = None  # longest ticker line
    speech: int | None = None  # longest speech script
    single_line: bool = False  # text and ticker become one line
    measure: Callable[[str], int] = len  # how the channel counts (UTF-16 units, X's weights …)


NO_LIMITS = Limits()


def make_environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    """A jinja2 environment that escapes HTML templates and refuses undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ruby"] = furigana.html  # {避難|ひなん} → <ruby>; escapes everything else
    return env


def candidates(channel: str, alert: Alert, lang: str, suffix: str = "j2") -> list[str]:
    """Template names to try, most specific first."""
    kinds = [k for k in (alert.kind, alert.category, "default") if k]
    langs = [lang] if lang == "ja" else list(dict.fromkeys([lang, "en", "ja"]))
    return [f"{channel}/{kind}.{lg}.{suffix}" for lg in langs for kind in kinds]


def normalise(text: str, single_line: bool = False) -> str:
    """NFC, no trailing spaces, at most one blank line in a row (or one line when asked).

    Text is cleaned as at intake first: a row stored before intake cleaned it (a CR, a form feed, a
    U+2028 in a title) must never make a mail header or a page fail at send time.
    """
    text = clean_text(unicodedata.normalize("NFC", text))
    if single_line:
        return " ".join(part.strip() for part in text.split("\n") if part.strip())
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def fit(text: str, limit: int | None, measure: Callable[[str], int] = len) -> str:
    """Cut ``text`` so that measure(text) <= limit, marking the cut with an ellipsis."""
    if limit is None or measure(text) <= limit:
        return text
    if measure(ELLIPSIS) > limit:  # no room even for the mark
        return text[: max(n for n in range(len(text) + 1) if measure(text[:n]) <= limit)]
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that still fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


class Renderer:
    """Turns an alert into one channel's Message; pure apart from reading templates once."""

    def __init__(self, settings: Settings, env: jinja2.Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment()
        # blocks are rendered one by one, which skips a template's top-level imports
        self.macros = self.env.get_template("_macros.j2").module

    def context(self, alert: Alert, lang: str, counted: bool = False) -> dict[str, Any]:
        """Everything a template may use. Tags come from broadcaster/tags only: templates add none.

        ``text`` holds the alert's words with its title bare, furigana written as 漢字（かんじ）
        for plain text; ``rich`` the same words with furigana markup, for HTML (``rich.body | ruby``);
        ``w(key, …)`` one of the language's phrasebook words; ``language`` the Language
        (``language.html`` for a lang attribute); ``exercise_notice`` the sentence saying this is an
        exercise. ``headline`` is the title after its tags (【訓練】【訂正】【警戒レベル４】…),
        ``titled`` the same without the exercise tag (for a body that already says it is an
        exercise), ``tags`` the tags alone, ``tagged(exercise=, badged=)`` the headline with a tag
        left out, ``badge`` the words of its scale ("" for none), ``lead`` the line saying what this
        message does to the earlier one ("" for a first message).

        Places: ``whole_city`` (no districts), ``places`` the districts in words (the city's name for the
        whole city), ``places_short`` the same shortened to a count (市内3地区) for a channel short of room,
        ``district_names`` the names one by one. With ``counted``, ``places`` is ``places_short``: for a
        channel whose line would not hold the names (the ticker, an SNS post), which links to the full list.
        """
        s = self.settings
        book = s.phrasebook
        words_lang = book.own(lang)
        category = s.categories.get(alert.category)
        rich = alert.text(lang)
        rich = dataclasses.replace(rich, title=tags.bare(rich.title))
        text = variants.plain(rich)
        exercise_entry = book.entry("exercise", words_lang)
        return {
            "m": self.macros,
            "alert": alert,
            "text": text,
            "rich": rich,
            "lang": lang,
            "language": book.languages.get(lang, book.languages["ja"]),
            "w": functools.partial(book.word, words_lang),
            "exercise_notice": exercise_entry.body if exercise_entry else "",
            "city": s.city,
            "exercise": alert.mode == Mode.EXERCISE,
            "headline": tags.headline(alert, s, lang),
            "titled": tags.headline(alert, s, lang, exercise=False),
            "tags": tags.bracket(tags.tags(alert, s, lang), lang, s),
            "tagged": functools.partial(tags.headline, alert, s, lang),
            "badge": tags.badge(alert, s, lang),
            "lead": tags.lead(alert, s, lang),
            "category_name": book.term(words_lang, "categories", alert.category)
            or ((category.name if lang == "ja" else category.name_en) if category else alert.category),
            "whole_city": not districts.chosen(alert.districts, s),
            "places": (districts.short if counted else districts.names)(alert.districts, s, lang),
            "places_short": districts.short(alert.districts, s, lang),
            "district_names": [d.name_in(lang) for d in districts.chosen(alert.districts, s)],
            "url": f"{s.city.public_url.rstrip('/')}/alerts/{alert.id}",
        }

    def render(self, channel: str, alert: Alert, lang: str, limits: Limits, counted: bool = False) -> Message:
        """Render every part the channel's templates define, within ``limits``."""
        ctx = self.context(alert, lang, counted)
        parts = self._blocks(self.env.select_template(candidates(channel, alert, lang)), ctx)
        html = ""
        try:
            html_template = self.env.select_template(candidates(channel, alert, lang, "html.j2"))
        except jinja2.TemplatesNotFound:
            pass
        else:
            html = html_template.render(ctx)
        # an exercise must never look live: every written part starts with the exercise tag
        mark = tags.exercise_tag(lang, self.settings) if alert.mode == Mode.EXERCISE else ""
        out: dict[str, str] = {}
        for part in TEXT_PARTS:
            # a subject is one line: a line break in a header would make the channel fail at send time
            value = normalise(parts.get(part, ""), single_line=limits.single_line or part in ("subject", "ticker"))
            if mark and value and part != "speech" and not value.startswith(mark.strip()):
                value = mark + value
            out[part] = fit(value, getattr(limits, part), limits.measure)
        return Message(
            alert_id=alert.id,
            channel=channel,
            lang=lang,
            mode=alert.mode,
            html=html,
            subject=out["subject"],
            text=out["text"],
            ticker=out["ticker"],
            speech=out["speech"],
        )

    @staticmethod
    def _blocks(template: jinja2.Template, ctx: Mapping[str, Any]) -> dict[str, str]:
        context = template.new_context(dict(ctx))
        return {name: "".join(block(context)) for name, block in template.blocks.items() if name in TEXT_PARTS}
