"""One alert as each of its channels would carry it, side by side, with lint's warnings on top.

Every panel comes from the channel's own pure rendering: the running channel's ``render`` when it
runs for real, and otherwise (no credentials: the outbox stands in) the channel module's own render
functions and limits, so the officer sees the thread X would get, the ticker line the station would
air and the script FM would read, not the outbox's plain copy. Nothing here does I/O beyond reading
templates. ``_preview.html.j2`` shows a ``Preview``; the FM audio is served by compose_pages
(``/console/alerts/{id}/fm.wav``) once the alert is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from markupsafe import Markup

from broadcaster import lint
from broadcaster.models import Alert, Message
from broadcaster.settings import Settings
from broadcaster.web.console.web import Console
from channels import line, ticker
from channels.email import channel as email
from channels.fm import channel as fm
from channels.fm.spoken import spoken_form
from channels.outbox import OutboxChannel
from channels.sns import channel as sns
from channels.sns.target import PostRef
from channels.website import channel as website


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


class _PreviewTarget:
    """An SNS target that only measures: SnsChannel.render needs no more to split the thread."""

    counts_quota = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.limit, self._measure = lint.SNS_TARGETS[name]

    def measure(self, text: str) -> int:
        """The service's length."""
        return self._measure(text)

    async def post(self, text: str, *, root: PostRef | None, parent: PostRef | None, key: str) -> PostRef:
        """Never called: a preview posts nothing."""
        raise NotImplementedError("a preview target does not post")

    async def aclose(self) -> None:
        """Nothing to close."""


def _fm(state: Console, alert: Alert, lang: str) -> Message:
    # as FmChannel.render, which needs a speaker only to send
    message = state.renderer.render("fm", alert, lang, fm.LIMITS)
    return message if lang.split("-")[0] != "ja" else dataclasses.replace(message, speech=spoken_form(message.speech))


def _sns(state: Console, alert: Alert, lang: str) -> Message:
    targets = [_PreviewTarget(name) for name in dict.fromkeys(state.settings.sns.targets)]
    return sns.SnsChannel(targets, state.settings, state.renderer, state.store).render(alert, lang)


def _line(state: Console, alert: Alert, lang: str) -> Message:
    # render is pure: the token is only read when sending, so a render-only channel needs none
    return line.LineChannel("", state.settings, state.renderer).render(alert, lang)


def _email(state: Console, alert: Alert, lang: str) -> Message:
    return state.renderer.render("email", alert, lang, email.LIMITS)


def _ticker(state: Console, alert: Alert, lang: str) -> Message:
    return ticker.render_ticker(state.renderer, alert, lang, ticker.limits_for(state.settings))


def _website(state: Console, alert: Alert, lang: str) -> Message:
    return website.WebsiteChannel(state.settings, state.renderer, None).render(alert, lang)


# the channel modules' renderings, for channels that run as the outbox
STAND_INS: dict[str, Callable[[Console, Alert, str], Message]] = {
    "email": _email,
    "line": _line,
    "sns": _sns,
    "website": _website,
    "ticker": _ticker,
    "fm": _fm,
}


def render(state: Console, channel: str, alert: Alert, lang: str) -> Message | None:
    """What ``channel`` would carry: the running channel's own rendering, or its module's (None: unknown)."""
    running = state.channels.live.get(channel)
    if running is not None and not isinstance(running, OutboxChannel):
        return running.render(alert, lang)
    stand_in = STAND_INS.get(channel)
    return stand_in(state, alert, lang) if stand_in else None


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
        broadcast, messages = line.decode_payload(message)
        return LinePanel(tuple(_bubble(m) for m in messages), broadcast)
    if name == "sns":
        payload = sns.Payload.decode(message)
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
    limit, measure = lint.SNS_TARGETS.get(target, lint.SNS_TARGETS["x"])
    return Thread(target, tuple(Post(p, measure(p), limit) for p in posts))


def build(console: Console, alert: Alert, lang: str = "ja", *, stored: bool = True) -> Preview:
    """The preview of ``alert`` in ``lang`` on each of its channels; ``stored=False`` before it is saved."""
    panels = []
    for channel in alert.channels:
        message = render(console, channel, alert, lang)
        panel = _panel(console.settings, message, alert, stored) if message else None
        if panel is not None:
            panels.append(panel)
    warnings = lint.check(console.settings, alert, renderer=console.renderer)
    return Preview(alert.id, lang, stored, tuple(panels), tuple(warnings))
