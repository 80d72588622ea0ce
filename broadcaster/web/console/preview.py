"""One alert as each of its channels would carry it, side by side, with lint's warnings on top.

Every panel comes from the channel's own renderer (``ChannelSet.renderers``): the running channel's
when it runs for real, and the same renderer the outbox writes with when it does not, so the officer
sees the thread X would get, the ticker line the station would air and the script FM would read.
Nothing here does I/O beyond reading templates. ``_preview.html.j2`` shows a ``Preview``; the FM
audio is served by fm_preview (``/console/alerts/{id}/fm.wav``) once the alert is stored.

Above the channels, the alert's words in every language the city offers (``Version``), each marked
with where it came from: 定型文から (the phrasebook), お知らせ (the phrasebook's notice with the link to
the Japanese), 職員が入力 (typed by an officer); a language with nothing it may send (its words are
not reviewed while ``[languages] require_review`` is on) says its residents get the Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from markupsafe import Markup, escape

from broadcaster import furigana, lint, variants
from broadcaster.models import Alert, Message
from broadcaster.settings import Settings
from broadcaster.web.console.web import Console
from channels.line.render import decode_payload
from channels.sns.render import Payload
from channels.sns.target import COUNTING


@dataclass(frozen=True, slots=True)
class EmailPanel:
    """The safety mail: subject and plain-text body."""

    channel: ClassVar[str] = "email"
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class Bubble:
    """One LINE message: a Flex bubble (label band, title, body, instruction, button) or plain text."""

    text: str = ""
    label: str = ""
    colour: str = ""
    label_colour: str = ""
    title: str = ""
    body: str = ""
    instruction: str = ""
    button: str = ""

    @property
    def flex(self) -> bool:
        """Whether this is a Flex bubble."""
        return bool(self.title or self.label)


@dataclass(frozen=True, slots=True)
class LinePanel:
    """LINE: the messages a friend would see, and whether they go to every friend."""

    channel: ClassVar[str] = "line"
    bubbles: tuple[Bubble, ...]
    broadcast: bool


@dataclass(frozen=True, slots=True)
class Post:
    """One post of a thread, measured as its service counts."""

    text: str
    count: int
    limit: int

    @property
    def over(self) -> bool:
        """Whether the service would refuse it."""
        return self.count > self.limit


@dataclass(frozen=True, slots=True)
class Thread:
    """The posts one SNS target would get."""

    target: str
    posts: tuple[Post, ...]


@dataclass(frozen=True, slots=True)
class SnsPanel:
    """X, and Mastodon and Bluesky where configured: each target's thread."""

    channel: ClassVar[str] = "sns"
    threads: tuple[Thread, ...]


@dataclass(frozen=True, slots=True)
class WebsitePanel:
    """The card as the public pages show it (the website template's <article>, escaped there)."""

    channel: ClassVar[str] = "website"
    html: Markup


@dataclass(frozen=True, slots=True)
class TickerPanel:
    """The cable-TV line and its length against ``[ticker] max_length``."""

    channel: ClassVar[str] = "ticker"
    line: str
    length: int
    limit: int


@dataclass(frozen=True, slots=True)
class FmPanel:
    """The FM speech script, and the URL of its audio once the alert is stored ("" before)."""

    channel: ClassVar[str] = "fm"
    script: str
    audio_url: str


Panel = EmailPanel | LinePanel | SnsPanel | WebsitePanel | TickerPanel | FmPanel
EASY = "ja-x-easy"  # its words carry furigana markup, shown as <ruby>


@dataclass(frozen=True, slots=True)
class Version:
    """The alert in one offered language, as the residents who chose it get it."""

    code: str  # ja, ja-x-easy, en …
    html: str  # its lang attribute
    source: str  # officer, phrasebook, notice; "": nothing is sent in it (its residents get the Japanese)
    title: Markup
    body: Markup
    instruction: Markup
    unreviewed: bool  # the 定型文's words in it await review, so the notice (or the Japanese) stands in


def _words(code: str, text: str) -> Markup:
    return furigana.html(text) if code == EASY else Markup(escape(text))


