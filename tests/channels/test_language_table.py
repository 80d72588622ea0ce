"""Every phrasebook pattern × every offered language × email, LINE, SNS and the ticker renders within limits.

One alert per pattern (config/phrasebook/patterns.toml), its slots filled with a sample of each slot
type, its category and level the pattern's (else a disaster at level 4), every other one for three
districts of config/example-districts.toml; ``variants.complete`` gives it every offered language, as
drafts do. Each channel's renderer then renders it in each language, and every part a person reads
must: fit the channel's limits (``Limits``, and ``fits()`` measured uncut), say something, show no
``{``/``}`` (an unfilled slot, furigana markup), and, in a language other than Japanese, never name the
city by its Japanese name alone. Rendering only: no I/O, one Renderer for the module.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster import furigana, variants
from broadcaster.channel import ChannelRenderer
from broadcaster.models import Alert, AlertState, Message, Mode, MsgType, Source
from broadcaster.phrasebook import Pattern
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from channels import build_renderers
from channels.line.render import ALT_TEXT_LIMIT, FLEX_BODY_LIMIT, decode_payload, utf16_units
from channels.sns.render import MAX_PARTS, Payload
from channels.sns.target import COUNTING
from channels.ticker import ORDER, columns
from tests.conftest import EXAMPLE_DISTRICTS, ROOT

CHANNELS = ("email", "line", "sns", "ticker")
THREE = ("east", "west", "north")
PATTERNS = tuple(tomllib.loads((ROOT / "config" / "phrasebook" / "patterns.toml").read_text(encoding="utf-8")))
# a value of each slot type as an alert keeps it (broadcaster/slots.py); "what" is filled per language below
SAMPLES: dict[str, object] = {
    "time": "15:30",
    "date": "2026-12-07",
    "datetime": "2026-12-07T15:30",
    "hazards": ["大雨警報", "洪水警報"],
    "hazard": "洪水",
    "river": "思川",
    "shelter": "小山第一小学校",
    "volcano": "那須岳",
    "region": "栃木県南部",
    "town": "間々田",
    "intensity": "5-",
    "magnitude": "4.5",
    "tsunami": "none",
    "river_level": "4",
    "volcano_level": "3",
    "action": "level4",
    "number": "12",
    "text": "おもいがわ診療所 0285-00-0000",  # as typed: never translated (so not the city's name)
}
MSG_TYPES = {"lift": MsgType.LIFT, "cancel": MsgType.CANCEL, "jma_cancel": MsgType.CANCEL,
             "correction": MsgType.CORRECTION}  # fmt: skip


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Every language offered, the districts, the English ticker line and every SNS target and language."""
    folder = tmp_path_factory.mktemp("language-table")
    site = folder / "site.toml"
    base = load_settings(_write(site, folder, ""))
    languages = ", ".join(f'"{lang}"' for lang in base.city.languages)
    extra = f'[ticker]\nenglish = true\n\n[sns]\ntargets = ["x", "mastodon", "bluesky"]\nlanguages = [{languages}]\n\n'
    return load_settings(_write(site, folder, extra))


