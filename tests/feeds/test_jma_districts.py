"""JMA-derived alerts target districts only where the document names finer areas the config places.

No real JMA document names a 町 of 小山市, so the river documents here are derived from JMA's 2026
sample (tests/data/jma/derived/README.md says what was changed). The districts are the tests' made-up
ones (config/example-districts.toml: east, west, south, north) or Oyama's defaults (no towns yet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster import towns
from broadcaster.districts import town_index
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import AlertState, MsgType
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from feeds.jma.areas import AreaCodes
from feeds.jma.ingest import Handled, JmaIngest
from feeds.jma.parse import parse
from feeds.jma.targets import names_in, place, target
from tests.feeds.test_cli_jma import assert_no_traceback, inspect, one_json
from tests.feeds.test_ingest import AGELESS
from tests.paths import JMA_SAMPLES

SiteFactory = Callable[..., Path]
DERIVED = JMA_SAMPLES / "derived"
TOWNS = "16_08_01_260312_VXKOii_oyama_towns.xml"  # 間々田、東間々田、乙女 粟宮 / 城東地区、犬塚地区
UNPLACED = "16_08_01_260312_VXKOii_oyama_unplaced.xml"  # … 中河原, a 町 of Oyama in no example district
WHOLE = "16_08_01_260312_VXKOii_oyama_whole.xml"  # 小山市 with SubCityList 「-」
NEXT = "16_08_01_260312_VXKOii_oyama_next.xml"  # the next 報 of TOWNS: 城西、神鳥谷 / 西城南


def derived(name: str) -> bytes:
    """A derived test document; fails, never skips, when it is missing."""
    path = DERIVED / name
    assert path.is_file(), f"{path} is missing: tests/data/jma/derived is part of the repository"
    return path.read_bytes()


@pytest.fixture
def districted(site: SiteFactory) -> Settings:
    """The example districts, with no age limit to speak of (the samples are years old)."""
    return load_settings(site(AGELESS, districts=True))


@pytest.fixture
def oyama(site: SiteFactory) -> Settings:
    """Oyama's default districts (names only, no towns yet), with no age limit to speak of."""
    return load_settings(site(AGELESS))


async def issue(store: SQLiteStore, settings: Settings, *names: str) -> list[Handled]:
    """Hand derived documents to the pipeline in order; each makes an alert."""
    ingest = JmaIngest(Lifecycle(store, settings))
    handled = [await ingest.handle(name, derived(name)) for name in names]
    assert all(h.alert_id for h in handled), handled
    return handled


async def districts_of(store: SQLiteStore, handled: Handled) -> tuple[str, ...]:
    """The districts of the alert a document made."""
    assert handled.alert_id
    alert = await store.get_alert(handled.alert_id)
    assert alert is not None
    return alert.districts


async def test_a_river_document_naming_towns_targets_their_districts(store: SQLiteStore, districted: Settings) -> None:
    [handled] = await issue(store, districted, TOWNS)
    assert await districts_of(store, handled) == ("east", "south")  # config order, each once
    assert "東部地区、南部地区" in handled.reason


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (UNPLACED, "no configured district holds 中河原"),  # one 町 unplaced: nobody may miss it
        (WHOLE, "names the whole city"),  # the municipality only
    ],
)
async def test_a_document_the_districts_cannot_hold_stays_city_wide(
    store: SQLiteStore, districted: Settings, name: str, why: str
) -> None:
    [handled] = await issue(store, districted, name)
    assert await districts_of(store, handled) == ()
    assert why in handled.reason


async def test_with_oyamas_default_districts_the_towns_stay_city_wide(store: SQLiteStore, oyama: Settings) -> None:
    assert oyama.districts and not any(d.towns for d in oyama.districts)  # names and readings, no towns yet
    [handled] = await issue(store, oyama, TOWNS)
    assert await districts_of(store, handled) == ()
    assert "no configured district holds 間々田" in handled.reason


