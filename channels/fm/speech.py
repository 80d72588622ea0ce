"""Speech audio for community FM: a chime, then the script read by Open JTalk (Japanese) or espeak-ng (others).

The output is one mono 16-bit PCM WAV at ``[fm] sample_rate``. Both engines are synchronous C code, so
``Speaker.wav`` runs them in a worker thread: the event loop never waits on synthesis.

- Japanese: pyopenjtalk's Open JTalk over the dictionary folder ``[fm] dictionary`` (Debian's
  ``open-jtalk-mecab-naist-jdic``), handed to the engine directly: its module-level functions would
  read ``OPEN_JTALK_DICT_DIR`` and, without it, download a dictionary from GitHub. It is read sentence
  by sentence, which skips those with nothing to say: Open JTalk crashes the whole process on text
  without a phoneme.
- Other languages: pyttsx3's espeak-ng driver, writing a 22,050 Hz file. espeak-ng is one engine per
  process, so one lock serialises it; ``runAndWait`` is called once after setting the rate and voice
  (pyttsx3 2.99 otherwise writes no file for some rates) and once for the file.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import io
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import wave
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.settings import Settings
from channels.fm import readings as place_readings
from channels.fm.spoken import Readings, as_readings, for_synthesis, without_cues

Samples = NDArray[np.int16]
LINE_GAP_S = 0.35  # silence between the script's lines (Open JTalk adds a little of its own)
CHIME_GAP_S = 0.6  # silence between the chime and the first word
ESPEAK_RATE = 165  # words per minute: slower than espeak's 175, for radio
ESPEAK_ATTEMPTS = 3  # pyttsx3's espeak driver now and then saves a file with no audio (synthesize_espeak)
ESPEAK_ALIASES = {"zh": "cmn", "tl": "fil"}
MAX_PROCESSES = 4  # Open JTalk worker processes; one per CPU up to this
FILTER_TAPS = 101  # low-pass before downsampling, so 48 kHz speech does not alias at 16 kHz

_espeak_lock = threading.Lock()
_engines: dict[Path, OpenJTalk] = {}  # one per dictionary folder and process, shared by its threads
_engines_lock = threading.Lock()
# freed at exit, before module teardown, where freeing Open JTalk ends in a bare "Error in sys.excepthook"
atexit.register(_engines.clear)


class SpeechError(BroadcasterError):
    """Synthesis failed; the message says why."""


class EngineMissing(SpeechError):
    """A speech engine cannot run on this machine; the message names what to install."""


# -- engines -----------------------------------------------------------------------


class OpenJTalk:
    """Open JTalk over one dictionary folder: its front end (text to labels) and its voice (labels to audio)."""

    def __init__(self, dictionary: Path) -> None:
        if not (dictionary / "sys.dic").is_file():
            raise EngineMissing(
                f"Open JTalk dictionary not found in {dictionary} ([fm] dictionary): "
                "apt-get install open-jtalk-mecab-naist-jdic, or point [fm] dictionary at a naist-jdic folder"
            )
        try:
            import pyopenjtalk  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EngineMissing(f"pyopenjtalk cannot be imported ({exc}): pip install 'pyopenjtalk>=0.4,<0.5'") from exc
        # the engine's own classes take the folder; each holds its own lock, so threads may share them
        self._frontend = pyopenjtalk.OpenJTalk(dn_mecab=str(dictionary).encode())
        self._voice = pyopenjtalk.HTSEngine(pyopenjtalk.DEFAULT_HTS_VOICE)

    def g2p(self, text: str, kana: bool = False) -> str:
        """The text's pronunciation: phonemes, or katakana with ``kana``."""
        return str(self._frontend.g2p(text, kana=kana))

    def words(self, text: str) -> list[tuple[str, str]]:
        """The text cut into words as the engine reads it: (surface, kind), kind 固有名詞 for a proper noun."""
        return [(str(word["string"]), str(word["pos_group1"])) for word in self._frontend.run_frontend(text)]

    def read(self, sentence: str) -> tuple[bytes, int]:
        """One sentence as int16 samples in bytes (empty if there is nothing to say) and their rate."""
        labels = self._frontend.make_label(self._frontend.run_frontend(sentence))
        if not labels:  # punctuation only: synthesising it would crash the process
            return b"", 0
        audio = self._voice.synthesize(labels)
        return to_int16(audio).tobytes(), int(self._voice.get_sampling_frequency())


