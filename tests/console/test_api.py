"""The REST API for other city systems: drafts in, status out, JSON always, nothing stored on an error."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from broadcaster import drafts
from broadcaster.fingerprint import fingerprint
from broadcaster.models import AlertState, ContactKind, Mode, Source, Subscriber
from broadcaster.scopes import Scope
from broadcaster.web.console import api_schema
from tests.console.conftest import ConsoleSite

ISO_JST = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00")
ADDRESS = "resident-api@example.jp"


def draft(**changes: Any) -> dict[str, Any]:
    """A valid draft as the river-level system sends it."""
    body: dict[str, Any] = {
        "category": "disaster",
        "level": 3,
        "title": "思川 水位上昇",
        "body": "思川の水位が上がっています。",
        "instruction": "川に近づかないでください。",
        "translations": {"en": {"title": "Omoi River rising", "body": "The Omoi River is rising."}},
    }
    body.update(changes)
    return body


@dataclass
class Answer:
    """A response, read."""

    status: int
    data: Any
    headers: Any


class System:
    """Another city system on the API: an aiohttp client and its bearer token."""

    def __init__(self, client: TestClient[Any, Any], token: str) -> None:
        self.client = client
        self.token = token

    async def call(
        self, method: str, path: str, *, json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """One request with the token (``headers`` may replace it, "" leaves it out); the answer must be JSON."""
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if not sent["Authorization"]:
            del sent["Authorization"]
        if json_body is not None:
            data, sent["Content-Type"] = json.dumps(json_body), "application/json"
        async with self.client.request(method, path, data=data, headers=sent) as r:
            assert r.content_type == "application/json", (r.status, await r.text())
            return Answer(r.status, await r.json(), r.headers)

    async def post(self, body: Any, **headers: str) -> Answer:
        """POST a draft."""
        return await self.call("POST", "/api/v1/drafts", json_body=body, headers=headers)


@pytest.fixture
async def river(console_site: ConsoleSite) -> AsyncIterator[System]:
    """The river-level system, with its own token."""
    token = await console_site.console.accounts.add_token("river", "test", "test", scopes=list(Scope))
    browser = await console_site.anonymous()
    yield System(browser.client, token)


async def count(site: ConsoleSite) -> int:
    return len(await site.store.list_alerts(10_000))


async def test_a_posted_draft_waits_in_the_console_and_sends_nothing(console_site: ConsoleSite, river: System) -> None:
    answer = await river.post(draft())
    assert answer.status == 201, answer.data
    alert_id = answer.data["id"]
    assert answer.data == {
        "id": alert_id,
        "state": "draft",
        "mode": "exercise",
        "links": {"self": f"/api/v1/alerts/{alert_id}", "console": f"/console/alerts/{alert_id}"},
    }
    assert answer.headers["Location"] == f"/api/v1/alerts/{alert_id}"
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None
    assert (alert.state, alert.source, alert.created_by) == (AlertState.DRAFT, Source.API, "api:river")
    assert (alert.title, alert.level, alert.mode) == ("思川 水位上昇", 3, Mode.EXERCISE)
    assert alert.translations["en"].title == "Omoi River rising"
    assert await console_site.store.report(alert_id) == []
    audit = [e for e in await console_site.store.audit_log(20) if e.target == alert_id]
    assert [(e.actor, e.action) for e in audit] == [("api:river", "create")]


async def test_the_status_of_a_draft_and_of_a_sent_alert(console_site: ConsoleSite, river: System) -> None:
    await console_site.store.save_subscriber(
        Subscriber(id=0, channel=ContactKind.EMAIL, contact=ADDRESS, categories=frozenset({"disaster"}), tester=True)
    )
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).replace(microsecond=0)
    alert_id = (await river.post(draft(expires=expires.isoformat()))).data["id"]

    answer = await river.call("GET", f"/api/v1/alerts/{alert_id}")
    assert answer.status == 200
    status = answer.data
    assert {k: status[k] for k in ("id", "state", "mode", "msg_type", "category", "level", "title")} == {
        "id": alert_id,
        "state": "draft",
        "mode": "exercise",
        "msg_type": "alert",
        "category": "disaster",
        "level": 3,
        "title": "思川 水位上昇",
    }
    assert (status["source"], status["created_by"], status["deliveries"]) == ("api", "api:river", {})
    stored = await console_site.store.get_alert(alert_id)
    assert stored is not None and status["fingerprint"] == fingerprint(stored)  # the version an approval names
    assert ISO_JST.fullmatch(status["created_at"]) and ISO_JST.fullmatch(status["expires"])
    assert dt.datetime.fromisoformat(status["expires"]) == expires

    # an officer sends it; the system then sees each channel's progress, but never who got it
    await console_site.core.dispatcher.approve(alert_id, "sato", "test")
    await console_site.settled(alert_id)
    status = (await river.call("GET", f"/api/v1/alerts/{alert_id}")).data
    assert status["state"] == "done"
    assert status["deliveries"]["email"]["counts"]["sent"] == 1
    for channel, progress in status["deliveries"].items():
        assert set(progress) == {"counts", "first_sent", "last_sent", "next_retry"}, channel
        if progress["counts"]["sent"]:
            assert ISO_JST.fullmatch(progress["first_sent"]) and ISO_JST.fullmatch(progress["last_sent"]), channel
    assert ADDRESS not in json.dumps(status) and "recipient" not in json.dumps(status)


async def test_the_list_holds_the_newest_alerts_and_filters_by_state(console_site: ConsoleSite, river: System) -> None:
    made = [(await river.post(draft(title=f"第{n}報"))).data["id"] for n in range(1, 4)]
    await console_site.core.dispatcher.approve(made[0], "sato", "test")
    await console_site.settled(made[0])

    listed = (await river.call("GET", "/api/v1/alerts?limit=2")).data["alerts"]
    assert [a["id"] for a in listed] == made[:0:-1]
    assert set(listed[0]) == {"id", "state", "mode", "msg_type", "category", "level", "title", "created_at",
                              "expires", "districts", "links"}  # fmt: skip
    drafts_only = (await river.call("GET", "/api/v1/alerts?state=draft")).data["alerts"]
    assert [a["id"] for a in drafts_only] == made[:0:-1]
    done = (await river.call("GET", "/api/v1/alerts?state=done")).data["alerts"]
    assert [a["id"] for a in done] == made[:1]


async def test_a_bad_query_is_refused_in_json(river: System) -> None:
    for query, field in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("state=sent", "state")]:
        answer = await river.call("GET", f"/api/v1/alerts?{query}")
        assert answer.status == 400, query
        assert answer.data["error"] == "bad-query" and answer.data["detail"].startswith(f"{field}:"), answer.data


async def test_without_a_working_token_nothing_is_stored(console_site: ConsoleSite, river: System) -> None:
    before = await count(console_site)
    for authorization in [
        "",
        "Bearer",
        "Bearer nonsense",
        "Bearer cab_not-a-token",
        "Basic cml2ZXI6cGFzcw==",
        river.token,
    ]:
        headers = {"Authorization": authorization}
        answer = await river.post(draft(), **headers)
        assert answer.status == 401, authorization
        assert answer.data["error"] == "unauthorized" and "Bearer" in answer.headers["WWW-Authenticate"]
        assert (await river.call("GET", "/api/v1/alerts", headers=headers)).status == 401, authorization
    assert await count(console_site) == before


async def test_a_revoked_token_stops_working(console_site: ConsoleSite, river: System) -> None:
    assert (await river.post(draft())).status == 201
    await console_site.store.revoke_token("river", "admin", "test")
    before = await count(console_site)
    assert (await river.post(draft())).status == 401
    assert (await river.call("GET", "/api/v1/alerts")).status == 401
    assert await count(console_site) == before


def past() -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()


async def chunked(size: int) -> AsyncIterator[bytes]:
    """A body sent without Content-Length, so the server cannot refuse it before reading."""
    yield b'{"title": "'
    for _ in range(size // 4096):
        yield b"x" * 4096
    yield b'"}'


JSON = {"Content-Type": "application/json"}
INVALID: list[tuple[str, Any, dict[str, str], int, str]] = [
    # (case, body: dict -> JSON, bytes -> raw, headers, status, what the detail starts with or holds)
    ("not JSON", b"category=disaster&title=x", JSON, 400, "the body is not JSON"),
    ("not UTF-8", '{"title": "水位"}'.encode("shift_jis"), JSON, 400, "the body is not JSON"),
    ("nested too deeply", b"[" * 60_000, JSON, 400, "the body is not JSON"),
    ("a form", b"title=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "send Content-Type"),
    ("no content type", b"{}", {}, 415, "send Content-Type"),
    ("shift_jis", b"{}", {"Content-Type": "application/json; charset=shift_jis"}, 415, "send Content-Type"),
    ("a JSON list", [draft()], {}, 422, "request body: a JSON object"),
    ("unknown field", draft(colour="red"), {}, 422, "colour: unknown field"),
    ("missing title", {k: v for k, v in draft().items() if k != "title"}, {}, 422, "title: Field required"),
    ("empty title", draft(title="   "), {}, 422, "title:"),
    ("level 0", draft(level=0), {}, 422, "level:"),
    ("level as text", draft(level="high"), {}, 422, "level:"),
    ("unknown category", draft(category="weather"), {}, 422, "category: unknown 'weather'"),
    ("unknown channel", draft(channels=["pager"]), {}, 422, "channels: pager not enabled"),
    ("unknown mode", draft(mode="real"), {}, 422, "mode:"),
    ("unknown language", draft(translations={"xx": {"title": "t", "body": "b"}}), {}, 422, "translations: xx"),
    ("bad area", draft(areas=["Oyama"]), {}, 422, "areas:"),
    ("expires without offset", draft(expires="2030-01-01T09:00:00"), {}, 422, "expires needs a UTC offset"),
    ("expires in the past", draft(expires=past()), {}, 422, "expires: must be in the future"),
    ("huge title", draft(title="水" * 200), {}, 422, "title:"),
    ("huge body", draft(body="x" * (api_schema.MAX_BODY + 1)), {}, 413, "the body is over"),
    ("bad idempotency key", draft(), {"Idempotency-Key": "スペース key"}, 400, "Idempotency-Key:"),
]


async def test_an_invalid_draft_is_refused_in_json_and_nothing_is_stored(
    console_site: ConsoleSite, river: System
) -> None:
    # one service for the whole table: starting one per case would cost a minute
    before = await count(console_site)
    for case, body, headers, status, detail in INVALID:
        if isinstance(body, bytes):
            answer = await river.call("POST", "/api/v1/drafts", data=body, headers=headers)
        else:
            answer = await river.call("POST", "/api/v1/drafts", json_body=body, headers=headers)
        assert answer.status == status, (case, answer.data)
        assert {"error", "detail"} <= set(answer.data) <= {"error", "detail", "problems"}, case
        assert "problems" not in answer.data or answer.data["error"] in ("invalid", "unknown-district"), case
        assert detail in answer.data["detail"], (case, answer.data)
        assert await count(console_site) == before, case


async def test_a_chunked_body_over_the_limit_is_refused(console_site: ConsoleSite, river: System) -> None:
    before = await count(console_site)
    answer = await river.call("POST", "/api/v1/drafts", data=chunked(api_schema.MAX_BODY * 2), headers=JSON)
    assert (answer.status, answer.data["error"]) == (413, "too-large")
    assert await count(console_site) == before


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_draft(
    console_site: ConsoleSite, river: System
) -> None:
    first = await river.post(draft(), **{"Idempotency-Key": "river-2026-0001"})
    again = await river.post(draft(), **{"Idempotency-Key": "river-2026-0001"})
    assert first.status == again.status == 201
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    assert await count(console_site) == 1

    other = await river.post(draft(), **{"Idempotency-Key": "river-2026-0002"})
    assert other.data["id"] != first.data["id"]
    reused = await river.post(draft(level=4), **{"Idempotency-Key": "river-2026-0001"})
    assert (reused.status, reused.data["error"]) == (422, "idempotency-key-reused")
    assert await count(console_site) == 2

    # keys belong to one system: the clinic roster's key of the same spelling is its own
    clinic_token = await console_site.console.accounts.add_token("clinic", "test", "test", scopes=list(Scope))
    clinic = System(river.client, clinic_token)
    theirs = await clinic.post(draft(category="health"), **{"Idempotency-Key": "river-2026-0001"})
    assert theirs.status == 201 and theirs.data["id"] != first.data["id"]
    assert await count(console_site) == 3


async def test_retries_that_arrive_together_make_one_draft(console_site: ConsoleSite, river: System) -> None:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(river.post(draft(), **{"Idempotency-Key": "timed-out"})) for _ in range(5)]
    assert len({t.result().data["id"] for t in tasks}) == 1
    assert await count(console_site) == 1


async def test_script_in_a_title_comes_back_verbatim_as_json(console_site: ConsoleSite, river: System) -> None:
    title = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
    alert_id = (await river.post(draft(title=title, body="</script><!--"))).data["id"]
    async with river.client.get(f"/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {river.token}"}) as r:
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert (await r.json())["title"] == title
    listed = (await river.call("GET", "/api/v1/alerts")).data["alerts"]
    assert listed[0]["title"] == title


async def test_errors_are_json(river: System) -> None:
    unknown = "/api/v1/alerts/20260101-000000-abcdef"
    for method, path, status in [
        ("GET", unknown, 404),
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v2/alerts", 404),
        ("GET", "/api/v1/drafts", 405),
        ("PUT", "/api/v1/drafts", 405),
        ("DELETE", unknown, 405),
    ]:
        answer = await river.call(method, path)
        assert answer.status == status, (method, path)
        assert set(answer.data) == {"error", "detail"} and answer.data["error"], (method, path)
        if status == 405:
            assert answer.headers["Allow"], (method, path)


async def test_the_openapi_document_is_public_and_covers_every_route(console_site: ConsoleSite) -> None:
    visitor = await console_site.anonymous()
    async with visitor.client.get("/api/v1/openapi.json") as r:
        assert (r.status, r.content_type) == (200, "application/json")
        doc = await r.json()
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"]
    registered: dict[str, set[str]] = {}
    for route in console_site.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if path.startswith("/api/") and route.method != "HEAD":
            registered.setdefault(path, set()).add(route.method.lower())
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == registered

    schemas = doc["components"]["schemas"]
    assert set(schemas["Draft"]["properties"]) == set(drafts.Draft.model_fields)
    assert schemas["Draft"]["required"] == ["category", "title", "body"]  # level: only where the category has levels
    assert schemas["Draft"]["properties"]["level"]["type"] == ["integer", "null"]
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert "run.py tokens add NAME --scope" in bearer["description"]
    assert all(scope in bearer["description"] for scope in Scope)
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    post = doc["paths"]["/api/v1/drafts"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Draft"}
    assert {"201", "401", "413", "415", "422"} <= set(post["responses"])

    # every reference points at something the document holds
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            assert part in node, ref
            node = node[part]


async def test_a_status_answer_matches_its_documented_schema(river: System) -> None:
    """The answers are the models the document was generated from, so their fields agree."""
    alert_id = (await river.post(draft())).data["id"]
    status = (await river.call("GET", f"/api/v1/alerts/{alert_id}")).data
    assert api_schema.AlertStatus.model_validate(status).id == alert_id
    schemas = api_schema.document()["components"]["schemas"]
    documented = set(schemas["AlertStatus"]["properties"])
    assert set(status) == documented
