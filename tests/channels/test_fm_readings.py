"""FM says every place of the city right: each 町・大字 of Japan Post's data, each district, [fm.readings].

Checked through the speech engine's own reading (Open JTalk's g2p in katakana), the path `run.py fm
reading` takes, and compared as readings sound: the postal data writes ジョウトウ, the engine says ジョートー.
"""

from __future__ import annotations

import pytest

from broadcaster import districts
from broadcaster.settings import Settings, load_settings
from channels.fm.readings import FRAMES, build, katakana, reads_right, said, sounds, town_readings
from channels.fm.speech import OpenJTalk, checked_openjtalk, speaker_from_settings
from channels.fm.spoken import Readings
from tests.conftest import SiteFactory
from tests.paths import ROOT

# Sentences each town is checked in, beside the ones the table is built from (FRAMES): each names a
# place, so a town that is also a word (平和) must be read as the town in all of them.
PLACE_FRAMES = (
    ("", "", "", ""),
    ("", "付近", "", "フキン"),
    ("小山市", "の", "オヤマシ", "ノ"),
    ("大字", "で", "オーアザ", "デ"),
    ("", "周辺の皆さん", "", "シューヘンノミナサン"),
    ("住民は", "へ避難", "ジューミンワ", "エヒナン"),
    ("", "二丁目に避難指示が出ました", "", "ニチョーメニヒナンシジガデマシタ"),
)
# Sentences that do not say the name is a place: a town that is no word must still be read right
OTHER_FRAMES = (
    ("", "に避難指示が出ました", "", "ニヒナンシジガデマシタ"),
    ("", "で浸水", "", "デシンスイ"),
)
EVERY_FRAME = PLACE_FRAMES + FRAMES + OTHER_FRAMES
# towns the dictionary knows as ordinary words (小山 is not one: default.toml reads it おやま everywhere)
PLACE_ONLY = {"網戸", "白鳥", "立木", "平和", "梁", "鏡"}


