"""A site file for another town changes every place the city is named: nothing city-specific hides in code.

config/example-other-town.toml is 栃木市's site file. Loaded, it must leave no trace of Oyama in the
settings, and an alert rendered through every channel (the renderers the outbox and the console's
preview use), the public pages and feeds, the CAP document, the FM script as the engine reads it and
the LINE greeting must name 栃木市 and never 小山市.
"""

from __future__ import annotations

import ast
import email.policy
import json
import re
import time
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest

from broadcaster.models import Alert, ContactKind, Mode, Published, Severity, Source, Subscriber, Text
from broadcaster.on_air import build_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import ROOT, Settings, load_settings
from broadcaster.web.line_webhook import greeting
from channels import build_renderers
from channels.fm import readings
from channels.fm.speech import checked_openjtalk
from channels.fm.spoken import for_synthesis
from channels.website.pages import render_site

OTHER_TOWN = ROOT / "config" / "example-other-town.toml"
OYAMA = re.compile(r"小山|おやま|オヤマ|(?i:oyama)|0920800|092088")
# Oyama's places and prefecture, for the code: the code names no place at all
PLACES = re.compile(OYAMA.pattern + r"|思川|間々田|栃木|宇都宮|(?i:tochigi)")
CODE = ("broadcaster", "channels", "feeds")
SENDER = "bousai@tochigi.example.jp"
# where the town is named, and how (LINE's alert messages come from the town's own account and do not name it)
NAMING = {
    "email.ja": ["栃木市", f"栃木市 防災メール <{SENDER}>"],  # the signature and the From header
    "email.en": ["Tochigi City", SENDER],
    "sns.ja": ["#栃木市 #栃木市防災"],
    "sns.en": ["#栃木市 #栃木市防災"],
    "ticker.ja": ["栃木市"],
    "fm.ja": ["こちらは、栃木市です。"],
    "fm.engine": ["こちらは、とちぎしです。"],  # the reading from [city] name_kana
    "fm.en": ["This is an announcement from Tochigi City."],
    "website:index.html": ["栃木市 緊急情報・お知らせ"],
    "website:alerts/a1/index.html": ["栃木市 緊急情報・お知らせ"],
    "website:alerts.atom": ["栃木市"],
    "website:cap/a1.xml": [f"<sender>{SENDER}</sender>", "<senderName>栃木市</senderName>",
                           "<senderName>Tochigi City</senderName>", "<value>092037</value>", "<value>0920300</value>"],
    "line greeting.ja": ["栃木市の防災・安全情報です。"],
    "line greeting.en": ["following Tochigi City's safety information"],
}  # fmt: skip


@pytest.fixture
def town(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """栃木市's settings, from its example site file alone."""
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    return load_settings(OTHER_TOWN)


def alert() -> Alert:
    """A live level-4 evacuation order for the whole town, in Japanese and English, naming no town itself."""
    return Alert(
        id="a1",
        source=Source.STAFF,
        category="disaster",
        level=4,
        title="避難指示を発令しました",
        body="川の水位が上がっています。",
        instruction="直ちに安全な場所へ避難してください。",
        severity=Severity.SEVERE,
        translations={"en": Text("Evacuation order", "The river is rising.", "Leave for a safe place now.")},
        mode=Mode.LIVE,
        created_at=time.time(),
    )


def readable(data: bytes) -> str:
    """Bytes as a person would read them: JSON unescaped, a mail's headers and parts decoded."""
    try:
        return json.dumps(json.loads(data), ensure_ascii=False)
    except ValueError:
        pass
    text = data.decode("utf-8")
    if "\nMIME-Version:" not in text and not text.startswith("MIME-Version:"):
        return text
    mail = BytesParser(policy=email.policy.default).parsebytes(data)
    parts = [f"{k}: {v}" for k, v in mail.items()]
    parts += [str(p.get_content()) for p in mail.walk() if not p.is_multipart()]
    return "\n".join(parts)


def outputs(settings: Settings, sample: Alert) -> Iterator[tuple[str, str]]:
    """(where, what) for everything the service would publish or send about ``sample``."""
    renderer = Renderer(settings)
    for name, channel in build_renderers(settings, renderer).items():
        for lang in sample.languages:
            message = channel.render(sample, lang)
            parts = [message.subject, message.text, message.html, message.ticker, message.speech]
            parts += [readable(data) for _, data in message.attachments]
            yield f"{name}.{lang}", "\n".join(parts)
            if name == "fm" and lang == "ja":
                # what Open JTalk is given: the readings FM builds for this city (its towns included)
                yield "fm.engine", for_synthesis(message.speech, readings.build(settings, checked_openjtalk(settings)))
    now = time.time()
    snap = build_snapshot([Published(sample, now)], settings, now)
    for path, page in render_site(snap, settings, renderer).items():
        if not path.endswith(".css"):
            yield f"website:{path}", readable(page)
    for lang in ("ja", "en"):
        sub = Subscriber(1, ContactKind.LINE, "U" + "0" * 32, frozenset({"disaster"}), lang)
        yield f"line greeting.{lang}", json.dumps(greeting(settings, sub), ensure_ascii=False)


def test_the_other_towns_settings_name_oyama_nowhere(town: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    assert OYAMA.search(json.dumps(load_settings().model_dump(), ensure_ascii=False))  # the defaults do
    dump = json.dumps(town.model_dump(), ensure_ascii=False)
    assert OYAMA.findall(dump) == []
    assert (town.city.name, town.city.name_en, town.website.municipality_code) == ("栃木市", "Tochigi City", "092037")


def test_every_channel_names_the_other_town_and_never_oyama(town: Settings) -> None:
    found = dict(outputs(town, alert()))
    assert {where.split(".")[0] for where in found} >= {"email", "line", "sns", "website", "ticker", "fm"}
    assert {where: OYAMA.findall(text) for where, text in found.items() if OYAMA.search(text)} == {}
    missing = {where: [w for w in words if w not in found[where]] for where, words in NAMING.items()}
    assert {where: words for where, words in missing.items() if words} == {}


def python_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, value) of every string literal in a module that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_code_or_template_names_a_place() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for folder in CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, value in python_strings(path)
        if PLACES.search(value)
    ]
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in (".j2", ".toml", ".js", ".css"):
            text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)  # comments may give examples
            found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in PLACES.finditer(text)]
    assert found == []
