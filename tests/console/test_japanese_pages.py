"""Japanese pages are Japanese end to end: no English error line, action, state or channel name on them.

The test works the console as an operator, an approver and an admin in Japanese, with alerts in every
state it can hold still (draft, awaiting approval, done, cancelled, corrected), provokes the errors a
person can cause (bad forms, a stale fingerprint, a reject without a reason, approving one's own,
sending what was sent, correcting what never went out …), and reads every page and refusal it got,
then the residents' subscription pages. Any visible run of ASCII letters fails it unless it is on the
short allowlist: the product names, URLs, ids and mail addresses, code in <code>/<pre>, and what the
test itself typed. Form values (attributes, <textarea>) are data, not the page's words, and so are words
marked as another language (an element whose lang is not ja: an alert's English words in the preview,
a language named in itself).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from broadcaster.errors import InputError, Problem
from broadcaster.models import AlertState, Role
from broadcaster.web.console import wording
from broadcaster.web.console.web import load_text
from tests.console.conftest import ConsoleSite, Reply, SiteMaker

# product and protocol names shown as themselves on a Japanese page
ALLOWED = frozenset({"LINE", "X", "Mastodon", "Bluesky", "CAP", "FM", "ID", "SNS", "CATV", "CSV", "API", "URL",
                     "JMA", "Open", "JTalk", "L", "Atom", "JSON", "TOTP", "JST", "XML", "JavaScript",
                     "English",  # a language picker names each language in its own words
                     "U",  # a LINE user id starts with U (the hint on the users page)
                     "p", "s"})  # fmt: skip  # latency p50 / p95 in s (SI unit)
HIDDEN = re.compile(r"<(script|style|code|pre|textarea)\b.*?</\1>|<!--.*?-->", re.S | re.I)
# an element in another language (not nested in one of its own kind: a preview's section, a name's span)
FOREIGN = re.compile(r'<(section|div|span|option|a|strong)\b[^>]*\blang="(?!ja")[^"]*"[^>]*>.*?</\1>', re.S)
TAG = re.compile(r"<[^>]*>")
URL = re.compile(r"\b(?:https?|mailto)://\S+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ALERT_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b")
HEX = re.compile(r"\b[0-9a-f]{8,}\b")
LETTERS = re.compile(r"[A-Za-z]+")
PEOPLE = {"sato": Role.OPERATOR, "suzuki": Role.APPROVER, "tanaka": Role.APPROVER, "kanri": Role.ADMIN}
TYPED = ("sato", "suzuki", "tanaka", "kanri", "yamada", "test", "Suspicious person", "Seen near the station.",
         "Still true.")  # fmt: skip


def english(page: str, typed: tuple[str, ...] = TYPED) -> list[str]:
    """The runs of ASCII letters a reader sees on ``page`` that are neither allowed nor typed by the test."""
    text = html.unescape(TAG.sub(" ", HIDDEN.sub(" ", FOREIGN.sub(" ", page))))
    for pattern in (URL, ALERT_ID, HEX):
        text = pattern.sub(" ", text)
    for words in sorted(typed, key=len, reverse=True):
        text = text.replace(words, " ")
    return [run for run in LETTERS.findall(text) if run not in ALLOWED]


def test_the_checker_finds_english_and_passes_what_is_allowed() -> None:
    assert english("<p>alert 20261129-143000-1a2b3c is done, not a draft</p>") == ["alert", "is", "done", "not", "a",
                                                                                   "draft"]  # fmt: skip
    assert english("<p title='draft'>LINE と X に送信 <code>request_approval</code> https://example.jp/a</p>") == []
    assert english("<p>sato が作成</p><textarea>Keep away</textarea><script>var x</script>") == []
    assert english("<td>request_approval</td>") == ["request", "approval"]
    assert english('<section lang="en"><h4 lang="ja">英語</h4><p>Evacuate now</p></section>') == []
    assert english('<section lang="ja"><p>Evacuate now</p></section>') == ["Evacuate", "now"]


class Crawl:
    """What the test saw: every page and refusal, by what was done to get it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Reply]] = []

    def keep(self, what: str, reply: Reply) -> Reply:
        assert reply.status < 500, (what, reply.status, reply.text[:500])
        self.seen.append((what, reply))
        return reply

    def offenders(self) -> list[str]:
        found = []
        for what, reply in self.seen:
            runs = english(reply.text)
            if runs:
                found.append(f"{what} ({reply.status}): {sorted(set(runs))}")
        return found


