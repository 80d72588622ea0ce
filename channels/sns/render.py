"""SNS rendering, without the services' SDKs: each target's thread, split as that service counts.

The template's text (title, body, instruction, link) is split per target into a reply thread that fits
the target's own count (X's weighted length, Mastodon's and Bluesky's graphemes, channels/sns/target.py).
Splits fall at sentence ends (。！？) or line ends, else at a space or 、, and only as a last resort
inside a run of text. The first post carries the link to the alert's page and the hashtags; a thread of
several posts is numbered "(1/3)", with the issue time, since X refuses a reply identical to an earlier
post. An alert for some districts names them under the headline, so the first post says where; for a
target whose first post cannot hold every name, that target's thread counts them instead (市内3地区, and
the link lists them). The threads travel in the Message as the attachment ``sns.json``.

Languages (``[sns] languages``): the thread is in the first the alert has, and each other language the
alert has follows it as one reply, cut to one post of the target's size, ending in the link (no
hashtags). The thread is the same whatever language ``render`` is asked for; the Message's text is that
language's. Each post carries its language tag for the services that take one (``Payload.langs``).
Furigana (やさしい日本語) are written 漢字（かんじ）: no service shows ruby.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Sequence

from broadcaster import districts
from broadcaster.channel import Fit, render_plain
from broadcaster.clock import jst
from broadcaster.models import Alert, Message
from broadcaster.rendering import Limits, Renderer, fit
from broadcaster.settings import Settings
from channels.sns.target import COUNTING, Counting, weighted_length

NAME = "sns"
PAYLOAD = "sns.json"
MAX_PARTS = 4  # longer texts are cut: the first post links to the full alert
MEASURED_PARTS = 9  # lint splits this far to tell how many posts the whole text needs
COUNTER = " ({}/{}{})"  # part, parts, and the issue time: X refuses a reply identical to an earlier post
SENTENCE = re.compile(r"(?<=[。！？\n])|(?<=[.!?] )")
SOFT_BREAK = re.compile(r"[ 、，,　]")
# a counted unit (a weighted character, a grapheme) is at most this many code points in real text (a
# family emoji is 7): no post of ``limit`` units holds more than limit × this, so nothing longer is measured
CHARS_PER_UNIT = 8
LIMITS = Limits(measure=weighted_length)  # the text is not cut: threads are fitted per target by split_thread


def is_priority(alert: Alert) -> bool:
    """True for alerts the X reserve is kept for: level ≥ 4, and earthquakes."""
    kind = alert.kind.lower()
    return alert.level >= 4 or "quake" in kind


def _cut(unit: str, fits: Callable[[str], bool], most: int) -> tuple[str, str]:
    """The longest head of ``unit`` that fits, ending at a space or 、 when one is near; and the rest.

    ``most``: more characters than any post can hold, so that no measure runs over a whole long body.
    """
    lo, hi = 1, min(len(unit), most)  # at least one character, so splitting always moves on
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(unit[:mid]):
            lo = mid
        else:
            hi = mid - 1
    breaks = [m.end() for m in SOFT_BREAK.finditer(unit, 0, lo + 1) if m.end() <= lo]
    if breaks and breaks[-1] > lo // 2:
        lo = breaks[-1]
    return unit[:lo].rstrip(), unit[lo:].lstrip()


def split_thread(
    body: str, tail: str, limit: int, measure: Callable[[str], int], max_parts: int = MAX_PARTS, tag: str = ""
) -> list[str]:
    """``body`` as posts of at most ``limit`` by ``measure``, ``tail`` (link, hashtags) ending the first.

    ``tag`` (the issue time) goes in every part's counter: two alerts with the same body, e.g. an
    update that repeats it, would otherwise make replies X refuses as duplicates.
    """
    tag = f" {tag}" if tag else ""
    body = body.strip()

    def compose(index: int, text: str, counter: str) -> str:
        head = "\n".join(p for p in (text.rstrip(), tail) if p) if index == 0 else text.rstrip()
        return head + counter

    most = limit * CHARS_PER_UNIT
    single = compose(0, body, "")
    if len(single) <= most and measure(single) <= limit:
        return [single]
    room = COUNTER.format(max_parts, max_parts, tag)  # as wide as the real counter: max_parts < 10

    def fits(index: int, text: str) -> bool:
        post = compose(index, text, room)
        return len(post) <= most and measure(post) <= limit

    units: list[str] = []
    for piece in SENTENCE.split(body):
        if units and not piece.strip():
            units[-1] += piece  # a line break stays with the sentence it ends
        elif piece:
            units.append(piece)
    parts: list[str] = []
    current = ""
    while units:
        if len(parts) == max_parts:  # the rest overflows the last part, cut below: measured no more
            current += "".join(units)
            break
        unit = units.pop(0)
        if fits(len(parts), current + unit):
            current += unit
        elif current.strip():
            parts.append(current.strip())
            current = ""
            units.insert(0, unit.lstrip())
        else:
            head, rest = _cut(unit, functools.partial(fits, len(parts)), most)
            parts.append(head)
            if rest:
                units.insert(0, rest)
    if current.strip():
        parts.append(current.strip())
    if len(parts) > max_parts:
        last = max_parts - 1
        rest = "\n".join(parts[last:])[:most]  # cut with an ellipsis anyway: measure no more than fits
        parts = [*parts[:last], fit(rest, limit, lambda s: measure(compose(last, s, room)))]
    n = len(parts)
    return [compose(i, p, COUNTER.format(i + 1, n, tag) if n > 1 else "") for i, p in enumerate(parts)]


def single_post(body: str, tail: str, limit: int, measure: Callable[[str], int]) -> str:
    """``body`` and ``tail`` (the link) as one post of at most ``limit``: the body cut with an ellipsis if need be."""

    def compose(text: str) -> str:
        return "\n".join(p for p in (text.strip(), tail) if p)

    most = limit * CHARS_PER_UNIT
    whole = compose(body)
    if len(whole) <= most and measure(whole) <= limit:
        return whole
    text = body.strip()
    # a character mostly counts one or more, so the cut is within the first ``limit`` of them: search
    # there, where measuring is cheap; only clusters and links that count less than their length need more
    head = text[:limit]
    if measure(compose(head)) <= limit:
        head = text[:most]
    return compose(fit(head, limit, lambda s: measure(compose(s))))


@dataclasses.dataclass(frozen=True, slots=True)
class Payload:
    """What ``render`` decided: whether the alert may use the X reserve, each target's thread, and its languages."""

    priority: bool
    threads: dict[str, list[str]]
    langs: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # target -> each post's BCP 47 tag

    def encode(self) -> bytes:
        """The ``sns.json`` attachment."""
        raw = {"priority": self.priority, "threads": self.threads, "langs": self.langs}
        return json.dumps(raw, ensure_ascii=False).encode()

    def lang(self, target: str, index: int) -> str:
        """The language tag of a target's post (Japanese for a payload that does not say)."""
        tags = self.langs.get(target, [])
        return tags[index] if index < len(tags) else "ja"

    @classmethod
    def decode(cls, message: Message) -> Payload | None:
        """The payload of a rendered Message, or None."""
        for name, data in message.attachments:
            if name == PAYLOAD:
                raw = json.loads(data)
                threads = {k: list(v) for k, v in raw["threads"].items()}
                return cls(bool(raw["priority"]), threads, {k: list(v) for k, v in raw.get("langs", {}).items()})
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Posts:
    """One language's part of a target's thread, and the text it was split from (for measuring)."""

    posts: list[str]
    whole: str  # the body and its tail as one post: what the posts would be if nothing were cut


