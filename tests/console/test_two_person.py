"""Two-person integrity tried as an attacker would: `run.py serve` as a subprocess, accounts made with
`run.py users add`, every step a plain HTTP request with the form fields a person (or a script) could send.

- An approval approves one exact version: a POST carrying the fingerprint of the version read before the
  author changed it is refused (409) and nothing is sent; the fingerprint of the version on the page works.
- A typed 本番 is bound the same way.
- Whoever wrote or edited a draft cannot approve it, whatever the form says.
- A rejection needs a reason, and the author reads it on the draft.
- The approver's page says 本番 in a banner while the approver's own console is in exercise mode.
- A correction is a live alert like any other: live mode, the typed 本番 bound to its content, and a
  second person.

One server for the whole module: each start costs seconds.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import ROOT, TEST_PASSWORD_HASH, toml_sections
from tests.processes import Service, free_port, query, run_cli

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEW_PASSWORD = "two people, one alert, no shortcuts"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FINGERPRINT = re.compile(r'data-fingerprint="([0-9a-f]{64})"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
PEOPLE = {"sato": "operator", "suzuki": "approver", "kimura": "approver"}
BODY = "思川の水位が氾濫危険水位を超えました。中央地区に避難指示を発令しました。"


@dataclass
class Page:
    """A response, read."""

    status: int
    text: str
    location: str


class Person:
    """One person's browser against the real service: a cookie jar and the CSRF field of the last page."""

    def __init__(self, base: str) -> None:
        self.http = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def _read(self, response: aiohttp.ClientResponse) -> Page:
        page = Page(response.status, await response.text(), response.headers.get("Location", ""))
        found = CSRF.search(page.text)
        if found:
            self.csrf = found.group(1)
        return page

    async def get(self, path: str) -> Page:
        """GET without following redirects."""
        async with self.http.get(path, allow_redirects=False) as response:
            return await self._read(response)

    async def post(self, path: str, fields: dict[str, Any]) -> Page:
        """POST a form with the CSRF field of the last page, without following redirects."""
        form = [("csrf", self.csrf)]
        for key, value in fields.items():
            form.extend((key, str(v)) for v in (value if isinstance(value, list) else [value]))
        async with self.http.post(path, data=form, allow_redirects=False) as response:
            return await self._read(response)

    async def log_in_first_time(self, name: str, one_time: str) -> None:
        """Log in with the one-time password from `run.py users add` and replace it, as the console demands."""
        await self.get("/console/login")
        reply = await self.post("/console/login", {"name": name, "password": one_time, "next": "/console/"})
        assert reply.status == 303, (reply.status, reply.text[:500])
        forced = await self.get(reply.location)  # the console sends a one-time password to be changed first
        assert forced.location.startswith("/console/password"), (forced.status, forced.location)
        await self.get("/console/password")
        changed = {"current": one_time, "new": NEW_PASSWORD, "again": NEW_PASSWORD}
        assert (await self.post("/console/password", changed)).status == 303

    async def to_live(self) -> None:
        """Flip the session's mode switch to 本番."""
        await self.get("/console/dashboard")
        assert (await self.post("/console/mode", {"mode": "live", "next": "/console/dashboard"})).status == 303

    async def alert(self, alert_id: str) -> tuple[Page, str]:
        """The alert's page and the fingerprint it shows ('' when it shows none)."""
        page = await self.get(f"/console/alerts/{alert_id}")
        assert page.status == 200, page.text[:500]
        found = FINGERPRINT.search(page.text)
        return page, found.group(1) if found else ""

    async def approve(self, alert_id: str, fingerprint: str) -> Page:
        """POST the approval with ``fingerprint``, the box ticked."""
        await self.get(f"/console/alerts/{alert_id}")
        return await self.post(f"/console/alerts/{alert_id}/approve", {"checked": "yes", "fingerprint": fingerprint})

    async def confirm(self, alert_id: str, fingerprint: str | None = None) -> Page:
        """Type 本番 on the confirmation page; its own fingerprint unless another is given."""
        page = await self.get(f"/console/alerts/{alert_id}/confirm")
        assert page.status == 200, page.text[:500]
        found = FINGERPRINT.search(page.text)
        assert found, "the confirmation page shows no fingerprint"
        seen = found.group(1) if fingerprint is None else fingerprint
        return await self.post(f"/console/alerts/{alert_id}/confirm", {"typed": "本番", "fingerprint": seen})


def form(**changes: Any) -> dict[str, Any]:
    """The compose (and edit) form of a live evacuation order; ``changes`` replace fields."""
    fields: dict[str, Any] = {
        "category": "disaster",
        "level": "4",
        "title": "避難指示（警戒レベル4）",
        "body": BODY,
        "instruction": "直ちに避難してください。",
        "areas": ["0920800"],
        "channels": ["email", "website"],
        "expires_in": "120",
        "do": "save",
    }
    return fields | changes


