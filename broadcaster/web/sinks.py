"""What each channel of the running service runs as, in words, and what the site configured for it.

Start-up logs one line per channel from here (``channel email runs as smtp relay mail.example.jp:587``),
/healthz and the dashboard show the same words, and ``configured`` tells a channel nobody set up (a
town without a LINE account, running as the outbox as asked) from one whose set-up is incomplete (a
relay host without the key that signs unsubscribe links). Settings and variables are named, never
their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from broadcaster.channel import Channel, ChannelRenderer, ChannelSet, RunsAs
from broadcaster.settings import Settings
from broadcaster.web import line_webhook
from channels.email import channel as email
from channels.line import TOKEN_ENV as LINE_TOKEN_ENV
from channels.sns.render import SnsRenderer
from channels.sns.target import CREDENTIALS as SNS_CREDENTIALS


@dataclass(frozen=True, slots=True)
class Sink:
    """One channel as start-up built it."""

    name: str
    runs_as: RunsAs
    words: str  # what it runs as: "smtp relay mail.example.jp:587", "outbox var/outbox/line (…)"
    configured: tuple[str, ...]  # settings and variables the site set for it (names only)
    outbox_reason: str  # what is missing, when it runs as the outbox; "" when it runs for real

    @property
    def line(self) -> str:
        """Its start-up log line."""
        return f"channel {self.name} runs as {self.words}"

    @property
    def incomplete(self) -> bool:
        """Configured, yet running as the outbox: its messages go to a folder instead of to people."""
        return self.runs_as == RunsAs.OUTBOX and bool(self.configured)


def sinks(channels: ChannelSet, settings: Settings, environ: Mapping[str, str]) -> list[Sink]:
    """Every live channel of ``channels``, in the order they were built."""
    found = []
    for name, channel in channels.live.items():
        reason = channels.outbox_reasons.get(name, "")
        if channel.runs_as == RunsAs.OUTBOX:
            folder = settings.path(settings.storage.outbox_dir) / name
            words = f"outbox {folder} ({reason or 'no credentials'})"
        else:
            words = real_words(name, channel, channels.renderers.get(name), settings)
        found.append(Sink(name, channel.runs_as, words, configured(name, settings, environ), reason))
    return found


def real_words(name: str, channel: Channel, renderer: ChannelRenderer | None, settings: Settings) -> str:
    """Where a channel that runs for real sends, in words; ``renderer`` is the one it runs with."""
    if name == "email":
        return f"smtp relay {settings.email.host}:{settings.email.port}"
    if name == "line":
        return f"LINE Messaging API {settings.line.api_host or 'api.line.me'}"
    if name == "sns":
        # the targets it really posts to: a configured target without credentials is left out
        targets = renderer.targets if isinstance(renderer, SnsRenderer) else list(settings.sns.targets)
        return "posts to " + ", ".join(targets)
    if name == "website":
        export = (
            f", a static copy in {settings.path(settings.website.export_dir)}" if settings.website.export_dir else ""
        )
        return f"public pages at {settings.city.public_url}{export}"
    if name == "ticker":
        t = settings.ticker
        parts = ["/ticker.txt and /ticker.json for the stations to poll"]
        if t.station_email:
            parts.append(f"station mail through {settings.email.host}:{settings.email.port}")
        if t.tcp_host:
            parts.append(f"lines pushed to {t.tcp_host}:{t.tcp_port}")
        return ", ".join(parts)
    if name == "fm":
        return f"WAV files in {settings.path(settings.fm.drop_dir)}"
    return type(channel).__name__


def configured(name: str, settings: Settings, environ: Mapping[str, str]) -> tuple[str, ...]:
    """What the site set for channel ``name`` to reach somewhere: the names of settings and variables.

    Empty for a channel nobody set up; FM needs no credentials, so its drop folder always counts; the
    website and the ticker need nothing and never run as the outbox.
    """

    def present(*variables: str) -> list[str]:
        return [v for v in variables if environ.get(v, "").strip()]

    if name == "email":
        host = ["[email] host"] if settings.email.host else []
        return (*host, *present(email.USERNAME_ENV, email.PASSWORD_ENV))
    if name == "line":
        host = ["[line] api_host"] if settings.line.api_host else []
        return (*host, *present(LINE_TOKEN_ENV, line_webhook.SECRET_ENV))
    if name == "sns":
        targets = settings.sns.targets
        url = ["[sns] mastodon_url"] if "mastodon" in targets and settings.sns.mastodon_url else []
        variables = [v for target in dict.fromkeys(targets) for v in SNS_CREDENTIALS.get(target, ())]
        return (*url, *present(*variables))
    if name == "fm":
        return ("[fm] drop_dir",)
    return ()
