"""The languages page: what the city offers, and which phrasebook patterns await its translators.

Each language's patterns carry ``reviewed = true|false`` (config/phrasebook/<lang>.toml). The page
lists, per offered language, the patterns not yet reviewed, and says whether ``[languages]
require_review`` is on: then those are not sent in that language (the notice stands in, if it is
reviewed; else the Japanese). Any signed-in person may read it: an officer wants to know, before a
night's alert, which languages will get the 定型文's own words.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from broadcaster.phrasebook import Pattern
from broadcaster.settings import Settings
from broadcaster.web.console.web import console, page, who


@dataclass(frozen=True, slots=True)
class Offered:
    """One offered language and its patterns that await review."""

    code: str
    html: str  # its lang attribute
    name: str  # in itself, as residents see it in menus
    patterns: int  # how many patterns it has
    unreviewed: tuple[Pattern, ...]


def add_routes(app: web.Application) -> None:
    """Register the page."""
    app.router.add_get("/console/languages", languages)


def offered(settings: Settings) -> list[Offered]:
    """Every language the city offers but Japanese (the source text), with its unreviewed patterns."""
    book = settings.phrasebook
    waiting: dict[str, list[Pattern]] = {}
    for lang, pid in book.unreviewed(settings.city.languages):
        waiting.setdefault(lang, []).append(book.patterns[pid])
    out = []
    for code in settings.city.languages:
        if code == "ja":
            continue
        language = book.language(code)
        out.append(Offered(code, language.html, language.name, len(book.patterns), tuple(waiting.get(code, ()))))
    return out


async def languages(request: web.Request) -> web.Response:
    """The offered languages and what awaits review in each."""
    who(request)
    settings = console(request).settings
    return page(
        request,
        "languages.html.j2",
        languages=offered(settings),
        require_review=settings.languages.require_review,
        uses=("phrase", "jma", "lifecycle", "notice"),
    )
