"""What community FM has on air, over HTTP: ``/fm/latest.wav``, ``/fm/playlist.m3u``, ``/fm/<alert_id>.wav``
(every language the alert is read in, as the station airs it) and ``/fm/<alert_id>/<lang>.wav`` (one language).

"On air" is what the fm channel carried (``store.published("fm", …)``) and is on air by the rule every
public channel shares (``broadcaster.on_air.on_air``): live, the latest version of each event, neither
cancelled nor expired (an alert without an expiry leaves the air a day after it was made). The
playlist lists it most severe first; ``latest.wav`` is the one carried last. The files are the ones
the fm channel wrote to the drop folder. The playlist's links start with ``[city] public_url``, never
with the Host a request names.
"""

from __future__ import annotations

import asyncio
import math
import time
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from broadcaster import furigana
from broadcaster.models import Published
from broadcaster.on_air import on_air
from broadcaster.phrasebook import EASY
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from channels.fm.drop import drop_paths, language_paths

CHANNEL = "fm"
ALERT_ID = r"[A-Za-z0-9][A-Za-z0-9._-]*"
LANG = r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*"
WAV_TYPE = "audio/wav"
M3U_TYPE = "audio/x-mpegurl"
NOTHING_ON_AIR = "No live FM announcement is on air now.\n"


@dataclass(frozen=True, slots=True)
class FmFeed:
    """The state the FM routes need."""

    store: Store
    drop_dir: Path
    base_url: str  # [city] public_url without its trailing slash
    clock: Callable[[], float] = field(default=time.time)
    order: tuple[str, ...] = ("ja",)  # the languages FM reads, in the order it reads them
    labels: Mapping[str, str] = field(default_factory=dict)  # language -> its name in itself

    async def on_air(self) -> list[Published]:
        """The live alerts on air now whose WAV is in the drop folder, most severe first."""
        return [p for p in on_air(await self.store.published(CHANNEL, 0.0), self.clock()) if self.wav(p).is_file()]

    def wav(self, item: Published) -> Path:
        """The combined WAV the fm channel wrote for an alert (every language it is read in)."""
        return drop_paths(self.drop_dir, item.alert.id)[1]

    def language_wavs(self, item: Published) -> list[tuple[str, Path]]:
        """(language, WAV) of each language the alert has a file of its own in, in the order FM reads them."""
        found = ((lang, language_paths(self.drop_dir, item.alert.id, lang)[1]) for lang in self.order)
        return [(lang, path) for lang, path in found if path.is_file()]

    def label(self, lang: str) -> str:
        """A language's name in itself (English, Tiếng Việt …)."""
        return self.labels.get(lang, lang)


FM_FEED = web.AppKey("fm_feed", FmFeed)


def duration(path: Path) -> float:
    """Seconds of audio in a WAV file (0 if it cannot be read)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return 0.0


def playlist(entries: list[tuple[str, float, str]]) -> str:
    """An extended M3U playlist of (url, seconds, title)."""
    lines = ["#EXTM3U"]
    for url, seconds, title in entries:
        lines.append(f"#EXTINF:{math.ceil(seconds)},{' '.join(title.split())}")
        lines.append(url)
    return "\n".join(lines) + "\n"


def setup(app: web.Application, store: Store, settings: Settings, renderer: Renderer) -> None:
    """Put the FM routes' state on the app (called at service start-up)."""
    book = settings.phrasebook
    order = tuple(dict.fromkeys(("ja", EASY, *settings.fm.languages)))
    app[FM_FEED] = FmFeed(
        store,
        settings.path(settings.fm.drop_dir),
        settings.city.public_url.rstrip("/"),
        order=order,
        labels={lang: book.languages[lang].name for lang in order if lang in book.languages},
    )


def add_routes(app: web.Application) -> None:
    """Register the FM routes."""
    app.router.add_get("/fm/latest.wav", latest_wav)
    app.router.add_get("/fm/playlist.m3u", playlist_m3u)
    app.router.add_get("/fm/{alert_id:" + ALERT_ID + r"}.wav", alert_wav, name="fm_alert")
    app.router.add_get("/fm/{alert_id:" + ALERT_ID + "}/{lang:" + LANG + r"}.wav", language_wav, name="fm_language")


async def latest_wav(request: web.Request) -> web.StreamResponse:
    """The live announcement on air that was carried last, or 404."""
    items = await request.app[FM_FEED].on_air()
    if not items:
        raise web.HTTPNotFound(text=NOTHING_ON_AIR)
    latest = max(items, key=lambda item: item.sent_at)
    return _wav_response(request.app[FM_FEED].wav(latest), latest.alert.id)


async def alert_wav(request: web.Request) -> web.StreamResponse:
    """One announcement, while it is on air; 404 otherwise (a cancelled alert is not served)."""
    feed, alert_id = request.app[FM_FEED], request.match_info["alert_id"]
    for item in await feed.on_air():
        if item.alert.id == alert_id:
            return _wav_response(feed.wav(item), alert_id)
    raise web.HTTPNotFound(text=f"Alert {alert_id} is not on air on FM.\n")


async def language_wav(request: web.Request) -> web.StreamResponse:
    """One announcement in one language, while it is on air; 404 otherwise."""
    feed, alert_id, lang = request.app[FM_FEED], request.match_info["alert_id"], request.match_info["lang"]
    for item in await feed.on_air():
        if item.alert.id == alert_id:
            for found, path in await asyncio.to_thread(feed.language_wavs, item):
                if found == lang:
                    return _wav_response(path, alert_id)
    raise web.HTTPNotFound(text=f"Alert {alert_id} is not on air on FM in {lang}.\n")


async def playlist_m3u(request: web.Request) -> web.Response:
    """Every announcement on air, most severe first: its combined file, then each language's, with durations."""
    feed = request.app[FM_FEED]
    items = await feed.on_air()
    entries = await asyncio.to_thread(_entries, feed, items, request.app.router)
    return web.Response(
        text=playlist(entries), content_type=M3U_TYPE, charset="utf-8", headers={"Cache-Control": "no-cache"}
    )


def _entries(feed: FmFeed, items: list[Published], router: web.UrlDispatcher) -> list[tuple[str, float, str]]:
    """The playlist's (url, seconds, title) entries; reads the WAVs' headers (in a thread)."""
    entries: list[tuple[str, float, str]] = []
    for item in items:
        alert = item.alert
        languages = feed.language_wavs(item)
        title = alert.title
        if languages:  # read in several languages: the combined entry names them all
            title += f" ({', '.join(feed.label(lang) for lang, _ in languages)})"
        url = f"{feed.base_url}{router['fm_alert'].url_for(alert_id=alert.id)}"
        entries.append((url, duration(feed.wav(item)), title))
        for lang, path in languages:
            url = f"{feed.base_url}{router['fm_language'].url_for(alert_id=alert.id, lang=lang)}"
            words = furigana.plain(alert.text(lang).title)  # a title never shows furigana braces
            entries.append((url, duration(path), f"{words} ({feed.label(lang)})"))
    return entries


def _wav_response(path: Path, alert_id: str) -> web.FileResponse:
    return web.FileResponse(
        path, headers={"Content-Type": WAV_TYPE, "Cache-Control": "no-cache", "X-Alert-Id": alert_id}
    )
