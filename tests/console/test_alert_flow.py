"""The alert's page end to end on the real service: exercise apart from live, the live confirmation,
the second approver, and the one-step cancel and correction."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from broadcaster import drafts
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, AlertState, Mode, Role, Source
from broadcaster.settings import municipality_code
from feeds.jma.ingest import JmaIngest
from tests.console.conftest import Browser, ConsoleSite, Reply, SiteMaker
from tests.paths import JMA_SAMPLES
from tests.test_store import email_subscriber

SAMPLES = JMA_SAMPLES
FINGERPRINT = re.compile(r'name="fingerprint" value="([0-9a-f]{64})"')


async def draft(site: ConsoleSite, author: str, mode: Mode = Mode.EXERCISE, **fields: Any) -> Alert:
    """A stored draft written by ``author`` (as the compose page stores it)."""
    body = "思川の水位が上昇しています。18時までに避難してください。"
    data = {"category": "disaster", "level": 4, "title": "避難指示（警戒レベル4）", "body": body, "mode": mode.value}
    data |= fields
    alert = drafts.build(site.settings, drafts.parse(data), author, Source.STAFF)
    await site.store.create_alert(alert, author, "test")
    return alert


async def residents(site: ConsoleSite) -> None:
    """Three residents and one tester subscribed to 防災 by email."""
    for i in range(3):
        await site.store.save_subscriber(email_subscriber(f"resident{i}@example.jp"))
    await site.store.save_subscriber(email_subscriber("tester@city.example.jp", tester=True))


def fingerprint_on(page: str) -> str:
    """The fingerprint a page's approve or confirm form carries ('' when it has none)."""
    found = FINGERPRINT.search(page)
    return found.group(1) if found else ""


async def post_approval(browser: Browser, alert_id: str) -> Reply:
    """Approve as the page does: read the alert's page, tick the box, send its fingerprint back."""
    page = await browser.get(f"/console/alerts/{alert_id}")
    return await browser.post(
        f"/console/alerts/{alert_id}/approve", {"checked": "yes", "fingerprint": fingerprint_on(page.text)}
    )


async def post_confirmation(browser: Browser, alert_id: str, typed: str = "本番") -> Reply:
    """Confirm a live draft as its confirmation page does: the typed word and the page's fingerprint."""
    page = await browser.get(f"/console/alerts/{alert_id}/confirm")
    return await browser.post(
        f"/console/alerts/{alert_id}/confirm", {"typed": typed, "fingerprint": fingerprint_on(page.text)}
    )


async def to_live(browser: Browser) -> None:
    await browser.get("/console/dashboard")
    reply = await browser.post("/console/mode", {"mode": "live", "next": "/console/dashboard"})
    assert reply.status == 303


async def test_an_exercise_goes_out_with_one_click_and_only_to_exercise_sinks(console_site: ConsoleSite) -> None:
    await residents(console_site)
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await draft(console_site, "sato")
    page = await operator.get(f"/console/alerts/{alert.id}")
    assert page.status == 200 and "訓練として送信" in page.text and 'data-mode="exercise"' in page.text
    reply = await operator.post(f"/console/alerts/{alert.id}/send")
    assert (reply.status, reply.location) == (303, f"/console/alerts/{alert.id}")
    done = await console_site.settled(alert.id)
    assert done.state == AlertState.DONE
    counts = {r.channel: r.counts for r in await console_site.store.report(alert.id)}
    assert counts["email"]["sent"] == 1  # the tester only, never the three residents
    outbox = console_site.settings.path(console_site.settings.storage.outbox_dir)
    public = [p for p in outbox.rglob("*") if p.is_file() and "email" not in p.parts]
    assert public, "the public channels' exercise copies go to the outbox"
    for path in public:  # the FM script says it in words: これは、訓練放送です
        text = path.read_text(encoding="utf-8")
        assert ("【訓練】" if "fm" not in path.parts else "訓練放送") in text, path