def openjtalk(dictionary: Path) -> OpenJTalk:
    """This process's Open JTalk over ``dictionary``, loaded on first use; EngineMissing if it cannot run."""
    with _engines_lock:
        engine = _engines.get(dictionary)
        if engine is None:
            engine = _engines[dictionary] = OpenJTalk(dictionary)
        return engine


def dictionary_folder(settings: Settings) -> Path:
    """The Open JTalk dictionary folder ``[fm] dictionary`` names."""
    return settings.path(settings.fm.dictionary)


def sentences(text: str) -> list[str]:
    """The text cut into sentences (at line ends and 。), the unit Open JTalk reads and the pool shares out."""
    out: list[str] = []
    for line in text.splitlines():
        parts = [part.strip() + "。" for part in line.split("。") if part.strip()]
        if parts and not line.rstrip().endswith("。"):
            parts[-1] = parts[-1].removesuffix("。")
        out.extend(parts)
    return out


def read_sentence(sentence: str, dictionary: Path) -> tuple[bytes, int]:
    """One sentence read by Open JTalk: int16 samples as bytes (empty if nothing to say) and the rate.

    Module-level and returning bytes so that it can run in a worker process.
    """
    return openjtalk(dictionary).read(sentence)


def join_sentences(parts: list[tuple[bytes, int]]) -> tuple[Samples, int]:
    """Sentences' audio one after another with a short pause; SpeechError if there is none."""
    spoken = [(np.frombuffer(data, dtype=np.int16), rate) for data, rate in parts if data]
    if not spoken:
        raise SpeechError("the script has nothing Open JTalk can read")
    rate = spoken[0][1]
    pieces: list[Samples] = []
    for samples, _ in spoken:
        if pieces:
            pieces.append(silence(LINE_GAP_S, rate))
        pieces.append(samples)
    return np.concatenate(pieces), rate


def synthesize_japanese(text: str, dictionary: Path) -> tuple[Samples, int]:
    """Japanese text read by Open JTalk in this thread, as 16-bit samples and their rate."""
    order = sentences(text)
    # the announcement is read twice: each sentence is synthesised once
    audio = {sentence: read_sentence(sentence, dictionary) for sentence in dict.fromkeys(order)}
    return join_sentences([audio[sentence] for sentence in order])


def espeak_voice(engine: Any, lang: str) -> str:
    """The espeak-ng voice id for a language code (en → gmw/en), or SpeechError."""
    base = lang.lower().replace("_", "-")
    wanted = [base, base.split("-")[0]]
    wanted.append(ESPEAK_ALIASES.get(wanted[1], wanted[1]))
    for name in wanted:
        for voice in engine.getProperty("voices"):
            if name in [str(code).lower() for code in voice.languages] or str(voice.id).endswith("/" + name):
                return str(voice.id)
    raise SpeechError(f"espeak-ng has no voice for language {lang!r}")


def synthesize_espeak(text: str, lang: str) -> tuple[Samples, int]:
    """Text read by espeak-ng through pyttsx3, as 16-bit samples and their rate."""
    try:
        import pyttsx3  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EngineMissing(f"pyttsx3 cannot be imported ({exc}): pip install pyttsx3") from exc
    # pyttsx3 2.99's espeak driver saves the WAV when espeak reports the end of the message, before it keeps
    # the samples that came with that report, and it replays its last text on the next loop: now and then
    # (seen under load) the file holds no audio. Another attempt has always given it.
    for _ in range(ESPEAK_ATTEMPTS):
        samples, rate = _espeak_once(pyttsx3, text, lang)
        if samples.size:
            return samples, rate
    raise SpeechError(f"espeak-ng wrote no audio in {ESPEAK_ATTEMPTS} attempts")


