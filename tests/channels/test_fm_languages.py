"""Community FM in every language: one evacuation order read in Japanese, やさしい日本語 and [fm] languages.

One synthesis is shared by the module (FM synthesis takes seconds): an evacuation order built from the
phrasebook (variants.complete gives it every offered language), sent once through the real channel
with the real engines, in threads, to a real drop folder. [fm] languages holds tl too, which has no
voice: it must be left out, with a warning, never silently.

Durations are checked against what each script should take to say:
- Japanese and やさしい日本語 (Open JTalk): tests/test_speech.expected_seconds, 0.05–0.25 s a mora
  (half and double the voice's 0.11–0.14 s) plus the pauses the speaker adds.
- Other languages (espeak-ng at 165 words a minute): measured here at 0.086–0.096 s per letter or
  digit of Latin text (en, pt-BR, vi) and about 0.4 s per hanzi (one syllable each). The accepted
  range is about half to double that: 0.04–0.2 s per Latin letter or digit, 0.2–0.8 s per hanzi,
  plus up to 0.5 s a line for pauses. A truncated file, a runaway one, or a language read in the
  wrong voice (which spells out what it cannot read) falls outside.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster import variants
from broadcaster.channel import ChannelContext
from broadcaster.models import Alert, DeliveryState, Message, Outcome, Recipient
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import fm as fm_feed
from channels.fm.channel import FmChannel, create
from channels.fm.drop import combined_script, drop_paths, language_paths, leftovers
from channels.fm.render import scripts
from channels.fm.speech import CHIME_GAP_S, LANGUAGE_GAP_S, Samples, openjtalk, speaker_from_settings
from tests.conftest import SiteFactory, toml_value
from tests.test_speech import SILENT_RMS, check_chime_then_speech, decode, expected_seconds, rms
from tests.test_store import ACTOR, ORIGIN, make_alert

PUBLIC = [Recipient("*", "", "ja")]
LANGUAGES = ["en", "pt-BR", "vi", "zh-Hans", "tl"]  # tl has no voice in languages.toml
READ = ["ja", "ja-x-easy", "en", "pt-BR", "vi", "zh-Hans"]
LATIN_S = (0.04, 0.2)  # seconds per Latin letter or digit (see the module docstring)
HANZI_S = (0.2, 0.8)  # seconds per hanzi
LINE_PAUSE_S = 0.5


@dataclasses.dataclass(frozen=True)
class Sent:
    """The module's one synthesis: what was sent and where it went."""

    settings: Settings
    channel: FmChannel
    alert: Alert
    message: Message


def evacuation_order(settings: Settings) -> Alert:
    """An evacuation order (警戒レベル４) from the phrasebook's pattern, in every offered language."""
    alert = dataclasses.replace(
        make_alert("20261207-153000-evac01", ("fm",), level=4),
        phrase="evacuation_order",
        slots={"time": "15:30", "hazard": "洪水", "households": "1234", "shelter": "間々田小学校"},
    )
    japanese = variants.japanese_from_phrase(alert, settings)
    assert japanese is not None
    alert = dataclasses.replace(alert, title=japanese.title, body=japanese.body, instruction=japanese.instruction)
    return variants.complete(alert, settings)


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    """The evacuation order, sent once on FM with [fm] languages = LANGUAGES."""
    folder = tmp_path_factory.mktemp("fm-languages")
    sections = {
        "storage": {"path": str(folder / "broadcaster.db"), "outbox_dir": str(folder / "outbox")},
        "jma": {"enabled": False},
        "fm": {"drop_dir": str(folder / "drop"), "workers": 1, "languages": LANGUAGES},
    }
    site = folder / "site.toml"
    site.write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items())
            for name, values in sections.items()
        ),
        encoding="utf-8",
    )
    settings = load_settings(site)
    channel = FmChannel(settings, Renderer(settings), speaker_from_settings(settings, processes=0))
    alert = evacuation_order(settings)
    message = channel.render(alert, "ja")
    asyncio.run(channel.send(message, PUBLIC))
    yield Sent(settings, channel, alert, message)
    asyncio.run(channel.aclose())


def speech_of(samples: Samples, rate: int, chime: int) -> Samples:
    """A one-language WAV's speech: after the chime and the pause."""
    return samples[chime + round(CHIME_GAP_S * rate) :]


