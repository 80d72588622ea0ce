"""Districts in the console and the API: the picker, the live reach, drafts that keep their districts
through edit, preview, confirmation and approval, corrections that change them, and unknown ids refused
with nothing stored. The service runs in process with config/example-districts.toml's made-up
districts: east, west and south with outlines, north without.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from broadcaster import districts
from broadcaster.models import AlertState, ContactKind, Mode, MsgType, Role, Subscriber
from broadcaster.scopes import Scope
from broadcaster.state import API_IDEMPOTENCY
from broadcaster.web.console import api_schema
from tests.console.conftest import Browser, ConsoleSite, SiteMaker
from tests.console.test_alert_flow import draft, post_confirmation, to_live
from tests.console.test_api import System
from tests.console.test_lift_cancel_correct import rows, sent

LINE_USER = "U" + "0123456789abcdef" * 2
# who lives where: each a tester (an exercise reaches testers only) subscribed to 防災 by email
HOMES = {
    "whole@example.jp": frozenset(),
    "east@example.jp": frozenset({"east"}),
    "west@example.jp": frozenset({"west"}),
    "east-south@example.jp": frozenset({"east", "south"}),
    "north@example.jp": frozenset({"north"}),
}


def compose_form(**changes: Any) -> dict[str, Any]:
    """A complete compose form for an exercise 防災 notice; ``changes`` replace or add fields."""
    fields: dict[str, Any] = {
        "category": "disaster",
        "level": "3",
        "title": "土砂災害に注意",
        "body": "雨が強まっています。",
        "instruction": "",
        "channels": ["email", "website"],
        "do": "save",
    }
    fields.update(changes)
    return fields


async def seeded(town: ConsoleSite) -> None:
    """The HOMES, and a LINE friend in the west."""
    for contact, homes in HOMES.items():
        await town.store.save_subscriber(
            Subscriber(0, ContactKind.EMAIL, contact, frozenset({"disaster"}), tester=True, districts=homes)
        )
    west = frozenset({"west"})
    await town.store.save_subscriber(Subscriber(0, ContactKind.LINE, LINE_USER, frozenset({"disaster"}), tester=True,
                                                districts=west))  # fmt: skip


@pytest.fixture
async def town(make_site: SiteMaker) -> ConsoleSite:
    """The service with the example districts and its subscribers."""
    made = await make_site(districts="example")
    await seeded(made)
    return made


async def officer(town: ConsoleSite, name: str = "sato", role: Role = Role.OPERATOR) -> Browser:
    """A logged-in browser that has read the compose page (so it holds a CSRF field)."""
    browser = await town.browser(name, role)
    await browser.get("/console/compose")
    return browser


async def reach(browser: Browser, path: str = "/console/compose/reach", **fields: Any) -> tuple[int, Any]:
    """Ask a reach route as the compose page's script does."""
    reply = await browser.post(path, {"category": "disaster", "channels": ["email", "line", "website"], **fields})
    return reply.status, json.loads(reply.text)


def summary(page: str) -> str:
    """What a picker's 「対象」 line names."""
    found = re.search(r"<strong data-district-summary>([^<]*)</strong>", page)
    assert found, page[:3000]
    return found.group(1)


def places_line(page: str) -> str:
    """What a page's 「対象地区」 line names."""
    found = re.search(r'<p class="places">対象地区: <strong>([^<]*)</strong>', page)
    assert found, page[:3000]
    return found.group(1)


async def stored_count(town: ConsoleSite) -> int:
    return len(await town.store.list_alerts(10_000))


# -- the picker -----------------------------------------------------------------------------


async def test_the_compose_page_lists_districts_by_name_with_a_map_of_the_outlined_ones(town: ConsoleSite) -> None:
    page = (await (await officer(town)).get("/console/compose")).text
    boxes = re.findall(r'<input type="checkbox" name="districts" value="([a-z]+)"', page)
    assert boxes == ["east", "west", "south", "north"]
    assert '<input type="checkbox" name="whole_city" value="on" checked>' in page  # none ticked: the whole city
    for name, reading in (("東部地区", "とうぶちく"), ("北部地区", "ほくぶちく")):
        assert name in page and f"（{reading}）" in page
    assert "城東、東城南、駅東通り、犬塚" in page  # a district's towns, listed under it
    shapes = re.findall(r'data-district-shape="([a-z]+)"', page)
    assert shapes == ["east", "west", "south"]  # north has no outline: listed, not drawn
    assert page.count("地図なし") == 1
    paths = re.findall(r'<path d="(M[0-9., LZM]+)"/>', page)
    assert len(paths) == 3 and all(p.endswith("Z") for p in paths)
    assert "<script>" not in page and "http" not in page.split("<main>", 1)[1]  # nothing inline, nothing fetched
    # the search terms: a town's kana in hiragana and its postal codes, as district_picker.searchable writes them
    castle_east = districts.town_index(town.settings).get("城東")
    assert castle_east is not None
    terms = re.search(r'<li data-terms="([^"]*)">\s*<label class="check"><input type="checkbox" name="districts" '
                      r'value="east"', page)  # fmt: skip
    assert terms, page
    assert "じょうとう" in terms.group(1).split() and castle_east.postal_codes[0] in terms.group(1).split()


