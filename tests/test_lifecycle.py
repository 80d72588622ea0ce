"""The alert lifecycle on a real SQLite store, with the real dispatcher where delivery matters:
release under the approval policy, the second person, and corrections and cancels that reach
exactly whom the event reached. The pages' own rules (roles, the typed 本番) are in
tests/console/test_alert_flow.py; the JMA documents' marker in tests/feeds/test_ingest.py."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from typing import Any

import pytest

from broadcaster import drafts
from broadcaster.dispatcher import Dispatcher
from broadcaster.drafts import Draft
from broadcaster.errors import InputError, Stale, Unfilled
from broadcaster.fingerprint import fingerprint
from broadcaster.lifecycle import Lifecycle, Uncorrectable
from broadcaster.models import AlertState, ChannelName, DeliveryState, Mode, MsgType, Role, Source, User
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from tests.channels_for_tests import PUBLIC, FakeChannel
from tests.test_dispatcher import POLICY, channel_set, done, until
from tests.test_store import ORIGIN, email_subscriber, emails, states, table_sizes

Woken = list[set[ChannelName]]
BOTH = frozenset({"disaster", "crime"})


def draft(mode: Mode = Mode.LIVE, category: str = "crime", level: int = 1, **fields: Any) -> Draft:
    """A valid draft for email and sns."""
    data = {"category": category, "level": level, "title": "不審者情報", "body": "駅前で不審者が目撃されました。"}
    return drafts.parse(data | {"mode": mode.value, "channels": ["email", "sns"]} | fields)


@pytest.fixture
def woken() -> Woken:
    """The channels each wake-up named, in order."""
    return []


@pytest.fixture
def lifecycle(store: SQLiteStore, settings: Settings, woken: Woken) -> Lifecycle:
    """The lifecycle on the test store; its wake-ups are recorded in ``woken``."""
    return Lifecycle(store, settings, lambda channels: woken.append(set(channels)))


async def version(store: SQLiteStore, alert_id: str) -> str:
    """The fingerprint of the stored alert, as its approval page shows it."""
    alert = await store.get_alert(alert_id)
    assert alert is not None
    return fingerprint(alert)


async def people(store: SQLiteStore, *accounts: tuple[str, Role]) -> None:
    """Console accounts, as `run.py users add` makes them."""
    for name, role in accounts:
        await store.add_user(User(name, role, "not-a-hash", False, 0, 0.0, False, time.time()), "root", ORIGIN)


@pytest.mark.parametrize(
    ("mode", "category", "level", "waits"),
    [
        (Mode.EXERCISE, "disaster", 5, False),  # an exercise never waits for a second person
        (Mode.LIVE, "crime", 2, False),  # below [approval] live_min_level, in no listed category
        (Mode.LIVE, "crime", 3, True),  # at the level
        (Mode.LIVE, "disaster", 1, True),  # a listed category, whatever the level
    ],
)
async def test_release_sends_now_or_queues_for_a_second_person_under_the_policy(
    store: SQLiteStore, lifecycle: Lifecycle, woken: Woken, mode: Mode, category: str, level: int, waits: bool
) -> None:
    await store.import_subscribers(email_subscriber(c, categories=BOTH) for c in emails(2))
    alert = lifecycle.build(draft(mode, category, level), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)

    released = await lifecycle.release(alert.id, "sato", ORIGIN)

    stored = await store.get_alert(alert.id)
    assert stored is not None
    if waits:
        assert (released.waiting, released.planned, woken) == (True, {}, [])
        assert stored.state == AlertState.PENDING_APPROVAL and states(store, alert.id) == {}
        assert (await store.people(alert.id))[1] == "sato"  # the requester, who may not approve it either
    else:
        # an exercise reaches the testers only, and there are none
        planned = {"sns": 1} if mode == Mode.EXERCISE else {"email": 2, "sns": 1}
        assert (released.waiting, dict(released.planned), woken) == (False, planned, [set(planned)])
        assert stored.state == AlertState.APPROVED


async def test_release_refuses_anything_but_a_draft(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    alert = lifecycle.build(draft(level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    assert (await lifecycle.release(alert.id, "sato", ORIGIN)).waiting
    before = table_sizes(store.path)

    # released again while it waits, it would go out without the second person
    with pytest.raises(InputError, match="not a draft"):
        await lifecycle.release(alert.id, "sato", ORIGIN)

    assert table_sizes(store.path) == before
    with pytest.raises(InputError, match="no alert nope"):
        await lifecycle.release("nope", "sato", ORIGIN)


async def test_a_new_alert_sent_at_once_is_stored_and_planned_in_one_transaction(
    store: SQLiteStore, lifecycle: Lifecycle, woken: Woken
) -> None:
    await store.import_subscribers(email_subscriber(c, categories=BOTH) for c in emails(2))
    alert = lifecycle.build(draft(), "sato", Source.STAFF)
    # a stray count row makes the planning's own INSERT fail, after the alert and its rows are written
    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as conn:
        conn.execute("INSERT INTO delivery_counts VALUES (?, 'email', 'pending', 0)", (alert.id,))
    before = table_sizes(store.path)

    with pytest.raises(sqlite3.IntegrityError):
        await lifecycle.submit(alert, "sato", ORIGIN)

    assert table_sizes(store.path) == before  # no alert, no rows, no audit line: nothing to lose unsent
    assert await store.get_alert(alert.id) is None and woken == []


async def test_approve_refuses_the_author_the_requester_and_an_operator(
    store: SQLiteStore, lifecycle: Lifecycle, woken: Woken
) -> None:
    await people(store, ("kimura", Role.APPROVER), ("sato", Role.APPROVER), ("ito", Role.OPERATOR))
    await people(store, ("suzuki", Role.APPROVER))
    alert = lifecycle.build(draft(category="disaster", level=4), "kimura", Source.STAFF)
    await lifecycle.save(alert, "kimura", ORIGIN)
    assert (await lifecycle.release(alert.id, "sato", ORIGIN)).waiting
    before = table_sizes(store.path)

    with pytest.raises(InputError, match="second person"):
        await lifecycle.approve(alert.id, "kimura", ORIGIN, await version(store, alert.id))  # wrote it
    with pytest.raises(InputError, match="second person"):
        await lifecycle.approve(alert.id, "sato", ORIGIN, await version(store, alert.id))  # put it forward
    with pytest.raises(InputError, match="approver role"):
        await lifecycle.approve(alert.id, "ito", ORIGIN, await version(store, alert.id))
    assert table_sizes(store.path) == before and woken == []

    released = await lifecycle.approve(alert.id, "suzuki", ORIGIN, await version(store, alert.id))

    assert (released.waiting, dict(released.planned), woken) == (False, {"sns": 1}, [{"sns"}])
    assert (await store.people(alert.id))[2] == "suzuki"
    with pytest.raises(InputError, match="not awaiting approval"):
        await lifecycle.approve(alert.id, "suzuki", ORIGIN, await version(store, alert.id))  # once is enough


async def test_reject_sends_a_queued_alert_back_and_discards_a_draft(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    alert = lifecycle.build(draft(level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    await lifecycle.release(alert.id, "sato", ORIGIN)

    await lifecycle.reject(alert.id, "suzuki", "時刻が違います", ORIGIN)
    assert (await store.get_alert(alert.id)).state == AlertState.DRAFT  # type: ignore[union-attr]
    await lifecycle.reject(alert.id, "sato", "書き直します", ORIGIN)
    assert (await store.get_alert(alert.id)).state == AlertState.CANCELLED  # type: ignore[union-attr]
    with pytest.raises(InputError, match="correct or cancel"):
        await lifecycle.reject(alert.id, "sato", "", ORIGIN)


async def test_a_draft_can_be_neither_corrected_nor_cancelled(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    alert = lifecycle.build(draft(), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    before = table_sizes(store.path)

    assert await lifecycle.correctable(alert) == Uncorrectable.NOTHING_SENT
    with pytest.raises(InputError, match="has gone out"):
        await lifecycle.cancel(alert, "sato", "", ORIGIN)
    with pytest.raises(InputError, match="has gone out"):
        await lifecycle.correct(alert, draft(title="訂正"), "sato", ORIGIN)

    assert table_sizes(store.path) == before


async def test_a_correction_reaches_newcomers_too_and_a_cancel_only_whom_the_event_reached(
    store: SQLiteStore, settings: Settings
) -> None:
    email, sns = FakeChannel("email"), FakeChannel("sns")
    residents = emails(3)
    await store.import_subscribers(email_subscriber(c, categories=BOTH) for c in residents)
    async with Dispatcher(store, channel_set(email, sns), settings, policy=POLICY) as d:
        lifecycle = Lifecycle(store, settings, d.wake)
        original = lifecycle.build(draft(), "sato", Source.STAFF)
        assert not (await lifecycle.submit(original, "sato", ORIGIN)).waiting
        await until(d, done(store, original.id))
        await store.save_subscriber(email_subscriber("newcomer@example.jp", categories=BOTH))  # joined afterwards

        corrected = await lifecycle.correct(original, draft(title="【訂正】不審者情報（場所を訂正）"), "ito", ORIGIN)
        await until(d, done(store, corrected.alert_id))
        await store.save_subscriber(email_subscriber("late@example.jp", categories=BOTH))  # after the correction
        # a cancel from the page of any version withdraws the newest: here the correction
        cancelled = await lifecycle.cancel(original, "ito", "誤りでした。", ORIGIN)
        await until(d, done(store, cancelled.alert_id))

    assert email.delivered(original.id) == residents
    # the correction: whoever got the original, and whoever the event would reach now
    assert email.delivered(corrected.alert_id) == sorted([*residents, "newcomer@example.jp"])
    # the cancel: exactly whoever got a version of it; the late subscriber never heard of it
    assert email.delivered(cancelled.alert_id) == sorted([*residents, "newcomer@example.jp"])
    for alert_id in (original.id, corrected.alert_id, cancelled.alert_id):
        assert sns.delivered(alert_id) == PUBLIC
    correction = await store.get_alert(corrected.alert_id)
    cancel = await store.get_alert(cancelled.alert_id)
    assert correction is not None and cancel is not None
    assert (correction.msg_type, correction.version, correction.references) == (MsgType.CORRECTION, 2, original.id)
    assert correction.title == "不審者情報（場所を訂正）"  # stored bare: the tag is the renderer's
    assert (cancel.msg_type, cancel.version, cancel.references) == (MsgType.CANCEL, 3, correction.id)
    assert cancel.title == correction.title
    assert correction.event_key == cancel.event_key == original.event_key
    assert await lifecycle.correctable(original) == Uncorrectable.CANCELLED
    with pytest.raises(InputError, match="cancelled"):
        await lifecycle.cancel(original, "ito", "", ORIGIN)


async def test_a_cancel_never_waits_for_a_second_person(store: SQLiteStore, lifecycle: Lifecycle, woken: Woken) -> None:
    await people(store, ("suzuki", Role.APPROVER))
    alert = lifecycle.build(draft(category="disaster", level=5), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    await lifecycle.release(alert.id, "sato", ORIGIN)
    await lifecycle.approve(alert.id, "suzuki", ORIGIN, await version(store, alert.id))
    # the correction of a level-5 live alert waits like the alert did ...
    corrected = await lifecycle.correct(alert, draft(category="disaster", level=5, title="訂正"), "sato", ORIGIN)
    assert corrected.waiting
    await lifecycle.approve(corrected.alert_id, "suzuki", ORIGIN, await version(store, corrected.alert_id))

    # ... the cancel does not: withdrawing must not wait at 3 a.m.
    cancelled = await lifecycle.cancel(alert, "sato", "", ORIGIN)

    assert not cancelled.waiting
    # nothing had gone out yet (no dispatcher runs here): it supersedes what was on its way, and reaches nobody
    assert (dict(cancelled.planned), woken[-1]) == ({}, set())
    assert states(store, corrected.alert_id) == {("sns", "*"): DeliveryState.SUPERSEDED}
    stored = await store.get_alert(cancelled.alert_id)
    assert stored is not None and stored.state == AlertState.DONE and stored.references == corrected.alert_id


@pytest.mark.parametrize("level", [1, 3])  # sent at once, and waiting for a second person
async def test_a_live_alert_with_a_placeholder_left_is_neither_released_nor_approved(
    store: SQLiteStore, lifecycle: Lifecycle, woken: Woken, level: int
) -> None:
    await people(store, ("sato", Role.OPERATOR), ("suzuki", Role.APPROVER))
    body = "【地区名】に避難指示を発令しました。"
    alert = lifecycle.build(draft(level=level, body=body), "sato", Source.STAFF)

    with pytest.raises(Unfilled) as refused:
        await lifecycle.submit(alert, "sato", ORIGIN)
    assert refused.value.placeholders == ["【地区名】"] and "【地区名】" in str(refused.value)
    assert await store.get_alert(alert.id) is None  # refused before anything was stored

    await lifecycle.save(alert, "sato", ORIGIN)
    with pytest.raises(Unfilled):
        await lifecycle.release(alert.id, "sato", ORIGIN)
    stored = await store.get_alert(alert.id)
    assert stored is not None and stored.state == AlertState.DRAFT and states(store, alert.id) == {}

    # a draft queued before the rule held (or by a path without it) still cannot be approved
    await store.request_approval(alert.id, "sato", ORIGIN)
    with pytest.raises(Unfilled):
        await lifecycle.approve(alert.id, "suzuki", ORIGIN, await version(store, alert.id))
    stored = await store.get_alert(alert.id)
    assert stored is not None and stored.state == AlertState.PENDING_APPROVAL and states(store, alert.id) == {}
    assert woken == []


async def test_an_exercise_may_keep_its_placeholders(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    alert = lifecycle.build(draft(Mode.EXERCISE, body="【地区名】で訓練を行います。"), "sato", Source.STAFF)
    released = await lifecycle.submit(alert, "sato", ORIGIN)
    assert not released.waiting
    stored = await store.get_alert(alert.id)
    assert stored is not None and stored.state != AlertState.DRAFT


# -- two-person integrity -----------------------------------------------------------


async def edited(lifecycle: Lifecycle, store: SQLiteStore, alert_id: str, editor: str, **fields: Any) -> None:
    """The stored draft with ``fields`` changed, saved by ``editor`` as the console's edit page saves it."""
    alert = await store.get_alert(alert_id)
    assert alert is not None
    await lifecycle.edit(dataclasses.replace(alert, **fields), editor, ORIGIN)


