"""What an SNS target is: the contract each service's module implements, and how each service counts.

The lengths and the credentials' names live here, apart from the services' SDKs, so rendering, lint
and the console can measure a thread, or say which secrets are set, without loading tweepy or atproto.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

PostRef = str  # a target's id of one post (for Bluesky, {"uri", "cid"} as JSON)
ZWJ = "\u200d"
URL = re.compile(r"https?://\S+")
MASTODON_URL_WEIGHT = 23


class Target(Protocol):
    """One SNS service the channel posts to."""

    name: str
    limit: int
    counts_quota: bool

    def measure(self, text: str) -> int:
        """The service's length of ``text``."""

    async def post(
        self, text: str, *, root: PostRef | None, parent: PostRef | None, key: str, lang: str = "ja"
    ) -> PostRef:
        """Create one post in ``lang`` (BCP 47), replying to ``parent`` in ``root``'s thread; raises DeliveryError."""

    async def aclose(self) -> None:
        """Release the connection."""


@functools.lru_cache(maxsize=4096)
def weighted_length(text: str) -> int:
    """Length as X counts it: CJK and kana 2, Latin 1, every URL 23 (twitter-text config v3).

    Kept for the texts measured last: twitter-text takes milliseconds per post, and the channel, its
    preview and lint measure the same posts (a thread in each of ``[sns] languages``) again and again.
    """
    from twitter_text import parse_tweet  # type: ignore[import-untyped]  # 0.5 s to import: only when measuring

    return int(parse_tweet(text).weightedLength)


def _extends(ch: str) -> bool:
    """True for what continues the cluster before it (marks, variation selectors, skin tones, tags)."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == ZWJ
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or 0xE0100 <= cp <= 0xE01EF
        or cp in (0xFF9E, 0xFF9F)  # half-width dakuten and handakuten
    )


def graphemes(text: str) -> int:
    """Extended grapheme clusters in ``text`` (UAX #29 for what alerts contain: CJK, marks, emoji, flags)."""
    count = 0
    prev = ""
    open_flag = False  # a regional indicator waiting for its pair
    for ch in text:
        cp = ord(ch)
        regional = 0x1F1E6 <= cp <= 0x1F1FF
        if count and (_extends(ch) or prev == ZWJ or (prev == "\r" and ch == "\n") or (regional and open_flag)):
            open_flag = False
        else:
            count += 1
            open_flag = regional
        prev = ch
    return count


def mastodon_length(text: str) -> int:
    """Length as Mastodon counts it: characters, every URL 23."""
    return graphemes(URL.sub("x" * MASTODON_URL_WEIGHT, text))


CREDENTIALS = {  # target name -> the environment variables its module reads
    "x": ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),  # OAuth 1.0a user context
    "mastodon": ("MASTODON_ACCESS_TOKEN",),
    "bluesky": ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"),
}


@dataclass(frozen=True, slots=True)
class Counting:
    """How one service measures a post, and how much it takes."""

    limit: int
    measure: Callable[[str], int]


COUNTING = {  # target name -> its counting; the names [sns] targets may list
    "x": Counting(280, weighted_length),  # weighted characters
    "mastodon": Counting(500, mastodon_length),  # an instance's default max_characters
    "bluesky": Counting(300, graphemes),  # grapheme clusters
}