@dataclass
class City:
    """The service under test, its database, and one logged-in browser per person."""

    service: Service
    db: Path
    people: dict[str, Person]

    async def draft(self, author: str, **changes: Any) -> str:
        """A live draft saved from the compose form by ``author``; its id."""
        person = self.people[author]
        await person.get("/console/compose")
        reply = await person.post("/console/compose", form(**changes))
        assert reply.status == 303 and reply.location.startswith("/console/alerts/"), reply.text[:2000]
        return reply.location.removeprefix("/console/alerts/")

    async def edit(self, editor: str, alert_id: str, **changes: Any) -> None:
        """Change a draft from its edit form."""
        person = self.people[editor]
        assert (await person.get(f"/console/alerts/{alert_id}/edit")).status == 200
        reply = await person.post(f"/console/alerts/{alert_id}/edit", form(**changes))
        assert reply.status == 303, reply.text[:2000]

    def state(self, alert_id: str) -> tuple[str, int]:
        """The alert's state and how many delivery rows it has."""
        [(state,)] = query(self.db, "SELECT state FROM alerts WHERE id = ?", alert_id)
        [(rows,)] = query(self.db, "SELECT count(*) FROM deliveries WHERE alert_id = ?", alert_id)
        return state, rows


def site_file(folder: Path) -> Path:
    """A site config whose storage lives in ``folder`` (as tests/conftest.py's ``site`` writes it)."""
    sections: dict[str, dict[str, Any]] = {
        "storage": {"path": str(folder / "var" / "broadcaster.db"), "outbox_dir": str(folder / "var" / "outbox")},
        "retry": {"base_delay": 0.0, "max_delay": 0.0, "jitter": 0.0},
        "jma": {"enabled": False},
        "fm": {"drop_dir": str(folder / "var" / "fm"), "workers": 1},
        "console.password_hash": dict(TEST_PASSWORD_HASH),
    }
    path = folder / "site.toml"
    path.write_text("\n".join(toml_sections(sections)), encoding="utf-8")
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    """`run.py serve` with an operator (sato) and two approvers (suzuki, kimura), each logged in over HTTP."""
    folder = tmp_path_factory.mktemp("two_person")
    config = site_file(folder)
    run_py = [sys.executable, str(ROOT / "run.py")]
    one_time = {}
    for name, role in PEOPLE.items():
        made = await run_cli(run_py, config, "users", "add", name, "--role", role)
        assert made.rc == 0, made.stderr
        one_time[name] = made.stdout.strip().splitlines()[-1]
    service = await Service.start(run_py, config, free_port(), folder)
    people: dict[str, Person] = {}
    try:
        await service.wait_for("serving on")
        for name in PEOPLE:
            people[name] = Person(f"http://127.0.0.1:{service.port}")
            await people[name].log_in_first_time(name, one_time[name])
        await people["sato"].to_live()  # the author writes live alerts; the approvers stay in exercise mode
        yield City(service, folder / "var" / "broadcaster.db", people)
    finally:
        for person in people.values():
            await person.http.close()
        await service.kill()


async def test_an_approval_of_a_changed_alert_is_refused_and_the_read_version_is_approved(city: City) -> None:
    sato, suzuki, kimura = (city.people[n] for n in ("sato", "suzuki", "kimura"))
    alert_id = await city.draft("sato")
    assert (await sato.confirm(alert_id)).status == 303
    page, read = await suzuki.alert(alert_id)  # suzuki reads the version waiting for approval
    assert read and "承認して送信" in page.text
    # in exercise mode, the approver's page still says plainly that this one is live
    assert 'data-mode="exercise"' in page.text and 'class="live-alert-banner"' in page.text
    assert "本番の情報です" in page.text and "あなたの画面は訓練モード" in page.text

    # kimura sends it back: a reason is required, and the author reads it on the draft
    await kimura.get(f"/console/alerts/{alert_id}")
    refused = await kimura.post(f"/console/alerts/{alert_id}/reject", {"reason": "  "})
    assert refused.status == 400 and city.state(alert_id) == ("pending_approval", 0)
    reason = "避難所の名前が抜けています"
    assert (await kimura.post(f"/console/alerts/{alert_id}/reject", {"reason": reason})).status == 303
    draft, _ = await sato.alert(alert_id)
    assert reason in draft.text and "差し戻されました（kimura）" in draft.text

    # the author changes the words and puts it forward again; the reason is answered
    await city.edit("sato", alert_id, body=BODY + "避難所は第一小学校です。")
    assert (await sato.confirm(alert_id)).status == 303
    assert reason not in (await sato.alert(alert_id))[0].text

    # the approval of the version suzuki read is refused, and nothing goes out
    stale = await suzuki.approve(alert_id, read)
    assert stale.status == 409 and "読み直" in stale.text
    assert city.state(alert_id) == ("pending_approval", 0)

    page, current = await suzuki.alert(alert_id)
    assert current != read and "第一小学校" in page.text
    assert (await suzuki.approve(alert_id, current)).status == 303
    state, rows = city.state(alert_id)
    assert state in ("approved", "dispatching", "done") and rows > 0
    # every hand is on the page: the author, the requester and the approver
    page, _ = await sato.alert(alert_id)
    hands = dict(re.findall(r'<tr class="hands"><th>([^<]+)</th><td>([^<]+)</td>', page.text))
    assert hands["作成・編集者"] == "sato" and hands["依頼者"].startswith("sato (")
    assert hands["承認者"].startswith("suzuki (")


