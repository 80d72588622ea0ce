"""訂正, 解除 and 取消 from the console, on the real service in process: the cancel's confirmation step,
the live correction reviewed and typed 本番 bound to its content, translations left behind, the lift
under the approval policy, and the reach each page shows equal to the rows planned."""

from __future__ import annotations

import re
from typing import Any

from broadcaster.fingerprint import fingerprint
from broadcaster.models import Alert, AlertState, Mode, MsgType, Role
from tests.console.conftest import Browser, ConsoleSite
from tests.console.test_alert_flow import draft, residents, to_live
from tests.test_store import email_subscriber

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


async def sent(site: ConsoleSite, mode: Mode = Mode.LIVE, **fields: Any) -> Alert:
    """A stored alert written by sato, sent, and every delivery settled."""
    alert = await draft(site, "sato", mode, **fields)
    await site.core.dispatcher.approve(alert.id, "sato", "test")
    return await site.settled(alert.id)


async def rows(site: ConsoleSite, alert_id: str) -> dict[str, int]:
    """Delivery rows planned for an alert, by channel, whatever became of them."""
    return {r.channel: sum(r.counts.values()) for r in await site.store.report(alert_id)}


def emails_shown(page: str) -> int:
    """The email row of a page's reach table."""
    found = re.search(r"<td>メール</td>\s*<td>(?:<span data-reach-n>)?(\d+)(?:</span>)? 人</td>", page)
    assert found, page[:3000]
    return int(found.group(1))


def hidden(page: str) -> list[tuple[str, str]]:
    """The hidden fields of a page's forms, CSRF left out (the browser adds its own)."""
    return [(k, v.replace("&#34;", '"').replace("&amp;", "&")) for k, v in HIDDEN.findall(page) if k != "csrf"]


async def post_pairs(browser: Browser, path: str, pairs: list[tuple[str, str]]) -> Any:
    """POST a form given as (name, value) pairs, as a browser sends hidden fields."""
    data: dict[str, list[str]] = {}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return await browser.post(path, data)


async def test_a_cancel_shows_what_and_whom_needs_its_confirmation_and_no_approval(console_site: ConsoleSite) -> None:
    await residents(console_site)
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await sent(console_site)  # a live 避難指示: its approval was needed, its cancel's is not
    await console_site.store.save_subscriber(email_subscriber("newcomer@example.jp"))  # joined afterwards

    page = await operator.get(f"/console/alerts/{alert.id}")
    assert f"/console/alerts/{alert.id}/cancel" in page.text and "解除する" in page.text
    form = await operator.get(f"/console/alerts/{alert.id}/cancel")
    assert form.status == 200 and alert.title in form.text and "「取消」と入力" in form.text
    assert emails_shown(form.text) == 4  # whom it reached: never the newcomer

    # one stray click withdraws nothing: the word must be typed
    for typed in ("", "はい"):
        refused = await operator.post(f"/console/alerts/{alert.id}/cancel", {"typed": typed, "reason": "誤り"})
        assert refused.status == 400 and "取り消していません" in refused.text
    assert [a.id for a in await console_site.store.versions(alert.event_key, alert.mode)] == [alert.id]

    seen = dict(hidden(form.text))["seen"]
    reply = await operator.post(
        f"/console/alerts/{alert.id}/cancel", {"typed": "取消", "reason": "誤って発信しました。", "seen": seen}
    )
    assert reply.status == 303
    cancel_id = reply.location.rsplit("/", 1)[1]
    cancel = await console_site.settled(cancel_id)
    assert cancel.msg_type == MsgType.CANCEL and cancel.references == alert.id
    assert await rows(console_site, cancel_id) == await rows(console_site, alert.id)  # the reach shown: 4 and public
    assert (await console_site.store.get_alert(alert.id)).state == AlertState.CANCELLED  # type: ignore[union-attr]
    public = await operator.get(f"/alerts/{alert.id}")
    assert public.status == 200 and "取り消されました" in public.text
    assert (await operator.get(f"/console/alerts/{alert.id}/cancel")).status == 409  # nothing left to cancel


