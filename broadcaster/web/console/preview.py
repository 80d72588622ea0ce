"""One alert as each of its channels would carry it, side by side, with lint's warnings on top.

Every panel comes from the channel's own renderer (``ChannelSet.renderers``): the running channel's
when it runs for real, and the same renderer the outbox writes with when it does not, so the officer
sees the thread X would get, the ticker line the station would air and the script FM would read.
Nothing here does I/O beyond reading templates. ``_preview.html.j2`` shows a ``Preview``; the FM
audio is served by fm_preview (``/console/alerts/{id}/fm.wav``) once the alert is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from markupsafe import Markup

from broadcaster import lint
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


@dataclass(frozen=True, slots=True)
class Preview:
    """What the alert would look like on each of its channels, and what lint says about it."""

    alert_id: str
    lang: str
    stored: bool
    panels: tuple[Panel, ...]
    warnings: tuple[lint.Warning, ...]


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
    return Preview(alert.id, lang, stored, tuple(panels), tuple(warnings))