async def test_a_live_alert_needs_live_mode_a_typed_word_and_a_second_approver(console_site: ConsoleSite) -> None:
    await residents(console_site)
    operator = await console_site.browser("sato", Role.OPERATOR)
    approver = await console_site.browser("suzuki", Role.APPROVER)
    alert = await draft(console_site, "sato", Mode.LIVE)

    # in exercise mode a live draft cannot be confirmed
    reply = await operator.post(f"/console/alerts/{alert.id}/send")
    assert (reply.status, reply.location) == (303, f"/console/alerts/{alert.id}/confirm")
    refused = await operator.get(f"/console/alerts/{alert.id}/confirm")
    assert refused.status == 409 and "本番モード" in refused.text

    await to_live(operator)
    confirm = await operator.get(f"/console/alerts/{alert.id}/confirm")
    assert confirm.status == 200
    # channels, people (the tester is a resident too) and area
    assert "<td>メール</td><td>4 人</td>" in confirm.text and "小山市全域" in confirm.text
    assert "0920800" not in confirm.text  # the area in words, never its code
    wrong = await operator.post(f"/console/alerts/{alert.id}/confirm", {"typed": "はい"})
    assert wrong.status == 400
    assert (await console_site.store.get_alert(alert.id)).state == AlertState.DRAFT  # type: ignore[union-attr]
    reply = await post_confirmation(operator, alert.id)
    assert reply.status == 303
    assert (await console_site.store.get_alert(alert.id)).state == AlertState.PENDING_APPROVAL  # type: ignore[union-attr]
    assert await console_site.store.report(alert.id) == []  # nothing planned, nothing sent

    # an operator cannot approve at all
    reply = await post_approval(operator, alert.id)
    assert reply.status == 403
    queue = await approver.get("/console/approvals")
    assert alert.id in queue.text
    reply = await post_approval(approver, alert.id)
    assert reply.status == 303
    done = await console_site.settled(alert.id)
    assert done.state == AlertState.DONE
    counts = {r.channel: r.counts for r in await console_site.store.report(alert.id)}
    assert counts["email"]["sent"] == 4  # every subscriber of 防災, the tester included
    _, requester, approver_name, _ = await console_site.store.people(alert.id)
    assert (requester, approver_name) == ("sato", "suzuki")


async def test_no_one_approves_their_own_live_alert(console_site: ConsoleSite) -> None:
    boss = await console_site.browser("kimura", Role.APPROVER)
    alert = await draft(console_site, "kimura", Mode.LIVE)
    await to_live(boss)
    await boss.get(f"/console/alerts/{alert.id}/confirm")
    assert (await post_confirmation(boss, alert.id)).status == 303
    page = await boss.get(f"/console/alerts/{alert.id}")
    assert "自分が作成・編集・依頼した情報は承認できません" in page.text
    reply = await post_approval(boss, alert.id)
    assert reply.status == 403
    assert (await console_site.store.get_alert(alert.id)).state == AlertState.PENDING_APPROVAL  # type: ignore[union-attr]
    # nor one written by them and put forward by someone else
    other = await draft(console_site, "kimura", Mode.LIVE, title="別の避難指示")
    await console_site.store.request_approval(other.id, "sato", "test")
    assert (await post_approval(boss, other.id)).status == 403


