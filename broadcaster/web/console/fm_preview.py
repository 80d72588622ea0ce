"""The FM preview: a stored alert read as the FM channel would read it, served as a WAV to the console.

The running FM channel's own speaker synthesises it (Open JTalk in its worker processes, never on the
event loop), one preview at a time so a duty officer's listening never starves the channel's sends;
the last few are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from broadcaster.channel import Channel, RunsAs
from broadcaster.web.console import preview
from broadcaster.web.console.web import HEADERS, console, stored_alert, who, words
from channels.fm.speech import Speaker, SpeechError

FM_CACHE_SIZE = 4  # WAVs kept: a minute of 48 kHz speech is about 6 MB


def add_routes(app: web.Application) -> None:
    """Register the audio route."""
    app.router.add_get("/console/alerts/{alert_id}/fm.wav", fm_wav)
    app[FM_AUDIO] = FmAudio()


class FmAudio:
    """The last few synthesised previews, one synthesis at a time (the FM channel shares the engine)."""

    def __init__(self, size: int = FM_CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, key: tuple[str, str, str], make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached WAV of ``key``, or ``make()``'s, kept."""
        async with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            audio = await make()
            self._cache[key] = audio
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
            return audio


FM_AUDIO = web.AppKey("compose.fm_audio", FmAudio)


def _speaker(channel: Channel | None) -> Speaker | None:
    """The running FM channel's speaker; None when FM writes to the outbox (no engine here) or is off."""
    if channel is None or channel.runs_as != RunsAs.REAL:
        return None
    speaker: Speaker | None = getattr(channel, "speaker", None)  # the FM channel's engine, shared with its sends
    return speaker


async def fm_wav(request: web.Request) -> web.Response:
    """The stored alert read as the FM channel would read it (chime, script twice), as a WAV."""
    state = console(request)
    who(request)  # any logged-in role may listen
    alert = await stored_alert(request)
    lang = request.query.get("lang", "ja")
    lang = lang if lang in alert.languages else "ja"
    speaker = _speaker(state.channels.live.get("fm"))
    message = preview.render(state, "fm", alert, lang)
    if speaker is None or message is None or not message.speech.strip():
        raise web.HTTPServiceUnavailable(text=words(request)["compose_fm_unavailable"], headers=HEADERS)
    speech = message.speech
    key = (alert.id, lang, hashlib.sha256(speech.encode()).hexdigest())
    try:
        audio = await request.app[FM_AUDIO].get(key, lambda: speaker.wav(speech, lang))
    except SpeechError as exc:
        raise web.HTTPServiceUnavailable(
            text=f"{words(request)['compose_fm_unavailable']} ({exc})", headers=HEADERS
        ) from None
    return web.Response(body=audio, content_type="audio/wav", headers=HEADERS)
