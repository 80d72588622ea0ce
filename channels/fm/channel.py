"""Community FM: a spoken announcement per alert in every language, as WAVs and scripts in the drop folder.

``render`` makes the speech scripts (channels/fm/render.py: templates/fm; Japanese, then やさしい日本語,
then each of ``[fm] languages`` the alert has words in, its numbers, dates and times in spoken form).
``send`` synthesises them all at once (channels/fm/speech.py: Open JTalk for Japanese, espeak-ng for
the others, in worker processes) and writes, each through broadcaster/files.write_atomic:

- ``languages/<alert_id>.<lang>.txt`` and ``.wav``: each language alone (chime, then its script), when
  the alert is read in more than one language (channels/fm/drop.py: a folder of their own, so that a
  watcher airing every new WAV in the drop folder airs the announcement once);
- ``<alert_id>.txt`` and then ``<alert_id>.wav``: the combined file the station airs (the chime once,
  then each language in order, a pause between them), last, so the station's watcher only ever sees
  a complete set once the .wav appears.

At start-up (``create``) each of ``[fm] languages`` is checked for an espeak-ng voice; one without is
left out with a warning naming it and what to install (speech.checked_voices), never silently.

Idempotent per alert: the file names depend only on the alert id (and language), and a resend whose
combined script is already there beside its WAV (a retry, or a restart after a send that was not
recorded) writes nothing, so the watcher sees no new file and the station does not air it again.

Errors: a script that cannot be synthesised is permanent; a drop folder that cannot be written is
transient (a full disk or an unmounted share may come back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import PermanentError, TransientError
from broadcaster.files import write_atomic
from broadcaster.models import Alert, Message, Recipients
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from channels.fm.drop import SAFE_ID, combined_script, drop_paths, language_paths, leftovers
from channels.fm.render import NAME, FmRenderer, scripts
from channels.fm.speech import EngineMissing, Samples, Speaker, SpeechError, speaker_from_settings

log = logging.getLogger("broadcaster.channels.fm")


class FmChannel:
    """Writes each alert's announcement to the station's drop folder."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(self, settings: Settings, renderer: Renderer, speaker: Speaker) -> None:
        # the languages after Japanese are those the speaker found an espeak-ng voice for at start-up
        self.renderer = FmRenderer(renderer, tuple(speaker.voices))
        self.speaker = speaker
        self.drop_dir = settings.path(settings.fm.drop_dir)
        self.languages = tuple(settings.phrasebook.languages)  # whose one-language files may be left over

    def render(self, alert: Alert, lang: str) -> Message:
        """The speech script (Message.speech), in Japanese with every further language's as attachments."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Synthesise every language off the event loop and drop each language's pair, then the combined pair."""
        if not SAFE_ID.fullmatch(message.alert_id):
            raise PermanentError(f"alert id {message.alert_id!r} cannot be a file name")
        parts = scripts(message)
        if empty := [lang for lang, script in parts if not script.strip()]:
            raise PermanentError(f"the speech script is empty ({', '.join(empty)})")
        script = combined_script(parts)
        txt, wav = drop_paths(self.drop_dir, message.alert_id)
        try:
            if await asyncio.to_thread(_already_dropped, txt, wav, script):
                log.info("fm: %s is already in the drop folder; not written again", message.alert_id)
                return
        except OSError as exc:
            raise TransientError(f"FM drop folder {self.drop_dir}: {exc.strerror or exc}") from exc
        try:
            speeches = await self.speaker.programme(parts)
        except SpeechError as exc:
            raise PermanentError(f"speech synthesis failed: {exc}") from exc
        files = await asyncio.to_thread(self._files, message.alert_id, parts, speeches, script)
        kept = [lang for lang, _ in parts] if len(parts) > 1 else []
        gone = leftovers(self.drop_dir, message.alert_id, self.languages, kept)
        try:
            await asyncio.to_thread(_drop, files, gone)
        except OSError as exc:
            raise TransientError(f"FM drop folder {self.drop_dir}: {exc.strerror or exc}") from exc

    def _files(
        self, alert_id: str, parts: list[tuple[str, str]], speeches: list[Samples], script: str
    ) -> list[tuple[Path, bytes]]:
        """Every file to write, in the order it is written: each language's pair, then the combined pair."""
        files: list[tuple[Path, bytes]] = []
        if len(parts) > 1:
            for (lang, one), speech in zip(parts, speeches, strict=True):
                one_txt, one_wav = language_paths(self.drop_dir, alert_id, lang)
                files += [(one_txt, (one.rstrip("\n") + "\n").encode()), (one_wav, self.speaker.assemble(speech))]
        txt, wav = drop_paths(self.drop_dir, alert_id)
        return [*files, (txt, script.encode()), (wav, self.speaker.combine(speeches))]

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


def _drop(files: list[tuple[Path, bytes]], gone: Iterable[Path] = ()) -> None:
    """Write the files in order: each whole or not at all, and on disk before the next; then remove ``gone``."""
    # fsynced: once the combined .wav is there the station may air it, and a send is never written again
    for path, data in files:
        write_atomic(path, data, fsync=True)
    for path in gone:  # a language the alert no longer has: its old file must not stay in the playlist
        path.unlink(missing_ok=True)


def create(ctx: ChannelContext) -> FmChannel:
    """The FM channel, or MissingCredentials (the outbox stands in) when Open JTalk cannot run here."""
    from broadcaster.errors import MissingCredentials

    try:
        speaker = speaker_from_settings(ctx.settings)
    except EngineMissing as exc:
        raise MissingCredentials(str(exc)) from exc
    return FmChannel(ctx.settings, ctx.renderer, speaker)