async def test_the_next_report_targets_what_it_names_and_a_cancel_what_it_retracts(
    store: SQLiteStore, districted: Settings
) -> None:
    first, second = await issue(store, districted, TOWNS, NEXT)
    assert await districts_of(store, second) == ("west",)
    assert second.alert_id
    update = await store.get_alert(second.alert_id)
    assert update is not None
    assert update.msg_type == MsgType.UPDATE and update.references == first.alert_id
    # a 取消 of the next 報 (derived here: the same document as 取消) keeps the districts it retracts
    cancel = derived(NEXT).replace("<InfoType>発表</InfoType>".encode(), "<InfoType>取消</InfoType>".encode())
    retracted = await JmaIngest(Lifecycle(store, districted)).handle("derived-cancel_VXKOii.xml", cancel)
    assert retracted.decision == "auto" and retracted.alert_id, retracted
    retraction = await store.get_alert(retracted.alert_id)
    assert retraction is not None
    assert retraction.msg_type == MsgType.CANCEL and retraction.districts == ("west",)
    cancelled = await store.get_alert(second.alert_id)
    assert cancelled is not None and cancelled.state == AlertState.CANCELLED


def test_names_are_read_as_jma_separates_them() -> None:
    listed = names_in("荒川地区、石動地区、若林地区 子撫地区、石動地区")  # as the 2026 sample writes them
    assert listed == ("荒川地区", "石動地区", "若林地区", "子撫地区")
    assert names_in("城西・神鳥谷　西城南") == ("城西", "神鳥谷", "西城南")  # ・ and a full-width space
    assert names_in("-") == () and names_in("") == ()


@pytest.mark.parametrize(
    ("name", "district"),
    [
        ("間々田", "south"),
        ("大字間々田", "south"),
        ("間々田地区", "south"),
        ("城東１丁目", "east"),  # full-width digits and a 丁目
        ("南部地区", "south"),  # a configured district's own name
        ("雨ヶ谷", "north"),  # the small ヶ as the postal data writes it (ケ)
        ("中河原", None),  # a 町 of the city in no district
        ("間々", None),  # never a prefix: only whole names
        ("東間々田町", None),  # nor a longer name that starts with a 町
        ("○○地区", None),  # a place the postal data does not know
    ],
)
def test_a_name_is_placed_only_by_a_whole_town_or_district_name(
    districted: Settings, name: str, district: str | None
) -> None:
    found = place(towns.normalise(name), districted, town_index(districted))
    assert (found.id if found else None) == district


def test_a_long_list_of_unknown_names_stays_city_wide_in_one_short_reason(districted: Settings) -> None:
    report = parse(derived(TOWNS), source=TOWNS)
    assert report.river is not None
    many = "、".join(f"地区{i}" for i in range(5000))  # as a hostile or broken document might list them
    areas = tuple(dataclasses.replace(a, districts=many) for a in report.river.flood_areas)
    flooded = dataclasses.replace(report, river=dataclasses.replace(report.river, flood_areas=areas))
    found = target(flooded, AreaCodes.of(districted.areas), districted)
    assert found.districts == () and len(found.unplaced) == 5000
    assert found.reason.endswith("(+4988) (浸水想定地区)") and len(found.reason) < 200


def test_oyamas_own_district_names_are_placed_without_towns(oyama: Settings) -> None:
    # Oyama's 地区 are configured by name: a document naming 間々田地区 means that 地区
    found = place("間々田地区", oyama, None)
    assert found is not None and found.id == "mamada"
    assert place("間々田", oyama, None) is None  # a 町, in a district only once the city lists its towns


def test_documents_without_finer_areas_and_a_city_without_districts_are_city_wide(districted: Settings) -> None:
    codes = AreaCodes.of(districted.areas)
    for name in ("15_17_01_250630_VPWW55.xml", "32-35_06_03_240613_VXSE53.xml", "16_08_01_260312_VXKOii.xml"):
        report = parse((JMA_SAMPLES / name).read_bytes(), source=name)
        assert target(report, codes, districted).districts == (), name
    covering = parse(derived(TOWNS), source=TOWNS)
    assert target(covering, codes, districted).districts == ("east", "south")
    none = districted.model_copy(update={"districts": ()})  # as config/example-other-town.toml: districts = []
    assert target(covering, codes, none).districts == ()
    assert target(covering, codes, none).reason == "no districts are configured"


async def test_inspect_shows_the_districts_it_would_target(site: SiteFactory, run_py: list[str]) -> None:
    result = await inspect(run_py, site(AGELESS, districts=True), DERIVED / TOWNS)
    assert result.rc == 0, result.stderr
    assert_no_traceback(result)
    out = one_json(result)
    assert out["concerns_area"] is True
    assert out["districts"] == [{"id": "east", "name": "東部地区"}, {"id": "south", "name": "南部地区"}]
    assert "東部地区、南部地区" in out["districts_reason"]