def _espeak_once(pyttsx3: Any, text: str, lang: str) -> tuple[Samples, int]:
    with _espeak_lock, tempfile.TemporaryDirectory(prefix="fm-espeak-") as tmp:
        path = Path(tmp) / "speech.wav"
        try:
            engine = pyttsx3.init("espeak")
            engine.setProperty("voice", espeak_voice(engine, lang))
            engine.setProperty("rate", ESPEAK_RATE)
            engine.runAndWait()  # flushes the property changes: without it some rates give no file
            engine.save_to_file(text, str(path))
            engine.runAndWait()
        except (OSError, RuntimeError) as exc:  # libespeak-ng.so.1 missing, or the driver failing
            raise EngineMissing(f"espeak-ng does not run ({exc}): apt-get install espeak-ng libespeak-ng1") from exc
        if not path.is_file():
            return np.zeros(0, dtype=np.int16), 0
        return read_wav(path.read_bytes())


# -- samples -----------------------------------------------------------------------


def to_int16(audio: NDArray[Any]) -> Samples:
    """Float samples on the int16 scale (what pyopenjtalk returns) as int16, clipped."""
    clipped: NDArray[np.float64] = np.clip(np.rint(audio), -32768, 32767)
    return clipped.astype(np.int16)


def silence(seconds: float, rate: int) -> Samples:
    """``seconds`` of silence."""
    return np.zeros(round(seconds * rate), dtype=np.int16)


def resample(samples: Samples, src: int, dst: int) -> Samples:
    """Samples at ``src`` Hz converted to ``dst`` Hz (linear interpolation, low-passed first when going down)."""
    if src == dst or not samples.size:
        return samples
    x = samples.astype(np.float64)
    if dst < src:
        # a windowed-sinc low-pass at the new Nyquist frequency keeps high partials from folding back
        cutoff = 0.5 * dst / src
        n = np.arange(FILTER_TAPS) - (FILTER_TAPS - 1) / 2
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(FILTER_TAPS)
        x = np.convolve(x, taps / taps.sum(), mode="same")
    count = round(len(x) * dst / src)
    t = np.arange(count) * (src / dst)
    return to_int16(np.interp(t, np.arange(len(x)), x))


def two_tone_chime(rate: int) -> Samples:
    """The generated chime: two bell-like tones falling a major third (ピン・ポーン)."""
    tones = []
    for freq, seconds in ((659.25, 0.55), (523.25, 0.9)):  # E5 then C5
        t = np.arange(round(seconds * rate)) / rate
        envelope = np.minimum(t / 0.008, 1.0) * np.exp(-t * 3.5)
        wave_ = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(4 * np.pi * freq * t) + 0.1 * np.sin(6 * np.pi * freq * t)
        tones.append(0.42 * 32767 * envelope * wave_ / 1.45)
    return to_int16(np.concatenate(tones))


def read_wav(data: bytes) -> tuple[Samples, int]:
    """Mono samples and the rate of a 16-bit PCM WAV (channels are averaged); SpeechError otherwise."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getsampwidth() != 2:
                raise SpeechError(f"{8 * w.getsampwidth()}-bit WAV: only 16-bit PCM is supported")
            channels, rate = w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"not a PCM WAV file: {exc}") from exc
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = to_int16(samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1))
    return samples.astype(np.int16), rate


def wav_bytes(samples: Samples, rate: int) -> bytes:
    """A mono 16-bit PCM WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


# -- the speaker -------------------------------------------------------------------


def is_japanese(lang: str) -> bool:
    """True for ja and ja-JP."""
    return lang.split("-")[0].lower() == "ja"


PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel ends this worker when the service dies, even by SIGKILL.

    An orphaned worker would hold the service's stderr open and a CPU busy with nobody to hear it.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the service died before prctl took effect
        os._exit(0)


def _warm_up(dictionary: Path) -> None:
    read_sentence("防災", dictionary)  # each worker loads the dictionary and the voice before its first alert