async def test_whoever_edited_a_draft_cannot_approve_it(city: City) -> None:
    sato, suzuki, kimura = (city.people[n] for n in ("sato", "suzuki", "kimura"))
    alert_id = await city.draft("sato", title="避難指示（警戒レベル4）中央地区")
    await city.edit("kimura", alert_id, title="避難指示（警戒レベル4）中央地区・北地区")  # an approver edits
    assert (await sato.confirm(alert_id)).status == 303

    page, shown = await kimura.alert(alert_id)
    assert "自分が作成・編集・依頼した情報は承認できません" in page.text
    assert f'action="/console/alerts/{alert_id}/approve"' not in page.text
    # the form the page does not offer, posted anyway with the right fingerprint
    refused = await kimura.approve(alert_id, shown)
    assert refused.status == 403 and city.state(alert_id) == ("pending_approval", 0)
    hands = dict(re.findall(r'<tr class="hands"><th>([^<]+)</th><td>([^<]+)</td>', page.text))
    assert hands["作成・編集者"] == "sato、kimura" and hands["承認者"] == "—（承認待ち）"

    _, current = await suzuki.alert(alert_id)
    assert current == shown
    assert (await suzuki.approve(alert_id, current)).status == 303


async def test_a_typed_live_confirmation_of_a_changed_draft_is_refused(city: City) -> None:
    sato = city.people["sato"]
    alert_id = await city.draft("sato", title="避難指示（警戒レベル4）南地区")
    page = await sato.get(f"/console/alerts/{alert_id}/confirm")
    [seen] = FINGERPRINT.findall(page.text)
    await city.edit("kimura", alert_id, level="3", title="高齢者等避難（警戒レベル3）南地区")

    refused = await sato.confirm(alert_id, seen)
    assert refused.status == 409 and "読み直" in refused.text and "高齢者等避難" in refused.text
    assert city.state(alert_id) == ("draft", 0)
    assert query(city.db, "SELECT requested_by FROM alerts WHERE id = ?", alert_id) == [(None,)]
    assert (await sato.confirm(alert_id)).status == 303  # the version now on the page
    assert city.state(alert_id) == ("pending_approval", 0)


async def test_a_correction_is_a_live_alert_like_any_other(city: City) -> None:
    sato, suzuki, kimura = (city.people[n] for n in ("sato", "suzuki", "kimura"))
    alert_id = await city.draft("sato", title="避難指示（警戒レベル4）東地区")
    assert (await sato.confirm(alert_id)).status == 303
    _, shown = await suzuki.alert(alert_id)
    assert (await suzuki.approve(alert_id, shown)).status == 303
    path = f"/console/alerts/{alert_id}/correct"
    fields = {
        k: v for k, v in form(title="避難指示（警戒レベル4）東地区・西地区").items() if k not in ("do", "expires_in")
    }

    # kimura's console is in exercise mode: a live event is not corrected from there
    assert (await kimura.get(path)).status == 200
    refused = await kimura.post(path, fields)
    assert refused.status == 409 and "本番モード" in refused.text

    # sato, in live mode, reviews it and must type 本番 for exactly what was reviewed
    assert (await sato.get(path)).status == 200
    review = await sato.post(path, fields)
    assert review.status == 200 and "「本番」と入力" in review.text
    carried = [
        (k, v.replace("&amp;", "&").replace("&#34;", '"')) for k, v in HIDDEN.findall(review.text) if k != "csrf"
    ]
    as_form: dict[str, Any] = {}
    for key, value in carried:
        as_form.setdefault(key, []).append(value)
    untyped = await sato.post(path, as_form | {"typed": "はい"})
    assert untyped.status == 400
    other = await sato.post(path, as_form | {"title": ["避難指示（警戒レベル4）北地区"], "typed": "本番"})
    assert other.status == 409  # other words than those reviewed: reviewed again, not sent
    await sato.get(path)
    sent = await sato.post(path, as_form | {"typed": "本番"})
    assert sent.status == 303, sent.text[:1000]
    correction_id = sent.location.removeprefix("/console/alerts/")
    assert city.state(correction_id) == ("pending_approval", 0)  # 防災: a second person, as for any live alert

    kind = query(city.db, "SELECT msg_type, refs, title FROM alerts WHERE id = ?", correction_id)
    assert kind == [("correction", alert_id, "避難指示（警戒レベル4）東地区・西地区")]
    _, version = await sato.alert(correction_id)
    assert (await sato.approve(correction_id, version)).status == 403  # sato wrote it
    assert city.state(correction_id) == ("pending_approval", 0)
    _, version = await suzuki.alert(correction_id)
    assert (await suzuki.approve(correction_id, version)).status == 303
    state, rows = city.state(correction_id)
    assert state in ("approved", "dispatching", "done") and rows > 0
