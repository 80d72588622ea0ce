"""Website rendering: an alert as the public pages show it (Message.html is its card, an <article>).

The card is templates/website/_article.html.j2 in every language: its words come from words.toml and
the phrasebook, the alert's from ``Alert.text(lang)`` (やさしい日本語's furigana as <ruby>). An alert
without words in the page's language shows its Japanese words, marked as Japanese.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from markupsafe import Markup

from broadcaster import tags
from broadcaster.channel import Fit
from broadcaster.models import Alert, Message
from broadcaster.rendering import NO_LIMITS, Renderer
from channels.website.words import Words

NAME = "website"
ARTICLE = "website/_article.html.j2"


def translated(alert: Alert, lang: str) -> bool:
    """Whether the alert has its own words in ``lang`` (Japanese always)."""
    return lang == "ja" or lang in alert.translations


def article_context(renderer: Renderer, alert: Alert, lang: str) -> dict[str, Any]:
    """The card's context: the renderer's, the website's words, and where the alert's words came from."""
    settings = renderer.settings
    words = Words(lang)
    ctx = renderer.context(alert, lang)
    return ctx | {
        "words": words,
        "t": words.say,
        "tt": words.plain,
        "tag": lambda key: tags.bracket([ctx["w"](key)], lang, settings),  # 【訓練】, [EXERCISE] …
        "translated": translated(alert, lang),
        "source": alert.text(lang).source,
    }


def article(renderer: Renderer, alert: Alert, lang: str, **extra: Any) -> Markup:
    """The alert's <article> in ``lang``; ``extra`` are the public pages' additions (links, status, times)."""
    template = renderer.env.get_template(ARTICLE)
    return Markup(template.render(article_context(renderer, alert, lang) | extra))


class WebsiteRenderer:
    """The alert's card and texts for the city website, which has no length limits."""

    name = NAME
    limits = NO_LIMITS
    reaches_people = False

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def render(self, alert: Alert, lang: str) -> Message:
        """The alert as the website shows it (Message.html is its <article>)."""
        message = self.renderer.render(NAME, alert, lang, NO_LIMITS)
        return dataclasses.replace(message, html=str(article(self.renderer, alert, lang)))

    def fits(self, alert: Alert) -> list[Fit]:
        """Nothing: a page holds any length."""
        return []
