"""Speech audio for community FM: a chime, then the script read by Open JTalk (Japanese) or espeak-ng (others).

The output is one mono 16-bit PCM WAV at ``[fm] sample_rate``. Both engines are synchronous C code, so
``Speaker.wav`` and ``Speaker.programme`` run them in worker processes or threads: the event loop never
waits on synthesis. ``programme`` reads one alert in every language at once: with worker processes,
Japanese sentences and whole espeak-ng scripts share the pool (the costliest first, so the workers
finish together); without them, Open JTalk and espeak-ng run in two threads side by side.

- Japanese: pyopenjtalk's Open JTalk over the dictionary folder ``[fm] dictionary`` (Debian's
  ``open-jtalk-mecab-naist-jdic``), handed to the engine directly: its module-level functions would
  read ``OPEN_JTALK_DICT_DIR`` and, without it, download a dictionary from GitHub. It is read sentence
  by sentence, which skips those with nothing to say: Open JTalk crashes the whole process on text
  without a phoneme.
- Other languages: libespeak-ng through pyttsx3's ctypes binding (``pyttsx3.drivers._espeak``), in
  synchronous mode, at 22,050 Hz, in the espeak-ng voice each language names in
  config/phrasebook/languages.toml (``voice``). pyttsx3's own driver is not used (``_espeak`` says
  why: it could lose the last second). espeak-ng is one engine per process, so one lock serialises
  it. ``checked_voices`` finds, at start-up, which of ``[fm] languages`` espeak-ng can read here, and
  warns once about each it cannot.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import dataclasses
import io
import logging
import multiprocessing
import os
import signal
import sys
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.settings import Settings
from channels.fm import readings as place_readings
from channels.fm.spoken import Readings, as_readings, for_synthesis, without_cues

log = logging.getLogger("broadcaster.channels.fm")

Samples = NDArray[np.int16]
LINE_GAP_S = 0.35  # silence between the script's lines (Open JTalk adds a little of its own)
CHIME_GAP_S = 0.6  # silence between the chime and the first word
LANGUAGE_GAP_S = 1.5  # silence between one language and the next in the combined file: a clear change
ESPEAK_RATE = 165  # words per minute: slower than espeak's 175, for radio
ESPEAK_VOLUME = 100  # percent: espeak-ng's full volume, as pyttsx3 sets it
ESPEAK_BUFFER_MS = 200  # the length of the buffers espeak-ng hands to _on_synth
ESPEAK_ALIASES = {"zh": "cmn", "tl": "fil"}
MAX_PROCESSES = 4  # Open JTalk worker processes; one per CPU up to this
WORKER_NICENESS = 10  # added to the workers' nice value: the service's event loop comes first
FILTER_TAPS = 101  # low-pass before downsampling, so 48 kHz speech does not alias at 16 kHz
# seconds of synthesis per character, measured here (2 CPUs): to hand the pool its costliest jobs first
OPENJTALK_COST_S = 0.02
ESPEAK_COST_S = 0.0005
OPENJTALK = "openjtalk"  # the engine part of a job's key; espeak-ng's is "espeak-ng <voice>"
SENTENCE_CACHE_BYTES = 32 * 1024 * 1024  # about 6 minutes of 48 kHz speech: a few alerts' sentences
INSTALL_VOICES = "apt-get install espeak-ng espeak-ng-data libespeak-ng1"

_espeak_lock = threading.Lock()  # espeak-ng is one engine per process: one synthesis at a time
_espeak_state: dict[str, Any] = {}  # "lib" and "rate" once espeak-ng is set up in this process
_espeak_chunks: list[bytes] = []  # the samples of the synthesis under way (under _espeak_lock)
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


class EspeakVoice(NamedTuple):
    """One of espeak-ng's voices: its id (gmw/en) and the language it reads (en-gb)."""

    id: str
    languages: list[str]


def espeak_voice(voices: Sequence[Any], lang: str) -> str:
    """The id of the espeak-ng voice (of ``voices``) for a language (en → gmw/en), or SpeechError."""
    base = lang.lower().replace("_", "-")
    wanted = [base, base.split("-")[0]]
    wanted.append(ESPEAK_ALIASES.get(wanted[1], wanted[1]))
    for name in wanted:
        for voice in voices:
            ident = str(voice.id)
            # a voice outside a family folder (ko) has its bare name as its id
            if name in [str(code).lower() for code in voice.languages] or ident.endswith("/" + name) or ident == name:
                return ident
    raise SpeechError(f"espeak-ng has no voice for language {lang!r}")


def _on_synth(wav: Any, count: int, events: Any) -> int:
    # espeak-ng hands over each buffer of samples, the last one with its end-of-message event
    if count > 0:
        _espeak_chunks.append(ctypes.string_at(wav, count * ctypes.sizeof(ctypes.c_short)))
    return 0