def form(**changes: Any) -> dict[str, Any]:
    """A compose form for an exercise notice with an English translation."""
    fields: dict[str, Any] = {
        "category": "crime",
        "level": "2",
        "title": "駅前で不審者",
        "body": "18時ごろ駅前で目撃されました。",
        "instruction": "",
        "areas": [],
        "channels": ["email", "line", "website"],
        "tr_en": "on",
        "tr_en_title": "Suspicious person",
        "tr_en_body": "Seen near the station.",
        "expires_in": "60",
    }
    fields.update(changes)
    return fields


async def saved(crawl: Crawl, browser: Any, **changes: Any) -> str:
    crawl.keep("compose form", await browser.get("/console/compose"))
    reply = await browser.post("/console/compose", form(**changes))
    assert reply.status == 303, reply.text[:2000]
    return str(reply.location.rsplit("/", 1)[-1])


def fingerprint_of(page: str) -> str:
    found = re.search(r'name="fingerprint" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


@pytest.fixture
async def site(make_site: SiteMaker, monkeypatch: pytest.MonkeyPatch) -> ConsoleSite:
    monkeypatch.setenv("BROADCASTER_DATA_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))
    return await make_site(secret=True)


async def test_console_pages_in_japanese_hold_no_english(site: ConsoleSite) -> None:
    crawl = Crawl()
    people = {name: await site.browser(name, role) for name, role in PEOPLE.items()}
    sato, suzuki, tanaka, kanri = people.values()
    get = crawl.keep

    # bad forms, each refused with its field named in Japanese
    await sato.get("/console/compose")
    for bad in (
        {"title": ""},
        {"title": "【訂正】"},
        {"body": "\x07"},
        {"title": "長" * 200},
        {"category": "disaster", "level": "9"},
        {"category": "disaster", "level": "九"},
        {"category": "disaster", "level": ""},
        {"category": "nothing"},
        {"channels": ["email", "ポケベル"]},
        {"channels": []},
        {"areas": ["0000000"]},
        {"expires_in": "99999"},
        {"expires_in": "5", "expires_at": "2020-01-01T00:00"},
        {"expires_in": "", "expires_at": "yesterday"},
        {"expires_in": "", "expires_at": "2020-01-01T00:00"},
        {"tr_en_title": ""},
        {"districts": ["atlantis"]},
        {"districts": ["mamada"], "whole_city": "on"},
    ):
        reply = get(f"compose {bad}", await sato.post("/console/compose", form(**bad)))
        assert reply.status == 400 and 'class="error' in reply.text, (bad, reply.text[:1000])
    assert "件名：" in crawl.seen[1][1].text  # the field by its Japanese name

    # alerts in every state: a draft, a discarded draft, a sent exercise, a live one awaiting approval
    draft = await saved(crawl, sato)
    discarded = await saved(crawl, sato)
    get("discard", await sato.post(f"/console/alerts/{discarded}/reject", {"reason": "重複"}))
    sent = await saved(crawl, sato)
    get("send", await sato.post(f"/console/alerts/{sent}/send"))
    await site.settled(sent)
    get("live mode", await sato.post("/console/mode", {"mode": "live"}))
    live = await saved(crawl, sato, category="disaster", level="4", title="避難指示", channels=["email", "website"],
                       districts=["mamada", "namai"])  # fmt: skip
    page = get("confirm form", await sato.get(f"/console/alerts/{live}/confirm"))
    get("confirm, wrong word", await sato.post(f"/console/alerts/{live}/confirm", {"typed": "はい"}))
    seen = fingerprint_of(page.text)
    stale = {"typed": "本番", "fingerprint": "0" * 64}
    get("confirm, stale", await sato.post(f"/console/alerts/{live}/confirm", stale))
    reply = await sato.post(f"/console/alerts/{live}/confirm", {"typed": "本番", "fingerprint": seen})
    assert reply.status == 303, reply.text[:1000]
    pending = await site.store.get_alert(live)
    assert pending is not None and pending.state == AlertState.PENDING_APPROVAL

    # refusals: sending what was sent, approving one's own, a stale approval, a reject without a reason …
    get("send a sent alert", await sato.post(f"/console/alerts/{sent}/send"))
    get("discard a sent alert", await sato.post(f"/console/alerts/{sent}/reject", {"reason": "x"}))
    get("approve as an operator", await sato.post(f"/console/alerts/{live}/approve", {"checked": "yes"}))
    get("approve unchecked", await suzuki.post(f"/console/alerts/{live}/approve", {"fingerprint": seen}))
    get("approve, stale", await suzuki.post(f"/console/alerts/{live}/approve", {"checked": "yes", "fingerprint": "0"}))
    get("reject without reason", await suzuki.post(f"/console/alerts/{live}/reject", {"reason": ""}))
    get("edit a sent alert", await sato.get(f"/console/alerts/{sent}/edit"))
    get("correct a draft", await sato.get(f"/console/alerts/{draft}/correct"))
    get("no such alert", await sato.get("/console/alerts/20000101-000000-abcdef"))
    get("admin page as operator", await sato.get("/console/admin/users"))
    await site.add_user("yamada", Role.APPROVER)
    await site.store.set_password("yamada", "x", False, "yamada", "test")
    get("own approval refused", await tanaka.get(f"/console/alerts/{live}"))

    # the correction, lift and cancel of the sent exercise, with their errors
    get("exercise mode", await sato.post("/console/mode", {"mode": "exercise"}))
    correct = f"/console/alerts/{sent}/correct"
    get("correct form", await sato.get(correct))
    get("correct, stale translation", await sato.post(correct, form(body="19時ごろ駅前で目撃されました。")))
    get("correct, bad field", await sato.post(correct, form(title="", level="9")))
    get("correct, both expiries", await sato.post(correct, form(expires_at="2020-01-01T00:00")))
    reply = await sato.post(correct, form(body="19時ごろ駅前で目撃されました。", confirm_tr="en"))
    assert reply.status == 303, reply.text[:2000]
    correction = reply.location.rsplit("/", 1)[-1]
    await site.settled(correction)
    get("lift, stale", await sato.post(f"/console/alerts/{sent}/lift", {"seen": "0" * 64}))
    get("cancel unconfirmed", await sato.post(f"/console/alerts/{sent}/cancel", {"reason": "誤り"}))
    get("cancel, stale", await sato.post(f"/console/alerts/{sent}/cancel", {"confirm": "yes", "seen": "0"}))
    reply = await sato.post(f"/console/alerts/{sent}/cancel", {"confirm": "yes", "reason": "誤りでした"})
    assert reply.status == 303, reply.text[:2000]
    get("correct a cancelled event", await sato.get(correct))
    get("lift a cancelled event", await sato.post(f"/console/alerts/{sent}/lift", {"reason": "x"}))

    # the approver sends the live alert back, then the pages of everything, as each person
    get("reject with reason", await suzuki.post(f"/console/alerts/{live}/reject", {"reason": "時刻を直してください"}))
    get("send back twice", await suzuki.post(f"/console/alerts/{live}/reject", {"reason": "もう一度"}))
    alerts = [a.id for a in await site.store.list_alerts()]
    for name, browser in people.items():
        for path in ("/console/dashboard", "/console/approvals", "/console/history", "/console/audit",
                     "/console/compose", "/console/password"):  # fmt: skip
            get(f"{path} as {name}", await browser.get(path))
        for alert_id in alerts:
            get(f"alert {alert_id} as {name}", await browser.get(f"/console/alerts/{alert_id}"))
    get("edit form", await sato.get(f"/console/alerts/{live}/edit"))
    get("users", await kanri.get("/console/admin/users"))
    get("preview with districts", await sato.post("/console/compose", form(districts=["kinu"], do="preview")))
    get("languages", await sato.get("/console/languages"))
    get("phrase form", await sato.get("/console/compose?phrase=evacuation_order"))
    phrase = {"phrase": "evacuation_order", "category": "disaster", "level": "4", "slot_time": "15:30",
              "slot_hazard": "大雨", "slot_shelter": ["間々田小学校"], "districts": ["mamada"]}  # fmt: skip
    get("phrase filled", await sato.post("/console/compose", form(**phrase, do="fill")))
    get("phrase preview", await sato.post("/console/compose", form(**phrase, do="preview")))
    get("unknown phrase", await sato.post("/console/compose", form(phrase="nonesuch", slot_x="1")))
    get("bad new account", await kanri.post("/console/admin/users", {"name": "Bad Name!", "role": "operator"}))

    offenders = crawl.offenders()
    assert not offenders, "\n".join(offenders)

    # the live reach's refusals are JSON for the page's script, their words Japanese
    for bad in ({"districts": ["atlantis"]}, {"districts": ["mamada"], "whole_city": "on"}, {"category": "x"}):
        reply = await sato.post("/console/compose/reach", {"category": "crime", "channels": ["email"], **bad})
        detail = json.loads(reply.text)["detail"]
        assert reply.status == 400 and detail and english(detail) == [], (bad, detail)


async def test_subscription_pages_in_japanese_hold_no_english(site: ConsoleSite) -> None:
    crawl = Crawl()
    resident = await site.anonymous()
    for path in ("/subscribe", "/subscribe/confirm?t=bad", "/manage?t=bad", "/unsubscribe?t=bad", "/manage"):
        crawl.keep(path, await resident.get(path))
    await resident.get("/subscribe")
    for bad in ({"address": "not an address"}, {"address": "a@example.jp", "categories": []},
                {"address": "a@example.jp", "categories": ["disaster"], "language": "xx"}):  # fmt: skip
        crawl.keep(f"subscribe {bad}", await resident.post("/subscribe", {"categories": ["disaster"], **bad}))
    crawl.keep("no csrf", await resident.post("/subscribe", {"address": "a@example.jp"}, csrf=False))
    crawl.keep("sent", await resident.post("/subscribe", {"address": "a@example.jp", "categories": ["disaster"],
                                                          "language": "ja"}))  # fmt: skip
    offenders = crawl.offenders()
    assert not offenders, "\n".join(offenders)


def test_every_audit_action_and_error_code_has_japanese_words() -> None:
    """The tables cover the class: every action the code audits, every code it raises, in both languages."""
    text = load_text()
    sources = "\n".join(p.read_text() for p in _python_files())
    actions = set(re.findall(r'audit\([^()]*?,\s*"([a-z_.]+)",', sources))
    actions |= {"user.reset_password", "user.change_password"}  # chosen in a conditional
    assert {"create", "request_approval", "approve", "subscriber.update"} <= actions
    for lang in ("ja", "en"):
        missing = sorted(a for a in actions if f"audit_do_{a}" not in text[lang])
        assert missing == [], (lang, missing)
    codes = set(re.findall(r'code="([a-z_]+)"', sources)) | set(re.findall(r'Problem\(\s*"([a-z_]+)"', sources))
    codes |= set(re.findall(r'PydanticCustomError\(\s*"([a-z_]+)"', sources))
    assert {"not_draft", "stale", "unfilled", "stale_translations", "only_tags", "no_channels"} <= codes
    missing = sorted(c for c in codes if f"err_{c}" not in text["ja"])
    assert missing == [], missing


def test_an_error_in_japanese_names_its_field_and_values_in_japanese() -> None:
    t = load_text()["ja"]
    exc = InputError(problems=[Problem("string_too_short", "too short", "translations.en.title", {"min_length": 1}),
                               Problem("not_draft", "x", "", {"id": "20261129-143000-1a2b3c", "state": "done"}),
                               Problem("never_heard_of", "some English", "colour")])  # fmt: skip
    lines = [wording.problem(t, p) for p in exc.problems]
    assert lines[0] == "英語の翻訳の件名：入力してください。"
    assert "配信完了" in lines[1] and "done" not in lines[1]
    assert english(" ".join(lines)) == []
    assert str(exc).startswith("translations.en.title: too short; x; colour: some English")  # the API's English


def _python_files() -> list[Path]:
    root = Path(__file__).resolve().parents[2]
    return [p for folder in ("broadcaster", "feeds", "channels") for p in (root / folder).rglob("*.py")]
