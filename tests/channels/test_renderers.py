"""Every channel's renderer: made without credentials or SDKs, the one rendering its channel sends, and
what the registry puts in a ChannelSet (the outbox and the exercise sinks render with it too)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from broadcaster.channel import Fit, RunsAs
from broadcaster.models import Alert, Mode, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels import IMPLEMENTATIONS, RENDERERS, build_channels, build_renderers
from channels.line.render import decode_payload
from channels.sns.render import Payload
from tests.conftest import SiteFactory
from tests.paths import ROOT
from tests.test_store import make_alert

SDKS = ("linebot", "tweepy", "atproto", "pyopenjtalk", "twitter_text")
ATTACHED = {"email": "email.eml", "line": "line.json", "sns": "sns.json", "ticker": "ticker.json"}
# every credential the channels read: none is in the child's environment
CREDENTIALS = (
    "BROADCASTER_SECRET_KEY", "SMTP_USERNAME", "SMTP_PASSWORD", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET",
    "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD",
)  # fmt: skip

CHILD = """
import json, sys
from broadcaster.models import Alert, Source, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import load_settings
import channels
settings = load_settings(sys.argv[1])
renderers = channels.build_renderers(settings, Renderer(settings))
built = sorted({{m.split(".")[0] for m in sys.modules}} & {sdks})
alert = Alert(id="a1", source=Source.STAFF, category="disaster", level=3, title="思川 避難指示",
              body="氾濫のおそれがあります。", translations={{"en": Text("Evacuate", "The river may flood.")}},
              channels=tuple(renderers), created_at=1_795_900_000.0)
parts = {{}}
for name, renderer in renderers.items():
    message = renderer.render(alert, "ja")
    parts[name] = [message.subject, message.text, message.ticker, message.speech, [a for a, _ in message.attachments]]
