"""Parsing and area matching against JMA's real documents in tests/data/jma (issue: JMA feeds, items 2–3).

Expected values in the golden table were read off the sample files themselves. Where 小山市 is not in a
sample, the row passes that file's own area codes: matching must work for any configured town.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from broadcaster.clock import JST
from broadcaster.settings import Settings
from feeds.jma.areas import AreaCodes, concerning, highest_intensity
from feeds.jma.parse import HANDLED_KINDS, IGNORED, ignored_reason, office_code_of, parse
from feeds.jma.report import Report, Scope
from feeds.jma.rivers import river_level
from feeds.jma.types import BY_CODE, TYPES, kind_of, normalise
from feeds.jma.warnings import level_in_name, warning_level
from feeds.jma.xmlsafe import RefusedDocument, is_atom_feed
from tests.paths import JMA_SAMPLES

ROOT = Path(__file__).resolve().parents[2]

SAMPLES = JMA_SAMPLES


def sample_files() -> list[Path]:
    """Every sample; a missing folder fails the run (it must never be skipped silently)."""
    if not SAMPLES.is_dir():
        raise FileNotFoundError(f"JMA samples not found at {SAMPLES}: restore tests/data/jma with git checkout")
    return sorted(SAMPLES.glob("*.xml"))


FILES = sample_files()
FEEDS = {"extra_l.xml", "eqvol.xml"}
DOCUMENTS = [f for f in FILES if f.name not in FEEDS]
OYAMA = AreaCodes(city="0920800", forecast_area="090000", earthquake_region="311", prefecture="09")


def load(name: str, source: str = "") -> Report:
    return parse((SAMPLES / name).read_bytes(), source=source)


def type_in_name(name: str) -> str:
    """The type code a sample's file name carries (…_VPWW55.xml, 2021…_0_VXSE53_270000.xml)."""
    for token in name.removesuffix(".xml").split("_"):
        if (
            len(token) == 6
            and token[:4].isalpha()
            and token[:4].isupper()
            and (token[4:].isdigit() or token[4:] == "ii")
        ):
            return token
    raise AssertionError(f"no type code in {name}")