async def test_a_live_alert_below_the_policy_goes_out_without_approval(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await draft(console_site, "sato", Mode.LIVE, category="crime", level=1, title="不審者情報")
    await to_live(operator)
    await operator.get(f"/console/alerts/{alert.id}/confirm")
    assert (await post_confirmation(operator, alert.id)).status == 303
    assert (await console_site.settled(alert.id)).state == AlertState.DONE


async def test_nothing_unsent_can_be_corrected_or_cancelled(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await draft(console_site, "sato")
    await operator.get(f"/console/alerts/{alert.id}")
    assert (await operator.post(f"/console/alerts/{alert.id}/cancel")).status == 409
    assert (await operator.get(f"/console/alerts/{alert.id}/correct")).status == 409


async def test_an_admin_sends_nothing(console_site: ConsoleSite) -> None:
    admin = await console_site.browser("root", Role.ADMIN)
    alert = await draft(console_site, "sato")
    await admin.get(f"/console/alerts/{alert.id}")
    assert (await admin.post(f"/console/alerts/{alert.id}/send")).status == 403
    assert (await console_site.store.get_alert(alert.id)).state == AlertState.DRAFT  # type: ignore[union-attr]


async def test_a_jma_document_the_policy_holds_waits_for_an_approver_tagged_with_its_source(
    make_site: SiteMaker,
) -> None:
    # a municipality under the volcano's warning
    site = await make_site(
        {"areas": {"city": "2032300"}, "website": {"municipality_code": municipality_code("2032300")}}
    )
    document = SAMPLES / "45_01_01_200522_VFVO50.xml"
    reported = datetime.fromisoformat("2020-05-22T13:03:00+09:00").timestamp()  # judged as it arrives, not years later
    ingest = JmaIngest(Lifecycle(site.store, site.settings, site.core.dispatcher.wake), clock=lambda: reported)
    handled = await ingest.handle(document.name, document.read_bytes())
    assert handled.decision == "approve" and handled.alert_id
    approver = await site.browser("suzuki", Role.APPROVER)
    queue = await approver.get("/console/approvals")
    assert handled.alert_id in queue.text and "気象庁" in queue.text
    page = await approver.get(f"/console/alerts/{handled.alert_id}")
    assert document.name in page.text  # where it came from
    assert "承認して送信" in page.text  # the JMA account wrote it, so any approver may approve
    assert "<th>依頼者</th><td>気象庁（自動） (" in page.text  # queued by the source, never an empty field
    reply = await post_approval(approver, handled.alert_id)
    assert reply.status == 303
    assert (await site.settled(handled.alert_id)).state == AlertState.DONE


async def test_a_correction_with_a_placeholder_left_comes_back_as_the_form(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await draft(console_site, "sato", Mode.LIVE, category="crime", level=2, title="不審者情報 18時")
    await console_site.core.dispatcher.approve(alert.id, "sato", "test")
    await console_site.settled(alert.id)
    await operator.get(f"/console/alerts/{alert.id}/correct")
    fields: dict[str, Any] = {"category": "crime", "level": "2", "title": "【地区名】で不審者情報（訂正）"}
    fields |= {"body": alert.body, "instruction": "", "channels": list(alert.channels), "areas": list(alert.areas)}
    reply = await operator.post(f"/console/alerts/{alert.id}/correct", fields)
    assert reply.status == 400 and "【地区名】" in reply.text and "不審者情報（訂正）" in reply.text  # the form, kept
    assert "fill in" not in reply.text  # said in the page's Japanese, not the lifecycle's English
    assert [a.id for a in await console_site.store.versions(alert.event_key, alert.mode)] == [alert.id]


async def test_a_live_alert_with_a_placeholder_left_cannot_be_sent_or_approved(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    approver = await console_site.browser("suzuki", Role.APPROVER)
    alert = await draft(console_site, "sato", Mode.LIVE, title="【地区名】に避難指示を発令しました")
    await to_live(operator)
    page = await operator.get(f"/console/alerts/{alert.id}/confirm")
    assert page.status == 409 and "【地区名】" in page.text
    assert (await post_confirmation(operator, alert.id)).status == 409
    await console_site.store.request_approval(alert.id, "sato", "test")  # as if it had got past the page
    await approver.get(f"/console/alerts/{alert.id}")
    assert (await post_approval(approver, alert.id)).status == 400
    assert await console_site.store.report(alert.id) == []
    exercise = await draft(console_site, "sato", title="【地区名】に避難指示を発令しました")  # a drill may keep them
    await operator.get(f"/console/alerts/{exercise.id}")
    assert (await operator.post(f"/console/alerts/{exercise.id}/send")).status == 303