@pytest.fixture(scope="module")
def oyama(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Oyama as config/default.toml has it (the eleven districts and the default [fm.readings])."""
    site = tmp_path_factory.mktemp("oyama") / "site.toml"
    site.write_text("# defaults only\n", encoding="utf-8")
    return load_settings(site)


@pytest.fixture(scope="module")
def engine(oyama: Settings) -> OpenJTalk:
    """Open JTalk over the configured dictionary."""
    return checked_openjtalk(oyama)


@pytest.fixture(scope="module")
def table(oyama: Settings, engine: OpenJTalk) -> Readings:
    """The readings FM uses for Oyama."""
    return build(oyama, engine)


def misread(
    name: str, kana: str, frames: tuple[tuple[str, str, str, str], ...], table: Readings, engine: OpenJTalk
) -> list[str]:
    """The sentences in which FM says ``name`` otherwise than ``kana``, with what it says there."""
    wrong = []
    for before, after, before_kana, after_kana in frames:
        heard = said(before + name + after, table, engine)
        if sounds(heard) != sounds(before_kana + kana + after_kana):
            wrong.append(f"{before}{name}{after}: {heard}")
    return wrong


def test_every_town_of_the_city_is_said_as_the_postal_data_reads_it(
    oyama: Settings, table: Readings, engine: OpenJTalk
) -> None:
    towns = districts.town_index(oyama).towns
    assert len(towns) > 100  # Japan Post lists about 111 町・大字 for 小山市
    wrong: dict[str, list[str]] = {}
    for town in towns:
        # a town that is also a word is read as the town where the text names a place; any other, everywhere
        frames = PLACE_FRAMES if town.name in table.as_places else EVERY_FRAME
        found = misread(town.name, town.kana, frames, table, engine)
        if found:
            wrong[f"{town.name} ({town.kana})"] = found
    assert not wrong, wrong


def test_another_citys_towns_are_all_said_right_too(engine: OpenJTalk) -> None:
    tochigi = load_settings(ROOT / "config" / "example-other-town.toml")
    table = build(tochigi, engine)
    frames = tuple(f for f in EVERY_FRAME if f[0] != "小山市")
    towns = districts.town_index(tochigi).towns
    assert len(towns) > 100
    wrong = {t.name: misread(t.name, t.kana, frames, table, engine) for t in towns if t.name not in table.as_places}
    assert not {name: found for name, found in wrong.items() if found}
    # 岩舟町静 has a reading, and so has 岩舟町静戸, which the engine says right alone but not once 静 is read しずか
    assert "岩舟町静" in table.everywhere and "岩舟町静戸" in table.everywhere


def test_a_town_has_a_reading_only_where_the_engine_needs_it(
    oyama: Settings, table: Readings, engine: OpenJTalk
) -> None:
    towns = town_readings(oyama, engine)
    given = [t for t in towns if t.reading]
    assert 10 < len(given) < len(towns)  # most towns the engine reads right on its own
    for town in given:  # without its reading, each of them is misread somewhere: none is there for nothing
        everywhere = {k: v for k, v in table.everywhere.items() if k != town.name}
        as_places = {k: v for k, v in table.as_places.items() if k != town.name}
        dropped = Readings(everywhere, as_places, table.places, table.prefixes)
        assert not reads_right(town.name, town.kana, dropped, engine), town.name
    for common in ("暁", "乙女", "扶桑", "小袋"):  # words the engine already says as the town is said
        assert common not in table.everywhere and common not in table.as_places


def test_towns_that_are_also_words_are_read_as_towns_only_where_the_text_names_a_place(table: Readings) -> None:
    assert set(table.as_places) == PLACE_ONLY
    assert sounds(table.as_places["平和"]) == "ヒラワ" and sounds(table.as_places["梁"]) == "ヤナ"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("世界の平和を守ります", "セカイノヘーワヲマモリマス"),
        ("橋梁付近を点検しています", "キョーリョーフキンヲテンケンシテイマス"),  # 梁 ends a longer word
        ("梁が落下しました", "ハリガラッカシマシタ"),
        ("網戸を閉めてください", "アミドヲシメテクダサイ"),
        ("立木が倒れるおそれがあります", "タチキガタオレルオソレガアリマス"),
        ("白鳥が飛来しました", "ハクチョーガヒライシマシタ"),
        ("網戸・平和・梁に避難指示", "アジト・ヒラワ・ヤナニヒナンシジ"),  # a list of places
        ("小山市平和1丁目", "オヤマシヒラワイッチョーメ"),  # an address
        ("大字梁の皆さん", "オーアザヤナノミナサン"),
        ("鏡を見てください", "カガミヲミテクダサイ"),
        ("小山市鏡の皆さん", "オヤマシカガミノミナサン"),  # the engine alone says 小山市鏡 キョー
        ("平和地区、白鳥付近", "ヒラワチク、シラトリフキン"),
        ("小山駅に向かってください", "オヤマエキニムカッテクダサイ"),  # [fm.readings]: the city's name everywhere
        ("小山高校に避難", "オヤマコーコーニヒナン"),
    ],
)
def test_a_word_that_is_also_a_town_keeps_its_own_reading_in_ordinary_text(
    table: Readings, engine: OpenJTalk, text: str, says: str
) -> None:
    assert said(text, table, engine) == says


def test_every_district_is_said_with_its_reading(
    oyama: Settings, district_settings: Settings, table: Readings, engine: OpenJTalk
) -> None:
    assert len(oyama.districts) == 11
    for d in oyama.districts:
        assert not misread(d.name, katakana(d.reading), EVERY_FRAME, table, engine), d.name
    example = build(district_settings, engine)
    for d in district_settings.districts:
        assert not misread(d.name, katakana(d.reading), PLACE_FRAMES + OTHER_FRAMES, example, engine), d.name


def test_fm_readings_in_the_config_win_over_the_postal_data(site: SiteFactory, engine: OpenJTalk) -> None:
    # made up for the test: the postal data says ヒトトノヤ; a site's [fm.readings] is what FM says
    settings = load_settings(site({"fm.readings": {'"神鳥谷"': "ひととりや", '"平和"': "ひらわ"}}))
    table = build(settings, engine)
    assert said("神鳥谷に避難指示", table, engine) == "ヒトトリヤニヒナンシジ"
    # a name written there is read so everywhere, also where it could be the word
    assert said("平和へ", table, engine) == "ヒラワエ" and "平和" not in table.as_places


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("ジョウトウ", "ジョートー"),
        ("イイヅカ", "イーズカ"),
        ("シンメイチョウ", "シンメーチョー"),
        ("オオモト", "オーモト"),
        ("ダイギョウジ", "ダイギョージ"),
        ("ほづみちく", "ホズミチク"),
        ("アワノミヤ", "アワノミヤ"),
    ],
)
def test_readings_compare_as_they_sound(written: str, spoken: str) -> None:
    assert sounds(written) == sounds(spoken) == spoken


@pytest.mark.parametrize(
    ("one", "other"), [("イデイ", "デイ"), ("ハサマダ", "ワサマダ"), ("ヒラワ", "ヘーワ"), ("コヤマ", "オヤマ")]
)
def test_different_readings_stay_different(one: str, other: str) -> None:
    assert sounds(one) != sounds(other)


def test_the_speaker_reads_with_this_table(oyama: Settings, table: Readings) -> None:
    assert speaker_from_settings(oyama, processes=0).readings is table  # built once, for the city and its config
