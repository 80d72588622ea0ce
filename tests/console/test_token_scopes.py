"""API tokens carry scopes: each route (and /metrics) needs the one its OpenAPI operation names, a token
without it gets 403 naming it and nothing is stored; tokens made before scopes keep every scope of that
time; the admin page shows them; ended sessions and old Idempotency-Keys are pruned. In process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from broadcaster import prune, scopes
from broadcaster.models import Role
from broadcaster.scopes import Scope
from broadcaster.settings import Settings
from broadcaster.state import API_IDEMPOTENCY
from broadcaster.store.schema import MIGRATIONS
from broadcaster.web.console import api_schema
from tests.console.conftest import ConsoleSite, SiteMaker
from tests.console.test_api import Answer, System, count, draft

OPEN = {"/api/v1/openapi.json"}


async def system(site: ConsoleSite, name: str, granted: list[str]) -> System:
    """Another city system with a token of ``granted`` scopes."""
    token = await site.console.accounts.add_token(name, "test", "test", scopes=granted)
    return System((await site.anonymous()).client, token)


async def document(site: ConsoleSite) -> dict[str, Any]:
    client = (await site.anonymous()).client
    async with client.get("/api/v1/openapi.json") as r:
        doc: dict[str, Any] = await r.json()
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(operationId, method, path, the scope its security names) for every operation needing a token."""
    found = []
    for path, methods in doc["paths"].items():
        if path in OPEN:
            continue
        for method, operation in methods.items():
            [requirement] = operation["security"]
            [scope] = requirement["bearer"]
            found.append((operation["operationId"], method.upper(), path, scope))
    return found


async def sent_alert(site: ConsoleSite) -> str:
    """An exercise alert posted through the API and sent: something to read, correct and lift."""
    poster = await system(site, "poster", list(scopes.VALID))
    alert_id = str((await poster.post(draft())).data["id"])
    await site.core.dispatcher.approve(alert_id, "sato", "test")
    await site.settled(alert_id)
    return alert_id


def bodies() -> dict[str, Any]:
    """A valid body per operation that takes one: a refusal is the scope's doing, not the body's."""
    return {
        "createDraft": draft(),
        "correctAlert": draft(body="水位は下がり始めました。", confirmed_translations=["en"]),
        "liftAlert": {"reason": ""},
    }


async def call(caller: System, operation: str, method: str, path: str) -> Answer:
    return await caller.call(method, path, json_body=bodies().get(operation))


async def test_each_operation_needs_the_scope_its_document_names(console_site: ConsoleSite) -> None:
    alert_id = await sent_alert(console_site)
    found = operations(await document(console_site))
    assert {op for op, *_ in found} == set(api_schema.SCOPES)
    assert {scope for *_, scope in found} == set(scopes.VALID) - {Scope.METRICS_READ}
    before = await count(console_site)

    # every token that lacks the scope, and only that one, is refused before the handler runs
    for operation, method, template, scope in found:
        path = template.replace("{alert_id}", alert_id)
        others = await system(console_site, f"no-{operation.lower()}", [s for s in scopes.VALID if s != scope])
        answer = await call(others, operation, method, path)
        assert answer.status == 403, (operation, answer.data)
        assert answer.data["error"] == "insufficient-scope" and scope in answer.data["detail"], answer.data
        challenge = answer.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge and f'scope="{scope}"' in challenge
    assert await count(console_site) == before  # nothing was made by a refused token

    for operation, method, template, scope in found:
        path = template.replace("{alert_id}", alert_id)
        only = await system(console_site, f"only-{operation.lower()}", [scope])
        answer = await call(only, operation, method, path)
        assert answer.status in (200, 201), (operation, answer.status, answer.data)