async def test_an_approval_of_another_version_is_refused_in_its_own_transaction(
    store: SQLiteStore, lifecycle: Lifecycle, woken: Woken
) -> None:
    await people(store, ("sato", Role.OPERATOR), ("suzuki", Role.APPROVER), ("kimura", Role.APPROVER))
    alert = lifecycle.build(draft(category="disaster", level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    await lifecycle.release(alert.id, "sato", ORIGIN)
    read = await version(store, alert.id)  # suzuki opens the approval page
    # meanwhile kimura sends it back, sato changes the words and puts it forward again
    await lifecycle.reject(alert.id, "kimura", "避難所の名前が違います", ORIGIN)
    await edited(lifecycle, store, alert.id, "sato", body="第二小学校に避難してください。")
    await lifecycle.release(alert.id, "sato", ORIGIN)
    before = table_sizes(store.path)

    with pytest.raises(Stale):
        await lifecycle.approve(alert.id, "suzuki", ORIGIN, read)
    with pytest.raises(Stale):  # the store's own check, whatever its caller looked at
        await store.approve_pending(alert.id, "suzuki", ORIGIN, read)

    assert table_sizes(store.path) == before and woken == []
    released = await lifecycle.approve(alert.id, "suzuki", ORIGIN, await version(store, alert.id))
    assert not released.waiting and (await store.approval_record(alert.id)).approver == "suzuki"


async def test_whoever_changed_the_words_can_never_approve_them(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    await people(store, ("sato", Role.OPERATOR), ("kimura", Role.APPROVER), ("suzuki", Role.APPROVER))
    await people(store, ("ito", Role.APPROVER))
    alert = lifecycle.build(draft(category="disaster", level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    await edited(lifecycle, store, alert.id, "kimura", title="避難指示（訂正済み）")
    await edited(lifecycle, store, alert.id, "ito")  # saved without a change: ito wrote nothing
    await lifecycle.release(alert.id, "sato", ORIGIN)
    current = await version(store, alert.id)

    with pytest.raises(InputError, match="second person"):
        await lifecycle.approve(alert.id, "kimura", ORIGIN, current)  # edited it, and is an approver

    record = await store.approval_record(alert.id)
    assert (record.authors, record.requester, record.approver) == (("sato", "kimura"), "sato", "")
    assert record.requested_at is not None
    await lifecycle.approve(alert.id, "ito", ORIGIN, current)
    assert (await store.approval_record(alert.id)).approver == "ito"


async def test_a_confirmation_binds_the_version_the_sender_read(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    for level, waits in ((1, False), (4, True)):
        alert = lifecycle.build(draft(category="crime", level=1), "sato", Source.STAFF)
        await lifecycle.save(alert, "sato", ORIGIN)
        read = await version(store, alert.id)
        # raised to level 4 after the confirmation page was shown: sent at once, it would skip the approver
        await edited(lifecycle, store, alert.id, "ito", level=level, title=f"不審者情報（{level}）")
        with pytest.raises(Stale):
            await lifecycle.release(alert.id, "sato", ORIGIN, read)
        stored = await store.get_alert(alert.id)
        assert stored is not None and stored.state == AlertState.DRAFT and states(store, alert.id) == {}
        assert (await lifecycle.release(alert.id, "sato", ORIGIN, fingerprint(stored))).waiting == waits


async def test_a_queued_alert_is_never_sent_as_a_confirmed_draft(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    alert = lifecycle.build(draft(category="disaster", level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    read = await version(store, alert.id)
    await lifecycle.release(alert.id, "sato", ORIGIN, read)
    with pytest.raises(InputError, match="not a draft"):
        await store.approve_confirmed(alert.id, "sato", ORIGIN, read)
    assert states(store, alert.id) == {}


async def test_a_rejection_needs_a_reason_that_stays_until_the_draft_is_put_forward_again(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    alert = lifecycle.build(draft(category="disaster", level=4), "sato", Source.STAFF)
    await lifecycle.save(alert, "sato", ORIGIN)
    await lifecycle.release(alert.id, "sato", ORIGIN)
    before = table_sizes(store.path)

    with pytest.raises(InputError, match="say why"):
        await lifecycle.reject(alert.id, "suzuki", "  ", ORIGIN)
    assert table_sizes(store.path) == before

    await lifecycle.reject(alert.id, "suzuki", "時刻が違います", ORIGIN)
    record = await store.approval_record(alert.id)
    assert (record.rejection, record.requester, record.requested_at) == ("時刻が違います", "", None)
    await lifecycle.release(alert.id, "sato", ORIGIN)
    assert (await store.approval_record(alert.id)).rejection == ""


async def test_a_sources_queued_alert_names_the_source_as_its_requester(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    alert = lifecycle.build(draft(category="disaster", level=4), "jma", Source.JMA)
    released = await lifecycle.issue(alert, "https://www.data.jma.go.jp/x.xml", send_now=False)
    assert released.waiting
    record = await store.approval_record(alert.id)
    assert (record.authors, record.requester) == (("jma",), "jma") and record.requested_at is not None
