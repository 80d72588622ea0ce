"""Community FM: a spoken announcement per alert, as a WAV and its script in the station's drop folder.

``render`` makes the speech script (channels/fm/render.py: templates/fm, numbers, dates and times in
spoken form). ``send`` synthesises it in a worker thread (channels/fm/speech.py: chime + Open JTalk,
or espeak-ng for other languages) and writes ``<alert_id>.txt`` and then ``<alert_id>.wav`` into
``[fm] drop_dir``, each through broadcaster/files.write_atomic, so the station's watcher only ever
sees a complete pair once the .wav appears.

Idempotent per alert: the file names depend only on the alert id, and a resend whose script is
already there beside its WAV (a retry, or a restart after a send that was not recorded) writes
nothing, so the watcher sees no new file and the station does not air it again.

Errors: a script that cannot be synthesised is permanent; a drop folder that cannot be written is
transient (a full disk or an unmounted share may come back).
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import PermanentError, TransientError
from broadcaster.files import write_atomic
from broadcaster.models import Alert, Message, Recipients
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from channels.fm.render import NAME, FmRenderer
from channels.fm.speech import EngineMissing, Speaker, SpeechError, speaker_from_settings

log = logging.getLogger("broadcaster.channels.fm")

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # alert ids become file names in the drop folder


def drop_paths(drop_dir: Path, alert_id: str) -> tuple[Path, Path]:
    """The (script, audio) files of one alert in the drop folder."""
    return drop_dir / f"{alert_id}.txt", drop_dir / f"{alert_id}.wav"


class FmChannel:
    """Writes each alert's announcement to the station's drop folder."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(self, settings: Settings, renderer: Renderer, speaker: Speaker) -> None:
        self.renderer = FmRenderer(renderer)
        self.speaker = speaker
        self.drop_dir = settings.path(settings.fm.drop_dir)

    def render(self, alert: Alert, lang: str) -> Message:
        """The speech script (Message.speech); Japanese numbers, dates and times in spoken form."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Synthesise the script off the event loop and drop ``<alert_id>.txt`` then ``<alert_id>.wav``."""
        if not SAFE_ID.fullmatch(message.alert_id):
            raise PermanentError(f"alert id {message.alert_id!r} cannot be a file name")
        if not message.speech.strip():
            raise PermanentError("the speech script is empty")
        script = message.speech.rstrip("\n") + "\n"
        txt, wav = drop_paths(self.drop_dir, message.alert_id)
        try:
            if await asyncio.to_thread(_already_dropped, txt, wav, script):
                log.info("fm: %s is already in the drop folder; not written again", message.alert_id)
                return
        except OSError as exc:
            raise TransientError(f"FM drop folder {self.drop_dir}: {exc.strerror or exc}") from exc
        try:
            audio = await self.speaker.wav(message.speech, message.lang)
        except SpeechError as exc:
            raise PermanentError(f"speech synthesis failed: {exc}") from exc
        try:
            await asyncio.to_thread(_drop, txt, script.encode(), wav, audio)
        except OSError as exc:
            raise TransientError(f"FM drop folder {self.drop_dir}: {exc.strerror or exc}") from exc

    async def aclose(self) -> None:
        """Stop the speaker's worker processes."""
        await asyncio.to_thread(self.speaker.close)


def _already_dropped(txt: Path, wav: Path, script: str) -> bool:
    """True when this very script and its audio are already in the folder."""
    if not wav.is_file():
        return False
    try:
        return txt.read_text(encoding="utf-8") == script
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def _drop(txt: Path, script: bytes, wav: Path, audio: bytes) -> None:
    """Write the script, then the audio: each whole or not at all, and on disk before the next."""
    # fsynced: once the .wav is there the station may air it, and a send is never written again
    write_atomic(txt, script, fsync=True)
    write_atomic(wav, audio, fsync=True)


def create(ctx: ChannelContext) -> FmChannel:
    """The FM channel, or MissingCredentials (the outbox stands in) when Open JTalk cannot run here."""
    from broadcaster.errors import MissingCredentials

    try:
        speaker = speaker_from_settings(ctx.settings)
    except EngineMissing as exc:
        raise MissingCredentials(str(exc)) from exc
    return FmChannel(ctx.settings, ctx.renderer, speaker)
