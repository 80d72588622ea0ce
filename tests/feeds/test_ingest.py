"""From JMA documents to alerts: event logic, exercise separation, lifted, cancelled and corrected.

Real JMA samples, a real SQLite store, and the real lifecycle (an auto decision plans the delivery rows).
Where a sample is not about 小山市, the site config gives the areas of the sample's own town.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from broadcaster.dispatcher import Dispatcher
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import AlertState, Mode, MsgType, Subscriber
from broadcaster.settings import PolicyRule, Settings, load_settings, municipality_code
from broadcaster.state import JMA_HANDLED, JMA_WARNINGS
from broadcaster.store.sqlite import SQLiteStore
from feeds.jma.ingest import Handled, JmaIngest
from tests.channels_for_tests import FakeChannel
from tests.paths import JMA_SAMPLES
from tests.test_dispatcher import channel_set, done, until
from tests.test_store import opened, query, table_sizes

SAMPLES = JMA_SAMPLES
SiteFactory = Callable[..., Path]
NARA = {"city": "2920100", "forecast_area": "290000", "earthquake_region": "999", "prefecture": "29"}
MATSUE = {"city": "3220100", "forecast_area": "320000", "earthquake_region": "999", "prefecture": "32"}
CHIYODA = {"city": "1310100", "forecast_area": "130000", "earthquake_region": "999", "prefecture": "13"}
OSHU = {"city": "0321500", "forecast_area": "030000", "earthquake_region": "213", "prefecture": "03"}


def sample(name: str) -> bytes:
    """A real JMA document; fails, never skips, when the samples are not beside the checkout."""
    path = SAMPLES / name
    assert path.is_file(), f"JMA sample {path} is missing: tests/data/jma is part of the repository"
    return path.read_bytes()


# The samples are years old: tests about something else judge them with no age limit to speak of.
AGELESS = {"jma.max_age": dict.fromkeys(("warnings", "rivers", "earthquakes", "tsunami", "volcano"), 1e11)}


def areas_site(site: SiteFactory, areas: dict[str, str], **sections: dict[str, Any]) -> Settings:
    """Settings whose city is the sample's own town (its CAP code too, as a site file for it must say)."""
    town = {"areas": areas, "website": {"municipality_code": municipality_code(areas["city"])}}
    return load_settings(site(AGELESS | town | sections))


@pytest.fixture
def ageless(site: SiteFactory) -> Settings:
    """The default settings (小山市), with no age limit to speak of."""
    return load_settings(site(AGELESS))


async def feed(ingest: JmaIngest, *names: str) -> list[Handled]:
    """Hand documents to the pipeline in order."""
    return [await ingest.handle(name, sample(name)) for name in names]


async def test_a_warning_then_its_lifting_reaches_the_same_channels(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, NARA)
    ingest = JmaIngest(Lifecycle(store, settings))
    issued, again, lifted = await feed(
        ingest, "15_08_01_130412_VPWW53.xml", "15_08_02_130412_VPWW53.xml", "15_08_05_130412_VPWW53.xml"
    )
    assert issued.decision == "auto" and issued.alert_id
    first = await store.get_alert(issued.alert_id)
    assert first is not None
    assert first.title == "小山市に大雨特別警報（土砂災害）"  # bare: the 警戒レベル is added when rendered
    assert (first.kind, first.badge) == ("water", "")  # a water hazard: its level is a 警戒レベル
    assert first.level == 5 and first.mode == Mode.LIVE and first.msg_type == MsgType.ALERT
    assert "出典：気象庁ホームページ（気象庁防災情報XML）" in first.body
    assert "・雷注意報（継続）" in first.body
    assert first.instruction.startswith("命の危険")
    assert again.decision == "ignore" and again.alert_id is None  # 継続: nothing in force changed
    assert lifted.decision == "auto" and lifted.alert_id
    update = await store.get_alert(lifted.alert_id)
    assert update is not None
    assert update.msg_type == MsgType.LIFT and update.event_key == first.event_key  # 解除, not 取消
    assert update.title.startswith("小山市の")
    assert set(update.channels) == set(first.channels)