class SnsRenderer:
    """An alert's thread for each target, as the service counts; ``targets`` default to ``[sns] targets``."""

    name = NAME
    limits = LIMITS
    reaches_people = False

    def __init__(self, settings: Settings, renderer: Renderer, targets: Sequence[str] | None = None) -> None:
        self.renderer = renderer
        self.settings = settings
        self.hashtags = settings.sns.hashtags
        self.languages = tuple(dict.fromkeys(settings.sns.languages))
        self.targets = list(dict.fromkeys(settings.sns.targets if targets is None else targets))

    def thread_languages(self, alert: Alert) -> tuple[str, ...]:
        """The thread's languages: those of ``[sns] languages`` the alert has, in that order (else Japanese)."""
        return tuple(lg for lg in self.languages if lg in alert.languages) or ("ja",)

    def render(self, alert: Alert, lang: str) -> Message:
        """The template's text in ``lang``, and each target's thread in the ``sns.json`` attachment."""
        message = render_plain(self.renderer, NAME, alert, lang, LIMITS)
        threads: dict[str, list[str]] = {name: [] for name in self.targets}
        langs: dict[str, list[str]] = {name: [] for name in self.targets}
        for index, lg in enumerate(self.thread_languages(alert)):
            tag = self.settings.phrasebook.languages[lg].html if lg in self.settings.phrasebook.languages else lg
            for name, part in self._posts(alert, lg, MAX_PARTS, first=index == 0).items():
                threads[name] += part.posts
                langs[name] += [tag] * len(part.posts)
        payload = Payload(is_priority(alert), threads, langs)
        return dataclasses.replace(message, attachments=((PAYLOAD, payload.encode()),))

    def fits(self, alert: Alert) -> list[Fit]:
        """Per target: the posts the first language's whole text needs against MAX_PARTS; each reply against a post."""
        out = []
        for index, lg in enumerate(self.thread_languages(alert)):
            # split without the cap to see how many posts the whole text needs
            for name, part in self._posts(alert, lg, MEASURED_PARTS, first=index == 0).items():
                if index == 0:
                    out.append(Fit("thread", lg, len(part.posts), MAX_PARTS, target=name))
                else:
                    counting = COUNTING[name]
                    out.append(Fit("text", lg, counting.measure(part.whole), counting.limit, target=name))
        return out

    def _posts(self, alert: Alert, lang: str, max_parts: int, first: bool) -> dict[str, Posts]:
        """Each target's posts of ``lang``: the first language's thread of at most ``max_parts``, with the
        hashtags; another language's one post."""
        body, tail, tag = self._parts(alert, lang, first)
        names = [d.name_in(lang) for d in districts.chosen(alert.districts, self.settings)]
        counted: tuple[str, str, str] | None = None
        out = {}
        for name in self.targets:
            counting = COUNTING[name]

            def posts_of(text: str, counting: Counting = counting) -> list[str]:
                if not first:
                    return [single_post(text, tail, counting.limit, counting.measure)]
                return split_thread(text, tail, counting.limit, counting.measure, max_parts=max_parts, tag=tag)

            text = body
            posts = posts_of(text)
            if len(names) > 1 and not all(n in posts[0] for n in names):  # one name is no shorter counted
                counted = counted or self._parts(alert, lang, first, counted=True)
                text = counted[0]
                posts = posts_of(text)
            out[name] = Posts(posts, "\n".join(p for p in (text.strip(), tail) if p))
        return out

    def _parts(self, alert: Alert, lang: str, first: bool, counted: bool = False) -> tuple[str, str, str]:
        """The body of ``lang``'s posts, the tail of its first post (link, and hashtags if ``first``), its issue tag."""
        message = render_plain(self.renderer, NAME, alert, lang, LIMITS, counted)
        url = str(self.renderer.context(alert, lang)["url"])
        lines = message.text.split("\n")
        body = "\n".join(line for line in lines if line.strip() != url)  # the link goes in the first post's tail
        tail = " ".join(p for p in (url, *(self.hashtags if first else ())) if p)
        issued = jst(alert.created_at)
        # in the counter of every part: X refuses a reply identical to an earlier post
        japanese = lang in self.settings.phrasebook.languages and self.settings.phrasebook.languages[lang].japanese
        return body, tail, issued.strftime("%-d日%H:%M:%S発表" if japanese else "%H:%M:%S")