class Speaker:
    """Turns a speech script into the WAV the station airs: chime, pause, speech.

    With ``processes`` > 1, Japanese sentences are shared out to that many worker processes: Open JTalk
    holds the GIL while it synthesises, so threads would not run in parallel. Call ``close`` when done.
    """

    def __init__(
        self,
        sample_rate: int,
        readings: Mapping[str, str] | Readings,
        chime: Samples,
        dictionary: Path,
        processes: int = 0,
    ) -> None:
        self.sample_rate = sample_rate
        self.dictionary = dictionary
        self.readings = as_readings(readings)
        self.chime = chime
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        if processes > 1:
            self._pool = self._start_pool()

    def _start_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the service has threads (the store's, asyncio's) whose locks a fork would copy
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        for _ in range(self.processes):
            pool.submit(_warm_up, self.dictionary)
        return pool

    def speech(self, script: str, lang: str) -> Samples:
        """The script read aloud at this speaker's rate, without the chime (in this thread)."""
        if is_japanese(lang):
            samples, rate = synthesize_japanese(for_synthesis(script, self.readings), self.dictionary)
        else:
            samples, rate = synthesize_espeak(_one_line(script), lang)
        return resample(samples, rate, self.sample_rate)

    def synthesize(self, script: str, lang: str) -> bytes:
        """The complete WAV, synthesised in this thread (blocking: use ``wav`` from async code)."""
        return self.assemble(self.speech(script, lang))

    def assemble(self, speech: Samples) -> bytes:
        """The WAV file: chime, pause, speech."""
        return wav_bytes(np.concatenate([self.chime, silence(CHIME_GAP_S, self.sample_rate), speech]), self.sample_rate)

    async def wav(self, script: str, lang: str) -> bytes:
        """The complete WAV, synthesised off the event loop (worker processes or a worker thread)."""
        pool = self._pool
        if pool is None or not is_japanese(lang):
            return await asyncio.to_thread(self.synthesize, script, lang)
        order = sentences(for_synthesis(script, self.readings))
        unique = sorted(set(order), key=len, reverse=True)  # longest first: the workers finish together
        loop = asyncio.get_running_loop()
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, read_sentence, s, self.dictionary) for s in unique)
            )
        except BrokenProcessPool as exc:  # a worker died (Open JTalk crashed on this text): start afresh
            self._pool = self._start_pool()
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
            raise SpeechError(f"an Open JTalk worker process died reading this script: {exc}") from exc
        audio = dict(zip(unique, parts, strict=True))

        def finish() -> bytes:
            samples, rate = join_sentences([audio[sentence] for sentence in order])
            return self.assemble(resample(samples, rate, self.sample_rate))

        return await asyncio.to_thread(finish)

    def close(self) -> None:
        """Stop the worker processes (blocks until they have exited)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _one_line(script: str) -> str:
    text = " ".join(line.strip() for line in without_cues(script).splitlines() if line.strip())
    if not text:
        raise SpeechError("the script is empty")
    return text


def load_chime(settings: Settings) -> Samples:
    """The configured chime WAV at the FM sample rate, or the generated two-tone chime; ConfigError if unreadable."""
    rate = settings.fm.sample_rate
    if not settings.fm.chime:
        return two_tone_chime(rate)
    path = settings.path(settings.fm.chime)
    try:
        samples, src = read_wav(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"fm.chime: cannot read {path}: {exc.strerror or exc}") from exc
    except SpeechError as exc:
        raise ConfigError(f"fm.chime: {path}: {exc}") from exc
    return resample(samples, src, rate)


def checked_openjtalk(settings: Settings) -> OpenJTalk:
    """This process's Open JTalk for ``[fm]``, dictionary and voice loaded and tried; EngineMissing if it cannot run."""
    dictionary = dictionary_folder(settings)
    try:
        # loads the dictionary and the voice now rather than during the first alert
        synthesize_japanese("防災", dictionary)
    except EngineMissing:
        raise
    except Exception as exc:  # a broken dictionary surfaces as whatever mecab raises
        raise EngineMissing(f"Open JTalk does not run ({exc}): apt-get install open-jtalk-mecab-naist-jdic") from exc
    return openjtalk(dictionary)


def speaker_from_settings(settings: Settings, processes: int | None = None) -> Speaker:
    """A Speaker for ``[fm]``, Open JTalk checked and warmed up (EngineMissing if it cannot run).

    It reads places with channels/fm/readings (every town of the city, its districts, [fm.readings]).
    ``processes`` defaults to ``[fm] workers``, or one worker process per CPU up to MAX_PROCESSES; 0 or 1
    synthesises in a thread.
    """
    engine = checked_openjtalk(settings)
    table = place_readings.build(settings, engine)
    if processes is None:
        processes = settings.fm.workers or min(MAX_PROCESSES, os.cpu_count() or 1)
    return Speaker(settings.fm.sample_rate, table, load_chime(settings), dictionary_folder(settings), processes)
