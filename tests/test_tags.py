"""Tags are added by code only, once each, in one order, and the badge means what it says (broadcaster/tags).

The table test renders every kind × message type × mode on every channel's renderer in Japanese and
English, with an officer's typed tags in the titles, and reads every part a resident can see: subject,
text, ticker line, speech, each line of the HTML, LINE's bubble and each SNS post.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster import tags
from broadcaster.channel import ChannelRenderer
from broadcaster.models import Alert, Message, Mode, MsgType, Source, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings, load_settings
from channels import build_renderers
from channels.line.render import decode_payload
from channels.sns.render import Payload

TYPED_JA = "【訂正】【警戒レベル３】思川 避難指示【訂正】"  # what an officer might type: tags the code adds
TYPED_EN = "[CORRECTION] [Level 3] Evacuation order"
VOLCANO = "噴火警戒レベル３（浅間山）"
JA_TAG = re.compile(r"【([^【】]*)】")
EN_TAG = re.compile(r"\[([^\[\]]*)\]")
HTML_TAG = re.compile(r"<[^>]+>")
LEVEL_WORDS = re.compile(r"(?<!噴火)警戒レベル|(?<!Volcanic )Alert Level")


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of alert, and the badge it must show while it stands (ja, en); "" for none."""

    name: str
    category: str
    kind: str
    level: int
    badge: str
    shows: tuple[str, str]