@pytest.mark.parametrize(("districts_config", "picker", "drawn"), [("oyama", True, False), ("none", False, False)])
async def test_without_towns_or_outlines_no_map_and_without_districts_no_picker(
    make_site: SiteMaker, districts_config: str, picker: bool, drawn: bool
) -> None:
    city = await make_site(districts=districts_config)
    sato = await officer(city)
    page = (await sato.get("/console/compose")).text
    assert ('name="districts"' in page) is picker and ("<svg" in page) is drawn
    assert ("間々田地区" in page) is picker  # default.toml's districts by name
    saved = await sato.post("/console/compose", compose_form())
    assert saved.status == 303, saved.text[:2000]
    alert = await city.store.get_alert(saved.location.rsplit("/", 1)[1])
    assert alert is not None and alert.districts == ()
    status, planned = await reach(sato)
    assert status == 200 and set(planned) == {"email", "line", "website"}


# -- the live reach ---------------------------------------------------------------------------


async def test_the_reach_follows_the_ticked_districts(town: ConsoleSite) -> None:
    sato = await officer(town)
    expected = {(): (5, 1), ("east",): (3, 0), ("west",): (2, 1), ("north",): (2, 0), ("east", "west"): (4, 1)}
    for ticked, (by_email, by_line) in expected.items():
        status, planned = await reach(sato, districts=list(ticked))
        assert status == 200, planned
        assert (planned["email"], planned.get("line", 0)) == (by_email, by_line), ticked
        assert planned["website"] == 1
    status, planned = await reach(sato, districts=["east"], channels=["email"])
    assert (status, planned) == (200, {"email": 3})
    status, planned = await reach(sato, channels=[])
    assert (status, planned) == (200, {})
    status, planned = await reach(sato, category="crime")  # nobody subscribed to 防犯
    assert status == 200 and planned["email"] == 0


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"districts": ["east", "atlantis"]}, "unknown_district", "一覧にない地区"),
        ({"districts": ["east"], "whole_city": "on"}, "districts_and_whole_city", "どちらか一方"),
        ({"category": "nothing"}, "unknown_category", "区分"),
    ],
)
async def test_the_reach_of_a_bad_form_is_a_400_in_words(
    town: ConsoleSite, fields: dict[str, Any], code: str, words: str
) -> None:
    status, answer = await reach(await officer(town), **fields)
    assert status == 400 and answer["error"] == code and words in answer["detail"]
    assert "atlantis" not in answer["detail"]


async def test_the_reach_routes_are_guarded_like_every_console_post(town: ConsoleSite) -> None:
    stranger = await town.anonymous()
    reply = await stranger.post("/console/compose/reach", {"category": "disaster"}, csrf=False)
    assert reply.status == 401
    sato = await officer(town)
    assert (await sato.post("/console/compose/reach", {"category": "disaster"}, csrf=False)).status == 403
    admin = await officer(town, "kanri", Role.ADMIN)
    assert (await admin.post("/console/compose/reach", {"category": "disaster"})).status == 403
    foreign = await sato.post(
        "/console/compose/reach", {"category": "disaster"}, headers={"Origin": "https://x.example"}
    )
    assert foreign.status == 403
    status, answer = await reach(sato, path="/console/alerts/20000101-000000-abcdef/reach")
    assert status == 404 and answer["error"] == "no_alert"
    assert await stored_count(town) == 0  # a reach plans in a savepoint and stores nothing