def espeak_range(text: str) -> tuple[float, float]:
    """The (shortest, longest) plausible seconds of espeak-ng reading ``text`` (see the module docstring)."""
    hanzi = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    latin = sum(1 for ch in text if ch.isalnum()) - hanzi
    pauses = LINE_PAUSE_S * (text.count("\n") + 1)
    return LATIN_S[0] * latin + HANZI_S[0] * hanzi, LATIN_S[1] * latin + HANZI_S[1] * hanzi + pauses


# -- scripts ----------------------------------------------------------------------


def test_the_alert_is_read_in_japanese_easy_japanese_then_each_voiced_language(sent: Sent) -> None:
    assert [lang for lang, _ in scripts(sent.message)] == READ  # tl left out: no voice
    assert sent.channel.renderer.languages == ("en", "pt-BR", "vi", "zh-Hans")


def test_no_script_shows_braces_or_a_link_and_none_names_the_city_in_japanese_alone(sent: Sent) -> None:
    for lang, script in scripts(sent.message):
        assert "{" not in script and "}" not in script and "http" not in script, (lang, script)
        if lang in ("en", "pt-BR", "vi"):
            assert "小山" not in script and "Oyama" in script, (lang, script)
    easy = dict(scripts(sent.message))["ja-x-easy"]
    assert "ひなん" in easy or "にげて" in easy  # the furigana's reading is what is said


def test_each_script_and_the_combined_script_are_in_the_drop_folder(sent: Sent) -> None:
    drop = sent.channel.drop_dir
    parts = scripts(sent.message)
    for lang, script in parts:
        txt, wav = language_paths(drop, sent.alert.id, lang)
        assert txt.read_text(encoding="utf-8") == script + "\n" and wav.is_file()
    txt, wav = drop_paths(drop, sent.alert.id)
    combined = txt.read_text(encoding="utf-8")
    assert combined == combined_script(parts) and wav.is_file()
    assert combined.count("（チャイム）") == 1 and "(♪)" not in combined  # the chime is played once
    assert not language_paths(drop, sent.alert.id, "tl")[1].exists()
    # the station's watcher sees the combined file alone in the drop folder
    assert sorted(p.name for p in drop.glob("*.wav")) == [wav.name]


# -- audio ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", READ)
def test_each_language_is_a_48k_wav_of_speech_as_long_as_its_script(sent: Sent, lang: str) -> None:
    speaker, script = sent.channel.speaker, dict(scripts(sent.message))[lang]
    samples, rate, channels, width = decode(language_paths(sent.channel.drop_dir, sent.alert.id, lang)[1].read_bytes())
    assert (rate, channels, width) == (48_000, 1, 2)
    check_chime_then_speech(samples, rate)
    speech = speech_of(samples, rate, len(speaker.chime))
    assert rms(speech) > SILENT_RMS, f"{lang} is silent"
    if lang.startswith("ja"):
        chime_s = len(speaker.chime) / rate
        shortest, longest = expected_seconds(openjtalk(speaker.dictionary), script, speaker.readings, chime_s)
        assert shortest <= len(samples) / rate <= longest, lang
    else:
        shortest, longest = espeak_range(speaker.text(script, lang))
        assert shortest <= len(speech) / rate <= longest, (lang, len(speech) / rate, shortest, longest)


def test_the_combined_file_is_the_chime_once_then_each_language_in_order(sent: Sent) -> None:
    speaker, drop, rate = sent.channel.speaker, sent.channel.drop_dir, 48_000
    chime, gap, between = len(speaker.chime), round(CHIME_GAP_S * rate), round(LANGUAGE_GAP_S * rate)
    combined, _, _, _ = decode(drop_paths(drop, sent.alert.id)[1].read_bytes())
    assert np.array_equal(combined[:chime], speaker.chime)
    at = chime + gap
    for i, lang in enumerate(READ):
        one, _, _, _ = decode(language_paths(drop, sent.alert.id, lang)[1].read_bytes())
        speech = speech_of(one, rate, chime)
        if i:
            assert not combined[at : at + between].any(), f"no pause before {lang}"
            at += between
        assert np.array_equal(combined[at : at + len(speech)], speech), f"{lang} is not where it should be"
        at += len(speech)
    assert at == len(combined)  # the sum of the parts, the chime once and the pauses: nothing else