KINDS = [
    Kind("evacuation", "disaster", "", 4, "", ("警戒レベル４", "Alert Level 4")),
    Kind("evacuation-5", "disaster", "evacuation", 5, "", ("警戒レベル５", "Alert Level 5")),
    Kind("rain-advisory", "disaster", "water", 2, "", ("警戒レベル２", "Alert Level 2")),
    Kind("rain-warning", "disaster", "water", 3, "", ("警戒レベル３", "Alert Level 3")),
    Kind("wind-warning", "disaster", "weather", 3, "", ("", "")),  # ranked 3, but no 警戒レベル
    Kind("landslide", "disaster", "landslide", 4, "", ("警戒レベル４", "Alert Level 4")),
    Kind("level-1", "disaster", "", 1, "", ("", "")),  # 早期注意情報: no call to act
    Kind("earthquake", "disaster", "earthquake", 3, "震度５弱", ("震度５弱", "Seismic intensity 5 Lower")),
    Kind("volcano", "disaster", "", 1, VOLCANO, (VOLCANO, "Volcanic Alert Level 3 (Mount Asama)")),
    Kind("crime", "crime", "", 0, "", ("", "")),
    Kind("health", "health", "", 3, "", ("", "")),  # a level stored by mistake shows nothing
    Kind("general", "general", "", 0, "", ("", "")),
]  # fmt: skip
MSG_WORDS = {
    MsgType.UPDATE: ("更新", "UPDATE"),
    MsgType.CORRECTION: ("訂正", "CORRECTION"),
    MsgType.LIFT: ("解除", "LIFTED"),
    MsgType.CANCEL: ("取消", "CANCELLED"),
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default settings, posting to every SNS target."""
    folder: Path = tmp_path_factory.mktemp("tags")
    site = folder / "site.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "db.sqlite"}"\noutbox_dir = "{folder / "outbox"}"\n'
        '[sns]\ntargets = ["x", "mastodon", "bluesky"]\n',
        encoding="utf-8",
    )
    return load_settings(site)


@pytest.fixture(scope="module")
def renderers(settings: Settings) -> dict[str, ChannelRenderer]:
    """Every channel's renderer."""
    return dict(build_renderers(settings, Renderer(settings)))


def make(kind: Kind, msg_type: MsgType, mode: Mode) -> Alert:
    """An alert of ``kind`` on every channel, in Japanese and English, with typed tags in both titles."""
    return Alert(
        id="a1",
        source=Source.STAFF,
        category=kind.category,
        level=kind.level,
        title=TYPED_JA,
        body="思川の水位が上がっています。",
        instruction="直ちに避難してください。",
        kind=kind.kind,
        badge=kind.badge,
        translations={"en": Text(TYPED_EN, "The river is rising.", "Evacuate now.")},
        event_key="e1",
        version=1 if msg_type == MsgType.ALERT else 2,
        msg_type=msg_type,
        mode=mode,
        channels=CHANNEL_NAMES,
        created_at=1_795_900_000.0,
    )


def expected(kind: Kind, msg_type: MsgType, mode: Mode, lang: str) -> list[str]:
    """The tags' words a headline must carry, in the fixed order."""
    i = 0 if lang == "ja" else 1
    words = []
    if mode == Mode.EXERCISE:
        words.append(("訓練", "EXERCISE")[i])
    if msg_type in MSG_WORDS:
        words.append(MSG_WORDS[msg_type][i])
    if kind.shows[i] and msg_type not in (MsgType.LIFT, MsgType.CANCEL):
        words.append(kind.shows[i])
    return words


def code_tags(unit: str) -> list[str]:
    """The tags code adds found in ``unit``, in order, by their words, in either language."""
    found = sorted((m.start(), m.group(0)) for pattern in (JA_TAG, EN_TAG) for m in pattern.finditer(unit))
    return [text[1:-1] for _, text in found if tags.bare(text + "x") == "x"]


def units(message: Message) -> Iterator[tuple[str, str]]:
    """(where, text) for every piece a resident can read, each checked on its own."""
    yield "subject", message.subject
    yield "text", message.text
    yield "ticker", message.ticker
    for n, line in enumerate(html.unescape(HTML_TAG.sub("\n", message.html)).splitlines()):  # each element
        yield f"html line {n}", line
    for name, data in message.attachments:
        if name == "line.json":
            _, bubbles = decode_payload(message)
            for b, bubble in enumerate(bubbles):
                for n, words in enumerate(strings(bubble)):
                    yield f"line bubble {b} text {n}", words
        elif name == "sns.json":
            payload = Payload.decode(message)
            assert payload is not None
            for target, posts in payload.threads.items():
                for p, post in enumerate(posts):
                    if payload.lang(target, p) == message.lang:  # a thread has a reply per language
                        yield f"sns {target} post {p}", post
        elif name == "ticker.json":
            yield "ticker order", json.loads(data).get("line", "")


def strings(value: Any) -> Iterator[str]:
    """Every text and altText in a LINE message, wherever it is nested."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "altText") and isinstance(item, str):
                yield item
            else:
                yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def rank(word: str, lang: str) -> int:
    """A tag's place in the fixed order: exercise, what the message does, the badge."""
    i = 0 if lang == "ja" else 1
    word = word.upper() if i else word
    if word == ("訓練", "EXERCISE")[i]:
        return 0
    if word in (w[i] for w in MSG_WORDS.values()):
        return 1
    return 2


def check(message: Message, want: list[str], kind: Kind, msg_type: MsgType, lang: str) -> None:
    """Each tag at most once per unit, in the fixed order, only those expected; 警戒レベル only where it belongs."""
    want = [unicodedata.normalize("NFKC", w) for w in want]  # the ticker widens ASCII: compare as NFKC
    seen: set[str] = set()
    for where, text in units(message):
        unit = unicodedata.normalize("NFKC", text)
        found = code_tags(unit)
        assert len(found) == len(set(found)), (message.channel, lang, where, unit)
        assert [rank(w, lang) for w in found] == sorted(rank(w, lang) for w in found), (message.channel, where, unit)
        assert set(found) <= set(want), (message.channel, lang, where, unit, want)
        seen.update(found)
        if not kind.shows[0].startswith("警戒レベル") or msg_type in (MsgType.LIFT, MsgType.CANCEL):
            assert not LEVEL_WORDS.search(unit), (message.channel, lang, where, unit)
    if message.channel == "fm":
        assert not seen, message.speech  # tags are never read out: the script says them in words
    elif message.channel == "ticker" and lang != "ja":
        # the English line fits the station's full-width limit: a long badge ("Volcanic Alert Level 3
        # (Mount Asama)") may be cut, never repeated or misplaced (checked above)
        assert set(want) - seen <= set(want[-1:]), (message.channel, lang, seen, want)
    else:
        assert seen == set(want), (message.channel, lang, seen, want)
    assert not code_tags(message.speech), message.speech


@pytest.mark.parametrize("mode", list(Mode), ids=[m.value for m in Mode])
@pytest.mark.parametrize("msg_type", list(MsgType), ids=[m.value for m in MsgType])
@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_every_kind_state_and_channel_carries_each_tag_once_in_order(
    renderers: dict[str, ChannelRenderer], kind: Kind, msg_type: MsgType, mode: Mode
) -> None:
    alert = make(kind, msg_type, mode)
    assert set(renderers) == set(CHANNEL_NAMES)
    for renderer in renderers.values():
        for lang in ("ja", "en"):
            want = expected(kind, msg_type, mode, lang)
            message = renderer.render(alert, lang)
            check(message, want, kind, msg_type, lang)
            headline = tags.headline(alert, renderer_settings(renderer), lang)
            assert code_tags(headline) == want, headline  # exactly these, in this order


def renderer_settings(renderer: Any) -> Settings:
    """The settings a renderer was built with (every renderer keeps the shared Renderer)."""
    shared: Renderer = renderer.renderer
    return shared.settings


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_lift_says_what_is_over_on_every_channel_and_never_cancels(
    renderers: dict[str, ChannelRenderer], lang: str
) -> None:
    alert = dataclasses.replace(
        make(KINDS[0], MsgType.LIFT, Mode.LIVE),
        title="中央地区に避難指示を発令",
        translations={"en": Text("Evacuation order for Chuo", "It is safe to return.")},
    )
    said = "中央地区の避難指示を解除しました" if lang == "ja" else "Evacuation order for Chuo has been lifted."
    for name, renderer in renderers.items():
        message = renderer.render(alert, lang)
        parts = (message.subject, message.text, message.ticker, message.speech, message.html)
        everything = unicodedata.normalize("NFKC", "\n".join(parts)).replace("\u3000", " ")  # the ticker widens
        assert said in everything, (name, everything)
        assert "取り消" not in everything and "cancel" not in everything.lower(), (name, everything)
    fm = renderers["fm"].render(alert, lang).speech
    if lang == "ja":
        # in spoken form: 「ちゅうおうちく」 stays written as the city wrote it when no reading is known
        assert fm.count("避難指示を解除しました。") == 2, fm
    else:
        assert fm.count(said) == 2, fm


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_cancel_says_it_is_withdrawn_and_a_correction_that_it_corrects(
    renderers: dict[str, ChannelRenderer], lang: str
) -> None:
    cancel = renderers["fm"].render(make(KINDS[0], MsgType.CANCEL, Mode.LIVE), lang).speech
    correction = renderers["fm"].render(make(KINDS[0], MsgType.CORRECTION, Mode.LIVE), lang).speech
    update = renderers["fm"].render(make(KINDS[0], MsgType.UPDATE, Mode.LIVE), lang).speech
    if lang == "ja":
        assert "取り消します" in cancel and "解除" not in cancel
        assert "訂正" in correction and "更新" not in correction
        assert "更新" in update and "訂正" not in update
    else:
        assert "cancelled" in cancel and "lifted" not in cancel
        assert "corrects" in correction and "updates" not in correction
        assert "updates" in update and "corrects" not in update
    mail = renderers["email"].render(make(KINDS[0], MsgType.CORRECTION, Mode.LIVE), lang).text
    assert ("訂正します" if lang == "ja" else "This corrects an earlier message.") in mail


@pytest.mark.parametrize(
    ("typed", "bare"),
    [
        ("【訓練】【訂正】【警戒レベル４】避難指示", "避難指示"),
        ("【警戒レベル4】【訓練】避難指示", "避難指示"),  # half-width digit, any order
        ("【重要】【訂正】避難指示【取消】", "【重要】避難指示"),  # other bracketed words stay
        ("【地区名】に避難指示", "【地区名】に避難指示"),  # a 定型文's placeholder stays for lint to find
        ("【震度５弱】【地震情報】小山市で地震", "【地震情報】小山市で地震"),
        ("【噴火警戒レベル３（浅間山）】噴火警報", "噴火警報"),
        ("【更新】【解除】 大雨警報", "大雨警報"),
        ("[EXERCISE] [CORRECTION] [Alert Level 4] Evacuate", "Evacuate"),
        ("[Level 3] [cancelled] Evacuate [LIFTED]", "Evacuate"),
        ("避難指示（警戒レベル４）", "避難指示（警戒レベル４）"),  # words inside the title are the officer's
    ],
)
def test_bare_strips_only_the_tags_code_adds(typed: str, bare: str) -> None:
    assert tags.bare(typed) == bare


def test_level_zero_has_no_badge_and_indexes_no_level(settings: Settings) -> None:
    alert = make(KINDS[0], MsgType.ALERT, Mode.LIVE)
    for level in (0, 1):
        assert tags.badge(dataclasses.replace(alert, level=level), settings) == ""
    assert tags.headline(dataclasses.replace(alert, level=0, category="general"), settings) == "思川 避難指示"


@pytest.mark.parametrize(
    ("title", "lifted"),
    [
        ("中央地区に避難指示を発令", "中央地区の避難指示"),
        ("小山市に大雨警報（浸水害）", "小山市の大雨警報（浸水害）"),
        ("間々田地区に高齢者等避難", "間々田地区の高齢者等避難"),
        ("思川 避難指示", "思川 避難指示"),
    ],
)
def test_a_lift_names_what_is_over(title: str, lifted: str) -> None:
    assert tags.lifted(title) == lifted