async def test_a_stored_drafts_reach_keeps_its_mode_and_a_sent_alerts_is_its_corrections(town: ConsoleSite) -> None:
    sato = await officer(town)
    exercise = await draft(town, "sato", districts=["east"], channels=["email"])
    status, planned = await reach(sato, path=f"/console/alerts/{exercise.id}/reach", districts=["west"])
    assert (status, planned) == (200, {"email": 2, "line": 1, "website": 1})  # the form's districts, not the stored
    live = await draft(town, "sato", Mode.LIVE, channels=["email"])
    status, planned = await reach(sato, path=f"/console/alerts/{live.id}/reach")
    assert (status, planned["email"]) == (200, 5)  # live: every subscriber, not the testers alone
    # a sent exercise to the east: its correction reaches whoever got it, and whom its districts reach now
    original = await sent(town, Mode.EXERCISE, districts=["east"], channels=["email"])
    status, planned = await reach(sato, path=f"/console/alerts/{original.id}/reach", districts=["west"])
    assert (status, planned["email"]) == (200, 4)  # whole, east, east-south got it; west is new


# -- drafts keep their districts ---------------------------------------------------------------


async def test_a_draft_keeps_its_districts_through_preview_save_edit_and_the_alert_page(town: ConsoleSite) -> None:
    sato = await officer(town)
    preview = await sato.post("/console/compose", compose_form(districts=["west", "east"], do="preview"))
    assert preview.status == 200 and await stored_count(town) == 0
    assert places_line(preview.text) == "東部地区、西部地区"  # config order, in words
    email_row = re.search(r'data-reach-channel="email"[^>]*>\s*<td>メール</td>\s*<td><span data-reach-n>(\d+)',
                          preview.text)  # fmt: skip
    assert email_row and email_row.group(1) == "4"  # server-rendered: the reach without the script
    assert re.findall(r'name="districts" value="([a-z]+)" data-name="[^"]+" checked', preview.text) == ["east", "west"]
    assert 'name="whole_city" value="on" checked' not in preview.text

    saved = await sato.post("/console/compose", compose_form(districts=["west", "east"]))
    assert saved.status == 303, saved.text[:2000]
    alert_id = saved.location.rsplit("/", 1)[1]
    alert = await town.store.get_alert(alert_id)
    assert alert is not None and alert.districts == ("east", "west")
    page = await sato.get(f"/console/alerts/{alert_id}")
    assert places_line(page.text) == "東部地区、西部地区"
    assert "<th>対象地区</th><td>東部地区、西部地区</td>" in page.text

    edit = await sato.get(f"/console/alerts/{alert_id}/edit")
    assert re.findall(r'name="districts" value="([a-z]+)" data-name="[^"]+" checked', edit.text) == ["east", "west"]
    assert f'data-url="/console/alerts/{alert_id}/reach"' in edit.text
    edited = await sato.post(f"/console/alerts/{alert_id}/edit", compose_form(districts=["north"]))
    assert edited.status == 303
    assert (await town.store.get_alert(alert_id)).districts == ("north",)  # type: ignore[union-attr]
    history = await sato.get("/console/history")
    row = re.search(rf'<tr data-alert-id="{alert_id}">.*?</tr>', history.text, re.S)
    assert row and "<td>北部地区</td>" in row.group(0)
    dashboard = await sato.get("/console/dashboard")
    card = re.search(
        rf'<article class="card alert-progress" data-alert-id="{alert_id}">.*?</article>', dashboard.text, re.S
    )
    assert card and "対象地区: 北部地区" in card.group(0)
    edited = await sato.post(f"/console/alerts/{alert_id}/edit", compose_form(whole_city="on"))
    assert (await town.store.get_alert(alert_id)).districts == ()  # type: ignore[union-attr]
    page = await sato.get(f"/console/alerts/{alert_id}")
    assert places_line(page.text) == "市内全域"


async def test_a_live_draft_names_its_districts_on_confirmation_and_approval(town: ConsoleSite) -> None:
    sato = await officer(town)
    await to_live(sato)
    await sato.get("/console/compose")
    saved = await sato.post("/console/compose", compose_form(category="disaster", level="4", districts=["south"]))
    alert_id = saved.location.rsplit("/", 1)[1]
    confirm = await sato.get(f"/console/alerts/{alert_id}/confirm")
    assert confirm.status == 200 and places_line(confirm.text) == "南部地区"
    assert (await post_confirmation(sato, alert_id)).status == 303
    pending = await town.store.get_alert(alert_id)
    assert pending is not None and pending.state == AlertState.PENDING_APPROVAL
    approver = await officer(town, "suzuki", Role.APPROVER)
    queue = await approver.get("/console/approvals")
    assert "<th>対象地区</th>" in queue.text and "<td>南部地区</td>" in queue.text
    assert places_line((await approver.get(f"/console/alerts/{alert_id}")).text) == "南部地区"


