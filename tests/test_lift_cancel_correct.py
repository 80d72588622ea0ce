"""訂正, 解除 and 取消 at the lifecycle and the store: whom each reaches, the reach shown equal to the
reach planned, a lift under the approval policy that ends its event, a correction that may not leave a
translation behind, and a cancel that nothing waiting can block. The console's pages for them are in
tests/console/test_lift_cancel_correct.py."""

from __future__ import annotations

import pytest

from broadcaster import drafts
from broadcaster.drafts import StaleTranslations
from broadcaster.errors import InputError
from broadcaster.fingerprint import fingerprint as fingerprint_of
from broadcaster.lifecycle import Lifecycle, Uncorrectable
from broadcaster.models import AlertState, MsgType, Role, Source
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from tests.test_lifecycle import BOTH, draft, people
from tests.test_store import ORIGIN, email_subscriber, emails, table_sizes


@pytest.fixture
def lifecycle(store: SQLiteStore, settings: Settings) -> Lifecycle:
    """The lifecycle on the test store, with no dispatcher: what is planned stays in the store."""
    return Lifecycle(store, settings)


async def test_the_reach_shown_is_the_reach_planned(store: SQLiteStore, lifecycle: Lifecycle) -> None:
    await people(store, ("suzuki", Role.APPROVER))
    await store.import_subscribers(email_subscriber(c, categories=BOTH) for c in emails(3))
    original = lifecycle.build(draft(level=2), "sato", Source.STAFF)
    assert await store.reach(original) == {"email": 3, "sns": 1}  # not stored yet
    assert dict((await lifecycle.submit(original, "sato", ORIGIN)).planned) == {"email": 3, "sns": 1}
    await store.save_subscriber(email_subscriber("newcomer@example.jp", categories=BOTH))
    await store.save_subscriber(email_subscriber("nothing@example.jp", categories=frozenset({"health"})))

    # a correction being written (not stored), then stored and waiting for a second person
    correction = drafts.correction(lifecycle.settings, original, draft(level=3, title="不審者情報（訂正）"), "sato")
    before = table_sizes(store.path)
    shown = await store.reach(correction)
    assert shown == {"email": 4, "sns": 1}
    assert table_sizes(store.path) == before  # worked out by planning it, and undone
    released = await lifecycle.correct(original, draft(level=3, title="不審者情報（訂正）"), "sato", ORIGIN)
    assert released.waiting
    pending = await store.get_alert(released.alert_id)
    assert pending is not None and await store.reach(pending) == shown
    planned = await lifecycle.approve(released.alert_id, "suzuki", ORIGIN, fingerprint_of(pending))
    assert dict(planned.planned) == shown
    assert await store.reach(pending) == shown  # once sent: its rows
    # the cancel reaches who got a version; none of this has gone out, so nobody (the rows are superseded)
    cancel = drafts.cancellation(lifecycle.settings, pending, "sato", "")
    assert await store.reach(cancel) == {}
    assert dict((await lifecycle.cancel(original, "sato", "", ORIGIN)).planned) == {}