async def test_sending_it_again_writes_nothing(sent: Sent) -> None:
    drop = sent.channel.drop_dir
    before = {p: p.stat().st_mtime_ns for p in drop.rglob("*")}
    await sent.channel.send(sent.message, PUBLIC)  # a retry, or a restart before the send was recorded
    assert {p: p.stat().st_mtime_ns for p in drop.rglob("*")} == before


# -- voices -----------------------------------------------------------------------


async def test_a_language_without_a_voice_is_left_out_with_one_warning_at_start_up(
    site: SiteFactory, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(site({"fm": {"languages": ["en", "tl"]}}))
    assert "tl" in settings.city.languages and not settings.phrasebook.languages["tl"].voice
    with caplog.at_level(logging.WARNING, logger="broadcaster.channels.fm"):
        channel = create(ChannelContext("fm", settings, Renderer(settings), {}))
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Tagalog (tl)" in warnings[0] and "apt-get install espeak-ng" in warnings[0]
        assert isinstance(channel, FmChannel) and channel.renderer.languages == ("en",)
    finally:
        await channel.aclose()


# -- the station's playlist --------------------------------------------------------


@pytest.fixture
async def client(sent: Sent, store: SQLiteStore) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The FM routes over the module's drop folder, the evacuation order on air."""
    alert = sent.alert
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    [claim] = await store.claim("fm", 10, time.time() + 60, time.time())
    await store.record("fm", [Outcome(claim.id, alert.id, DeliveryState.SENT)], time.time())
    app = web.Application()
    fm_feed.add_routes(app)
    fm_feed.setup(app, store, sent.settings, Renderer(sent.settings))
    async with TestClient(TestServer(app)) as c:
        yield c


def seconds(path: Path) -> int:
    """A WAV's length, rounded up as #EXTINF gives it."""
    with wave.open(str(path), "rb") as w:
        return math.ceil(w.getnframes() / w.getframerate())


async def test_the_playlist_lists_the_combined_file_then_each_language_labelled(
    sent: Sent, client: TestClient[web.Request, web.Application]
) -> None:
    alert, drop, base = sent.alert, sent.channel.drop_dir, sent.settings.city.public_url.rstrip("/")
    book = sent.settings.phrasebook
    resp = await client.get("/fm/playlist.m3u")
    assert resp.status == 200
    lines = (await resp.text()).splitlines()
    names = ", ".join(book.languages[lang].name for lang in READ)
    assert lines[1:3] == [
        f"#EXTINF:{seconds(drop_paths(drop, alert.id)[1])},{alert.title} ({names})",
        f"{base}/fm/{alert.id}.wav",
    ]
    listed = lines[3:]
    assert len(listed) == 2 * len(READ)
    for (info, url), lang in zip(zip(listed[::2], listed[1::2], strict=True), READ, strict=True):
        wav = language_paths(drop, alert.id, lang)[1]
        assert info.startswith(f"#EXTINF:{seconds(wav)},") and info.endswith(f"({book.languages[lang].name})")
        assert "{" not in info and url == f"{base}/fm/{alert.id}/{lang}.wav"
        one = await client.get(f"/fm/{alert.id}/{lang}.wav")
        assert one.status == 200 and await one.read() == wav.read_bytes()
    assert "Evacuation order" in listed[4]  # each language's entry has its own title
    missing = await client.get(f"/fm/{alert.id}/tl.wav")
    assert missing.status == 404
    await missing.release()


def test_the_files_of_languages_an_alert_no_longer_has_are_its_leftovers(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / "languages").mkdir(parents=True)
    for name in ("a1.en.wav", "a1.en.txt", "a1.vi.wav", "a1.vi.txt", "a1.x.en.wav", "a2.vi.wav"):
        (drop / "languages" / name).write_bytes(b"")
    # a1 is written again with Japanese and English only: Vietnamese's files go, nothing of another alert
    gone = leftovers(drop, "a1", ("ja", "en", "vi", "ko"), kept=("ja", "en"))
    assert sorted(p.name for p in gone) == ["a1.vi.txt", "a1.vi.wav"]
    assert leftovers(drop, "a1", ("en", "vi"), kept=()) == [
        *language_paths(drop, "a1", "en"),
        *language_paths(drop, "a1", "vi"),
    ]  # one language only now: no one-language file stays