async def test_one_issuance_in_two_formats_makes_one_alert(store: SQLiteStore, site: SiteFactory) -> None:
    policy = {"name": "暴風警報", "kinds": ["VPWW53", "VPWW54"], "decision": "auto", "channels": ["website"]}
    settings = areas_site(site, CHIYODA)
    settings = settings.model_copy(update={"jma": settings.jma.model_copy(update={"policy": (policy_rule(policy),)})})
    ingest = JmaIngest(Lifecycle(store, settings))
    old, new = await feed(ingest, "15_13_01_161226_VPWW53.xml", "15_13_01_161226_VPWW54.xml")
    assert old.decision == "auto" and old.alert_id
    assert new.decision == "ignore" and "nothing in force changed" in new.reason
    assert len(await store.list_alerts()) == 1
    alert = await store.get_alert(old.alert_id)
    assert alert is not None
    assert alert.title == "小山市に暴風警報"
    assert alert.kind == "weather"  # 警戒レベル is for water hazards: a wind warning gets no level tag
    assert alert.instruction.startswith("不要不急の外出は控え")


def policy_rule(values: dict[str, Any]) -> PolicyRule:
    """A PolicyRule from plain values, validated as the config is."""
    return PolicyRule.model_validate_json(json.dumps(values))


async def test_a_per_hazard_document_never_lifts_another_hazard(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, MATSUE)
    ingest = JmaIngest(Lifecycle(store, settings))
    landslide, rain = await feed(ingest, "15_17_01_250630_VPWW56.xml", "15_17_01_250630_VPWW55.xml")
    assert landslide.decision == "auto", landslide.reason  # レベル２土砂災害注意報: website
    assert rain.decision == "auto" and rain.alert_id
    alert = await store.get_alert(rain.alert_id)
    assert alert is not None
    assert "土砂災害注意報（継続）" in alert.body  # still in force: VPWW55 does not speak for 土砂災害
    assert "解除" not in alert.body
    assert alert.title == "小山市に大雨警報"
    assert alert.msg_type == MsgType.UPDATE


async def test_legacy_documents_are_ignored_once_r06_documents_arrive(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, MATSUE)
    ingest = JmaIngest(Lifecycle(store, settings))
    [_, legacy] = [await ingest.handle(n, sample(n)) for n in ("15_17_01_250630_VPWW55.xml",)] + [
        await ingest.handle("renamed_VPWW53.xml", sample("15_08_01_130412_VPWW53.xml"))
    ]
    assert legacy.decision == "ignore" and "R06" in legacy.reason


async def test_a_cancellation_cancels_the_earthquake_alert(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, OSHU)
    ingest = JmaIngest(Lifecycle(store, settings))
    quake, cancel = await feed(ingest, "32-35_06_03_240613_VXSE53.xml", "32-35_06_06_100915_VXSE53.xml")
    assert quake.alert_id and cancel.alert_id
    original = await store.get_alert(quake.alert_id)
    assert original is not None
    assert (original.title, original.badge) == ("小山市で地震", "震度６強")
    assert "震源地は岩手県内陸南部" in original.body and "Ｍ７．０" in original.body
    retraction = await store.get_alert(cancel.alert_id)
    assert retraction is not None
    assert retraction.msg_type == MsgType.CANCEL and retraction.references == original.id
    assert retraction.title == original.title  # 【取消】 is added when rendered, once
    original = await store.get_alert(quake.alert_id)
    assert original is not None and original.state == AlertState.CANCELLED


async def test_a_correction_replaces_the_earlier_alert(store: SQLiteStore, site: SiteFactory) -> None:
    # No real 訂正 of a handled type is among the samples: this one is the real VXSE53 restated as 訂正.
    settings = areas_site(site, OSHU)
    ingest = JmaIngest(Lifecycle(store, settings))
    data = sample("32-35_06_03_240613_VXSE53.xml")
    corrected = data.replace("<InfoType>発表</InfoType>".encode(), "<InfoType>訂正</InfoType>".encode())
    assert corrected != data
    first = await ingest.handle("VXSE53.xml", data)
    second = await ingest.handle("derived-correction_VXSE53.xml", corrected)
    assert first.alert_id and second.alert_id
    replacement = await store.get_alert(second.alert_id)
    assert replacement is not None
    assert replacement.msg_type == MsgType.UPDATE and replacement.references == first.alert_id


async def test_documents_that_do_not_concern_the_city_or_are_refused_make_nothing(
    store: SQLiteStore, ageless: Settings
) -> None:
    ingest = JmaIngest(Lifecycle(store, ageless))
    elsewhere = await ingest.handle("a.xml", sample("15_17_01_250630_VPWW55.xml"))  # 島根県
    assert elsewhere.decision == "ignore" and elsewhere.alert_id is None
    refused = await ingest.handle("b.xml", b"<html><body>503</body></html>")
    assert refused.decision == "refused" and "HTML" in refused.reason
    unknown = await ingest.handle("c.xml", sample("24_09_01_100806_VPFD50.xml"))
    assert unknown.decision == "ignore" and unknown.alert_id is None
    assert await store.list_alerts() == []