rendered = sorted({{m.split(".")[0] for m in sys.modules}} & {sdks})
print(json.dumps({{"built": built, "rendered": rendered, "parts": parts}}))
"""


def alert(**changes: Any) -> Alert:
    """A live level-3 alert on every channel, in Japanese and English, created at a fixed time."""
    base = make_alert("a1", CHANNEL_NAMES)
    en = Text("Evacuation order", "The river may flood.", "Go to the shelter.")
    return dataclasses.replace(base, translations={"en": en}, created_at=1_795_900_000.0, **changes)


def test_the_registries_name_every_channel_once() -> None:
    assert tuple(IMPLEMENTATIONS) == tuple(RENDERERS) == CHANNEL_NAMES


def test_renderers_need_no_credentials_and_load_no_sdk(site: SiteFactory) -> None:
    config = site({"sns": {"targets": ["x", "mastodon", "bluesky"]}})
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    script = CHILD.format(sdks=repr(set(SDKS)))
    result = subprocess.run(
        [sys.executable, "-c", script, str(config)], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["built"] == []  # importing the registry and building every renderer loads no SDK
    # rendering measures X's weighted length with twitter-text; no SDK that talks to a service is loaded
    assert found["rendered"] == ["twitter_text"]
    parts = found["parts"]
    assert set(parts) == set(CHANNEL_NAMES)
    assert parts["email"][0] and parts["line"][1] and parts["ticker"][2] and parts["fm"][3]
    for name, attachment in ATTACHED.items():
        assert parts[name][4] == [attachment], name


def test_importing_the_registry_loads_no_sdk() -> None:
    code = f"import sys, channels; print(sorted(m for m in sys.modules if m.split('.')[0] in {set(SDKS)!r}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


async def test_each_running_channel_renders_with_its_renderer(settings: Settings, store: SQLiteStore) -> None:
    channels = build_channels(settings, Renderer(settings), {}, store)
    a = alert()
    for name, channel in channels.live.items():
        assert channels.renderers[name] is channel.renderer
        for lang in a.languages:
            assert channel.render(a, lang) == channel.renderer.render(a, lang), (name, lang)
    for channel in {*channels.live.values(), *channels.exercise.values()}:
        await channel.aclose()


async def test_without_credentials_the_outbox_renders_as_the_channel(settings: Settings, store: SQLiteStore) -> None:
    renderer = Renderer(settings)
    channels = build_channels(settings, renderer, {}, store)
    fresh = build_renderers(settings, renderer)
    for name in ("email", "line", "sns"):  # no credentials in {}
        sink = channels.live[name]
        assert sink.runs_as == RunsAs.OUTBOX
        assert sink.render(alert(), "ja") == fresh[name].render(alert(), "ja")
    assert channels.live["website"].runs_as == RunsAs.REAL  # needs no credentials
    assert any("LINE_CHANNEL_ACCESS_TOKEN" in n for n in channels.notices)
    for channel in {*channels.live.values(), *channels.exercise.values()}:
        await channel.aclose()


async def test_exercises_on_public_channels_go_to_an_outbox_with_the_channels_rendering(
    settings: Settings, store: SQLiteStore
) -> None:
    channels = build_channels(settings, Renderer(settings), {}, store)
    drill = alert(mode=Mode.EXERCISE)
    for name in ("website", "ticker"):
        live, exercise = channels.live[name], channels.exercise[name]
        assert live.runs_as == RunsAs.REAL and exercise.runs_as == RunsAs.OUTBOX
        assert exercise.renderer is live.renderer
        assert exercise.render(drill, "ja") == live.render(drill, "ja")
    for name in ("email", "line"):  # they reach people: exercises go to the testers through the same sink
        assert channels.exercise[name] is channels.live[name]
        assert channels.renderers[name].reaches_people
    for channel in {*channels.live.values(), *channels.exercise.values()}:
        await channel.aclose()


def test_an_sns_renderer_threads_for_the_configured_targets(site: SiteFactory) -> None:
    settings = load_settings(site({"sns": {"targets": ["x", "bluesky"]}}))
    message = build_renderers(settings, Renderer(settings))["sns"].render(alert(), "ja")
    payload = Payload.decode(message)
    assert payload is not None and list(payload.threads) == ["x", "bluesky"]


def test_a_line_broadcast_carries_every_language(site: SiteFactory) -> None:
    settings = load_settings(site({"line": {"broadcast_categories": ["disaster"]}}))
    broadcast, messages = decode_payload(build_renderers(settings, Renderer(settings))["line"].render(alert(), "ja"))
    assert broadcast and [m["altText"] for m in messages] == ["a1 避難指示", "Evacuation order"]


FITS: list[tuple[str, dict[str, Any], list[tuple[str, str, bool]]]] = [
    ("email", {}, [("subject", "ja", False), ("subject", "en", False)]),
    ("email", {"title": "思" * 130}, [("subject", "ja", True), ("subject", "en", False)]),
    ("line", {}, [("text", "ja", False), ("bubble", "ja", False), ("text", "en", False), ("bubble", "en", False)]),
    ("line", {"body": "思" * 2100}, [("text", "ja", False), ("bubble", "ja", True), ("text", "en", False),
                                     ("bubble", "en", False)]),
    ("ticker", {"body": "思" * 80}, [("line", "ja", True)]),
    ("fm", {"body": "思" * 2100}, [("speech", "ja", True), ("speech", "en", False)]),  # [fm] languages the alert has
    ("website", {"body": "思" * 9000}, []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "changes", "expected"), FITS)
def test_fits_measure_each_part_uncut(
    settings: Settings, name: str, changes: dict[str, Any], expected: list[tuple[str, str, bool]]
) -> None:
    fits = build_renderers(settings, Renderer(settings))[name].fits(alert(**changes))
    assert [(f.part, f.lang, f.over) for f in fits] == expected
    assert all(f.length > 0 and f.limit > 0 for f in fits)


def test_an_sns_fit_counts_the_posts_the_whole_text_needs(settings: Settings) -> None:
    renderer = build_renderers(settings, Renderer(settings))["sns"]
    short, long = renderer.fits(alert()), renderer.fits(alert(body="思川の水位が氾濫危険水位に達しました。" * 40))
    assert short[0] == Fit("thread", "ja", 1, 4, target="x")
    [reply] = short[1:]  # the English reply ([sns] languages), one post measured as X counts it
    assert (reply.part, reply.lang, reply.target, reply.limit, reply.over) == ("text", "en", "x", 280, False)
    fit = long[0]
    assert fit.target == "x" and fit.over and fit.length > 4