async def test_a_phrases_places_are_the_ticked_districts_in_every_language(town: ConsoleSite) -> None:
    sato = await officer(town)
    await sato.get("/console/compose?phrase=evacuation_order")
    phrase = {"phrase": "evacuation_order", "level": "4", "title": "", "body": "", "slot_time": "15:30",
              "slot_hazard": "大雨", "districts": ["east", "west"]}  # fmt: skip
    saved = await sato.post("/console/compose", compose_form(**phrase))  # empty words: written from the 定型文
    assert saved.status == 303, saved.text[:2000]
    alert = await town.store.get_alert(saved.location.rsplit("/", 1)[1])
    assert alert is not None and alert.phrase == "evacuation_order"
    assert alert.title == "東部地区、西部地区に避難指示を発令しました"
    english = alert.translations["en"]
    assert english.source == "phrasebook" and "East district" in english.title and "West district" in english.title
    whole = await sato.post("/console/compose", compose_form(**{**phrase, "districts": []}))
    alert = await town.store.get_alert(whole.location.rsplit("/", 1)[1])
    assert alert is not None and alert.title.startswith(town.settings.city.name)  # the whole city, by name


async def test_a_pasted_placeholder_is_filled_with_the_ticked_districts(town: ConsoleSite) -> None:
    sato = await officer(town)
    await sato.get("/console/compose")
    form = compose_form(
        title="【地区名】に避難指示", body="【地区名】に避難指示。", level="4", districts=["east", "west"]
    )
    saved = await sato.post("/console/compose", form)
    assert saved.status == 303, saved.text[:2000]
    alert = await town.store.get_alert(saved.location.rsplit("/", 1)[1])
    assert alert is not None and alert.title == "東部地区、西部地区に避難指示"
    assert alert.body == "東部地区、西部地区に避難指示。"


async def test_an_unknown_or_contradictory_district_in_the_form_stores_nothing(town: ConsoleSite) -> None:
    sato = await officer(town)
    for bad in ({"districts": ["east", "atlantis"]}, {"districts": ["east"], "whole_city": "on"}):
        reply = await sato.post("/console/compose", compose_form(**bad))
        assert reply.status == 400 and 'class="error compose-errors"' in reply.text
        assert "対象地区：" in reply.text
        assert "atlantis" not in reply.text.split('class="error compose-errors"', 1)[1].split("</div>", 1)[0]
    assert await stored_count(town) == 0


# -- corrections, lifts and cancels ---------------------------------------------------------


async def test_a_correction_may_widen_the_districts_and_lift_and_cancel_keep_them(town: ConsoleSite) -> None:
    sato = await officer(town)
    original = await sent(town, Mode.EXERCISE, districts=["east"], channels=["email"], title="土砂災害 東部")
    assert await rows(town, original.id) == {"email": 3}  # whole, east, east-south
    form = await sato.get(f"/console/alerts/{original.id}/correct")
    assert form.status == 200 and summary(form.text) == "東部地区"
    assert re.findall(r'name="districts" value="([a-z]+)" data-name="[^"]+" checked', form.text) == ["east"]
    for path in ("lift", "cancel"):  # they keep the original's districts, and say so
        assert places_line((await sato.get(f"/console/alerts/{original.id}/{path}")).text) == "東部地区"

    fields = {"category": "disaster", "level": "4", "title": "土砂災害 東部・西部", "body": original.body,
              "channels": ["email"], "districts": ["east", "west"]}  # fmt: skip
    bad = await sato.post(f"/console/alerts/{original.id}/correct", {**fields, "districts": ["atlantis"]})
    assert bad.status == 400 and "一覧にない地区" in bad.text
    assert len(await town.store.versions(original.event_key, original.mode)) == 1
    reply = await sato.post(f"/console/alerts/{original.id}/correct", fields)
    assert reply.status == 303, reply.text[:2000]
    correction = await town.settled(reply.location.rsplit("/", 1)[1])
    assert (correction.msg_type, correction.districts) == (MsgType.CORRECTION, ("east", "west"))
    assert await rows(town, correction.id) == {"email": 4}  # who got it, and the west now
    assert places_line((await sato.get(f"/console/alerts/{correction.id}")).text) == "東部地区、西部地区"

    lift = await sato.post(f"/console/alerts/{correction.id}/lift", {"reason": "解除します"})
    assert lift.status == 303
    lifted = await town.settled(lift.location.rsplit("/", 1)[1])
    assert (lifted.msg_type, lifted.districts) == (MsgType.LIFT, ("east", "west"))