def training(name: str) -> bytes:
    """A real document restated as 訓練 (the samples' own training documents name no areas)."""
    data = sample(name)
    changed = data.replace("<Status>通常</Status>".encode(), "<Status>訓練</Status>".encode())
    assert changed != data
    return changed


@pytest.mark.parametrize(
    ("name", "data", "areas"),
    [
        ("16_08_01_260312_VXKOii.xml", sample("16_08_01_260312_VXKOii.xml"), {**MATSUE, "city": "1620900"}),
        ("derived-training_VXSE53.xml", training("32-35_06_03_240613_VXSE53.xml"), OSHU),
    ],
)
async def test_training_and_test_documents_never_reach_a_live_channel(
    store: SQLiteStore, site: SiteFactory, name: str, data: bytes, areas: dict[str, str]
) -> None:
    settings = areas_site(site, areas)
    live = [FakeChannel(n) for n in settings.enabled_channels]
    drill = [FakeChannel(n) for n in settings.enabled_channels]
    await store.import_subscribers([Subscriber(0, "email", "resident@example.jp", frozenset({"disaster"}))])  # type: ignore[arg-type]
    async with Dispatcher(store, channel_set(*live, exercise=tuple(drill)), settings) as dispatcher:
        ingest = JmaIngest(Lifecycle(store, settings, dispatcher.wake))
        handled = await ingest.handle(name, data)
        assert handled.alert_id, handled.reason
        alert = await store.get_alert(handled.alert_id)
        assert alert is not None and alert.mode == Mode.EXERCISE
        await until(dispatcher, done(store, handled.alert_id))
    assert all(not ch.calls for ch in live), "an exercise reached a live sink"
    assert any(ch.calls for ch in drill)
    assert all("resident@example.jp" not in ch.delivered(handled.alert_id) for ch in drill)


async def test_a_document_handed_over_twice_makes_one_alert(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, OSHU)
    ingest = JmaIngest(Lifecycle(store, settings))
    first, again = await feed(ingest, "32-35_06_03_240613_VXSE53.xml", "32-35_06_03_240613_VXSE53.xml")
    assert first.alert_id
    assert again.alert_id is None and again.reason == f"already handled ({first.alert_id})"
    assert len(await store.list_alerts()) == 1


# -- the handled marker commits with what the document made --------------------------


REFUSE_FEED_STATE = "CREATE TRIGGER refuse BEFORE INSERT ON feed_state BEGIN SELECT RAISE(ABORT, 'disk full'); END"


@pytest.mark.parametrize(
    ("name", "town"),
    [
        ("32-35_06_03_240613_VXSE53.xml", None),  # 震度4 in 小山市: auto, on its own event
        ("15_08_01_130412_VPWW53.xml", NARA),  # a warning: auto, and the warnings now followed
    ],
)
async def test_a_write_that_fails_midway_leaves_nothing_and_the_retry_after_a_restart_makes_one_alert(
    site: SiteFactory, name: str, town: dict[str, str] | None
) -> None:
    settings = areas_site(site, town) if town else load_settings(site(AGELESS))
    db = settings.path(settings.storage.path)
    async with opened(db) as store:
        # a real failure inside the one transaction, after the alert and its delivery rows are written
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.execute(REFUSE_FEED_STATE)
        before = table_sizes(db)
        with pytest.raises(sqlite3.IntegrityError, match="disk full"):
            await JmaIngest(Lifecycle(store, settings)).handle(name, sample(name))
        assert table_sizes(db) == before  # no alert, no delivery rows, no audit line
        assert query(db, "SELECT count(*) FROM feed_state") == [(0,)]  # neither the marker nor the warnings
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.execute("DROP TRIGGER refuse")

    # the poller hands the document over again after a restart: a new process, a new store on the same file
    async with opened(db) as store:
        first = await JmaIngest(Lifecycle(store, settings)).handle(name, sample(name))
        assert first.decision == "auto" and first.alert_id
    async with opened(db) as store:  # and once more after another restart, this time after the commit
        again = await JmaIngest(Lifecycle(store, settings)).handle(name, sample(name))
        assert again.alert_id is None and again.reason == f"already handled ({first.alert_id})"
        [alert] = await store.list_alerts()
        assert alert.id == first.alert_id and alert.state == AlertState.APPROVED  # planned in the same commit
        assert await store.get_state(JMA_HANDLED, name) == first.alert_id
        if town:
            assert await store.get_state(JMA_WARNINGS, f"live:{town['city']}") is not None


