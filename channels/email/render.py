"""Safety-mail rendering: subject, text and HTML, and the MIME body every recipient of a message shares.

The body (From, Subject, a UTF-8 text part and its HTML alternative, base64, CRLF, dot-stuffed for
DATA) travels in the Message as the attachment ``email.eml``; ``send`` puts each recipient's own
header lines (To, Message-ID, Date, List-Unsubscribe) in front of it.

A subscriber gets the mail in their language (the delivery row's ``lang``): the Japanese templates, or
the English ones with the language's own words. The text part writes furigana as 漢字（かんじ）, the
HTML part as <ruby>. Both end with a visible link to change or stop the mails: the subscription page
(templates/_macros.j2 ``manage_url``), since the body is shared by every recipient of the language and
can carry no one's token; each recipient's one-click unsubscribe link is in their headers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from broadcaster import tags
from broadcaster.channel import Fit, render_plain
from broadcaster.models import Alert, Message, Mode
from broadcaster.rendering import Limits, Renderer
from broadcaster.settings import Settings

NAME = "email"
BODY = "email.eml"  # the Message attachment holding the pre-rendered MIME body
SUBJECT_LIMIT = 120  # longer subjects are cut on phones and in list views
LIMITS = Limits(subject=SUBJECT_LIMIT)
UNCUT = Limits()
LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def mime_body(message: Message, sender: str, settings: Settings) -> bytes:
    """From, Subject and the MIME parts: the bytes every recipient of ``message`` shares."""
    subject = message.subject
    mark = tags.exercise_tag(message.lang, settings)
    if message.mode == Mode.EXERCISE and not subject.startswith(mark.strip()):
        subject = mark + subject  # rendering adds it; an exercise must never look live
    mime = EmailMessage(policy=SMTP_POLICY)
    mime["From"] = sender
    mime["Subject"] = subject
    # base64 keeps UTF-8 Japanese intact through relays without 8BITMIME
    mime.set_content(message.text, charset="utf-8", cte="base64")
    if message.html:
        mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
        for part in mime.iter_parts():
            del part["MIME-Version"]  # add_alternative leaves one on the part; it belongs on the message only
        # from the content rather than random, so the same alert renders to the same bytes every time
        # (the preview, the outbox and every retry); "=_" cannot occur in the base64 parts it separates
        digest = hashlib.sha256(
            "\0".join((message.alert_id, message.lang, subject, message.text, message.html)).encode()
        )
        mime.set_boundary("=_" + digest.hexdigest()[:40])
    body = mime.as_bytes()  # CRLF line endings: the SMTP policy
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return LEADING_DOT.sub(b"..", body)  # dot-stuffed for DATA, once


class EmailRenderer:
    """The safety mail of an alert, one per language, from ``[email] sender``."""

    name = NAME
    limits = LIMITS
    reaches_people = True

    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.renderer = renderer
        self.settings = settings
        self.sender = settings.email.sender

    def render(self, alert: Alert, lang: str) -> Message:
        """The rendered alert, with the MIME body every recipient shares as the attachment ``email.eml``."""
        message = render_plain(self.renderer, NAME, alert, lang, LIMITS)
        return dataclasses.replace(message, attachments=((BODY, mime_body(message, self.sender, self.settings)),))

    def fits(self, alert: Alert) -> list[Fit]:
        """Each language's subject against SUBJECT_LIMIT."""
        return [
            Fit("subject", lang, len(render_plain(self.renderer, NAME, alert, lang, UNCUT).subject), SUBJECT_LIMIT)
            for lang in alert.languages
        ]
