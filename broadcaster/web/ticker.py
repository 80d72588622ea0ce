"""The ticker's poll endpoints: what is on the cable-TV ticker now, for the stations' equipment.

``GET /ticker.txt`` lists the active lines, one per line, each ending in CRLF, most severe first
(level, then CAP severity), then newest. UTF-8 by default; ``?charset=sjis`` gives Shift_JIS (Windows-31J bytes, as
older equipment reads them), where a character it cannot hold becomes 「？」. ``GET /ticker.json``
gives the same lines as ``{"lines": [{"id", "key", "level", "msg_type", "text", "text_en", "expires",
"updated"}]}``, times in ISO 8601 with +09:00 (``updated`` is when the ticker channel carried it).
With ``[ticker] english = true`` each Japanese line is followed by its English line in /ticker.txt, and
carries it as ``text_en`` ("" otherwise, and for an alert without English).

The active lines are what the ticker channel carried (``store.published``) and is on air by the
rule every public channel shares (``broadcaster.on_air.on_air``): live, the newest version of each
event, neither cancelled nor expired. Approving a cancel takes its event's line off at once, before
the cancel itself is carried; a line leaves at its expiry, or a day after its alert was made when
it has none. The words are channels/ticker.py's ``render_ticker``, the same as pushed.

Polling is cheap: ``Cache-Control: no-cache`` with an ETag (``If-None-Match`` answers 304) and a
Last-Modified that moves forward, by a whole second at least, whenever this process sees the
answer change (``If-Modified-Since`` is honoured when no ``If-None-Match`` is sent).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from aiohttp import web

from broadcaster.models import Alert, AlertId, MsgType, Published, Timestamp
from broadcaster.on_air import on_air
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from channels.ticker import NAME, UNTIMED_TTL, english_line, expires_at, iso, limits_for, line_key, render_ticker

LOOKBACK = 7 * 86400.0  # carried alerts older than this are not looked at (lines last a day or their expiry)
PUBLISHED_LIMIT = 500
CACHE_SIZE = 256  # rendered lines kept, by alert id
SJIS_NAMES = frozenset({"sjis", "shift_jis", "shift-jis", "cp932", "windows-31j"})
UTF8_NAMES = frozenset({"utf-8", "utf8"})
CP932_FIXES = str.maketrans({"\u2014": "\u2015"})  # EM DASH: cp932's dash is HORIZONTAL BAR
SJIS_REPLACEMENT = "？".encode("cp932")


class Line(NamedTuple):
    """One active ticker line."""

    alert_id: AlertId
    key: str
    level: int
    msg_type: MsgType
    text: str
    english: str  # the English line after it ([ticker] english); "" for none
    expires: Timestamp
    updated: Timestamp  # when the ticker channel carried it


class TickerFeed:
    """Reads what the ticker carries from the store and renders the active lines."""

    def __init__(
        self, store: Store, settings: Settings, renderer: Renderer, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.limits = limits_for(settings)
        self.clock = clock
        self._texts: dict[AlertId, tuple[str, str]] = {}
        self._changed: dict[str, tuple[str, float]] = {}  # representation -> (ETag, Last-Modified)

    async def active(self) -> list[Line]:
        """The lines on air now, most severe first, then newest."""
        now = self.clock()
        carried = await self.store.published(NAME, now - LOOKBACK, PUBLISHED_LIMIT)
        return [self._line(item) for item in on_air(carried, now, untimed=UNTIMED_TTL)]

    def _line(self, item: Published) -> Line:
        a = item.alert
        japanese, english = self._text(a)
        return Line(a.id, line_key(a), a.level, a.msg_type, japanese, english, expires_at(a), item.sent_at)

    def _text(self, alert: Alert) -> tuple[str, str]:
        texts = self._texts.get(alert.id)
        if texts is None:
            if len(self._texts) >= CACHE_SIZE:
                self._texts.clear()
            japanese = render_ticker(self.renderer, alert, "ja", self.limits).ticker
            texts = self._texts[alert.id] = (japanese, english_line(self.renderer, alert))
        return texts

    def stamp(self, representation: str, body: bytes) -> tuple[str, float]:
        """The ETag of ``body`` and when this representation last changed (whole seconds, never backwards)."""
        etag = hashlib.sha256(body).hexdigest()[:32]
        previous = self._changed.get(representation)
        if previous is not None and previous[0] == etag:
            return previous
        changed = float(math.ceil(self.clock()))
        if previous is not None:
            changed = max(changed, previous[1] + 1)  # If-Modified-Since has one-second resolution
        self._changed[representation] = (etag, changed)
        return etag, changed


TICKER_FEED = web.AppKey("ticker_feed", TickerFeed)


def add_routes(app: web.Application) -> None:
    """GET /ticker.txt and /ticker.json."""
    app.router.add_get("/ticker.txt", ticker_txt)
    app.router.add_get("/ticker.json", ticker_json)


def setup(
    app: web.Application,
    store: Store,
    settings: Settings,
    renderer: Renderer,
    clock: Callable[[], float] = time.time,
) -> None:
    """Give the endpoints their store, settings and renderer (``clock`` for tests)."""
    app[TICKER_FEED] = TickerFeed(store, settings, renderer, clock)


def encode_sjis(text: str) -> bytes:
    """Shift_JIS (cp932) bytes; a character it cannot hold becomes 「？」."""
    text = text.translate(CP932_FIXES)
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        return b"".join(_cp932_char(c) for c in text)


def _cp932_char(char: str) -> bytes:
    try:
        return char.encode("cp932")
    except UnicodeEncodeError:
        return SJIS_REPLACEMENT


async def ticker_txt(request: web.Request) -> web.StreamResponse:
    """The active lines as text, one per line (CRLF)."""
    feed = request.app[TICKER_FEED]
    charset = request.query.get("charset", "utf-8").lower()
    if charset not in SJIS_NAMES | UTF8_NAMES:
        raise web.HTTPBadRequest(text="charset must be utf-8 or sjis\n")
    text = "".join(line.text + "\r\n" + (line.english + "\r\n" if line.english else "") for line in await feed.active())
    if charset in SJIS_NAMES:
        return _answer(request, feed, "txt-sjis", encode_sjis(text), "text/plain", "Shift_JIS")
    return _answer(request, feed, "txt-utf8", text.encode("utf-8"), "text/plain", "utf-8")


async def ticker_json(request: web.Request) -> web.StreamResponse:
    """The active lines with their alert, level and times."""
    feed = request.app[TICKER_FEED]
    lines = [
        {
            "id": line.alert_id,
            "key": line.key,
            "level": line.level,
            "msg_type": str(line.msg_type),
            "text": line.text,
            "text_en": line.english,
            "expires": iso(line.expires),
            "updated": iso(line.updated),
        }
        for line in await feed.active()
    ]
    body = json.dumps({"lines": lines}, ensure_ascii=False, indent=1).encode("utf-8")
    return _answer(request, feed, "json", body, "application/json", "utf-8")


def _answer(
    request: web.Request, feed: TickerFeed, representation: str, body: bytes, content_type: str, charset: str
) -> web.StreamResponse:
    etag, changed = feed.stamp(representation, body)
    headers = {"Cache-Control": "no-cache"}
    if _not_modified(request, etag, changed):
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(body=body, content_type=content_type, charset=charset, headers=headers)
    response.etag = etag
    response.last_modified = changed
    return response


def _not_modified(request: web.Request, etag: str, changed: float) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; otherwise If-Modified-Since."""
    if_none_match = request.if_none_match
    if if_none_match is not None:
        return any(tag.value in (etag, "*") for tag in if_none_match)
    since = request.if_modified_since
    return since is not None and changed <= since.timestamp()
