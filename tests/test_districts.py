"""The city's districts: towns from Japan Post's data, the config's checks, names in words, outlines."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from broadcaster import districts, geometry, towns
from broadcaster.errors import ConfigError, InputError
from broadcaster.models import Alert, AlertState, ContactKind, Mode, MsgType, Source, Subscriber
from broadcaster.settings import Settings, load_settings
from broadcaster.store import sql_journal
from broadcaster.store.schema import MIGRATIONS
from broadcaster.store.sqlite import SQLiteStore
from tests.conftest import EXAMPLE_DISTRICTS

OYAMA = "09208"


# -- towns from the postal data ---------------------------------------------------


def test_every_town_of_the_city_comes_with_its_kana() -> None:
    place = towns.municipality(OYAMA)
    assert (place.prefecture, place.name) == ("栃木県", "小山市")
    by_name = {t.name: t for t in place.towns}
    # the postal data lists 112 codes for the city: one is its catch-all, and 神鳥谷 has two (丁目 and 番地)
    assert len(by_name) == 111
    assert by_name["神鳥谷"].kana == "ヒトトノヤ" and len(by_name["神鳥谷"].postal_codes) == 2
    assert by_name["間々田"].kana == "ママダ"
    assert by_name["網戸"].kana == "アジト"
    assert all(t.kana and t.postal_codes for t in place.towns)


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("間々田", "間々田"),
        ("栃木県小山市大字間々田1234", "間々田"),
        ("小山市城東3-1-1", "城東"),
        ("小山市 城東３丁目", "城東"),
        ("雨ヶ谷新田５", "雨ケ谷新田"),  # the small ヶ residents type; the longer name wins over 雨ケ谷
        ("雨ケ谷町", "雨ケ谷町"),
        ("小山1-2", "小山"),  # the town 小山 in the city 小山市
        ("〒323-0034", "神鳥谷"),
        ("３２３－００３４", "神鳥谷"),
        ("3230000", None),  # the city's catch-all code names no town
        ("小山市", None),
        ("東京都千代田区", None),
        ("", None),
    ],
)
def test_an_address_a_town_or_a_postal_code_finds_its_town(text: str, town: str | None) -> None:
    found = towns.index(OYAMA).find(text)
    assert (found.name if found else None) == town


def test_an_unknown_municipality_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="knows no municipality 99999"):
        towns.municipality("99999")


# -- the config's checks ------------------------------------------------------------


def district(id_: str, name: str, towns_: list[str], geometry_: str = "") -> str:
    return (
        f'[[districts]]\nid = "{id_}"\nname = "{name}"\nreading = "てすと"\nname_en = "Test"\n'
        f"towns = {json.dumps(towns_, ensure_ascii=False)}\ngeometry = {json.dumps(geometry_)}\n\n"
    )


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_the_example_districts_load_with_their_outlines() -> None:
    settings = load_settings(EXAMPLE_DISTRICTS)
    assert [d.id for d in settings.districts] == ["east", "west", "south", "north"]
    assert [len(d.rings) for d in settings.districts] == [1, 1, 1, 0]
    assert settings.district("south") is not None and "間々田" in settings.district("south").towns  # type: ignore[union-attr]


def test_oyama_defaults_name_eleven_districts_and_no_towns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    settings = load_settings()
    assert len(settings.districts) == 11
    assert all(not d.towns and not d.geometry for d in settings.districts)  # never invented: the city's data sets them


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            district("a", "甲地区", []) + district("a", "乙地区", []),
            "districts.1 (乙地区): id 'a' is already the id of 甲地区",
        ),
        (district("a", "甲地区", ["間々田", "東京"]), "districts.0 (甲地区).towns: '東京' is no 町・大字 of 小山市"),
        (
            district("a", "甲地区", ["間々田"]) + district("b", "乙地区", ["乙女", "間々田"]),
            "districts.1 (乙地区).towns: 間々田 is already in 甲地区",
        ),
        (
            district("a", "甲地区", ["雨ヶ谷"]),
            "districts.0 (甲地区).towns: write '雨ヶ谷' as Japan Post's data does: '雨ケ谷'",
        ),
        (district("A", "甲地区", []), "districts.0.id"),
        (district("a", "甲地区", [], "nowhere.geojson"), "甲地区 (a): geometry: cannot read"),
    ],
    ids=["duplicate-id", "unknown-town", "town-twice", "postal-spelling", "bad-id", "missing-geometry"],
)
def test_a_bad_district_stops_start_up_naming_it(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"type": "Point", "coordinates": [139.8, 36.3]}', "a district is a Polygon or MultiPolygon"),
        ('{"type": "Polygon", "coordinates": [[[139.8, 36.3], [139.9, 36.3], [139.8, 36.3]]]}', "at least four"),
        (
            '{"type": "Polygon", "coordinates": [[[139.8, 36.3], [139.9, 36.3], [139.9, 36.4], [139.8, 36.4]]]}',
            "end where",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[239.8, 36.3], [139.9, 36.3], [139.9, 36.4], [239.8, 36.3]]]}',
            "outside",
        ),
        ('{"type": "Polygon", "coordinates": [[["a", 36.3]]]}', "is not a [longitude, latitude] position"),
        ('{"type": "FeatureCollection", "features": []}', "holds no Polygon"),
    ],
    ids=["not-json", "point", "too-few", "open-ring", "out-of-range", "not-numbers", "empty"],
)
def test_an_invalid_outline_is_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "d.geojson").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, district("a", "甲地区", [], str(tmp_path / "d.geojson")))
    assert "甲地区 (a): geometry:" in str(caught.value) and message in str(caught.value)


def test_a_multipolygon_gives_each_outer_ring(tmp_path: Path) -> None:
    square = [[139.80, 36.30], [139.81, 36.30], [139.81, 36.31], [139.80, 36.31], [139.80, 36.30]]
    hole = [[139.802, 36.302], [139.803, 36.302], [139.803, 36.303], [139.802, 36.302]]
    other = [[p[0] + 0.1, p[1]] for p in square]
    doc = {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[square, hole], [other]]}}
    (tmp_path / "d.geojson").write_text(json.dumps(doc), encoding="utf-8")
    rings = geometry.load(tmp_path / "d.geojson")
    assert len(rings) == 2 and rings[0][0] == (139.80, 36.30) and rings[1][0] == (139.90, 36.30)


# -- names in words, and where a town is -----------------------------------------------


def test_districts_are_named_in_words_in_config_order(district_settings: Settings) -> None:
    s = district_settings
    assert districts.names(("south", "east"), s) == "東部地区、南部地区"
    assert districts.names(("south", "east"), s, "en") == "East district, South district"
    assert districts.names((), s) == "小山市" and districts.names((), s, "en") == "Oyama City"
    assert districts.short(("south", "east", "west"), s) == "市内3地区"
    assert districts.short(("south", "east", "west"), s, "en") == "3 districts of Oyama City"
    assert districts.short(("west",), s) == "西部地区"


def test_unknown_ids_are_refused_naming_the_valid_ones(district_settings: Settings) -> None:
    assert districts.check_ids(["west", " east ", "west", ""], district_settings) == ("east", "west")
    with pytest.raises(InputError) as caught:
        districts.check_ids(["east", "mamada"], district_settings)
    assert caught.value.code == "unknown_district"
    assert "unknown district mamada; valid: east, west, south, north" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "town", "district"),
    [
        ("小山市大字間々田100", "間々田", "south"),
        ("〒323-0034", "神鳥谷", "west"),
        ("城北２丁目", "城北", "north"),
        ("網戸", "網戸", None),  # a town of the city that no district lists
    ],
)
def test_a_town_or_an_address_finds_its_district(
    district_settings: Settings, text: str, town: str, district: str | None
) -> None:
    place = districts.locate(text, district_settings)
    assert place is not None and place.town.name == town
    assert (place.district.id if place.district else None) == district


# -- outlines for CAP and for the console's map -----------------------------------------


def test_cap_polygons_are_latitude_first_and_closed(district_settings: Settings) -> None:
    ring = district_settings.districts[0].rings[0]
    text = geometry.cap_polygon(ring)
    pairs = text.split(" ")
    assert pairs[0] == pairs[-1] == f"{ring[0][1]:.6f},{ring[0][0]:.6f}"
    assert len(pairs) == len(ring) >= 4


def test_the_svg_outline_fits_its_box(district_settings: Settings) -> None:
    rings = [r for d in district_settings.districts for r in d.rings]
    path = geometry.svg_path(rings, geometry.fitted(geometry.bounds(rings), 300, 200))
    numbers = [
        float(n) for part in path.replace("M", " ").replace("L", " ").replace("Z", " ").split() for n in part.split(",")
    ]
    xs, ys = numbers[0::2], numbers[1::2]
    assert min(xs) >= 0 and max(xs) <= 300.01 and min(ys) >= 0 and max(ys) <= 200.01
    assert path.count("M") == 3 and path.count("Z") == 3


# -- the store ---------------------------------------------------------------------------


async def test_a_store_from_before_districts_keeps_its_subscribers_on_the_whole_city(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.create_function(sql_journal.HASH_FUNCTION, 8, sql_journal.entry_hash, deterministic=True)
    for script in MIGRATIONS[:12]:  # the schema as it was before districts (migration 13)
        conn.executescript(script)
    conn.execute(
        "INSERT INTO subscribers (channel, contact, language, state, created_at, updated_at) "
        "VALUES ('email', 'a@example.jp', 'ja', 'active', 1, 1)"
    )
    conn.execute("PRAGMA user_version = 12")
    conn.commit()
    conn.close()
    store = await SQLiteStore.open(db)
    try:
        stored = await store.get_subscriber_by_id(1)
        assert stored is not None and stored.districts == frozenset()
        assert await store.district_counts() == {"": 1}
        await store.save_subscriber(
            Subscriber(0, ContactKind.LINE, "U" + "0" * 32, frozenset({"disaster"}), districts=frozenset({"east"}))
        )
        assert await store.district_counts() == {"": 1, "east": 1}
    finally:
        await store.aclose()


async def test_a_sources_next_report_for_other_districts_still_reaches_whoever_was_about_to_hear(
    district_settings: Settings,
) -> None:
    store = await SQLiteStore.open(district_settings.path(district_settings.storage.path))
    try:
        south = await store.save_subscriber(
            Subscriber(
                0, ContactKind.EMAIL, "south@example.jp", frozenset({"disaster"}), districts=frozenset({"south"})
            )
        )
        west = await store.save_subscriber(
            Subscriber(0, ContactKind.EMAIL, "west@example.jp", frozenset({"disaster"}), districts=frozenset({"west"}))
        )
        first = Alert(
            id="r1", source=Source.JMA, category="disaster", level=4, title="洪水", body="b", channels=("email",),
            mode=Mode.LIVE, districts=("south",), event_key="river", state=AlertState.DRAFT,
        )  # fmt: skip
        assert await store.create_alert(first, "jma", "test", approve=True) == {"email": 1}
        # the next 報 names another district while the first is still queued for the south resident
        second = dataclasses.replace(first, id="r2", version=2, msg_type=MsgType.UPDATE, districts=("west",))
        assert await store.create_alert(second, "jma", "test", approve=True) == {"email": 2}
        rows = (
            sqlite3.connect(store.path)
            .execute("SELECT alert_id, recipient, state FROM deliveries ORDER BY alert_id, recipient")
            .fetchall()
        )
        assert rows == [("r1", south.id, "superseded"), ("r2", south.id, "pending"), ("r2", west.id, "pending")]
    finally:
        await store.aclose()


async def test_districts_past_the_masks_63_bits_are_planned_all_the_same(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "many.db")
    try:
        ids = {}
        for i in range(66):  # a city of many small districts: d63 to d65 get no bit in the mask
            ids[f"d{i}"] = await store.save_subscriber(
                Subscriber(
                    0, ContactKind.EMAIL, f"r{i}@example.jp", frozenset({"disaster"}), districts=frozenset({f"d{i}"})
                )
            )
        everywhere = await store.save_subscriber(
            Subscriber(0, ContactKind.EMAIL, "all@example.jp", frozenset({"disaster"}))
        )
        both = await store.save_subscriber(
            Subscriber(
                0, ContactKind.EMAIL, "two@example.jp", frozenset({"disaster"}), districts=frozenset({"d1", "d65"})
            )
        )
        assert len(sqlite3.connect(store.path).execute("SELECT * FROM district_bits").fetchall()) == 63
        alert = Alert(
            id="many", source=Source.STAFF, category="disaster", level=3, title="t", body="b", channels=("email",),
            mode=Mode.LIVE, districts=("d0", "d62", "d63", "d65"), event_key="many", state=AlertState.DRAFT,
        )  # fmt: skip
        assert await store.create_alert(alert, "sato", "test", approve=True) == {"email": 6}
        planned = {r[0] for r in sqlite3.connect(store.path).execute("SELECT recipient FROM deliveries")}
        expected = {ids[d].id for d in ("d0", "d62", "d63", "d65")} | {everywhere.id, both.id}
        assert planned == expected
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("districts_", "mode", "channels"),
    [
        ((), Mode.LIVE, ("email", "line", "website")),
        (("east",), Mode.LIVE, ("email", "line", "website", "fm")),
        (("west", "south"), Mode.EXERCISE, ("email", "line")),
        (("north",), Mode.LIVE, ("line",)),  # nobody in the north uses LINE: the channel is left out
    ],
)
async def test_a_new_alerts_reach_is_counted_exactly_as_approval_plans_it(
    district_settings: Settings, districts_: tuple[str, ...], mode: Mode, channels: tuple[str, ...]
) -> None:
    store = await SQLiteStore.open(district_settings.path(district_settings.storage.path))
    try:
        homes = [frozenset(), frozenset({"east"}), frozenset({"west", "south"}), frozenset({"north"})]
        for i in range(40):
            kind = ContactKind.LINE if i % 3 == 0 and i % 4 != 3 else ContactKind.EMAIL
            contact = f"U{i:032x}" if kind == ContactKind.LINE else f"r{i}@example.jp"
            await store.save_subscriber(
                Subscriber(0, kind, contact, frozenset({"disaster"}), tester=i % 5 == 0, districts=homes[i % 4])
            )
        alert = Alert(
            id="new", source=Source.STAFF, category="disaster", level=3, title="t", body="b", channels=channels,
            mode=mode, districts=districts_, event_key="new", state=AlertState.DRAFT,
        )  # fmt: skip
        counted = await store.reach(alert)  # not stored: counted, nothing written
        assert sqlite3.connect(store.path).execute("SELECT count(*) FROM alerts").fetchone() == (0,)
        assert counted == await store.create_alert(alert, "sato", "test", approve=True)
    finally:
        await store.aclose()