def test_the_samples_are_all_there() -> None:
    assert len(DOCUMENTS) == 88
    assert {f.name for f in FILES} >= FEEDS


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_document_parses(path: Path) -> None:
    data = path.read_bytes()
    assert not is_atom_feed(data)
    report = parse(data, source=path.name)
    assert report.kind == type_in_name(path.name)
    assert report.sent_at.utcoffset() == timedelta(0)
    assert report.reported_at.utcoffset() == timedelta(hours=9)
    assert report.status in {"通常", "訓練", "試験"}
    assert report.info_type in {"発表", "訂正", "取消"}
    assert (ignored_reason(report) is None) == (report.kind in HANDLED_KINDS)
    for item in report.items:
        assert isinstance(item.code, str)
        assert all(isinstance(k.code, str) for k in item.kinds)
    match = concerning(report, OYAMA)
    assert match.reason
    assert match.concerns_area == bool(match.items)


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_feeds_are_recognised_as_feeds(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    assert is_atom_feed(data)
    with pytest.raises(RefusedDocument, match="Atom feed"):
        parse(data)


def test_sample_set_matches_its_readme() -> None:
    reports = [parse(p.read_bytes()) for p in DOCUMENTS]
    assert sum(r.info_type == "取消" for r in reports) == 6
    assert sum(r.info_type == "訂正" for r in reports) == 3
    assert sum(r.status == "訓練" for r in reports) == 2
    assert sum(r.info_type == "発表" and r.status == "通常" for r in reports) == 77


class Golden(NamedTuple):
    file: str
    areas: dict[str, str]  # replaces Oyama's codes
    kind: str
    status: str
    info_type: str
    event_id: str
    kinds: tuple[tuple[str, str, str], ...]  # the matched areas' (code, name, status)
    level: int | None
    max_intensity: str | None


GOLDEN = [
    # earthquakes: 小山市 itself, a town whose meter had not reported, regions, nothing to match
    Golden("32-35_06_03_240613_VXSE53.xml", {}, "VXSE53", "通常", "発表", "20080614084350",
           (("3", "震度３", ""),), None, "3"),
    Golden("32-35_06_03_240613_VXSE53.xml", {"city": "0338100"}, "VXSE53", "通常", "発表", "20080614084350",
           (("震度５弱以上未入電", "震度５弱以上未入電", ""),), None, "震度５弱以上未入電"),
    Golden("20210217140808_0_VXSE51_010000.xml", {"earthquake_region": "222"}, "VXSE51", "通常", "発表",
           "20210217230627", (("3", "震度３", ""),), None, "3"),
    Golden("32-35_01_01_100806_VXSE51.xml", {"earthquake_region": "442"}, "VXSE51", "通常", "発表", "20090811050711",
           (("6-", "震度６弱", ""),), None, "6-"),
    Golden("78_01_01_240613_VXSE62.xml", {"earthquake_region": "220"}, "VXSE62", "通常", "発表", "20201121023300",
           (("4", "震度４", ""),), None, "4"),
    Golden("20210217140847_0_VXSE52_010000.xml", {}, "VXSE52", "通常", "発表", "20210217230627", (), None, None),
    Golden("32-35_06_06_100915_VXSE53.xml", {}, "VXSE53", "通常", "取消", "20080614084350", (), None, None),
    Golden("32-35_01_02_240613_VXSE52.xml", {}, "VXSE52", "訓練", "発表", "20091001134500", (), None, None),
    # tsunami: only 津波予報区 match; 311 there is 千葉県内房, not Oyama's earthquake region 311
    Golden("20231009064018_06274659_VTSE41.xml", {"tsunami_region": "320"}, "VTSE41", "通常", "発表",
           "20231009052500", (("62", "津波注意報", ""),), None, None),
    Golden("32-39_11_02_250206_VTSE41.xml", {}, "VTSE41", "通常", "発表", "20110311144640", (), None, None),
    # 2026 (R06) per-hazard warnings
    Golden("15_17_01_250630_VPWW55.xml", {"city": "3220100"}, "VPWW55", "通常", "発表", "",
           (("03", "レベル３大雨警報", "継続"),), 3, None),
    Golden("15_17_01_250630_VPWW55.xml", {"city": "3252800"}, "VPWW55", "通常", "発表", "",
           (("10", "レベル２大雨注意報", "解除"),), None, None),
    Golden("15_17_01_250630_VPWW55.xml", {}, "VPWW55", "通常", "発表", "", (), None, None),
    Golden("15_16_03_241226_VPWW55.xml", {"city": "0121400"}, "VPWW55", "通常", "発表", "",
           (("43", "レベル４大雨危険警報", "発表"),), 4, None),
    Golden("15_17_01_250630_VPWW56.xml", {"city": "3220900"}, "VPWW56", "通常", "発表", "",
           (("49", "レベル４土砂災害危険警報", "発表"),), 4, None),
    Golden("15_16_02_250630_VPWW57.xml", {"city": "2621200"}, "VPWW57", "通常", "発表", "",
           (("08", "レベル３高潮警報", "継続"),), 3, None),
    Golden("15_16_04_250630_VPWW58.xml", {"city": "0121400"}, "VPWW58", "通常", "発表", "",
           (("05", "暴風警報", "発表"),), 3, None),
    Golden("15_16_05_241226_VPWW59.xml", {"city": "0151300"}, "VPWW59", "通常", "発表", "",
           (("", "", "発表警報・注意報はなし"),), None, None),
    Golden("15_16_07_250630_VPWW61.xml", {"city": "0121400"}, "VPWW61", "通常", "発表", "",
           (("14", "雷注意報", "発表"),), 2, None),
    # legacy warnings
    Golden("15_08_01_130412_VPWW53.xml", {"city": "2920100"}, "VPWW53", "通常", "発表", "",
           (("33", "大雨特別警報", "発表"), ("14", "雷注意報", "継続"), ("15", "強風注意報", "継続"),
            ("18", "洪水注意報", "継続")), 5, None),
    Golden("15_09_03_130826_VPWW53.xml", {"city": "3020100"}, "VPWW53", "通常", "発表", "",
           (("33", "大雨特別警報", "解除"), ("04", "洪水警報", "解除"), ("07", "波浪警報", "特別警報から警報"),
            ("15", "強風注意報", "特別警報から注意報")), 3, None),
    Golden("15_11_01_150916_VPWW54.xml", {"city": "3520100"}, "VPWW54", "通常", "発表", "",
           (("08", "高潮警報", "発表"), ("21", "乾燥注意報", "発表"), ("24", "霜注意報", "発表")), 3, None),
    # 土砂災害警戒情報
    Golden("17_01_01_190529_VXWW50.xml", {"city": "4010000"}, "VXWW50", "通常", "発表", "福岡県土砂災害警戒情報",
           (("3", "警戒", "継続"),), 4, None),
    Golden("17_01_01_190529_VXWW50.xml", {"city": "4013000"}, "VXWW50", "通常", "発表", "福岡県土砂災害警戒情報",
           (("1", "解除", "解除"),), None, None),
    Golden("17_04_01_250630_VXWW50.xml", {"city": "1420600"}, "VXWW50", "通常", "発表", "神奈川県土砂災害警戒情報",
           (("3", "警戒", "発表"),), 4, None),
    # 記録的短時間大雨情報: by 府県予報区, or by its 一次細分 when one is configured
    Golden("18_01_01_100806_VPOA50.xml", {"forecast_area": "270000"}, "VPOA50", "通常", "発表",
           "JPOS201006021154_201006021154", (("1", "記録的短時間大雨情報", "発表"),), None, None),
    Golden("18_03_01_190412_VPOA50.xml", {"forecast_area": "016000", "subdivision": "016020"}, "VPOA50", "通常", "発表",
           "JPSP201903281834_201903281953", (("0", "なし", "なし"),), None, None),
    Golden("18_01_01_100806_VPOA50.xml", {}, "VPOA50", "通常", "発表", "JPOS201006021154_201006021154", (), None, None),
    # 竜巻注意情報
    Golden("19_08_03_250630_VPHW50.xml", {"city": "1110000"}, "VPHW50", "通常", "発表", "",
           (("1", "竜巻注意情報", "発表"),), None, None),
    # rivers: towns in 浸水想定地区
    Golden("16_08_01_260312_VXKOii.xml", {"city": "1620200"}, "VXKOii", "通常", "発表", "840410000100",
           (("20", "レベル２氾濫注意報", "発表"),), 2, None),
    Golden("16_02_01_220728_VXKOii.xml", {"city": "0000000"}, "VXKOii", "通常", "発表", "123456789012",
           (("30", "氾濫警戒情報", "発表"),), 3, None),
    Golden("91_01_01_241031_VXSUii.xml", {"city": "0442400"}, "VXSUii", "通常", "発表", "8201813100",
           (("21", "レベル２氾濫注意報", ""),), 2, None),
    # 噴火警報: towns, with both the warning and the action asked of them
    Golden("45_01_01_200522_VFVO50.xml", {"city": "2032100"}, "VFVO50", "通常", "発表", "306",
           (("02", "火口周辺警報", "発表"), ("43", "火口周辺警報：入山規制等", "発表")), None, None),
]  # fmt: skip


@pytest.mark.parametrize("case", GOLDEN, ids=[f"{g.file}-{'-'.join(g.areas.values()) or 'oyama'}" for g in GOLDEN])
def test_golden(case: Golden) -> None:
    report = load(case.file)
    assert (report.kind, report.status, report.info_type, report.event_id) == (
        case.kind,
        case.status,
        case.info_type,
        case.event_id,
    )
    match = concerning(report, dataclasses.replace(OYAMA, **case.areas))
    assert tuple((k.code, k.name, k.status) for k in match.kinds) == case.kinds, match.reason
    assert match.concerns_area == bool(case.kinds)
    assert match.level == case.level
    assert match.max_intensity == case.max_intensity


R06_HAZARD_CODES = {  # the kind codes each per-hazard document may use ("" = 発表警報・注意報はなし)
    "VPWW55": {"10", "03", "43", "33"},
    "VPWW56": {"29", "09", "49", "39"},
    "VPWW57": {"19", "08", "48", "38"},
    "VPWW58": {"15", "05", "35"},
    "VPWW59": {"16", "07", "37"},
    "VPWW60": {"12", "06", "36"},
    "VPWW61": {"14", "17", "20", "21", "22", "23", "24", "25", "26", "27"},
}
R06_FILES = [p.name for p in DOCUMENTS if type_in_name(p.name) in R06_HAZARD_CODES]


@pytest.mark.parametrize("name", R06_FILES)
def test_r06_documents_speak_only_of_their_hazard(name: str) -> None:
    report = load(name)
    assert report.kind is not None
    codes = {k.code for item in report.items for k in item.kinds}
    # Another hazard's absence is not its 解除: no kind of another hazard ever appears.
    assert codes <= R06_HAZARD_CODES[report.kind] | {""}
    assert any(item.scope is Scope.CITY for item in report.items)


@pytest.mark.parametrize("name", R06_FILES)
def test_r06_levels_come_from_the_names(name: str) -> None:
    for kind in (k for item in load(name).items for k in item.kinds):
        assert len(kind.code) in (0, 2)
        if kind.active and kind.name.startswith("レベル"):
            assert kind.level == "０１２３４５".index(kind.name[3])


def test_r06_names_carry_levels() -> None:
    names = {k.name: k.level for item in load("15_16_03_241226_VPWW55.xml").items for k in item.kinds if k.active}
    assert names == {"レベル４大雨危険警報": 4, "レベル３大雨警報": 3, "レベル２大雨注意報": 2}


def test_level_tables() -> None:
    assert level_in_name("レベル５大雨特別警報") == 5
    assert level_in_name("大雨警報") is None
    assert warning_level("33", "大雨特別警報") == 5
    assert warning_level("03", "大雨警報") == 3
    assert warning_level("10", "大雨注意報") == 2
    assert warning_level("00", "解除") is None
    assert river_level("40", "氾濫危険情報") == 4
    assert river_level("50", "氾濫発生情報") == 5
    assert river_level("20", "レベル２氾濫注意報") == 2
    assert river_level("10", "氾濫注意情報解除") is None


CANCELLATIONS = [p.name for p in DOCUMENTS if parse(p.read_bytes()).info_type == "取消"]


@pytest.mark.parametrize("name", CANCELLATIONS)
def test_cancellations(name: str) -> None:
    report = load(name)
    assert report.is_cancellation and not report.is_correction
    assert "取り消します" in report.body_text
    assert not concerning(report, OYAMA).concerns_area


def test_cancellations_are_the_known_six() -> None:
    kinds = sorted(type_in_name(n) for n in CANCELLATIONS)
    assert kinds == ["VFVO52", "VTSE41", "VXSE43", "VXSE51", "VXSE52", "VXSE53"]
    minimal = [load(n) for n in CANCELLATIONS if type_in_name(n) in HANDLED_KINDS]
    assert all(r.items == () and r.quake is None for r in minimal)  # a 取消 carries nothing to reuse


@pytest.mark.parametrize(
    "name", ["24_09_01_100806_VPFD50.xml", "43_02_01_200522_VFVO52.xml", "67_01_03_140927_VFVO56.xml"]
)
def test_corrections(name: str) -> None:
    report = load(name)
    assert report.info_type == "訂正"
    assert report.is_correction and not report.is_cancellation
    assert report.title and report.reported_at
    assert ignored_reason(report)  # none of the three is a type the service acts on


def test_exercise_documents() -> None:
    exercises = {p.name for p in DOCUMENTS if parse(p.read_bytes()).is_exercise}
    assert exercises == {
        "32-35_01_02_240613_VXSE52.xml",  # Control/Status 訓練
        "32-39_12_02_250206_VTSE41.xml",  # Control/Status 訓練
        "16_01_01_220728_VXKOii.xml",  # Notice: この電文はテストサンプルです。
        "16_02_01_220728_VXKOii.xml",
        "16_03_01_220728_VXKOii.xml",
        "16_08_01_260312_VXKOii.xml",
    }
    assert load("16_08_01_260312_VXKOii.xml").notice == "この電文はテストサンプルです。"


def test_common_header() -> None:
    report = load("19_08_03_250630_VPHW50.xml")
    assert report.control_title == "竜巻注意情報"
    assert report.title == "埼玉県気象防災速報（竜巻注意）"
    assert report.sent_at == datetime(2015, 7, 17, 0, 21, tzinfo=UTC)
    assert report.reported_at == datetime(2015, 7, 17, 9, 21, tzinfo=JST)
    assert report.valid_until == datetime(2015, 7, 17, 10, 30, tzinfo=JST)
    assert report.serial == "1" and report.event_id == ""
    assert report.info_kind == "竜巻注意情報"
    r06 = load("15_17_01_250630_VPWW55.xml")
    assert r06.sent_at == datetime(2024, 11, 2, 2, 19, 27, tzinfo=UTC)
    assert r06.reported_at == datetime(2024, 11, 2, 11, 19, tzinfo=JST)
    assert r06.target_at == datetime(2024, 11, 2, 11, 19, tzinfo=JST)
    assert r06.valid_until is None
    assert r06.headline == "東部、西部では、低い土地の浸水や河川の増水に警戒して下さい。"
    assert (r06.editorial_office, r06.publishing_office, r06.info_kind_version) == (
        "松江地方気象台",
        "松江地方気象台",
        "1.5_0",
    )


def test_quake_extras() -> None:
    quake = load("20210217140847_0_VXSE52_010000.xml").quake
    assert quake is not None
    assert quake.origin_time == datetime(2021, 2, 17, 23, 6, tzinfo=JST)
    assert (quake.hypocentre, quake.hypocentre_code) == ("福島県沖", "289")
    assert (quake.magnitude, quake.magnitude_text) == ("4.5", "Ｍ４．５")
    assert quake.coordinate == "北緯３７．６度　東経１４１．６度　深さ　５０ｋｍ"
    assert quake.tsunami_comment == "この地震による津波の心配はありません。"
    unknown = load("20231009064018_06274659_VTSE41.xml").quake
    assert unknown is not None
    assert (unknown.magnitude, unknown.magnitude_text, unknown.hypocentre) == ("NaN", "Ｍ不明", "鳥島近海")
    assert unknown.tsunami_comment.startswith("＜津波注意報＞")
    big = load("32-35_06_03_240613_VXSE53.xml").quake
    assert big is not None and big.max_intensity == "6+"


def test_quake_matches_the_finest_level_carried() -> None:
    report = load("32-35_06_03_240613_VXSE53.xml")
    region = next(i for i in report.items if i.scope is Scope.EARTHQUAKE_REGION and i.code == "311")
    assert region.intensity == "4"  # 栃木県南部 as a whole saw 4 …
    match = concerning(report, OYAMA)
    assert [(i.code, i.name, i.intensity) for i in match.items] == [("0920800", "小山市", "3")]  # … Oyama saw 3


def test_river_extras() -> None:
    river = load("16_08_01_260312_VXKOii.xml").river
    assert river is not None
    assert (river.name, river.code, river.section, river.section_code) == (
        "小矢部川",
        "8404100001",
        "小矢部川",
        "840410000100",
    )
    assert [s.name for s in river.stations] == ["石動", "長江"]
    assert river.flood_cities == ("1620900", "1621000", "1620800", "1620200", "1621100")
    assert {a.station for a in river.flood_areas if a.city_code == "1620200"} == {"石動", "長江"}
    assert river.texts[0].startswith("【警戒レベル２】石動基準観測所")
    assu = load("91_01_01_241031_VXSUii.xml").river
    assert assu is not None
    assert assu.flood_cities == ("0442100", "0442400")  # 大和町東部・西部 are both 大和町
    assert {a.station for a in assu.flood_areas} == {"塩浪"}


def test_volcano_extras() -> None:
    volcano = load("45_01_01_200522_VFVO50.xml").volcano
    assert volcano is not None
    assert (volcano.name, volcano.code, volcano.alert, volcano.alert_code, volcano.change) == (
        "浅間山",
        "306",
        "レベル３（入山規制）",
        "13",
        "引上げ",
    )


def test_heat_alert_matches_by_the_issuing_office() -> None:
    saitama = AreaCodes("1110000", "110000", "331", "11")
    assert not concerning(load("57_03_01_240401_VPFT50.xml"), saitama).concerns_area
    url = "https://www.data.jma.go.jp/developer/xml/data/20240811050000_0_VPFT50_110000.xml"
    report = load("57_03_01_240401_VPFT50.xml", source=url)
    assert report.office_code == "110000"
    match = concerning(report, saitama)
    assert match.concerns_area
    assert [(i.code, i.name) for i in match.items] == [("110000", "埼玉県")]
    assert [k.name for k in match.kinds] == ["熱中症警戒アラート"]
    assert not concerning(report, OYAMA).concerns_area


def test_office_code_of() -> None:
    assert office_code_of("20220714073035_0_VPWW53_090000.xml") == "090000"
    assert office_code_of("https://x/developer/xml/data/20210216071046_0_VXSE53_270000.xml") == "270000"
    assert office_code_of("15_17_01_250630_VPWW55.xml") == ""
    assert office_code_of("") == ""


def test_kinds_and_reasons(settings: Settings) -> None:
    assert set(settings.jma.types) == HANDLED_KINDS  # the poller's default types are exactly what we parse
    assert set(IGNORED) <= set(BY_CODE) - HANDLED_KINDS  # reasons only for listed types the service ignores
    assert set(BY_CODE) >= HANDLED_KINDS
    eew = load("37_01_01_240613_VXSE43.xml")
    assert ignored_reason(eew) == f"VXSE43 緊急地震速報（警報）: recognised, ignored by policy ({IGNORED['VXSE43']})"


def test_unknown_title_and_info_kind_give_no_kind() -> None:
    data = (SAMPLES / "18_01_01_100806_VPOA50.xml").read_bytes()
    data = data.replace("記録的短時間大雨情報</Title>".encode(), "新しい情報</Title>".encode(), 1)
    data = data.replace(
        "<InfoKind>記録的短時間大雨情報</InfoKind>".encode(), "<InfoKind>新しい種類</InfoKind>".encode()
    )
    report = parse(data, source="新しい情報.xml")
    assert report.kind is None
    assert report.items == ()
    assert ignored_reason(report) == "unknown document type 「新しい情報」"
    assert not concerning(report, OYAMA).concerns_area


def test_a_renamed_title_is_still_recognised_by_its_info_kind() -> None:
    data = (SAMPLES / "18_01_01_100806_VPOA50.xml").read_bytes()
    report = parse(
        data.replace("記録的短時間大雨情報</Title>".encode(), "記録的短時間大雨情報（Ｒ０８）</Title>".encode(), 1)
    )
    assert report.kind == "VPOA50"
    assert report.items  # parsed as what it is


def test_an_r06_title_with_a_new_prefix_is_recognised_by_its_hazard() -> None:
    data = (SAMPLES / "15_17_01_250630_VPWW55.xml").read_bytes()
    renamed = data.replace(
        "気象警報・注意報（Ｒ０６）（大雨）</Title>".encode(), "気象警報・注意報（Ｒ０８）（大雨）</Title>".encode(), 1
    )
    assert renamed != data
    assert parse(renamed).kind == "VPWW55"


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("気象警報・注意報(R06)(大雨)", "VPWW55"),  # half width
        ("気象警報・注意報　（Ｒ０６）　（土砂）", "VPWW56"),  # spaces, ideographic too
        ("気象警報・注意報［Ｒ０６］【高潮】", "VPWW57"),  # other brackets
        ("特別警報報知", "VPNO50"),  # the title before 気象特別警報報知
        ("府県高温注意情報", "VPFT50"),  # the title before 熱中症警戒アラート
        ("津波警報・注意報・予報", "VTSE41"),  # without the "a"
        ("津波警報・注意報・予報Ａ", "VTSE41"),  # full-width A
        ("緊急地震速報テスト", "VXSE42"),
        ("台風解析・予報情報（３日予報）", "VPTWii"),
    ],
)
def test_titles_are_normalised_and_known_variants_recognised(title: str, kind: str) -> None:
    assert kind_of(title) == kind


