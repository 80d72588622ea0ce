"""The real speech engines: Open JTalk (pyopenjtalk + Debian's naist-jdic) and espeak-ng through pyttsx3.

Durations are checked against what the text should take to say. Open JTalk's voice reads about 7–9
mora a second (0.11–0.14 s a mora); the accepted range, 0.05–0.25 s a mora, allows half and double
that, so pauses at commas or a different voice speed pass while a truncated or runaway synthesis does
not. On top come what the speaker adds itself, counted exactly (chime, the pause after it, the pause
between sentences) and Open JTalk's own silence at both ends of each sentence (at most 1 s).
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from broadcaster.errors import ConfigError
from broadcaster.settings import Settings, load_settings
from channels.fm.speech import (
    CHIME_GAP_S,
    LINE_GAP_S,
    OpenJTalk,
    Samples,
    SentenceCache,
    Speaker,
    SpeechError,
    dictionary_folder,
    load_chime,
    openjtalk,
    resample,
    sentences,
    speaker_from_settings,
    two_tone_chime,
    wav_bytes,
)
from channels.fm.spoken import Readings, apply_readings, for_synthesis
from tests.conftest import SiteFactory

RATE = 48_000
SMALL_KANA = set("ァィゥェォャュョヮ")  # part of the mora before them
SILENT_RMS = 300.0  # int16 RMS; speech from either engine measures several thousand
ENGLISH = "(♪)\nThis is Oyama City.\nThe river has risen above 2.5 metres. Move to higher ground."
SCRIPT = (
    "（チャイム）\nこちらは、小山市です。\n"
    "11月29日 14時30分、思川の水位が2.5メートルを超えました。\n直ちに避難してください。"
)


def decode(data: bytes) -> tuple[Samples, int, int, int]:
    """(samples, rate, channels, sample width) of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as w:
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.int16), w.getframerate(), w.getnchannels(), w.getsampwidth()


