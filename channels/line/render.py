"""LINE rendering, without the SDK: the text, the Flex bubbles and the delivery mode, as plain JSON.

Rendering decides everything about what goes out: the LINE message objects and the delivery mode
(multicast to subscribers, or broadcast to every friend) travel in the Message as the attachment
``line.json``, so sending only does I/O and the outbox records exactly what LINE would receive.

An alert for some districts names them: on a line under the title (text and bubble alike), and in the
notification's text (the bubble's altText) after the title, counted when several (市内3地区).

Each subscriber gets their language (the delivery row's ``lang``); a broadcast to every friend carries
the alert's languages in the city's order, as many as one call takes. The bubble's labels and button
are the language's phrasebook words; furigana are written 漢字（かんじ）, since LINE has no ruby.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from broadcaster import furigana, tags
from broadcaster.channel import Fit, render_plain
from broadcaster.models import Alert, Message, Mode
from broadcaster.rendering import Limits, Renderer, fit
from broadcaster.settings import Settings

NAME = "line"
PAYLOAD = "line.json"  # the Message attachment holding the LINE messages and the delivery mode
MAX_MESSAGES = 5  # message objects per call
TEXT_LIMIT = 5000  # UTF-16 units of a text message
ALT_TEXT_LIMIT = 400
FLEX_BODY_LIMIT = 2000  # keeps a bubble far below LINE's Flex size limit
EXERCISE_COLOUR = "#595959"
NO_LEVEL_COLOUR = "#1f4e79"  # the header of a notice without a level (crime, health, daily life)
LineJson = dict[str, Any]


def utf16_units(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji or a rare kanji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


LIMITS = Limits(text=TEXT_LIMIT, measure=utf16_units)
UNCUT = Limits()  # renders every part whole, for measuring


def text_message(text: str) -> LineJson:
    """A LINE text message."""
    return {"type": "text", "text": text}


def readable_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (#rrggbb)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def flex_message(
    *,
    title: str,
    body: str,
    instruction: str,
    label: str,
    colour: str,
    url: str,
    button: str,
    places: str = "",
    alt: str = "",
) -> LineJson:
    """A Flex bubble: coloured header with ``label``, the title, ``places``, body and instruction, and a link.

    ``alt`` is the notification's text (the title when empty).
    """
    title = title or label
    link = {"type": "button", "style": "link", "action": {"type": "uri", "label": button, "uri": url}}
    texts: list[LineJson] = [{"type": "text", "text": title, "weight": "bold", "size": "lg", "wrap": True}]
    if places:
        texts.append({"type": "text", "text": places, "size": "sm", "weight": "bold", "wrap": True})
    if body:
        texts.append({"type": "text", "text": fit(body, FLEX_BODY_LIMIT, utf16_units), "size": "sm", "wrap": True})
    if instruction:
        texts.append({"type": "text", "text": f"▶ {instruction}", "size": "sm", "weight": "bold", "wrap": True})
    return {
        "type": "flex",
        "altText": fit(alt or title, ALT_TEXT_LIMIT, utf16_units),
        "contents": {
            "type": "bubble",
            "header": {
                "type": "box",
                "layout": "vertical",
                "backgroundColor": colour,
                "contents": [{"type": "text", "text": label, "color": readable_on(colour), "weight": "bold"}],
            },
            "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": texts},
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [link],
            },
        },
    }


def places_line(ctx: Mapping[str, Any]) -> str:
    """The line naming the districts of a rendering ``ctx``: 「対象地区：東部地区、西部地区」; "" for the whole city."""
    if ctx["whole_city"]:
        return ""
    m = ctx["m"]
    label = m.places_label(ctx["w"], ctx["district_names"])
    return furigana.plain(f"{label}{m.colon(ctx['language'])}{ctx['places']}")


def alt_text(title: str, ctx: Mapping[str, Any]) -> str:
    """The notification's text: the title, then its districts counted (市内3地区) unless the title names them."""
    title_words = str(ctx["text"].title)
    if not [n for n in ctx["district_names"] if n not in title_words]:
        return title
    return furigana.plain(ctx["w"]("qualified", name=title, detail=ctx["places_short"]))


def encode_payload(broadcast: bool, messages: Sequence[LineJson]) -> bytes:
    """The ``line.json`` attachment."""
    return json.dumps({"broadcast": broadcast, "messages": list(messages)}, ensure_ascii=False).encode()


def decode_payload(message: Message) -> tuple[bool, list[LineJson]]:
    """(broadcast?, LINE messages) of a rendered Message; a plain text message when it has no payload."""
    for name, data in message.attachments:
        if name == PAYLOAD:
            payload = json.loads(data)
            return bool(payload["broadcast"]), list(payload["messages"])
    return False, [text_message(message.text)]