async def test_a_document_that_makes_no_alert_is_marked_handled_too(store: SQLiteStore, ageless: Settings) -> None:
    ingest = JmaIngest(Lifecycle(store, ageless))
    await ingest.handle("elsewhere.xml", sample("15_17_01_250630_VPWW55.xml"))  # 島根県
    await ingest.handle("html.xml", b"<html><body>503</body></html>")
    assert await store.get_state(JMA_HANDLED, "elsewhere.xml") == "ignore"
    assert await store.get_state(JMA_HANDLED, "html.xml") == "refused"
    again = await ingest.handle("html.xml", b"<html><body>503</body></html>")
    assert again.reason == "already handled (refused)"


# -- current documents only, the newest report wins ----------------------------------


def at(iso: str) -> Callable[[], float]:
    """A clock standing still at an ISO time."""
    stamp = datetime.fromisoformat(iso).timestamp()
    return lambda: stamp


async def test_a_document_older_than_max_age_is_recorded_and_never_sent(store: SQLiteStore, site: SiteFactory) -> None:
    # the default max_age: an hour for earthquakes
    settings = areas_site(site, OSHU, **{"jma.max_age": {"earthquakes": 3600.0}})
    quake = "32-35_06_03_240613_VXSE53.xml"  # reported 2008-06-14T08:47+09:00, 震度６強 in 奥州市
    late = await JmaIngest(Lifecycle(store, settings), clock=at("2008-06-14T09:48:00+09:00")).handle(
        quake, sample(quake)
    )
    assert late.decision == "stale" and late.alert_id is None
    assert "stale: reported 2008-06-14T08:47:00+09:00, 61 min ago" in late.reason
    assert await store.list_alerts() == []
    assert await store.get_state(JMA_HANDLED, quake) == "stale"  # recorded: never handled again

    current = await JmaIngest(Lifecycle(store, settings), clock=at("2008-06-14T09:46:00+09:00")).handle(
        "again_" + quake, sample(quake)
    )
    assert current.decision == "auto" and current.alert_id  # within the hour it goes out


async def test_after_an_outage_the_stale_issuance_is_not_sent_but_the_current_state_is(
    store: SQLiteStore, site: SiteFactory
) -> None:
    settings = areas_site(site, NARA, **{"jma.max_age": {"warnings": 10800.0}})
    ingest = JmaIngest(Lifecycle(store, settings), clock=at("2011-09-04T00:20:00+09:00"))
    # a backfill hands both over: the issuance of 12 h ago, and the 継続 of 10 min ago
    issued, current = await feed(ingest, "15_08_01_130412_VPWW53.xml", "15_08_02_130412_VPWW53.xml")
    assert issued.decision == "stale" and issued.alert_id is None
    assert current.decision == "auto" and current.alert_id  # what is in force now, told once
    [alert] = await store.list_alerts()
    assert alert.id == current.alert_id and "大雨特別警報" in alert.title


async def test_a_batch_out_of_order_leaves_the_newest_warnings_in_force(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, NARA)
    ingest = JmaIngest(Lifecycle(store, settings))
    # arrival order: the lifting (09-07) first, then the issuance (09-03) and its 継続 (09-04)
    lifted, issued, continued = await feed(
        ingest, "15_08_05_130412_VPWW53.xml", "15_08_01_130412_VPWW53.xml", "15_08_02_130412_VPWW53.xml"
    )
    assert lifted.alert_id is None  # lifted, but nothing had gone out
    for old in (issued, continued):
        assert old.decision == "ignore" and old.alert_id is None
        assert "older than the warnings already applied (reported 2011-09-07T11:46:00+09:00" in old.reason
    assert await store.list_alerts() == []  # no 特別警報 for a rain that is over
    state = await store.get_state(JMA_WARNINGS, f"live:{NARA['city']}")
    assert state is not None and state["kinds"] == {}  # the city's state: nothing in force


async def test_an_older_report_of_an_event_never_overrides_a_newer_one(store: SQLiteStore, site: SiteFactory) -> None:
    settings = areas_site(site, OSHU)
    ingest = JmaIngest(Lifecycle(store, settings))
    # the 取消 (09:06, Serial 3) arrives before the report it retracts (08:47, Serial 1)
    cancel, report = await feed(ingest, "32-35_06_06_100915_VXSE53.xml", "32-35_06_03_240613_VXSE53.xml")
    assert cancel.alert_id is None
    assert report.decision == "ignore" and report.alert_id is None
    assert "older than the report already applied to this event (reported 2008-06-14T09:06:00+09:00, serial 3)" in (
        report.reason
    )
    assert await store.list_alerts() == []  # a retracted quake never goes on air