def rms(samples: Samples) -> float:
    """Root mean square on the int16 scale."""
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def peak_hz(samples: Samples, rate: int) -> float:
    """The strongest frequency."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def mora(kana: str) -> int:
    """Morae in a katakana reading (ー, ッ and ン count; small ャュョ join the mora before)."""
    return sum(1 for ch in kana if "ァ" <= ch <= "ヴ" or ch == "ー") - sum(1 for ch in kana if ch in SMALL_KANA)


def expected_seconds(
    jtalk: OpenJTalk, script: str, readings: Mapping[str, str] | Readings, chime_s: float
) -> tuple[float, float]:
    """The (shortest, longest) plausible duration of the WAV for a Japanese script."""
    text = for_synthesis(script, readings)
    count = mora(jtalk.g2p(text, kana=True))
    parts = len(sentences(text))
    fixed = chime_s + CHIME_GAP_S + (parts - 1) * LINE_GAP_S
    return fixed + 0.05 * count, fixed + 0.25 * count + parts * 1.0


def check_chime_then_speech(samples: Samples, rate: int) -> None:
    """The chime at the start (loud, at its first tone's pitch), then speech that is not silent."""
    chime_len = len(two_tone_chime(rate))
    first_tone = samples[: int(0.4 * rate)]
    assert rms(first_tone) > SILENT_RMS, "no chime at the start"
    assert abs(peak_hz(first_tone, rate) - 659.25) < 10, "the start is not the chime's first tone"
    speech = samples[chime_len + int(CHIME_GAP_S * rate) :]
    assert rms(speech) > SILENT_RMS, f"the speech is silent (RMS {rms(speech):.0f})"


@pytest.fixture
def jtalk(settings: Settings) -> OpenJTalk:
    """Open JTalk over the configured dictionary, as the speaker uses it."""
    return openjtalk(dictionary_folder(settings))


@pytest.fixture
def speaker(settings: Settings) -> Speaker:
    """A speaker synthesising in the calling thread, with the configured readings."""
    return speaker_from_settings(settings, processes=0)


def test_japanese_wav_is_48k_mono_16bit_with_chime_and_speech_of_the_right_length(
    speaker: Speaker, settings: Settings, jtalk: OpenJTalk
) -> None:
    samples, rate, channels, width = decode(speaker.synthesize(SCRIPT, "ja"))
    assert (rate, channels, width) == (RATE, 1, 2)
    check_chime_then_speech(samples, rate)
    shortest, longest = expected_seconds(jtalk, SCRIPT, speaker.readings, len(speaker.chime) / RATE)
    assert shortest <= len(samples) / rate <= longest


@pytest.mark.parametrize(("name", "reading"), [("小山市", "おやまし"), ("思川", "おもいがわ"), ("間々田", "ままだ")])
def test_configured_place_names_are_read_as_configured(
    settings: Settings, jtalk: OpenJTalk, name: str, reading: str
) -> None:
    assert settings.fm.readings[name] == reading
    g2p = jtalk.g2p
    assert g2p(for_synthesis(f"{name}で", settings.fm.readings), kana=True) == g2p(f"{reading}で", kana=True)


def test_a_reading_in_the_dictionary_fixes_a_name_the_engine_reads_wrong(site: SiteFactory, jtalk: OpenJTalk) -> None:
    # 網戸 in Oyama is あじと; the engine's dictionary only knows the word for a window screen (あみど)
    g2p = jtalk.g2p
    assert g2p("網戸に避難所", kana=True).startswith("アミド")
    settings = load_settings(site({"fm.readings": {'"網戸"': "あじと"}}))  # a site's table replaces the default
    assert g2p(for_synthesis("網戸に避難所", settings.fm.readings), kana=True).startswith("アジト")
    assert apply_readings("網戸", settings.fm.readings) == "あじと"


def test_numbers_dates_and_times_reach_the_engine_in_spoken_form(settings: Settings, jtalk: OpenJTalk) -> None:
    text = for_synthesis("11月29日 14時30分、震度5強、水位2.5メートル、1,234人", settings.fm.readings)
    assert text == "十一月二十九日 十四時三十分、震度五強、水位二点五メートル、千二百三十四人"
    kana = jtalk.g2p(text, kana=True)
    said = (
        "ジューイチガツ",
        "ニジュークニチ",
        "ジューヨジ",
        "サンジュップン",
        "シンドゴキョー",
        "ニテンゴメートル",
        "センニヒャク",
    )
    for part in said:
        assert part in kana


def test_english_is_read_by_espeak_ng_and_is_not_silent(speaker: Speaker) -> None:
    script = (
        "(chime)\nThis is an announcement from the city.\nThe river has risen above 2.5 metres. Move to higher ground."
    )
    samples, rate, channels, width = decode(speaker.synthesize(script, "en"))
    assert (rate, channels, width) == (RATE, 1, 2)
    check_chime_then_speech(samples, rate)
    words = len(script.split()) - 1  # the cue is not read
    speech_s = len(samples) / rate - len(speaker.chime) / RATE - CHIME_GAP_S
    assert 0.15 * words <= speech_s <= 1.0 * words  # espeak-ng at 165 words a minute: 0.36 s a word


def test_a_language_espeak_ng_lacks_is_a_clear_error(speaker: Speaker) -> None:
    with pytest.raises(SpeechError, match="no voice for language 'xx'"):
        speaker.synthesize("Hello.", "xx")


def test_a_script_with_nothing_to_say_is_an_error_not_a_crash(speaker: Speaker) -> None:
    # pyopenjtalk segfaults on text without a phoneme: the speaker must never hand it such a line
    with pytest.raises(SpeechError, match="nothing Open JTalk can read"):
        speaker.synthesize("（チャイム）\n。\n、、", "ja")


async def test_synthesis_runs_off_the_event_loop(speaker: Speaker) -> None:
    task = asyncio.create_task(speaker.wav(SCRIPT + "\n繰り返します。\n" + SCRIPT, "ja"))
    ticks = 0
    while not task.done():  # if synthesis held the loop, the task would finish before the second tick
        ticks += 1
        await asyncio.sleep(0)
    check_chime_then_speech(*decode(await task)[:2])
    assert ticks > 10


async def test_worker_processes_make_the_same_audio_as_the_thread(settings: Settings, speaker: Speaker) -> None:
    pooled = speaker_from_settings(settings, processes=2)
    try:
        assert await pooled.wav(SCRIPT, "ja") == await speaker.wav(SCRIPT, "ja")
        # every language at once: espeak-ng's scripts go to the same workers as Open JTalk's sentences
        parts = [("ja", SCRIPT), ("en", ENGLISH)]
        (ja, en), (ja_alone, en_alone) = await pooled.programme(parts), await speaker.programme(parts)
        assert np.array_equal(ja, ja_alone)
        # espeak-ng's driver is not sample-exact from one run to the next: the same speech, near enough
        assert rms(en) > SILENT_RMS and abs(len(en) - len(en_alone)) < 0.05 * len(en_alone)
    finally:
        await asyncio.to_thread(pooled.close)


async def test_a_sentence_is_synthesised_once_and_kept_for_the_next_alert(speaker: Speaker) -> None:
    [first] = await speaker.programme([("ja", SCRIPT)])
    said = sentences(for_synthesis(SCRIPT, speaker.readings))
    assert len(speaker.sentence_cache) == len(said) and all(s in speaker.sentence_cache for s in said)
    [again] = await speaker.programme([("ja", SCRIPT + "\n繰り返します。")])
    assert np.array_equal(again[: len(first)], first) and len(speaker.sentence_cache) == len(said) + 1


def test_the_sentence_cache_forgets_the_least_recently_used_beyond_its_budget() -> None:
    cache = SentenceCache(budget=10)
    cache.put("a", (b"1234", 8000))
    cache.put("b", (b"5678", 8000))
    assert cache.get("a") == (b"1234", 8000)  # a is now the most recently used
    cache.put("c", (b"9abc", 8000))
    assert "a" in cache and "c" in cache and "b" not in cache and cache.size == 8


def test_resampling_keeps_pitch_and_length_and_filters_before_going_down() -> None:
    t = np.arange(22_050) / 22_050
    tone = (10_000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    up = resample(tone, 22_050, RATE)
    assert len(up) == RATE and abs(peak_hz(up, RATE) - 1000) < 2
    t = np.arange(RATE) / RATE
    high = (10_000 * np.sin(2 * np.pi * 12_000 * t)).astype(np.int16)  # above 16 kHz's Nyquist frequency
    down = resample(high, RATE, 16_000)
    assert len(down) == 16_000 and rms(down) < 0.05 * rms(high), "12 kHz folded back instead of being filtered"


def test_a_configured_chime_is_used_at_the_fm_rate(site: SiteFactory, tmp_path: Path) -> None:
    stereo = np.repeat((8000 * np.sin(2 * np.pi * 880 * np.arange(44_100) / 44_100)).astype(np.int16), 2)
    with wave.open(str(tmp_path / "chime.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(stereo.astype("<i2").tobytes())
    chime = load_chime(load_settings(site({"fm": {"chime": str(tmp_path / "chime.wav")}})))
    assert len(chime) == RATE and abs(peak_hz(chime, RATE) - 880) < 2


@pytest.mark.parametrize(("content", "error"), [(None, "cannot read"), (b"not a wav", "not a PCM WAV")])
def test_an_unreadable_chime_names_the_key(
    site: SiteFactory, tmp_path: Path, content: bytes | None, error: str
) -> None:
    path = tmp_path / "chime.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"fm.chime: .*{error}"):
        load_chime(load_settings(site({"fm": {"chime": str(path)}})))


def test_wav_bytes_round_trip() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    decoded, rate, channels, width = decode(wav_bytes(samples, 16_000))
    assert (rate, channels, width) == (16_000, 1, 2) and decoded.tolist() == samples.tolist()
