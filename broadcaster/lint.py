"""Lint: what an officer should look at again before an alert goes out. Warnings, never refusals.

Each warning is a code and its params; the console shows them in words (templates/console/text/
compose.toml, keys ``lint_<code>``). The checks:

- ``too_long``: a channel would cut the text (email subject, LINE text and bubble, FM script, the
  ticker's ``[ticker] max_length``), measured on the full rendering as each channel counts;
- ``thread_long``: an SNS thread would need more posts than a thread may have (the rest is cut).
  Both come from the channels' own renderers (``ChannelRenderer.fits``), which lint is given: it
  knows no channel itself;
- ``no_time``: neither the body nor the instruction says when (18時, 18:00, 午後6時, 6日 …) and
  there is no expiry;
- ``exercise_word`` in a live alert (訓練, テスト, test, drill), ``live_word`` in an exercise
  (これは訓練ではありません, this is not a drill, 実際の …);
- ``no_translation``: a language the city offers has no translation;
- ``placeholder``: a 定型文 placeholder (【地区名】, or an empty 【　】) is still in the text;
- ``empty_title``: the title says nothing (punctuation, tags, or a word like お知らせ alone).

Pure apart from reading templates (through the renderers) and, once, the 定型文 (config/phrases.toml),
whose placeholders it looks for; the compose page offers the same 定型文 (``load_phrases``).
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster import tags
from broadcaster.channel import ChannelRenderer, Fit
from broadcaster.models import Alert, Mode, Text
from broadcaster.settings import ROOT, Settings

PHRASES = ROOT / "config" / "phrases.toml"
NUMERAL = "[0-9０-９〇一二三四五六七八九十]"
TIME_GIVEN = re.compile(
    rf"{NUMERAL}{{1,4}}\s*(?:時(?!的|点で)|日|月)"  # 18時, 六日, 12月 (not 一時的)
    r"|\d{1,2}\s*[:：]\s*\d{2}"  # 18:00, １８：００ (\d takes full-width digits too)
    r"|午前|午後|正午"
    r"|\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])"  # 6 pm
    r"|\b(?:noon|midnight|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
LIVE_WORDS = re.compile(
    r"これは訓練ではありません|訓練ではありません|実際の|this is not a drill|not a drill|not an exercise"
    r"|this is real",
    re.IGNORECASE,
)
EXERCISE_WORDS = re.compile(r"訓練|テスト|\btest(?:s|ing)?\b|\bdrills?\b", re.IGNORECASE)
BRACKETED = re.compile(r"【([^【】]*)】")
GENERIC_TITLES = frozenset({  # titles that say nothing on their own
    "お知らせ", "おしらせ", "連絡", "情報", "件名", "タイトル", "無題", "未定", "テスト",
    "title", "untitled", "notice", "information", "info", "news", "alert", "tbd", "xxx", "test",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Warning:  # the brief's name for it; shadows the builtin, which lint never needs
    """One thing to look at again: a code (``lint_<code>`` in the console's words) and its params."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A 定型文: a ready-made alert from config/phrases.toml; 【…】 marks what the officer fills in."""

    id: str
    name: str
    name_en: str
    category: str
    level: int
    text: Text
    translations: Mapping[str, Text]  # language -> words, e.g. "en"


def _text(words: Mapping[str, str]) -> Text:
    return Text(words["title"], words["body"], words.get("instruction", ""))


@functools.cache
def load_phrases(path: Path = PHRASES) -> tuple[Phrase, ...]:
    """The 定型文, read once (none when the file is missing)."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return ()
    out = []
    for p in data.get("phrase", []):
        translations = {k: _text(v) for k, v in p.items() if isinstance(v, dict)}
        level = int(p.get("level", 0))  # daily life has none
        out.append(Phrase(p["id"], p["name"], p["name_en"], p["category"], level, _text(p), translations))
    return tuple(out)


@functools.cache
def phrase_placeholders(path: Path = PHRASES) -> frozenset[str]:
    """Every 【placeholder】 the 定型文 use."""
    found: set[str] = set()
    for phrase in load_phrases(path):
        for text in (phrase.text, *phrase.translations.values()):
            for value in _fields(text):
                found.update(p.strip() for p in BRACKETED.findall(value) if p.strip())
    return frozenset(found)


def check(
    settings: Settings,
    alert: Alert,
    renderers: Mapping[str, ChannelRenderer],
    *,
    placeholders: Collection[str] | None = None,
) -> list[Warning]:
    """The warnings about ``alert``, most serious first.

    ``renderers``: the channels' renderers by name (``ChannelSet.renderers``); ``placeholders``: those of
    the 定型文, by default.
    """
    known = phrase_placeholders() if placeholders is None else placeholders
    texts = _texts(alert)
    out: list[Warning] = []
    out += _mode_words(alert, texts)
    out += _placeholders(alert, known)
    out += _empty_title(alert)
    out += _no_time(alert, texts)
    out += _lengths(renderers, alert)
    out += [
        Warning("no_translation", {"lang": lang})
        for lang in settings.city.languages
        if lang != "ja" and lang not in alert.translations
    ]
    return out


def _texts(alert: Alert) -> dict[str, Text]:
    return {lang: alert.text(lang) for lang in alert.languages}


def _fields(text: Text) -> Iterator[str]:
    yield text.title
    yield text.body
    yield text.instruction


def _mode_words(alert: Alert, texts: Mapping[str, Text]) -> list[Warning]:
    words: dict[str, None] = {}
    for text in texts.values():
        for value in _fields(text):
            if alert.mode == Mode.LIVE:
                # "これは訓練ではありません" says 訓練 too; it is a live phrase, not an exercise word
                value = LIVE_WORDS.sub(" ", value)
                words.update(dict.fromkeys(m.group(0) for m in EXERCISE_WORDS.finditer(value)))
            else:
                words.update(dict.fromkeys(m.group(0) for m in LIVE_WORDS.finditer(value)))
    code = "exercise_word" if alert.mode == Mode.LIVE else "live_word"
    return [Warning(code, {"word": word}) for word in words]


def unfilled(alert: Alert, placeholders: Collection[str] | None = None) -> list[str]:
    """The 定型文 placeholders (【地区名】, or an empty 【　】) still in ``alert``'s words, in order."""
    known = phrase_placeholders() if placeholders is None else placeholders
    left: dict[str, None] = {}
    for text in _texts(alert).values():
        for value in _fields(text):
            for inner in BRACKETED.findall(value):
                if not inner.strip() or inner.strip() in known:
                    left[f"【{inner}】"] = None
    return list(left)


def _placeholders(alert: Alert, known: Collection[str]) -> list[Warning]:
    left = unfilled(alert, known)
    return [Warning("placeholder", {"placeholders": "、".join(left)})] if left else []


def substance(title: str) -> str:
    """What a title says once tags (【…】, [EXERCISE] …), punctuation, symbols and spaces are gone."""
    title = BRACKETED.sub("", tags.bare(title))
    return "".join(c for c in title if unicodedata.category(c)[0] in "LN")


def _empty_title(alert: Alert) -> list[Warning]:
    core = substance(alert.title)
    if len(core) < 2 or core.lower() in GENERIC_TITLES:
        return [Warning("empty_title")]
    return []


def _no_time(alert: Alert, texts: Mapping[str, Text]) -> list[Warning]:
    if alert.expires is not None:
        return []
    for text in texts.values():
        if TIME_GIVEN.search(text.body) or TIME_GIVEN.search(text.instruction):
            return []
    return [Warning("no_time")]


def _lengths(renderers: Mapping[str, ChannelRenderer], alert: Alert) -> list[Warning]:
    """Each of the alert's channels, rendered whole, against the limits it would cut at."""
    return [
        _length_warning(name, fit)
        for name in alert.channels
        if name in renderers
        for fit in renderers[name].fits(alert)
        if fit.over
    ]


def _length_warning(channel: str, fit: Fit) -> Warning:
    if fit.part == "thread":
        return Warning("thread_long", {"target": fit.target, "posts": fit.length, "limit": fit.limit})
    params: dict[str, str | int] = {
        "channel": channel,
        "part": fit.part,
        "lang": fit.lang,
        "length": fit.length,
        "limit": fit.limit,
    }
    return Warning("too_long", params)