async def test_a_correction_waiting_for_approval_does_not_block_a_cancel(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    await people(store, ("suzuki", Role.APPROVER))
    original = lifecycle.build(draft(level=2), "sato", Source.STAFF)
    await lifecycle.submit(original, "sato", ORIGIN)
    waiting = await lifecycle.correct(original, draft(level=4, title="不審者情報（訂正）"), "ito", ORIGIN)
    assert waiting.waiting
    assert await lifecycle.correctable(original) == await store.get_alert(original.id)  # the newest sent

    cancelled = await lifecycle.cancel(original, "sato", "誤りでした。", ORIGIN)

    cancel = await store.get_alert(cancelled.alert_id)
    assert cancel is not None and cancel.references == original.id and not cancelled.waiting
    pending = await store.get_alert(waiting.alert_id)
    assert pending is not None and pending.state == AlertState.CANCELLED  # withdrawn with its event
    with pytest.raises(InputError, match="not awaiting approval"):
        await lifecycle.approve(pending.id, "suzuki", ORIGIN, fingerprint_of(pending))


async def test_a_correction_approved_after_a_newer_version_went_out_is_refused(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    await people(store, ("suzuki", Role.APPROVER))
    original = lifecycle.build(draft(level=2), "sato", Source.STAFF)
    await lifecycle.submit(original, "sato", ORIGIN)
    first = await lifecycle.correct(original, draft(level=4, title="訂正その一"), "ito", ORIGIN)
    second = await lifecycle.correct(original, draft(level=2, title="訂正その二"), "ito", ORIGIN)
    assert first.waiting and not second.waiting
    stale = await store.get_alert(first.alert_id)
    assert stale is not None
    before = table_sizes(store.path)
    assert await store.reach(stale) == {}  # its approval page opens, and says it reaches nobody
    with pytest.raises(InputError, match="has gone out since"):
        await lifecycle.approve(stale.id, "suzuki", ORIGIN, fingerprint_of(stale))
    assert table_sizes(store.path) == before


async def test_a_lift_follows_the_policy_reaches_like_a_correction_and_ends_the_event(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    await people(store, ("suzuki", Role.APPROVER))
    await store.import_subscribers(email_subscriber(c, categories=BOTH) for c in emails(2))
    original = lifecycle.build(
        draft(category="disaster", level=4, title="【警戒レベル4】避難指示"), "sato", Source.STAFF
    )
    await lifecycle.submit(original, "sato", ORIGIN)
    await lifecycle.approve(original.id, "suzuki", ORIGIN, fingerprint_of(original))
    await store.save_subscriber(email_subscriber("newcomer@example.jp", categories=BOTH))

    released = await lifecycle.lift(original, "sato", "", ORIGIN)

    assert released.waiting  # a false all-clear sends people home into danger: a second person
    lift = await store.get_alert(released.alert_id)
    assert lift is not None and lift.msg_type == MsgType.LIFT and lift.references == original.id
    assert (lift.title, lift.body) == ("避難指示", drafts.LIFT_BODY)  # the renderer says what is lifted
    assert lift.expires is None and lift.event_key == original.event_key
    assert await store.reach(lift) == {"email": 3, "sns": 1}  # as a correction reaches: newcomers too
    approved = await lifecycle.approve(lift.id, "suzuki", ORIGIN, fingerprint_of(lift))
    assert dict(approved.planned) == {"email": 3, "sns": 1}
    assert await lifecycle.correctable(original) == Uncorrectable.LIFTED
    for refused in (
        lifecycle.lift(original, "sato", "", ORIGIN),
        lifecycle.correct(original, draft(category="disaster", level=4), "sato", ORIGIN),
        lifecycle.cancel(original, "sato", "", ORIGIN),
    ):
        with pytest.raises(InputError, match="lifted"):
            await refused


async def test_a_lift_below_the_policy_goes_at_once_with_the_reason_as_its_words(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    original = lifecycle.build(draft(level=2), "sato", Source.STAFF)
    await lifecycle.submit(original, "sato", ORIGIN)
    released = await lifecycle.lift(original, "sato", "犯人は確保されました。", ORIGIN)
    assert not released.waiting
    lift = await store.get_alert(released.alert_id)
    assert lift is not None and lift.body == "犯人は確保されました。" and lift.state == AlertState.APPROVED


async def test_a_correction_that_leaves_a_translation_behind_is_refused_until_it_is_confirmed(
    store: SQLiteStore, lifecycle: Lifecycle
) -> None:
    english = {"en": {"title": "Suspicious person", "body": "Seen near the station at 18:00."}}
    original = lifecycle.build(draft(level=2, translations=english), "sato", Source.STAFF)
    await lifecycle.submit(original, "sato", ORIGIN)
    before = table_sizes(store.path)

    with pytest.raises(StaleTranslations) as refused:
        await lifecycle.correct(original, draft(level=2, body="20時に駅前で目撃されました。", translations=english),
                                "sato", ORIGIN)  # fmt: skip
    assert refused.value.languages == ["en"] and isinstance(refused.value, InputError)
    assert table_sizes(store.path) == before

    # the level alone changed: the words in every language still stand
    assert not (await lifecycle.correct(original, draft(level=1, translations=english), "sato", ORIGIN)).waiting
    # confirmed as still right, or updated: either goes
    confirmed = await lifecycle.correct(
        original, draft(level=2, body="駅前で不審者が目撃されました（続報）。", translations=english), "sato", ORIGIN,
        confirmed=["en"],
    )  # fmt: skip
    assert not confirmed.waiting
    updated = {"en": {"title": "Suspicious person", "body": "Seen near the station at 20:00."}}
    assert not (
        await lifecycle.correct(original, draft(level=2, body="20時に駅前で。", translations=updated), "sato", ORIGIN)
    ).waiting
