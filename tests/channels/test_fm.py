"""The community-FM channel with the real engines and a real drop folder, and the FM routes on a real store."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster import variants
from broadcaster.channel import ChannelContext
from broadcaster.errors import MissingCredentials, PermanentError, TransientError
from broadcaster.models import Alert, DeliveryState, Message, Mode, MsgType, Outcome, Recipient, Text
from broadcaster.on_air import UNTIMED_ON_AIR
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import fm as fm_feed
from channels.fm.channel import FmChannel, create, drop_paths
from channels.fm.readings import build, said, sounds
from channels.fm.render import FmRenderer, scripts
from channels.fm.speech import checked_openjtalk, openjtalk, speaker_from_settings
from tests.conftest import SiteFactory
from tests.test_speech import check_chime_then_speech, decode, expected_seconds
from tests.test_store import ACTOR, ORIGIN, make_alert

PUBLIC = [Recipient("*", "", "ja")]
BODY = "11月29日 14時30分、思川の水位が2.5メートルを超えました。間々田地区の1,234世帯が対象です。"


@pytest.fixture
def settings(site: SiteFactory, tmp_path: Path) -> Settings:
    """Default settings with the drop folder in tmp_path."""
    return load_settings(site({"fm": {"drop_dir": str(tmp_path / "drop")}}))


@pytest.fixture
async def channel(settings: Settings) -> AsyncIterator[FmChannel]:
    """The fm channel, synthesising in a worker thread."""
    ch = FmChannel(settings, Renderer(settings), speaker_from_settings(settings, processes=0))
    yield ch
    await ch.aclose()


def fm_alert(alert_id: str, **changes: object) -> Alert:
    """A live fm alert with numbers, a date and a time in its body."""
    alert = make_alert(alert_id, ("fm",), **changes)  # type: ignore[arg-type]
    return dataclasses.replace(alert, body=BODY, instruction="直ちに避難してください。")


# -- rendering --------------------------------------------------------------------


def test_the_script_has_the_chime_cue_the_city_the_body_twice_in_spoken_form(channel: FmChannel) -> None:
    script = channel.render(fm_alert("a1"), "ja").speech
    lines = script.splitlines()
    assert lines[0] == "（チャイム）" and lines[1] == "こちらは、小山市です。"
    spoken = (
        "十一月二十九日 十四時三十分、思川の水位が二点五メートルを超えました。間々田地区の千二百三十四世帯が対象です。"
    )
    assert script.count(spoken) == 2 and script.count("直ちに避難してください。") == 2
    assert script.index("繰り返します。") > script.index(spoken)
    assert not any(ch.isdigit() for ch in script)


def test_an_exercise_says_so_first_and_last(channel: FmChannel) -> None:
    lines = [line for line in channel.render(fm_alert("a1", mode=Mode.EXERCISE), "ja").speech.splitlines() if line]
    assert lines[1] == "これは、訓練放送です。" and lines[-1] == "これは、訓練放送です。"


def test_a_cancel_says_what_it_takes_back_and_not_the_old_instruction(channel: FmChannel) -> None:
    alert = dataclasses.replace(fm_alert("a2", msg_type=MsgType.CANCEL, version=2), title="【取消】a1 避難指示")
    script = channel.render(alert, "ja").speech
    assert script.count("先ほどお伝えした、次の情報を取り消します。") == 2
    assert script.count("この情報は、取り消されました。") == 2
    assert "直ちに避難" not in script and "【取消】" not in script


def test_an_alert_for_some_districts_names_them_in_both_readings_and_says_them_right(
    district_settings: Settings,
) -> None:
    renderer = FmRenderer(Renderer(district_settings))
    alert = dataclasses.replace(fm_alert("a1"), districts=("south", "west"))
    script = renderer.render(alert, "ja").speech
    said_line = "対象は、西部地区、南部地区です。"  # in config order, in words
    assert script.count(said_line) == 2
    assert script.index("避難指示。") < script.index(said_line) < script.index("繰り返します。")
    engine = checked_openjtalk(district_settings)
    heard = said(script, build(district_settings, engine), engine)
    assert sounds(heard).count("タイショーワ、セーブチク、ナンブチクデス。") == 2  # セイブ as the engine writes it
    english = renderer.render(
        dataclasses.replace(alert, translations={"en": Text("Evacuation order", "Go.", "")}), "en"
    )
    assert english.speech.count("Districts: West district, South district.") == 2  # the phrasebook's words


def test_a_whole_city_alert_names_no_districts(channel: FmChannel, district_settings: Settings) -> None:
    for script in (
        channel.render(fm_alert("a1"), "ja").speech,
        FmRenderer(Renderer(district_settings)).render(fm_alert("a1"), "ja").speech,
    ):
        assert "対象は" not in script and "地区です。" not in script


def test_a_notice_is_read_in_every_language_without_its_link(settings: Settings) -> None:
    # free text: the other languages get the phrasebook's notice, whose link nobody can follow by ear
    alert = variants.complete(fm_alert("a1"), settings)
    renderer = FmRenderer(Renderer(settings))
    message = renderer.render(alert, "ja")
    read = scripts(message)
    assert [lang for lang, _ in read] == ["ja", "ja-x-easy", *settings.fm.languages]
    for lang, script in read:
        assert "http" not in script and "{" not in script and "}" not in script, (lang, script)
    assert dict(read)["en"].count("Details in Japanese.") == 2
    assert [(f.lang, f.over) for f in renderer.fits(alert)] == [(lang, False) for lang, _ in read]


def test_a_renderer_reads_only_the_languages_it_is_given(settings: Settings) -> None:
    alert = variants.complete(fm_alert("a1"), settings)
    message = FmRenderer(Renderer(settings), ("vi",)).render(alert, "ja")
    assert [lang for lang, _ in scripts(message)] == ["ja", "ja-x-easy", "vi"]
    assert FmRenderer(Renderer(settings)).render(alert, "en").attachments == ()  # one language asked, one given


# -- sending ----------------------------------------------------------------------


async def test_send_drops_the_script_and_a_48k_mono_wav_of_the_right_length(channel: FmChannel) -> None:
    message = channel.render(fm_alert("20261129-143000-aaaaaa"), "ja")
    await channel.send(message, PUBLIC)
    txt, wav = drop_paths(channel.drop_dir, message.alert_id)
    assert txt.read_text(encoding="utf-8") == message.speech + "\n"
    samples, rate, channels, width = decode(wav.read_bytes())
    assert (rate, channels, width) == (48_000, 1, 2)
    check_chime_then_speech(samples, rate)
    chime_s, jtalk = len(channel.speaker.chime) / rate, openjtalk(channel.speaker.dictionary)
    shortest, longest = expected_seconds(jtalk, message.speech, channel.speaker.readings, chime_s)
    assert shortest <= len(samples) / rate <= longest
    assert sorted(p.name for p in channel.drop_dir.iterdir()) == [txt.name, wav.name]  # no temporary files left


async def test_resending_an_alert_airs_nothing_new(channel: FmChannel) -> None:
    message = channel.render(fm_alert("a1"), "ja")
    await channel.send(message, PUBLIC)
    before = {p.name: p.stat().st_mtime_ns for p in channel.drop_dir.iterdir()}
    await channel.send(message, PUBLIC)  # a retry, or a restart before the send was recorded
    assert {p.name: p.stat().st_mtime_ns for p in channel.drop_dir.iterdir()} == before
    # a different script for the same alert replaces the pair under the same names
    changed = dataclasses.replace(message, speech=message.speech.replace("対象です", "対象となります"))
    await channel.send(changed, PUBLIC)
    txt, wav = drop_paths(channel.drop_dir, "a1")
    assert sorted(p.name for p in channel.drop_dir.iterdir()) == ["a1.txt", "a1.wav"]
    assert "対象となります" in txt.read_text(encoding="utf-8") and wav.stat().st_mtime_ns >= before["a1.wav"]


async def test_english_goes_through_espeak_ng(channel: FmChannel) -> None:
    alert = fm_alert("a1")
    english = Text("Evacuation order", "The river is rising.", "Evacuate now.")
    alert = dataclasses.replace(alert, translations={"en": english})
    message = channel.render(alert, "en")
    assert message.speech.splitlines()[0] == "(♪)" and message.speech.count("The river is rising.") == 2
    await channel.send(message, PUBLIC)
    check_chime_then_speech(*decode(drop_paths(channel.drop_dir, "a1")[1].read_bytes())[:2])


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Message("a1", "fm", "xx", Mode.LIVE, speech="Hello."), "no voice for language 'xx'"),
        (Message("a1", "fm", "ja", Mode.LIVE, speech="（チャイム）\n。"), "nothing Open JTalk can read"),
        (Message("a1", "fm", "ja", Mode.LIVE, speech=" \n"), "script is empty"),
        (Message("../a1", "fm", "ja", Mode.LIVE, speech="こんにちは"), "cannot be a file name"),
    ],
)
async def test_what_cannot_be_said_fails_permanently_with_the_reason(
    channel: FmChannel, message: Message, reason: str
) -> None:
    with pytest.raises(PermanentError, match=reason):
        await channel.send(message, PUBLIC)
    assert not channel.drop_dir.exists() or not any(channel.drop_dir.iterdir())


async def test_a_drop_folder_that_cannot_be_written_is_transient(channel: FmChannel) -> None:
    channel.drop_dir.parent.mkdir(parents=True, exist_ok=True)
    channel.drop_dir.write_text("a file where the folder should be")
    with pytest.raises(TransientError, match="FM drop folder"):
        await channel.send(channel.render(fm_alert("a1"), "ja"), PUBLIC)


async def test_create_runs_for_real_when_open_jtalk_is_there(settings: Settings) -> None:
    ch = create(ChannelContext("fm", settings, Renderer(settings), {}))
    try:
        assert isinstance(ch, FmChannel) and ch.speaker.processes >= 1
    finally:
        await ch.aclose()


def test_create_falls_back_to_the_outbox_without_the_dictionary(site: SiteFactory, tmp_path: Path) -> None:
    settings = load_settings(site({"fm": {"dictionary": str(tmp_path / "no-dictionary")}}))
    with pytest.raises(MissingCredentials, match=r"no-dictionary \(\[fm\] dictionary\).*apt-get install"):
        create(ChannelContext("fm", settings, Renderer(settings), {}))


# -- routes -----------------------------------------------------------------------


async def air(store: SQLiteStore, channel: FmChannel, alert: Alert, sent_at: float) -> None:
    """Create, approve and send ``alert`` on fm, recording it sent at ``sent_at``."""
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    claims = await store.claim("fm", 10, time.time() + 60, time.time())
    assert [c.alert_id for c in claims] == [alert.id]
    await channel.send(channel.render(alert, "ja"), PUBLIC)
    await store.record("fm", [Outcome(claims[0].id, alert.id, DeliveryState.SENT)], sent_at)


@pytest.fixture
async def client(store: SQLiteStore, settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The FM routes on a local port."""
    app = web.Application()
    fm_feed.add_routes(app)
    fm_feed.setup(app, store, settings, Renderer(settings))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_nothing_on_air_is_a_404_and_an_empty_playlist(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/fm/latest.wav")
    assert resp.status == 404 and "No live FM announcement" in await resp.text()
    resp = await client.get("/fm/playlist.m3u")
    assert resp.status == 200 and await resp.text() == "#EXTM3U\n"


async def test_latest_and_playlist_show_live_current_versions_newest_first(
    client: TestClient[web.Request, web.Application], store: SQLiteStore, channel: FmChannel, settings: Settings
) -> None:
    now, fm = time.time(), ("fm",)  # short bodies (make_alert's): these tests are about the listing
    await air(store, channel, make_alert("old", fm), now - 50)
    await air(store, channel, make_alert("gone", fm, event_key="ev-cancel"), now - 40)
    await air(
        store, channel, make_alert("gone2", fm, event_key="ev-cancel", version=2, msg_type=MsgType.CANCEL), now - 35
    )
    await air(store, channel, make_alert("upd", fm, event_key="ev-upd"), now - 30)
    await air(store, channel, make_alert("upd2", fm, event_key="ev-upd", version=2, msg_type=MsgType.UPDATE), now - 25)
    await air(store, channel, make_alert("expired", fm, expires=now - 1), now - 20)
    two_days_ago = now - 2 * UNTIMED_ON_AIR  # an alert without an expiry leaves the air a day after it was made
    await air(store, channel, dataclasses.replace(make_alert("stale", fm), created_at=two_days_ago), two_days_ago)
    await air(store, channel, make_alert("drill", fm, mode=Mode.EXERCISE), now - 5)  # its file exists: still a drill

    resp = await client.get("/fm/latest.wav")
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav" and resp.headers["X-Alert-Id"] == "upd2"
    assert await resp.read() == (channel.drop_dir / "upd2.wav").read_bytes()

    resp = await client.get("/fm/playlist.m3u")
    assert resp.status == 200 and resp.content_type == "audio/x-mpegurl" and resp.charset == "utf-8"
    lines = (await resp.text()).splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 5
    for (info, url), alert_id in zip([lines[1:3], lines[3:5]], ["upd2", "old"], strict=True):
        samples, rate, _, _ = decode((channel.drop_dir / f"{alert_id}.wav").read_bytes())
        assert info == f"#EXTINF:{math.ceil(len(samples) / rate)},{alert_id} 避難指示"
        assert url == f"{settings.city.public_url.rstrip('/')}/fm/{alert_id}.wav"  # never the request's Host
        one = await client.get(f"/fm/{alert_id}.wav")
        assert one.status == 200 and await one.read() == (channel.drop_dir / f"{alert_id}.wav").read_bytes()

    for off_air in ("gone", "gone2", "upd", "expired", "stale", "drill", "nope"):
        resp = await client.get(f"/fm/{off_air}.wav")
        assert resp.status == 404, off_air
        await resp.release()