def _write(site: Path, folder: Path, extra: str) -> Path:
    storage = f'[storage]\npath = "{folder / "db"}"\noutbox_dir = "{folder / "outbox"}"\n\n'
    site.write_text(storage + extra + EXAMPLE_DISTRICTS.read_text(encoding="utf-8"), encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def renderers(settings: Settings) -> dict[str, ChannelRenderer]:
    """The channels' renderers over one Renderer."""
    return build_renderers(settings, Renderer(settings))


@pytest.fixture(scope="module")
def alerts(settings: Settings) -> dict[str, Alert]:
    """One completed alert per pattern."""
    earlier = variants.complete(pattern_alert(settings, settings.phrasebook.patterns["jma_warning"], 0), settings)
    what = {lang: earlier.text(lang).title for lang in settings.city.languages}
    return {
        pid: variants.complete(pattern_alert(settings, pattern, i, what), settings)
        for i, (pid, pattern) in enumerate(settings.phrasebook.patterns.items())
    }


def pattern_alert(settings: Settings, pattern: Pattern, index: int, what: dict[str, str] | None = None) -> Alert:
    """A live alert built from ``pattern`` (free text for the notice), its Japanese the pattern's own words."""
    slots = {
        name: (what or {"ja": "大雨警報"}) if kind == "what" else SAMPLES[kind] for name, kind in pattern.slots.items()
    }
    alert = Alert(
        id=f"t{index}",
        source=Source.JMA if pattern.use == "jma" else Source.STAFF,
        category=pattern.category or "disaster",
        level=pattern.level if pattern.category else 4,
        title="",
        body="",
        msg_type=MSG_TYPES.get(pattern.id, MsgType.ALERT),
        mode=Mode.EXERCISE if pattern.id == "exercise" else Mode.LIVE,
        state=AlertState.DRAFT,
        created_at=1_795_900_000.0,
        districts=THREE if index % 2 else (),
        phrase=pattern.id,
        slots=slots,
    )
    if pattern.use == "notice":  # what an officer types: other languages get the notice
        return dataclasses.replace(
            alert, phrase="", slots={}, title="避難所の運営について", body="詳しくは職員の指示に従ってください。"
        )
    words = variants.japanese_from_phrase(alert, settings)
    assert words is not None
    return dataclasses.replace(alert, title=words.title, body=words.body, instruction=words.instruction)


def test_the_table_covers_every_pattern_and_language(settings: Settings, alerts: dict[str, Alert]) -> None:
    assert set(alerts) == set(PATTERNS) == set(settings.phrasebook.patterns)
    assert len(settings.city.languages) == 10
    for alert in alerts.values():
        assert set(alert.languages) == set(settings.city.languages)  # every language has words to send


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_pattern_renders_in_every_language_within_the_channels_limits(
    settings: Settings, renderers: dict[str, ChannelRenderer], alerts: dict[str, Alert], channel: str, pattern: str
) -> None:
    renderer, alert = renderers[channel], alerts[pattern]
    problems: list[str] = []
    # an SNS thread is one for every language (a post in the first, a reply in each other): rendered once
    for lang in ("ja",) if channel == "sns" else settings.city.languages:
        message = renderer.render(alert, lang)
        for where, text in readable_parts(settings, channel, message):
            problems += [f"{lang} {where}: {p}: {text[:80]!r}" for p in check(settings, lang, where, text)]
        problems += [f"{lang}: {p}" for p in over_limits(settings, renderer, channel, message)]
    fits = renderer.fits(alert)  # measured uncut: what lint warns of (a long text is cut, not refused)
    assert fits and all(f.length > 0 and f.limit > 0 for f in fits)
    if channel == "sns":
        assert {f.lang for f in fits} == set(settings.sns.languages)
    assert not problems, "\n".join(problems)


def readable_parts(settings: Settings, channel: str, message: Message) -> Iterator[tuple[str, str]]:
    """(where, text) of every plain part a person reads, in the language it is written in."""
    lang = message.lang
    if channel == "email":
        yield f"subject/{lang}", message.subject
        yield f"text/{lang}", message.text
        yield f"html/{lang}", message.html
    elif channel == "line":
        yield f"text/{lang}", message.text
        for bubble in decode_payload(message)[1]:
            yield f"altText/{lang}", bubble["altText"]
            for box in ("header", "body"):
                for item in bubble["contents"][box]["contents"]:
                    yield f"{box}/{lang}", item["text"]
            yield f"button/{lang}", bubble["contents"]["footer"]["contents"][0]["action"]["label"]
    elif channel == "sns":
        yield f"text/{lang}", message.text
        payload = Payload.decode(message)
        assert payload is not None
        opening, *others = settings.sns.languages
        for target, posts in payload.threads.items():
            # the thread opens in the first language; each other follows in one reply, in config order
            first = len(posts) - len(others)
            written = [opening] * first + others
            tags = [payload.lang(target, index) for index in range(len(posts))]
            assert 1 <= first <= MAX_PARTS and tags == [settings.phrasebook.languages[lg].html for lg in written]
            for index, post in enumerate(posts):
                yield f"{target}[{index}]/{written[index]}", post
    else:
        yield f"line/{lang}", message.ticker
        english = json.loads(dict(message.attachments)[ORDER])["english"]
        if lang != "en":
            assert english, "[ticker] english is on: an English line follows"
            yield "english/en", english


def check(settings: Settings, lang: str, where: str, text: str) -> list[str]:
    """What is wrong with one readable part (its language after the slash in ``where``)."""
    written_in = where.rpartition("/")[2]
    problems = []
    if not text.strip():
        problems.append("empty")
    if "{" in text or "}" in text or furigana.has(text):
        problems.append("a brace: an unfilled slot or furigana markup")
    city = settings.city
    # Chinese writes 小山市 as Japanese does: only a language with a name of its own must use it
    own_name = not settings.phrasebook.languages[written_in].japanese and city.name_in(written_in) != city.name
    if own_name and city.name in text:
        problems.append(f"names the city {city.name} in Japanese")
    if where.startswith("html/") and f'<html lang="{settings.phrasebook.languages[lang].html}">' not in text:
        problems.append("the page's lang attribute is not the language's")
    if where.startswith(("text/", "html/")) and "/subscribe" not in text and "email" in where:
        problems.append("no link to change or stop the mails")
    return problems


def over_limits(settings: Settings, renderer: ChannelRenderer, channel: str, message: Message) -> list[str]:
    """Each part measured as the channel counts it, against what it may carry."""
    limits = renderer.limits
    out = []
    for part in ("subject", "text", "ticker"):
        limit = getattr(limits, part)
        if channel == "ticker" and part == "ticker":
            japanese = settings.phrasebook.languages[message.lang].japanese
            limit = settings.ticker.max_length if japanese else 2 * settings.ticker.max_length
            length = len(message.ticker) if japanese else columns(message.ticker)
        else:
            length = limits.measure(getattr(message, part))
        if limit is not None and length > limit:
            out.append(f"{part} {length} > {limit}")
    if channel == "email" and not message.attachments:
        out.append("no MIME body")
    if channel == "line":
        for bubble in decode_payload(message)[1]:
            if utf16_units(bubble["altText"]) > ALT_TEXT_LIMIT:
                out.append("altText too long")
            body = bubble["contents"]["body"]["contents"]
            out += [
                f"bubble text {utf16_units(b['text'])}" for b in body if utf16_units(b["text"]) > FLEX_BODY_LIMIT + 2
            ]
    if channel == "sns":
        payload = Payload.decode(message)
        assert payload is not None
        for target, posts in payload.threads.items():
            counting = COUNTING[target]
            out += [
                f"{target} post {counting.measure(p)} > {counting.limit}"
                for p in posts
                if counting.measure(p) > counting.limit
            ]
    if channel == "ticker":
        english = json.loads(dict(message.attachments)[ORDER])["english"]
        if columns(english) > 2 * settings.ticker.max_length:
            out.append(f"English line {columns(english)} columns")
    return out