async def test_an_exercise_cancel_is_confirmed_with_a_tick(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await sent(console_site, Mode.EXERCISE)
    form = await operator.get(f"/console/alerts/{alert.id}/cancel")
    assert form.status == 200 and 'name="confirm"' in form.text and 'name="typed"' not in form.text
    assert (await operator.post(f"/console/alerts/{alert.id}/cancel", {})).status == 400
    reply = await operator.post(f"/console/alerts/{alert.id}/cancel", {"confirm": "yes"})
    assert reply.status == 303


async def test_a_cancel_shown_before_a_newer_version_went_out_is_shown_again(console_site: ConsoleSite) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await sent(console_site, category="crime", level=2, title="不審者情報")
    form = await operator.get(f"/console/alerts/{alert.id}/cancel")
    seen = dict(hidden(form.text))["seen"]
    await console_site.console.lifecycle.lift(alert, "ito", "", "test")  # meanwhile, someone lifted it
    reply = await operator.post(f"/console/alerts/{alert.id}/cancel", {"typed": "取消", "seen": seen})
    assert reply.status == 409 and "解除" in reply.text
    assert [v.msg_type for v in await console_site.store.versions(alert.event_key, alert.mode)] == [
        MsgType.ALERT,
        MsgType.LIFT,
    ]


async def test_a_live_correction_is_reviewed_typed_and_bound_to_its_content_and_reaches_newcomers(
    console_site: ConsoleSite,
) -> None:
    await residents(console_site)
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await sent(console_site, category="disaster", level=2, title="大雨注意 18時まで")
    await console_site.store.save_subscriber(email_subscriber("newcomer@example.jp"))  # joined afterwards

    form = await operator.get(f"/console/alerts/{alert.id}/correct")
    assert form.status == 200 and "大雨注意 18時まで" in form.text
    assert emails_shown(form.text) == 5  # the four who got it and the newcomer
    fields: dict[str, Any] = {"category": "disaster", "level": "2", "title": "【訂正】大雨注意 20時まで"}
    fields |= {"body": alert.body, "instruction": "", "channels": list(alert.channels), "areas": list(alert.areas)}

    # a live correction from a console in exercise mode: refused, the words kept
    refused = await operator.post(f"/console/alerts/{alert.id}/correct", fields)
    assert refused.status == 409 and "本番モード" in refused.text and "大雨注意 20時まで" in refused.text
    await to_live(operator)
    review = await operator.post(f"/console/alerts/{alert.id}/correct", fields)
    assert review.status == 200 and "本番の訂正の確認" in review.text and "「本番」と入力" in review.text
    assert emails_shown(review.text) == 5
    carried = hidden(review.text)
    assert ("title", "大雨注意 20時まで") in carried  # stored bare: the renderer adds 【訂正】 once

    wrong = await post_pairs(operator, f"/console/alerts/{alert.id}/correct", [*carried, ("typed", "はい")])
    assert wrong.status == 400
    # the fingerprint binds the typed 本番 to what was reviewed: other words are reviewed again
    changed = [(k, "大雨注意 21時まで" if k == "title" else v) for k, v in carried]
    again = await post_pairs(operator, f"/console/alerts/{alert.id}/correct", [*changed, ("typed", "本番")])
    assert again.status == 409 and "本番の訂正の確認" in again.text
    assert [a.id for a in await console_site.store.versions(alert.event_key, alert.mode)] == [alert.id]

    reply = await post_pairs(operator, f"/console/alerts/{alert.id}/correct", [*carried, ("typed", "本番")])
    assert reply.status == 303, reply.text[:2000]
    correction_id = reply.location.rsplit("/", 1)[1]
    correction = await console_site.store.get_alert(correction_id)
    assert correction is not None and correction.msg_type == MsgType.CORRECTION and correction.version == 2
    assert correction.title == "大雨注意 20時まで" and correction.channels == alert.channels
    assert correction.state == AlertState.PENDING_APPROVAL  # 防災 is in [approval] categories
    waiting = await operator.get(f"/console/alerts/{correction_id}")  # the approver's reach line: what is planned
    assert "メール 5" in waiting.text and "メール 4" not in waiting.text
    await console_site.add_user("suzuki", Role.APPROVER)
    await console_site.console.lifecycle.approve(correction_id, "suzuki", "test", fingerprint(correction))
    await console_site.settled(correction_id)
    assert (await rows(console_site, correction_id))["email"] == 5  # the reach shown is the reach planned
    page = await operator.get(f"/console/alerts/{alert.id}")
    assert "新しい版があります" in page.text and correction_id in page.text


async def test_a_correction_that_leaves_a_translation_behind_shows_which_until_confirmed(
    console_site: ConsoleSite,
) -> None:
    operator = await console_site.browser("sato", Role.OPERATOR)
    english = {"en": {"title": "Suspicious person", "body": "Seen near the station at 18:00."}}
    alert = await sent(console_site, Mode.EXERCISE, category="crime", level=2, title="不審者", translations=english)
    fields: dict[str, Any] = {"category": "crime", "level": "2", "title": "不審者", "body": "20時に目撃"}
    fields |= {"channels": list(alert.channels), "areas": list(alert.areas), "tr_en": "on"}
    fields |= {"tr_en_title": "Suspicious person", "tr_en_body": "Seen near the station at 18:00."}

    refused = await operator.post(f"/console/alerts/{alert.id}/correct", fields)
    assert refused.status == 400 and "訳が前のまま" in refused.text and "en" in refused.text
    assert 'class="translation stale"' in refused.text and "この訳のままで正しい" in refused.text
    assert [a.id for a in await console_site.store.versions(alert.event_key, alert.mode)] == [alert.id]

    reply = await operator.post(f"/console/alerts/{alert.id}/correct", fields | {"confirm_tr": "en"})
    assert reply.status == 303  # an exercise: no review, no 本番


async def test_a_live_lift_follows_the_approval_policy_and_takes_the_alert_off_the_air(
    console_site: ConsoleSite,
) -> None:
    await residents(console_site)
    operator = await console_site.browser("sato", Role.OPERATOR)
    alert = await sent(console_site, title="避難指示", body="思川の水位が上昇しています。")
    await console_site.store.save_subscriber(email_subscriber("newcomer@example.jp"))

    page = await operator.get(f"/console/alerts/{alert.id}")
    assert f"/console/alerts/{alert.id}/lift" in page.text
    form = await operator.get(f"/console/alerts/{alert.id}/lift")
    assert form.status == 200 and "本番の解除には別の承認者の承認が必要です" in form.text
    assert emails_shown(form.text) == 5  # as a correction reaches
    seen = dict(hidden(form.text))["seen"]
    refused = await operator.post(f"/console/alerts/{alert.id}/lift", {"typed": "本番", "seen": seen})
    assert refused.status == 409 and "本番モード" in refused.text  # a live lift from an exercise screen
    await to_live(operator)
    assert (await operator.post(f"/console/alerts/{alert.id}/lift", {"typed": "はい", "seen": seen})).status == 400

    reply = await operator.post(f"/console/alerts/{alert.id}/lift", {"typed": "本番", "seen": seen})
    assert reply.status == 303
    lift_id = reply.location.rsplit("/", 1)[1]
    lift = await console_site.store.get_alert(lift_id)
    assert lift is not None and lift.msg_type == MsgType.LIFT and lift.title == "避難指示"
    assert lift.state == AlertState.PENDING_APPROVAL  # a false all-clear sends people home: a second person
    await console_site.add_user("suzuki", Role.APPROVER)
    await console_site.console.lifecycle.approve(lift_id, "suzuki", "test", fingerprint(lift))
    await console_site.settled(lift_id)
    assert (await rows(console_site, lift_id))["email"] == 5
    ticker = await operator.get("/ticker.json")
    assert alert.id not in ticker.text and lift_id not in ticker.text  # off the air
    public = await operator.get(f"/alerts/{alert.id}")
    assert "解除されました" in public.text and "取り消されました" not in public.text
    assert (await operator.get(f"/console/alerts/{alert.id}/correct")).status == 409  # the event is over


async def test_the_api_posts_a_correction_or_a_lift_as_a_draft_an_officer_sends(console_site: ConsoleSite) -> None:
    english = {"en": {"title": "Suspicious person", "body": "Seen near the station at 18:00."}}
    alert = await sent(console_site, category="crime", level=2, title="不審者", translations=english)
    token = await console_site.console.accounts.add_token("police", "test", "test", scopes=["followups:write"])
    client = (await console_site.anonymous()).client
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "category": "crime",
        "level": 2,
        "title": "不審者",
        "body": "20時に目撃されました。",
        "translations": english,
    }

    async def post(path: str, data: Any) -> tuple[int, Any]:
        async with client.post(f"/api/v1/alerts/{alert.id}/{path}", json=data, headers=headers) as r:
            return r.status, await r.json()

    status, answer = await post("correct", body)
    assert (status, answer["error"]) == (422, "stale-translations") and "en" in answer["detail"]
    status, answer = await post("correct", body | {"confirmed_translations": ["en"]})
    assert status == 201 and answer["state"] == "draft"  # the API sends nothing: an officer does
    correction = await console_site.store.get_alert(answer["id"])
    assert correction is not None and correction.msg_type == MsgType.CORRECTION and correction.references == alert.id
    status, answer = await post("lift", {"reason": "犯人は確保されました。"})
    assert status == 201 and answer["state"] == "draft"
    lift = await console_site.store.get_alert(answer["id"])
    assert lift is not None and lift.msg_type == MsgType.LIFT and lift.body == "犯人は確保されました。"
    assert (await post("lift", {"nope": 1}))[0] == 422
    draft_only = await draft(console_site, "sato")
    async with client.post(f"/api/v1/alerts/{draft_only.id}/lift", json={}, headers=headers) as r:
        assert r.status == 409  # nothing of it went out
