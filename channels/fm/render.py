"""FM rendering, without a speech engine: the announcement's script, numbers, dates and times in spoken form.

The script comes from templates/fm (chime cue, 「こちらは、（市の名前）です。」, the announcement, 「繰り返します。」,
the announcement again). It is what the station's drop folder gets beside the WAV, and what the
speech engine reads when the channel sends; synthesis itself happens only then (channels/fm/speech.py).
"""

from __future__ import annotations

import dataclasses

from broadcaster.channel import Fit
from broadcaster.models import Alert, Message
from broadcaster.rendering import Limits, Renderer
from channels.fm.spoken import spoken_form

NAME = "fm"
SPEECH_LIMIT = 4000  # read twice at about 8 characters a second: a long announcement already
LIMITS = Limits(speech=SPEECH_LIMIT)
UNCUT = Limits()


class FmRenderer:
    """The speech script of an alert; Japanese in spoken form."""

    name = NAME
    limits = LIMITS
    reaches_people = False

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def render(self, alert: Alert, lang: str) -> Message:
        """The speech script (Message.speech); Japanese numbers, dates and times in spoken form."""
        message = self.renderer.render(NAME, alert, lang, LIMITS)
        if lang.split("-")[0] != "ja":
            return message
        return dataclasses.replace(message, speech=spoken_form(message.speech))

    def fits(self, alert: Alert) -> list[Fit]:
        """The Japanese script as written against SPEECH_LIMIT (it is cut before it is put in spoken form)."""
        speech = self.renderer.render(NAME, alert, "ja", UNCUT).speech
        return [Fit("speech", "ja", len(speech), SPEECH_LIMIT)]
