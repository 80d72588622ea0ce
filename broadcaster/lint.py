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
- ``no_translation``: a language the city offers will get the Japanese words: the phrasebook has nothing
  it may send in it (a pattern and its notice not yet reviewed while ``[languages] require_review`` is on);
- ``notices``: a live disaster alert (a category with levels) is free text, so every other language gets only
  the phrasebook's notice with a link to the Japanese: a 定型文 would reach them in their own words;
- ``empty_slots``: a 定型文 with slots left empty (its words would say 「、の危険が」 in every language);
- ``placeholder``: a placeholder is still in the text: an empty 【　】, or 【…】 around a word that
  names what to write (【地区名】, 【時刻】, 【○○】, 【area】 …). The console's 定型文 fill their slots
  from form fields and never leave one, but officers paste from the city's old templates;
- ``empty_title``: the title says nothing (punctuation, tags, or a word like お知らせ alone).

The words an officer wrote (the Japanese, and translations they typed) are what is checked for times,
mode words and placeholders: the phrasebook's words were reviewed once, for every alert. Pure apart
from reading templates (through the renderers).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from broadcaster import tags
from broadcaster.channel import ChannelRenderer, Fit
from broadcaster.models import Alert, Mode, Text
from broadcaster.settings import Settings

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
# what a template's blank says: a word naming the thing to write (地区名, 時刻, 避難所名 …), a run of
# ○ or × (「○○地区」), or an English blank (area, time, shelter …). A tag of one's own (【重要】, 【続報】)
# names no such thing and is left alone.
PLACEHOLDER = re.compile(
    r"^(?:.*(?:名|時刻|日時|日付|時間|種類|番号|住所|数|場所|内容|特徴)|.*[○〇◯×✕＿_].*"
    r"|(?:area|time|date|hazard|shelter|address|place|number(?: of [a-z ]+)?|name|phone|hours))$",
    re.IGNORECASE,
)
GENERIC_TITLES = frozenset({  # titles that say nothing on their own
    "お知らせ", "おしらせ", "連絡", "情報", "件名", "タイトル", "無題", "未定", "テスト",
    "title", "untitled", "notice", "information", "info", "news", "alert", "tbd", "xxx", "test",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Warning:  # the brief's name for it; shadows the builtin, which lint never needs
    """One thing to look at again: a code (``lint_<code>`` in the console's words) and its params."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)


def check(
    settings: Settings,
    alert: Alert,
    renderers: Mapping[str, ChannelRenderer],
    *,
    placeholders: Collection[str] = (),
) -> list[Warning]:
    """The warnings about ``alert``, most serious first.

    ``renderers``: the channels' renderers by name (``ChannelSet.renderers``); ``placeholders``: more
    words that mark a blank in this city's own templates, besides those ``PLACEHOLDER`` recognises.
    """
    texts = _texts(alert)
    out: list[Warning] = []
    out += _mode_words(alert, texts)
    out += _placeholders(alert, placeholders)
    out += _empty_slots(settings, alert)
    out += _empty_title(alert)
    out += _no_time(alert, texts)
    out += _lengths(renderers, alert)
    out += _notices(settings, alert)
    out += [
        Warning("no_translation", {"lang": lang})
        for lang in settings.city.languages
        if lang != "ja" and lang not in alert.translations
    ]
    return out


def _texts(alert: Alert) -> dict[str, Text]:
    """The words a person wrote: the Japanese, and the translations an officer (or a system) typed."""
    return {lang: alert.text(lang) for lang in alert.languages if lang == "ja" or alert.text(lang).source == "officer"}


def _empty_slots(settings: Settings, alert: Alert) -> list[Warning]:
    pattern = settings.phrasebook.patterns.get(alert.phrase)
    if pattern is None or pattern.use != "phrase":
        return []
    empty = [name for name in pattern.slots if not alert.slots.get(name)]
    return [Warning("empty_slots", {"slots": ",".join(empty)})] if empty else []


def _notices(settings: Settings, alert: Alert) -> list[Warning]:
    category = settings.categories.get(alert.category)
    if alert.mode != Mode.LIVE or category is None or not category.levels:
        return []  # an exercise, or daily life: a notice with the link is enough
    langs = [lang for lang, text in alert.translations.items() if text.source == "notice"]
    return [Warning("notices", {"n": len(langs)})] if langs else []


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


def blank(inner: str, known: Collection[str] = ()) -> bool:
    """Whether 【inner】 is a template's blank rather than a tag: empty, a known word, or ``PLACEHOLDER``."""
    word = inner.strip().strip("　")
    return not word or word in known or bool(PLACEHOLDER.fullmatch(word))


def unfilled(alert: Alert, placeholders: Collection[str] = ()) -> list[str]:
    """The placeholders (【地区名】, 【○○】, or an empty 【　】) still in ``alert``'s words, in order."""
    left: dict[str, None] = {}
    for text in _texts(alert).values():
        for value in _fields(text):
            for inner in BRACKETED.findall(value):
                if blank(inner, placeholders):
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