def versions(settings: Settings, alert: Alert) -> tuple[Version, ...]:
    """The alert's words in each language the city offers, Japanese first, each with its source."""
    book = settings.phrasebook
    out = []
    for code in settings.city.languages:
        language = book.languages.get(code)
        text = alert.text(code) if code == "ja" or code in alert.translations else None
        pattern = alert.phrase in book.patterns and code != "ja"
        unreviewed = pattern and not variants.usable(book, settings, alert.phrase, code)
        title, body, instruction = (
            (_words(code, text.title), _words(code, text.body), _words(code, text.instruction))
            if text
            else (Markup(), Markup(), Markup())
        )
        html = language.html if language else code
        out.append(Version(code, html, text.source if text else "", title, body, instruction, unreviewed))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Preview:
    """What the alert would look like on each of its channels, and what lint says about it."""

    alert_id: str
    lang: str
    stored: bool
    panels: tuple[Panel, ...]
    warnings: tuple[lint.Warning, ...]
    languages: tuple[Version, ...] = ()


# -- the channels' renderings ----------------------------------------------------------


def render(state: Console, channel: str, alert: Alert, lang: str) -> Message | None:
    """What ``channel`` would carry, by its own renderer (None: no such channel)."""
    renderer = state.channels.renderers.get(channel)
    return renderer.render(alert, lang) if renderer is not None else None


# -- panels --------------------------------------------------------------------------


def _bubble(message: dict[str, Any]) -> Bubble:
    if message.get("type") != "flex":
        return Bubble(text=str(message.get("text", "")))
    bubble = message.get("contents", {})
    header = bubble.get("header", {})
    label = (header.get("contents") or [{}])[0]
    texts = [str(c.get("text", "")) for c in bubble.get("body", {}).get("contents", [])]
    instruction = next((t.removeprefix("▶ ") for t in texts[1:] if t.startswith("▶ ")), "")
    body = next((t for t in texts[1:] if not t.startswith("▶ ")), "")
    footer = bubble.get("footer", {}).get("contents") or [{}]
    return Bubble(
        label=str(label.get("text", "")),
        colour=str(header.get("backgroundColor", "")),
        label_colour=str(label.get("color", "")),
        title=texts[0] if texts else "",
        body=body,
        instruction=instruction,
        button=str(footer[0].get("action", {}).get("label", "")),
    )


def _panel(settings: Settings, message: Message, alert: Alert, stored: bool) -> Panel | None:
    name = message.channel
    if name == "email":
        return EmailPanel(message.subject, message.text)
    if name == "line":
        broadcast, messages = decode_payload(message)
        return LinePanel(tuple(_bubble(m) for m in messages), broadcast)
    if name == "sns":
        payload = Payload.decode(message)
        threads = payload.threads if payload else {"x": [message.text]}
        return SnsPanel(tuple(_thread(target, posts) for target, posts in threads.items()))
    if name == "website":
        return WebsitePanel(Markup(message.html))  # the website template escaped what the officer typed
    if name == "ticker":
        return TickerPanel(message.ticker, len(message.ticker), settings.ticker.max_length)
    if name == "fm":
        return FmPanel(message.speech, f"/console/alerts/{alert.id}/fm.wav" if stored else "")
    return None


def _thread(target: str, posts: list[str]) -> Thread:
    counting = COUNTING.get(target, COUNTING["x"])
    return Thread(target, tuple(Post(p, counting.measure(p), counting.limit) for p in posts))


def build(console: Console, alert: Alert, lang: str = "ja", *, stored: bool = True) -> Preview:
    """The preview of ``alert`` in ``lang`` on each of its channels; ``stored=False`` before it is saved."""
    panels = []
    for channel in alert.channels:
        message = render(console, channel, alert, lang)
        panel = _panel(console.settings, message, alert, stored) if message else None
        if panel is not None:
            panels.append(panel)
    warnings = lint.check(console.settings, alert, console.channels.renderers)
    return Preview(alert.id, lang, stored, tuple(panels), tuple(warnings), versions(console.settings, alert))