class LineRenderer:
    """The LINE messages of an alert: Flex bubbles (or plain text), multicast or broadcast."""

    name = NAME
    limits = LIMITS
    reaches_people = True

    def __init__(self, settings: Settings, renderer: Renderer, *, flex: bool = True) -> None:
        self.settings = settings
        self.renderer = renderer
        self.flex = flex

    def broadcasts(self, alert: Alert) -> bool:
        """True when ``alert`` goes to every friend rather than to its subscribers (never an exercise)."""
        return alert.mode == Mode.LIVE and alert.category in self.settings.line.broadcast_categories

    def render(self, alert: Alert, lang: str) -> Message:
        """The text rendering, plus the LINE messages to send in the ``line.json`` attachment."""
        message = render_plain(self.renderer, NAME, alert, lang, LIMITS)
        broadcast = self.broadcasts(alert)
        # a broadcast reaches everyone at once, so it carries the alert's languages, the city's first
        langs = self.broadcast_languages(alert) if broadcast else (message.lang,)
        messages = [self._line_message(alert, lg, message.text if lg == message.lang else None) for lg in langs]
        if broadcast and (others := self.linked_languages(alert)):
            messages.append(text_message(self._links(alert, others)))
        return dataclasses.replace(message, attachments=((PAYLOAD, encode_payload(broadcast, messages)),))

    def _ordered(self, alert: Alert) -> list[str]:
        offered = [lg for lg in self.settings.city.languages if lg in alert.languages]
        return [*offered, *(lg for lg in alert.languages if lg not in offered)]

    def broadcast_languages(self, alert: Alert) -> tuple[str, ...]:
        """The languages a broadcast carries in full: the alert's in the city's order, as many as one call takes.

        When there are more than fit, the last message of the call lists the others instead, each with
        the link to the alert's page in that language: every friend finds their language.
        """
        ordered = self._ordered(alert)
        if len(ordered) <= MAX_MESSAGES:
            return tuple(ordered)
        return tuple(ordered[: MAX_MESSAGES - 1])

    def linked_languages(self, alert: Alert) -> tuple[str, ...]:
        """The languages a broadcast names with a link only (none when every language fits)."""
        return tuple(self._ordered(alert)[len(self.broadcast_languages(alert)) :])

    def _links(self, alert: Alert, langs: Sequence[str]) -> str:
        """Each language by its own name, with the alert's page in it."""
        book = self.settings.phrasebook
        url = f"{self.settings.city.public_url.rstrip('/')}/alerts/{alert.id}"
        lines = [
            f"{book.languages[lg].name}: {url}?lang={lg}" if lg in book.languages else f"{lg}: {url}" for lg in langs
        ]
        return "\n".join(lines)

    def fits(self, alert: Alert) -> list[Fit]:
        """The text against LINE's 5,000 UTF-16 units, and a bubble's body against FLEX_BODY_LIMIT."""
        out = []
        for lang in alert.languages:
            text = render_plain(self.renderer, NAME, alert, lang, UNCUT).text
            out.append(Fit("text", lang, utf16_units(text), TEXT_LIMIT))
            if self.flex:
                body = furigana.plain(alert.text(lang).body)
                out.append(Fit("bubble", lang, utf16_units(body), FLEX_BODY_LIMIT))
        return out

    def _line_message(self, alert: Alert, lang: str, text: str | None) -> LineJson:
        if not self.flex:
            if text is None:
                text = render_plain(self.renderer, NAME, alert, lang, LIMITS).text
            return text_message(text)
        ctx = self.renderer.context(alert, lang)
        words = ctx["text"]  # furigana already as 漢字（かんじ）; the tags and words below may still hold markup
        # the tags in their fixed order, 【訓練】 first for an exercise; the badge is in the header's label
        title = furigana.plain(str(ctx["tagged"](badged=False)))
        badge = str(ctx["badge"])
        label = str(ctx["category_name"]) + (f" ／ {badge}" if badge else "")
        colour = self.settings.levels[alert.level - 1].colour if alert.level >= 1 else NO_LEVEL_COLOUR
        if alert.mode == Mode.EXERCISE:
            label, colour = tags.exercise_tag(lang, self.settings) + label, EXERCISE_COLOUR
        if ctx["lead"]:
            words = dataclasses.replace(words, body=f"{furigana.plain(str(ctx['lead']))}\n\n{words.body}")
        return flex_message(
            title=title,
            body=words.body,
            instruction=words.instruction,
            label=furigana.plain(label),
            colour=colour,
            url=str(ctx["url"]),
            button=furigana.plain(ctx["w"]("details_button")),
            places=places_line(ctx),
            alt=alt_text(title, ctx),
        )