def _espeak() -> tuple[Any, int]:
    """pyttsx3's binding of libespeak-ng, set up once in this process for synchronous synthesis, and its rate.

    Call it holding ``_espeak_lock``. pyttsx3's own driver is not used: it synthesises in espeak-ng's
    thread and saves its file when the end-of-message event arrives, before it keeps the samples that
    came with that event, so now and then the last second of an announcement was missing (seen in
    worker processes). Synchronous mode returns once every sample has reached ``_on_synth``.
    """
    if "lib" not in _espeak_state:
        try:
            from pyttsx3.drivers import _espeak as lib  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EngineMissing(f"pyttsx3 cannot be imported ({exc}): pip install pyttsx3") from exc
        except (OSError, RuntimeError) as exc:  # libespeak-ng.so.1 missing
            raise EngineMissing(f"espeak-ng does not run ({exc}): {INSTALL_VOICES}") from exc
        rate = int(lib.Initialize(lib.AUDIO_OUTPUT_SYNCHRONOUS, ESPEAK_BUFFER_MS, None, 0))
        if rate <= 0:
            raise EngineMissing(f"espeak-ng could not start (its data is missing?): {INSTALL_VOICES}")
        lib.SetSynthCallback(_on_synth)
        _espeak_state.update(lib=lib, rate=rate)
    return _espeak_state["lib"], _espeak_state["rate"]


def _listed(lib: Any) -> list[EspeakVoice]:
    # each voice's languages field is a priority byte then the language, as pyttsx3's driver reads it
    return [
        EspeakVoice(v.identifier.decode().lower(), [v.languages[1:].decode(errors="ignore")] if v.languages else [])
        for v in lib.ListVoices(None)
    ]


def espeak_voices() -> list[EspeakVoice]:
    """The voices espeak-ng has here; EngineMissing if it cannot run."""
    with _espeak_lock:
        return _listed(_espeak()[0])


def synthesize_espeak(text: str, voice: str) -> tuple[Samples, int]:
    """Text read by espeak-ng in ``voice`` (an espeak-ng language), as 16-bit samples and their rate."""
    with _espeak_lock:
        lib, rate = _espeak()
        ident = espeak_voice(_listed(lib), voice)
        if lib.SetVoiceByName(ident.encode()) != lib.EE_OK:
            raise SpeechError(f"espeak-ng cannot load its voice {ident!r}")
        lib.SetParameter(lib.RATE, ESPEAK_RATE, 0)
        lib.SetParameter(lib.VOLUME, ESPEAK_VOLUME, 0)
        _espeak_chunks.clear()
        try:
            status = lib.Synth(text, flags=lib.ENDPAUSE | lib.CHARS_UTF8)
            data = b"".join(_espeak_chunks)
        finally:
            _espeak_chunks.clear()
    if status != lib.EE_OK or not data:
        raise SpeechError(f"espeak-ng wrote no audio (status {status})")
    return np.frombuffer(data, dtype=np.int16).copy(), rate


