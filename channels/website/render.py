"""Website rendering: an alert as the public pages show it (Message.html is its card, an <article>)."""

from __future__ import annotations

from broadcaster.channel import Fit
from broadcaster.models import Alert, Message
from broadcaster.rendering import NO_LIMITS, Renderer

NAME = "website"


class WebsiteRenderer:
    """The alert's card and texts for the city website, which has no length limits."""

    name = NAME
    limits = NO_LIMITS
    reaches_people = False

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def render(self, alert: Alert, lang: str) -> Message:
        """The alert as the website shows it (Message.html is its <article>)."""
        return self.renderer.render(NAME, alert, lang, NO_LIMITS)

    def fits(self, alert: Alert) -> list[Fit]:
        """Nothing: a page holds any length."""
        return []
