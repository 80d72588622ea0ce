"""Lint: what an officer should look at again before an alert goes out. Warnings, never refusals.

Each warning is a code and its params; the console shows them in words (templates/console/text/
compose.toml, keys ``lint_<code>``). The checks:

- ``too_long``: a channel would cut the text (email subject, LINE text and bubble, FM script, the
  ticker's ``[ticker] max_length``), measured on the full rendering as each channel counts;
- ``thread_long``: an SNS thread would need more posts than a thread may have (the rest is cut);
- ``no_time``: neither the body nor the instruction says when (18時, 18:00, 午後6時, 6日 …) and
  there is no expiry;
- ``exercise_word`` in a live alert (訓練, テスト, test, drill), ``live_word`` in an exercise
  (これは訓練ではありません, this is not a drill, 実際の …);
- ``no_translation``: a language the city offers has no translation;
- ``placeholder``: a 定型文 placeholder (【地区名】, or an empty 【　】) is still in the text;
- ``empty_title``: the title says nothing (punctuation, tags, or a word like お知らせ alone).

Pure apart from reading templates (through the Renderer) and, once, the 定型文 (config/phrases.toml),
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

from broadcaster.models import Alert, Mode, Text
from broadcaster.rendering import EXERCISE_PREFIX, Limits, Renderer
from broadcaster.settings import ROOT, Settings
from channels import line, ticker
from channels.email import channel as email
from channels.fm import channel as fm
from channels.sns import channel as sns
from channels.sns.target import COUNTING

PHRASES = ROOT / "config" / "phrases.toml"
PUBLIC_LANG = "ja"  # public channels (SNS, website, ticker, FM) carry the Japanese words
SNS_TARGETS = {  # target -> (limit, measure), as channels/sns splits for each
    name: (c.limit, c.measure) for name, c in COUNTING.items()
}
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
        out.append(Phrase(p["id"], p["name"], p["name_en"], p["category"], int(p["level"]), _text(p), translations))
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
    *,
    renderer: Renderer | None = None,
    placeholders: Collection[str] | None = None,
) -> list[Warning]:
    """The warnings about ``alert``, most serious first (``placeholders``: those of the 定型文)."""
    renderer = renderer or Renderer(settings)
    known = phrase_placeholders() if placeholders is None else placeholders
    texts = _texts(alert)
    out: list[Warning] = []
    out += _mode_words(alert, texts)
    out += _placeholders(texts, known)
    out += _empty_title(alert)
    out += _no_time(alert, texts)
    out += _lengths(settings, renderer, alert)
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


def _placeholders(texts: Mapping[str, Text], known: Collection[str]) -> list[Warning]:
    left: dict[str, None] = {}
    for text in texts.values():
        for value in _fields(text):
            for inner in BRACKETED.findall(value):
                if not inner.strip() or inner.strip() in known:
                    left[f"【{inner}】"] = None
    return [Warning("placeholder", {"placeholders": "、".join(left)})] if left else []


def substance(title: str) -> str:
    """What a title says once tags (【…】), punctuation, symbols and spaces are gone."""
    title = BRACKETED.sub("", title.removeprefix(EXERCISE_PREFIX))
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


def _too_long(channel: str, part: str, lang: str, length: int, limit: int | None) -> list[Warning]:
    if limit is None or length <= limit:
        return []
    return [Warning("too_long", {"channel": channel, "part": part, "lang": lang, "length": length, "limit": limit})]


def _lengths(settings: Settings, renderer: Renderer, alert: Alert) -> list[Warning]:
    """Each channel's full rendering against the limit it would cut at."""
    free = Limits()  # render without cutting, then measure as the channel does
    out: list[Warning] = []
    for name in alert.channels:
        if name == "email":
            for lang in alert.languages:
                subject = renderer.render(name, alert, lang, free).subject
                out += _too_long(name, "subject", lang, len(subject), email.LIMITS.subject)
        elif name == "line":
            for lang in alert.languages:
                text = renderer.render(name, alert, lang, free).text
                out += _too_long(name, "text", lang, line.utf16_units(text), line.LIMITS.text)
                body = alert.text(lang).body
                out += _too_long(name, "bubble", lang, line.utf16_units(body), line.FLEX_BODY_LIMIT)
        elif name == "ticker":
            raw = renderer.render(name, alert, PUBLIC_LANG, free).ticker
            out += _too_long(name, "line", PUBLIC_LANG, len(ticker.fullwidth(raw)), settings.ticker.max_length)
        elif name == "fm":
            # the fm channel cuts the script as written, then puts it in spoken form
            speech = renderer.render(name, alert, PUBLIC_LANG, free).speech
            out += _too_long(name, "speech", PUBLIC_LANG, len(speech), fm.LIMITS.speech)
        elif name == "sns":
            out += _thread_lengths(settings, renderer, alert)
    return out


def _thread_lengths(settings: Settings, renderer: Renderer, alert: Alert) -> list[Warning]:
    message = renderer.render("sns", alert, PUBLIC_LANG, sns.SnsChannel.limits)
    url = str(renderer.context(alert, PUBLIC_LANG)["url"])
    body = "\n".join(line_ for line_ in message.text.split("\n") if line_.strip() != url)
    tail = " ".join(p for p in (url, *settings.sns.hashtags) if p)
    out = []
    for target in dict.fromkeys(settings.sns.targets):
        limit, measure = SNS_TARGETS[target]
        # split without the cap to see how many posts the whole text needs
        posts = len(sns.split_thread(body, tail, limit, measure, max_parts=9, tag="00日00:00:00発表"))
        if posts > sns.MAX_PARTS:
            out.append(Warning("thread_long", {"target": target, "posts": posts, "limit": sns.MAX_PARTS}))
    return out