def test_every_listed_type_is_recognised_by_its_code_and_title() -> None:
    data_url = "https://www.data.jma.go.jp/developer/xml/data/20250101000000_0_{}_010000.xml"
    for t in TYPES:
        assert kind_of("", "", data_url.format(t.code.replace("ii", "52"))) == t.code
        if t.code != "VYSE52":  # shares its title with VYSE51
            assert kind_of(t.title) == t.code, t
    assert normalise("ＡＢ（１） ２") == "ab(1)2"


def test_a_listed_type_the_service_ignores_is_recognised_by_name() -> None:
    data = (SAMPLES / "18_01_01_100806_VPOA50.xml").read_bytes()
    data = data.replace("記録的短時間大雨情報</Title>".encode(), "府県天気概況</Title>".encode(), 1)
    data = data.replace(
        "<InfoKind>記録的短時間大雨情報</InfoKind>".encode(), "<InfoKind>府県天気概況</InfoKind>".encode()
    )
    report = parse(data)
    assert report.kind == "VPFG50"
    reason = ignored_reason(report)
    assert reason == "VPFG50 府県天気概況: recognised, ignored by policy (not a type this service acts on)"
    assert "unknown" not in reason


def test_split_municipalities_belong_to_the_whole() -> None:
    yokohama = AreaCodes("1410000", "140000", "351", "14")
    match = concerning(load("17_04_01_250630_VXWW50.xml"), yokohama)
    assert [i.name for i in match.items] == ["横浜市北部", "横浜市南部"]


def test_highest_intensity() -> None:
    assert highest_intensity(["3", "5-", "4", None]) == "5-"
    assert highest_intensity(["5+", "震度５弱以上未入電"]) == "5+"
    assert highest_intensity(["5-", "震度５弱以上未入電"]) == "5-"
    assert highest_intensity(["震度５弱以上未入電", "4"]) == "震度５弱以上未入電"
    assert highest_intensity([None, "?"]) is None


def test_codes_from_settings(settings: Settings) -> None:
    assert AreaCodes.of(settings.areas) == OYAMA
