"""FM rendering, without a speech engine: the announcement's scripts, numbers, dates and times in spoken form.

An alert is read in Japanese, then in やさしい日本語, then in each of ``[fm] languages`` it has words in
(``Alert.translations``, filled by broadcaster/variants), each language by its own voice. The script
of each comes from templates/fm (chime cue, who is speaking, the announcement, the announcement again):
default.ja.j2 for Japanese, default.ja-x-easy.j2 for やさしい日本語, default.en.j2 for every other
language (its words from the phrasebook). The FM delivery is one row per alert, in Japanese: its
message carries the Japanese script in ``speech`` and each further language's script as an attachment
``speech.<lang>``, in the order they are read, so the channel sends exactly what was rendered.

Speech says no braces and no links: furigana markup is read as its reading ({避難|ひなん} → ひなん), and a
link (a notice's "Details in Japanese: https://…") is left out, since no listener can follow it. The
scripts are what the station's drop folder gets beside the WAVs, and what the engines read when the
channel sends; synthesis itself happens only then (channels/fm/speech.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from broadcaster import furigana
from broadcaster.channel import Fit
from broadcaster.models import Alert, Message
from broadcaster.phrasebook import EASY
from broadcaster.rendering import Limits, Renderer
from broadcaster.settings import Settings
from channels.fm.spoken import spoken_form

NAME = "fm"
SPEECH_LIMIT = 4000  # read twice at about 8 characters a second: a long announcement already
LIMITS = Limits(speech=SPEECH_LIMIT)
UNCUT = Limits()
ATTACHMENT = "speech."  # + the language: one further language's script
LINK = re.compile(r"[ \t]*[:：]?[ \t]*https?://\S+")
SENTENCE_END = (".", "!", "?", "。", "！", "？")


def is_japanese(lang: str) -> bool:
    """True for ja and ja-x-easy: Open JTalk reads them."""
    return lang.split("-")[0].lower() == "ja"


def voiced(settings: Settings) -> tuple[str, ...]:
    """``[fm] languages`` that have a voice configured (languages.toml ``voice``), in their order.

    Whether espeak-ng has that voice on this machine is the channel's check at start-up
    (channels/fm/speech.checked_voices); a renderer without an engine assumes it does.
    """
    book = settings.phrasebook
    return tuple(lang for lang in settings.fm.languages if lang in book.languages and book.languages[lang].voice)


def without_links(script: str, stop: str) -> str:
    """The script with each link left out, a line that ended with one closed with ``stop``."""
    lines = []
    for line in script.splitlines():
        cut = LINK.sub("", line)
        if cut != line:
            cut = cut.rstrip(" \t:：、,")
            if cut and not cut.endswith(SENTENCE_END):
                cut += stop
        lines.append(cut)
    return "\n".join(lines)


def scripts(message: Message) -> list[tuple[str, str]]:
    """(language, script) of every language a rendered message is read in, in order."""
    extra = [
        (name.removeprefix(ATTACHMENT), data.decode())
        for name, data in message.attachments
        if name.startswith(ATTACHMENT)
    ]
    return [(message.lang, message.speech), *extra]


class FmRenderer:
    """The speech scripts of an alert; Japanese in spoken form."""

    name = NAME
    limits = LIMITS
    reaches_people = False

    def __init__(self, renderer: Renderer, languages: Sequence[str] | None = None) -> None:
        self.renderer = renderer
        # the languages read after Japanese and やさしい日本語: those the channel found voices for
        self.languages = voiced(renderer.settings) if languages is None else tuple(languages)

    def programme(self, alert: Alert) -> list[str]:
        """The languages the alert is read in, in order: Japanese, やさしい日本語, then ``languages`` it has."""
        order = ["ja"]
        for lang in (EASY, *self.languages):
            if lang in alert.translations and lang not in order:
                order.append(lang)
        return order

    def render(self, alert: Alert, lang: str) -> Message:
        """The script in ``lang`` (Message.speech); rendered in Japanese, every further language's as attachments."""
        message = self.script(alert, lang)
        if lang != "ja":
            return message
        extra = tuple(
            (ATTACHMENT + other, self.script(alert, other).speech.encode()) for other in self.programme(alert)[1:]
        )
        return dataclasses.replace(message, attachments=extra)

    def script(self, alert: Alert, lang: str, limits: Limits = LIMITS) -> Message:
        """One language's script: readings for braces, no links, Japanese numbers in spoken form."""
        message = self.renderer.render(NAME, alert, lang, limits)
        speech = without_links(furigana.spoken(message.speech), "。" if is_japanese(lang) else ".")
        if is_japanese(lang):
            speech = spoken_form(speech)
        return dataclasses.replace(message, speech=speech)

    def fits(self, alert: Alert) -> list[Fit]:
        """Each language's script as written against SPEECH_LIMIT (it is cut before it is put in spoken form)."""
        return [
            Fit("speech", lang, len(self.renderer.render(NAME, alert, lang, UNCUT).speech), SPEECH_LIMIT)
            for lang in self.programme(alert)
        ]