def checked_voices(settings: Settings) -> dict[str, str]:
    """Each of ``[fm] languages`` espeak-ng can read here → its espeak-ng voice (languages.toml ``voice``).

    A language it cannot read (no voice configured, e.g. tl; a voice espeak-ng lacks; espeak-ng not
    installed) is left out, with one warning at start-up naming the language and what to do: never
    silently. Japanese and やさしい日本語 are Open JTalk's, checked by ``checked_openjtalk``.
    """
    book = settings.phrasebook
    wanted = [lang for lang in settings.fm.languages if not is_japanese(lang)]
    if not wanted:
        return {}
    try:
        voices, problem = espeak_voices(), ""
    except EngineMissing as exc:
        voices, problem = [], str(exc)
    out: dict[str, str] = {}
    for lang in wanted:
        language = book.languages.get(lang)
        name = f"{language.name_en} ({lang})" if language else lang
        voice = language.voice if language else ""
        if not voice:
            log.warning(
                "fm: %s is left out of FM: it has no voice in config/phrasebook/languages.toml; "
                "install an espeak-ng voice for it (%s) and set its voice there",
                name,
                INSTALL_VOICES,
            )
        elif problem:
            log.warning("fm: %s is left out of FM: %s", name, problem)
        else:
            try:
                espeak_voice(voices, voice)
            except SpeechError:
                log.warning(
                    "fm: %s is left out of FM: espeak-ng has no voice %r here (%s)", name, voice, INSTALL_VOICES
                )
            else:
                out[lang] = voice
    return out


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
    """Worker initializer: the kernel ends this worker when the service dies, even by SIGKILL; it yields the CPU.

    An orphaned worker would hold the service's stderr open and a CPU busy with nobody to hear it.
    Synthesis is seconds of bulk work per alert, in every language: at a lower priority it never
    delays the service's own event loop (the website, the ticker, SNS), which needs milliseconds.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the service died before prctl took effect
        os._exit(0)
    os.nice(WORKER_NICENESS)


def _warm_up(dictionary: Path, voice: str) -> None:
    # each worker loads the dictionary, the voice and espeak-ng's data before its first alert
    read_sentence("防災", dictionary)
    if voice:
        with contextlib.suppress(SpeechError):  # a voice that fails here fails the send, with the reason
            read_espeak("ok", voice, 0)


def read_espeak(text: str, voice: str, rate: int) -> tuple[bytes, int]:
    """Text read by espeak-ng in ``voice`` at ``rate`` Hz (0: espeak-ng's own), as int16 bytes and the rate.

    Module-level and returning bytes so that it can run in a worker process, resampling there too.
    """
    samples, src = synthesize_espeak(text, voice)
    if rate:
        samples, src = resample(samples, src, rate), rate
    return samples.tobytes(), src


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One piece of synthesis for a worker: ``fn(*args)`` → (int16 bytes, rate), and what it roughly costs."""

    cost: float  # seconds, estimated: the pool gets the costliest first
    fn: Callable[..., tuple[bytes, int]]
    args: tuple[Any, ...]

    def run(self) -> tuple[bytes, int]:
        """The job, in this thread."""
        return self.fn(*self.args)


class SentenceCache:
    """Japanese sentences already synthesised, most recently used kept, up to ``budget`` bytes of audio."""

    def __init__(self, budget: int = SENTENCE_CACHE_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._audio: OrderedDict[str, tuple[bytes, int]] = OrderedDict()

    def __contains__(self, sentence: object) -> bool:
        return sentence in self._audio

    def __len__(self) -> int:
        return len(self._audio)

    def get(self, sentence: str) -> tuple[bytes, int] | None:
        """The sentence's audio and rate, if kept."""
        said = self._audio.get(sentence)
        if said is not None:
            self._audio.move_to_end(sentence)
        return said

    def put(self, sentence: str, said: tuple[bytes, int]) -> None:
        """Keep the sentence's audio, forgetting the least recently used beyond the budget."""
        if sentence in self._audio:
            self._audio.move_to_end(sentence)
            return
        self._audio[sentence] = said
        self.size += len(said[0])
        while self.size > self.budget and self._audio:
            _, (data, _) = self._audio.popitem(last=False)
            self.size -= len(data)


class Speaker:
    """Turns speech scripts into the WAVs the station airs: chime, pause, speech (one language or several).

    With ``processes`` > 1, Japanese sentences and other languages' scripts are shared out to that many
    worker processes: Open JTalk holds the GIL while it synthesises, so threads would not run in
    parallel. ``voices`` maps a language to its espeak-ng voice (a language not in it is looked up by
    its own code). Call ``close`` when done.
    """

    def __init__(
        self,
        sample_rate: int,
        readings: Mapping[str, str] | Readings,
        chime: Samples,
        dictionary: Path,
        processes: int = 0,
        voices: Mapping[str, str] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.dictionary = dictionary
        self.readings = as_readings(readings)
        self.chime = chime
        self.processes = processes
        self.voices = dict(voices or {})
        self.sentence_cache = SentenceCache()
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
        voice = next(iter(self.voices.values()), "")
        for _ in range(self.processes):
            pool.submit(_warm_up, self.dictionary, voice)
        return pool

    def voice(self, lang: str) -> str:
        """The espeak-ng voice that reads ``lang``."""
        return self.voices.get(lang, lang)

    def text(self, script: str, lang: str) -> str:
        """What the engine reads of a script: Japanese with readings and in spoken form, others on one line."""
        return for_synthesis(script, self.readings) if is_japanese(lang) else _one_line(script)

    def speech(self, script: str, lang: str) -> Samples:
        """The script read aloud at this speaker's rate, without the chime (in this thread)."""
        if is_japanese(lang):
            samples, rate = synthesize_japanese(self.text(script, lang), self.dictionary)
            return resample(samples, rate, self.sample_rate)
        data, _ = read_espeak(self.text(script, lang), self.voice(lang), self.sample_rate)
        return np.frombuffer(data, dtype=np.int16)

    def synthesize(self, script: str, lang: str) -> bytes:
        """The complete WAV, synthesised in this thread (blocking: use ``wav`` from async code)."""
        return self.assemble(self.speech(script, lang))

    def assemble(self, speech: Samples) -> bytes:
        """The WAV file of one language: chime, pause, speech."""
        return self.combine([speech])

    def combine(self, speeches: Sequence[Samples]) -> bytes:
        """The WAV file of several languages: the chime once, a pause, then each language with a pause between."""
        pieces = [self.chime, silence(CHIME_GAP_S, self.sample_rate)]
        for i, speech in enumerate(speeches):
            if i:
                pieces.append(silence(LANGUAGE_GAP_S, self.sample_rate))
            pieces.append(speech)
        return wav_bytes(np.concatenate(pieces), self.sample_rate)

    async def wav(self, script: str, lang: str) -> bytes:
        """The complete WAV of one script, synthesised off the event loop (worker processes or a thread)."""
        (speech,) = await self.programme([(lang, script)])
        return await asyncio.to_thread(self.assemble, speech)

    async def programme(self, parts: Sequence[tuple[str, str]]) -> list[Samples]:
        """Each (language, script) read aloud at this speaker's rate, without the chime, all at once.

        Japanese sentences are synthesised once each (the announcement is read twice; やさしい日本語 and
        Japanese share lines) and kept in ``sentence_cache``: the template's lines and a phrasebook
        pattern's fixed sentences recur from one alert to the next. SpeechError names what could not
        be said; nothing runs on the event loop.
        """
        langs = [lang for lang, _ in parts]
        texts = [self.text(script, lang) for lang, script in parts]  # an empty script fails before any work
        orders = {i: sentences(texts[i]) for i, lang in enumerate(langs) if is_japanese(lang)}
        audio: dict[tuple[str, str], tuple[bytes, int]] = {}
        jobs: dict[tuple[str, str], Job] = {}
        for order in orders.values():
            for sentence in order:
                key = (OPENJTALK, sentence)
                if (cached := self.sentence_cache.get(sentence)) is not None:
                    audio[key] = cached
                else:
                    jobs[key] = Job(len(sentence) * OPENJTALK_COST_S, read_sentence, (sentence, self.dictionary))
        for lang, text in zip(langs, texts, strict=True):
            if not is_japanese(lang):
                voice = self.voice(lang)
                jobs[("espeak-ng " + voice, text)] = Job(
                    len(text) * ESPEAK_COST_S, read_espeak, (text, voice, self.sample_rate)
                )
        audio.update(await self._run(jobs))
        for (engine, sentence), said in audio.items():
            if engine == OPENJTALK:
                self.sentence_cache.put(sentence, said)

        def finish() -> list[Samples]:
            out: list[Samples] = []
            for i, (lang, text) in enumerate(zip(langs, texts, strict=True)):
                if i in orders:
                    samples, rate = join_sentences([audio[(OPENJTALK, sentence)] for sentence in orders[i]])
                    out.append(resample(samples, rate, self.sample_rate))
                else:
                    out.append(np.frombuffer(audio[("espeak-ng " + self.voice(lang), text)][0], dtype=np.int16))
            return out

        return await asyncio.to_thread(finish)

    async def _run(self, jobs: Mapping[tuple[str, str], Job]) -> dict[tuple[str, str], tuple[bytes, int]]:
        """Every job's result: in the worker processes, or in two threads without them."""
        keys = sorted(jobs, key=lambda key: jobs[key].cost, reverse=True)  # costliest first: workers finish together
        pool = self._pool
        if pool is None:
            # Open JTalk in one thread, espeak-ng (serialised by its lock anyway) in another: espeak-ng's C
            # code runs without the GIL, so the two overlap
            def run(group: list[tuple[str, str]]) -> list[tuple[bytes, int]]:
                return [jobs[key].run() for key in group]

            groups = [[k for k in keys if k[0] == OPENJTALK], [k for k in keys if k[0] != OPENJTALK]]
            groups = [group for group in groups if group]
            # gather, not a TaskGroup: a SpeechError reaches the channel as itself (a thread cannot be cancelled)
            said = await asyncio.gather(*(asyncio.to_thread(run, group) for group in groups))
            return {
                key: one for group, out in zip(groups, said, strict=True) for key, one in zip(group, out, strict=True)
            }
        loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(*(loop.run_in_executor(pool, jobs[k].fn, *jobs[k].args) for k in keys))
        except BrokenProcessPool as exc:  # a worker died (Open JTalk crashed on this text): start afresh
            self._pool = self._start_pool()
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
            raise SpeechError(f"a speech worker process died reading this script: {exc}") from exc
        return dict(zip(keys, results, strict=True))

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

    It reads places with channels/fm/readings (every town of the city, its districts, [fm.readings]), and
    each of ``[fm] languages`` espeak-ng has a voice for (``checked_voices`` warns about the others).
    ``processes`` defaults to ``[fm] workers``, or one worker process per CPU up to MAX_PROCESSES; 0 or 1
    synthesises in threads.
    """
    engine = checked_openjtalk(settings)
    table = place_readings.build(settings, engine)
    voices = checked_voices(settings)
    if processes is None:
        processes = settings.fm.workers or min(MAX_PROCESSES, os.cpu_count() or 1)
    chime, dictionary = load_chime(settings), dictionary_folder(settings)
    return Speaker(settings.fm.sample_rate, table, chime, dictionary, processes, voices)