async def test_a_metrics_token_cannot_create_drafts_nor_a_drafts_token_read_metrics(
    console_site: ConsoleSite,
) -> None:
    prometheus = await system(console_site, "prometheus", ["metrics:read"])
    river = await system(console_site, "river", ["drafts:write"])
    before = await count(console_site)

    answer = await prometheus.post(draft())
    assert answer.status == 403 and "drafts:write" in answer.data["detail"], answer.data
    assert (await prometheus.call("GET", "/api/v1/alerts")).status == 403
    assert await count(console_site) == before

    async def metrics(client: TestClient[Any, Any], token: str) -> tuple[int, str]:
        async with client.get("/metrics", headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.text()

    status, text = await metrics(prometheus.client, prometheus.token)
    assert status == 200 and "broadcaster_" in text
    status, text = await metrics(river.client, river.token)
    assert status == 403 and "metrics:read" in text
    assert (await river.post(draft())).status == 201
    # an officer's session still reads /metrics, as before scopes
    officer = await console_site.browser("sato", Role.OPERATOR)
    assert (await officer.get("/metrics")).status == 200


def test_every_api_route_names_a_scope_and_every_operation_documents_403(console_site: ConsoleSite) -> None:
    named = {
        route.resource.name
        for route in console_site.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
    }
    assert named == {*api_schema.SCOPES, api_schema.OPENAPI}  # a route without a name would need no scope
    doc = api_schema.document()
    for operation, _, _, scope in operations(doc):
        assert api_schema.SCOPES[operation] == scope
    for path, methods in doc["paths"].items():
        for operation in methods.values():
            assert ("403" in operation["responses"]) == (path not in OPEN), path


async def test_the_admin_page_shows_names_scopes_and_revocations_never_the_tokens(console_site: ConsoleSite) -> None:
    river = await system(console_site, "river", ["drafts:write", "alerts:read"])
    prometheus = await system(console_site, "prometheus", ["metrics:read"])
    await console_site.store.revoke_token("prometheus", "admin", "test")
    admin = await console_site.browser("kanri", Role.ADMIN)

    page = await admin.get("/console/admin/tokens")
    assert page.status == 200
    assert river.token not in page.text and prometheus.token not in page.text and "cab_" not in page.text
    row = page.text.split('id="token-river"')[1].split("</tr>")[0]
    assert '<code class="scope">alerts:read</code> <code class="scope">drafts:write</code>' in row
    assert 'data-revoked="no"' in page.text.split('id="token-river"')[1][:30] and "有効" in row
    revoked = page.text.split('id="token-prometheus"')[1].split("</tr>")[0]
    assert "metrics:read" in revoked and "失効" in revoked
    assert "新しい下書きを登録する" in page.text  # what each scope allows, in Japanese on a Japanese page
    assert 'href="/console/admin/tokens"' in page.text  # in the admin's navigation

    operator = await console_site.browser("sato", Role.OPERATOR)
    assert (await operator.get("/console/admin/tokens")).status == 403


async def test_a_token_made_before_scopes_keeps_every_scope_of_that_time(
    make_site: SiteMaker, console_settings: Callable[..., Settings]
) -> None:
    db = _database(console_settings())
    token = "cab_made-before-scopes"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for number, script in enumerate(MIGRATIONS[:9], start=1):  # the schema as it was before migration 10
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        conn.execute(
            "INSERT INTO api_tokens (id, name, created_at) VALUES (?, 'legacy', 1.0)",
            (hashlib.sha256(token.encode()).hexdigest(),),
        )
        conn.commit()

    site = await make_site()
    [legacy] = await site.store.list_tokens()
    assert legacy.name == "legacy" and legacy.scopes == scopes.decode(scopes.BEFORE_SCOPES)
    assert scopes.BEFORE_SCOPES in MIGRATIONS[9]  # the migration grants exactly these
    assert legacy.scopes == set(Scope)  # every scope there is today: nothing that worked stopped working
    old = System((await site.anonymous()).client, token)
    answer = await old.post(draft())
    assert answer.status == 201, answer.data
    assert (await old.call("GET", f"/api/v1/alerts/{answer.data['id']}")).status == 200
    async with old.client.get("/metrics", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200


def _database(settings: Settings) -> Path:
    path = settings.path(settings.storage.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def test_the_prune_drops_ended_sessions_and_old_idempotency_keys_and_keeps_fresh_ones(
    console_site: ConsoleSite,
) -> None:
    policy = console_site.settings.console
    fresh = await console_site.browser("fresh", Role.OPERATOR)
    await console_site.browser("idle", Role.OPERATOR)
    await console_site.browser("old", Role.OPERATOR)
    river = await system(console_site, "river", ["drafts:write"])
    old_id = (await river.post(draft(title="古い"), **{"Idempotency-Key": "old"})).data["id"]
    new_id = (await river.post(draft(title="新しい"), **{"Idempotency-Key": "new"})).data["id"]

    now = time.time()
    db = _database(console_site.settings)
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn, conn:
        conn.execute("UPDATE sessions SET seen_at = ? WHERE user = 'idle'", (now - policy.idle_timeout - 60,))
        conn.execute("UPDATE sessions SET created_at = ? WHERE user = 'old'", (now - policy.session_lifetime - 60,))
        conn.execute(
            "UPDATE alerts SET created_at = ? WHERE id = ?", (now - policy.idempotency_ttl - 60, old_id)
        )  # the key was remembered with its draft, a day and a minute ago

    pruned = await prune.prune(console_site.store, policy, time.time())

    assert (pruned.sessions, pruned.idempotency_keys) == (2, 1)
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        assert [row[0] for row in conn.execute("SELECT user FROM sessions")] == ["fresh"]
    assert await console_site.store.get_state(API_IDEMPOTENCY, "river:old") is None
    assert (await console_site.store.get_state(API_IDEMPOTENCY, "river:new") or "").startswith(new_id)
    assert (await fresh.get("/console/dashboard")).status == 200
    # a retry with the forgotten key makes a new draft; the fresh key still replays its own
    again = await river.post(draft(title="古い"), **{"Idempotency-Key": "old"})
    assert again.status == 201 and again.data["id"] != old_id and "Idempotent-Replayed" not in again.headers
    replayed = await river.post(draft(title="新しい"), **{"Idempotency-Key": "new"})
    assert replayed.data["id"] == new_id and replayed.headers["Idempotent-Replayed"] == "true"
    # and a second prune finds nothing more to do
    assert await prune.prune(console_site.store, policy, time.time()) == prune.Pruned(0, 0)


async def test_the_service_prunes_in_the_background(console_site: ConsoleSite) -> None:
    assert any(task.get_name() == "prune" for task in asyncio.all_tasks())  # the service's own
    await console_site.browser("idle", Role.OPERATOR)
    db = _database(console_site.settings)
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn, conn:
        conn.execute("UPDATE sessions SET seen_at = 0")

    async with prune.running(console_site.store, console_site.settings.console):  # a round at start, then hourly
        with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
            assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        assert any(task.get_name() == "prune" for task in asyncio.all_tasks() if not task.done())