async def test_a_live_correction_review_says_the_districts_changed(town: ConsoleSite) -> None:
    sato = await officer(town)
    original = await sent(town, Mode.LIVE, districts=["south"], channels=["email"])
    await to_live(sato)
    await sato.get(f"/console/alerts/{original.id}/correct")
    fields = {"category": "disaster", "level": "4", "title": original.title, "body": "範囲を広げます。",
              "channels": ["email"], "districts": ["south", "north"]}  # fmt: skip
    review = await sato.post(f"/console/alerts/{original.id}/correct", fields)
    assert review.status == 200 and "本番" in review.text
    assert places_line(review.text) == "南部地区、北部地区" and "地区を変更" in review.text
    carried = re.findall(r'<input type="hidden" name="districts" value="([a-z]+)">', review.text)
    assert carried == ["south", "north"]  # the review posts back exactly what it showed


# -- the API --------------------------------------------------------------------------------


@pytest.fixture
async def system(town: ConsoleSite) -> System:
    token = await town.console.accounts.add_token("river", "test", "test", scopes=list(Scope))
    return System((await town.anonymous()).client, token)


def api_draft(**changes: Any) -> dict[str, Any]:
    return {"category": "disaster", "level": 3, "title": "思川 水位上昇", "body": "水位が上がっています。"} | changes


async def test_the_api_takes_districts_and_refuses_an_unknown_id_naming_the_valid_ones(
    town: ConsoleSite, system: System
) -> None:
    created = await system.post(api_draft(districts=["west", "south"]))
    assert created.status == 201, created.data
    status = (await system.call("GET", created.data["links"]["self"])).data
    assert status["districts"] == ["west", "south"]
    whole = await system.post(api_draft())
    assert (await system.call("GET", whole.data["links"]["self"])).data["districts"] == []
    listed = {a["id"]: a["districts"] for a in (await system.call("GET", "/api/v1/alerts")).data["alerts"]}
    assert listed == {created.data["id"]: ["west", "south"], whole.data["id"]: []}

    before = await stored_count(town)
    refused = await system.post(api_draft(districts=["east", "atlantis"]), **{"Idempotency-Key": "k1"})
    assert refused.status == 400 and refused.data["error"] == "unknown-district"
    assert "atlantis" in refused.data["detail"] and "east, west, south, north" in refused.data["detail"]
    assert await stored_count(town) == before
    assert await town.store.get_state(API_IDEMPOTENCY, "river:k1") is None  # the key is not spent either


async def test_an_api_correction_changes_the_districts_only_when_given(town: ConsoleSite, system: System) -> None:
    original = await sent(town, Mode.EXERCISE, districts=["east"], channels=["email"])
    path = f"/api/v1/alerts/{original.id}/correct"
    words = {"title": original.title, "body": "範囲が変わりました。", "category": "disaster", "level": 4}
    kept = await system.call("POST", path, json_body=words)
    assert kept.status == 201, kept.data
    assert (await town.store.get_alert(kept.data["id"])).districts == ("east",)  # type: ignore[union-attr]
    widened = await system.call("POST", path, json_body=words | {"districts": ["west", "east"]})
    assert (await town.store.get_alert(widened.data["id"])).districts == ("east", "west")  # type: ignore[union-attr]
    before = await stored_count(town)
    refused = await system.call("POST", path, json_body=words | {"districts": ["atlantis"]})
    assert refused.status == 400 and refused.data["error"] == "unknown-district"
    assert await stored_count(town) == before


def test_the_openapi_document_describes_districts() -> None:
    schemas = api_schema.document()["components"]["schemas"]
    assert schemas["Draft"]["properties"]["districts"]["type"] == "array"
    assert "districts" in schemas["AlertSummary"]["properties"] and "districts" in schemas["AlertStatus"]["required"]
    correct = api_schema.document()["paths"]["/api/v1/alerts/{alert_id}/correct"]["post"]["requestBody"]
    assert "districts" in correct["content"]["application/json"]["schema"]["properties"]
    assert "unknown-district" in api_schema.document()["components"]["responses"]["BadRequest"]["description"]
