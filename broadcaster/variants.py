"""An alert in every language the city offers: from the phrasebook, from an officer, or as a notice.

``complete`` gives an alert its words in each offered language other than Japanese, and says where
each came from (``Text.source``):

- ``officer``: typed by a person (or sent by a system) in that language: kept as it is;
- ``phrasebook``: the alert was built from a pattern (a JMA document's structured fields, a 定型文
  whose Japanese the officer left as the pattern made it, a lift or a cancel), so its words in the
  language are that pattern filled with the alert's slots;
- ``notice``: the alert is free text, which is never machine-translated. The language gets the
  phrasebook's notice instead, which still carries what matters: what the alert is (category,
  level), where (districts) and the link to the Japanese words. A correction's notice says it is one.

A language whose pattern has not been reviewed by the city's translators is skipped when ``[languages]
require_review`` is on (the notice then stands in for an unreviewed pattern, if the notice is
reviewed); a language with nothing to send falls back to the Japanese, as every channel already does
for a language an alert lacks. Pure: the phrasebook is read once per process.
"""

from __future__ import annotations

import dataclasses

from broadcaster import furigana, slots
from broadcaster.models import Alert, MsgType, Text
from broadcaster.phrasebook import Phrasebook, fill
from broadcaster.settings import Settings

OFFICER, PHRASEBOOK, NOTICE = "officer", "phrasebook", "notice"


def usable(book: Phrasebook, settings: Settings, pattern: str, lang: str) -> bool:
    """Whether ``pattern`` may be sent in ``lang``: it exists, and is reviewed if the city requires that."""
    entry = book.entry(pattern, lang)
    return entry is not None and (entry.reviewed or not settings.languages.require_review)


def filled(book: Phrasebook, settings: Settings, alert: Alert, pattern: str, lang: str, source: str) -> Text:
    """``pattern`` in ``lang``, filled from ``alert``."""
    entry = book.entry(pattern, lang)
    assert entry is not None
    values = slots.written(book, settings, alert, lang, pattern)
    title, body, instruction = (fill(part, values).strip() for part in (entry.title, entry.body, entry.instruction))
    return Text(title, body, instruction, source)


def notice_pattern(alert: Alert) -> str:
    """The notice that stands for free text: a correction says it is one."""
    return "correction" if alert.msg_type == MsgType.CORRECTION else "notice"


def variant(book: Phrasebook, settings: Settings, alert: Alert, lang: str) -> Text | None:
    """The alert's words in ``lang`` (not Japanese), or None when there is nothing fit to send."""
    typed = alert.translations.get(lang)
    if typed is not None and typed.source == OFFICER:
        return typed
    if alert.phrase in book.patterns and usable(book, settings, alert.phrase, lang):
        return filled(book, settings, alert, alert.phrase, lang, PHRASEBOOK)
    notice = notice_pattern(alert)
    if usable(book, settings, notice, lang):
        return filled(book, settings, alert, notice, lang, NOTICE)
    return None


def complete(alert: Alert, settings: Settings) -> Alert:
    """``alert`` with words in every offered language; what an officer typed is kept, the rest rebuilt."""
    book = settings.phrasebook
    out: dict[str, Text] = {}
    for lang in settings.city.languages:
        if lang == "ja":
            continue
        words = variant(book, settings, alert, lang)
        if words is not None:
            out[lang] = words
    return dataclasses.replace(alert, translations=out)


def japanese_from_phrase(alert: Alert, settings: Settings) -> Text | None:
    """The Japanese words the alert's pattern makes from its slots (None without a pattern).

    A 定型文 whose Japanese the officer then edited no longer says what the pattern says, so its other
    languages must not come from the pattern: drafts compare the two with this.
    """
    book = settings.phrasebook
    if alert.phrase not in book.patterns:
        return None
    return filled(book, settings, alert, alert.phrase, "ja", PHRASEBOOK)


def plain(text: Text) -> Text:
    """The words with furigana as 漢字（かんじ）: for plain-text channels."""
    if not any(furigana.has(p) for p in (text.title, text.body, text.instruction)):
        return text
    return Text(furigana.plain(text.title), furigana.plain(text.body), furigana.plain(text.instruction), text.source)
