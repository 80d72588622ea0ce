"""The alert lifecycle: create, release under the approval policy, approve, reject, correct, cancel.

The console, the REST API, ``run.py send`` and the feeds all go through here, so the rules hold
whoever asks:

- A live alert the [approval] policy names (``needs_approval``) waits for a second person; the
  store refuses its authors (whoever created or changed its content) and its requester as approver,
  whatever the caller shows.
- An approval approves one exact version: the approver's page shows the alert's fingerprint
  (``broadcaster.fingerprint``) and the approval carries it; the store compares it with the alert it
  approves in the same transaction and refuses a changed one (``Stale``). A sender's confirmation
  (typed 本番) is bound the same way.
- A live alert with a 定型文's placeholder (【地区名】) left in its words can be neither released nor
  approved (``Unfilled``); an exercise may keep them.
- 訂正, 解除 and 取消 are three things. A correction (new words) and a lift (the order or warning is
  over) are the next version of the event's newest sent version, under the same policy as any live
  alert: a false all-clear sends people home into danger. A cancel (it was a mistake) never waits:
  withdrawing a false alert must not wait for a second person at 3 a.m. Versions still waiting never
  stand in the way of a cancel; a cancel or a lift withdraws them. A lifted event is over.
- A new alert that goes out at once is stored and planned in one transaction, so a crash cannot
  leave it stored and never sent. A source's memory of its decision (``state``: "this JMA document
  is handled") commits in that same transaction, so a crash can never make it issue an alert twice.

Delivery is the dispatcher's: after a commit that planned rows, ``wake`` gets their channels. Where no
dispatcher runs in the process (``run.py send``, ``run.py jma replay``) it is left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from broadcaster import drafts, lint
from broadcaster.drafts import Draft
from broadcaster.errors import InputError, Stale, Unfilled
from broadcaster.fingerprint import fingerprint as fingerprint_of
from broadcaster.models import Alert, AlertId, AlertState, ChannelName, Mode, MsgType, Source
from broadcaster.settings import Settings
from broadcaster.state import StateRow
from broadcaster.store import Store

Wake = Callable[[Iterable[ChannelName]], None]  # Dispatcher.wake: workers of these channels have new rows
Queued = Callable[[AlertId], None]  # ApprovalNotices.wake: an alert now waits for a second person
SENT_STATES = (AlertState.APPROVED, AlertState.DISPATCHING, AlertState.DONE)


@dataclass(frozen=True, slots=True)
class Released:
    """What a release, approval, correction or cancel did: planned now, or waiting for a second person."""

    alert_id: AlertId
    waiting: bool  # in the approval queue; nothing planned
    planned: Mapping[ChannelName, int]  # delivery rows written, by channel ({} when waiting, or nobody to reach)


class Uncorrectable(StrEnum):
    """Why an event cannot be corrected, lifted or cancelled."""

    NOTHING_SENT = "nothing_sent"  # no version of it has gone out
    CANCELLED = "cancelled"  # its newest version is a cancel
    LIFTED = "lifted"  # its newest version is a lift: the event is over (a new alert starts a new one)


def needs_approval(settings: Settings, alert: Alert) -> bool:
    """Whether a second person must approve: a live alert at or above the level, or of a listed category."""
    rule = settings.approval
    return alert.mode == Mode.LIVE and (alert.level >= rule.live_min_level or alert.category in rule.categories)


def _filled_in(alert: Alert) -> None:
    """Unfilled when a live alert still holds a 定型文's placeholder: residents would read 【地区名】."""
    left = lint.unfilled(alert) if alert.mode == Mode.LIVE else []
    if left:
        raise Unfilled(left)


def _nobody(channels: Iterable[ChannelName]) -> None:
    """No dispatcher in this process: the service picks the rows up when it runs."""


def _nobody_told(alert_id: AlertId) -> None:
    """No approval notices in this process: the service's look at the queue finds it within seconds."""


class Lifecycle:
    """Every change of an alert's state, with the policy checks, the store calls and the wake-up."""

    def __init__(self, store: Store, settings: Settings, wake: Wake = _nobody, queued: Queued = _nobody_told) -> None:
        self.store = store
        self.settings = settings
        self._wake = wake
        self._queued = queued

    def needs_approval(self, alert: Alert) -> bool:
        """Whether ``alert`` waits for a second person under the [approval] policy."""
        return needs_approval(self.settings, alert)

    # -- drafts -------------------------------------------------------------------------

    def build(self, draft: Draft, author: str, source: Source) -> Alert:
        """The draft as an Alert checked against the config; InputError names the field."""
        return drafts.build(self.settings, draft, author, source)

    async def save(self, alert: Alert, actor: str, origin: str, state: Sequence[StateRow] = ()) -> None:
        """Store a new draft, and ``state`` in the same transaction; it waits until someone releases it."""
        if alert.state != AlertState.DRAFT:
            raise InputError(
                f"alert {alert.id} is {alert.state}, not a draft", code="not_draft", id=alert.id, state=alert.state
            )
        await self.store.create_alert(alert, actor, origin, state=state)

    async def edit(self, alert: Alert, actor: str, origin: str) -> None:
        """Replace a stored draft's words and choices; InputError once it is no longer a draft."""
        await self.store.update_draft(alert, actor, origin)

    # -- sending ------------------------------------------------------------------------

    async def release(self, alert_id: AlertId, actor: str, origin: str, fingerprint: str | None = None) -> Released:
        """Send a stored draft now, or put it in the approval queue when the policy names it.

        ``fingerprint``: the version the sender confirmed (Stale if the draft changed since). Either way
        the store sends or queues only the version this decided on.
        """
        alert = await self.store.get_alert(alert_id)
        if alert is None:
            raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
        if alert.state != AlertState.DRAFT:
            raise InputError(
                f"alert {alert_id} is {alert.state}, not a draft", code="not_draft", id=alert_id, state=alert.state
            )
        version = fingerprint_of(alert)
        if fingerprint is not None and fingerprint != version:
            raise Stale(alert_id)
        _filled_in(alert)
        if self.needs_approval(alert):
            await self.store.request_approval(alert.id, actor, origin, version)
            return self._waiting(alert.id)
        return self._woken(alert.id, await self.store.approve_confirmed(alert.id, actor, origin, version))

    async def submit(self, alert: Alert, actor: str, origin: str) -> Released:
        """Store a new alert and release it: sent now in one transaction, or queued for approval."""
        if alert.state != AlertState.DRAFT:
            raise InputError(
                f"alert {alert.id} is {alert.state}, not a draft", code="not_draft", id=alert.id, state=alert.state
            )
        _filled_in(alert)
        if self.needs_approval(alert):
            # a crash between the two leaves a draft in the console, never an alert sent unapproved
            await self.store.create_alert(alert, actor, origin)
            await self.store.request_approval(alert.id, actor, origin)
            return self._waiting(alert.id)
        return self._woken(alert.id, await self.store.create_alert(alert, actor, origin, approve=True))

    async def approve(self, alert_id: AlertId, actor: str, origin: str, fingerprint: str) -> Released:
        """A second person's approval of the version with ``fingerprint``: an approver who neither wrote,
        edited nor requested it. Stale when the alert has changed since the approver read it."""
        alert = await self.store.get_alert(alert_id)
        if alert is None:
            raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
        (await self.store.approval_record(alert_id)).second_person(actor)  # who asks, before which version
        if fingerprint_of(alert) != fingerprint:
            raise Stale(alert_id)
        _filled_in(alert)  # of the version approved: the store approves no other
        # the store checks both again in the approval's own transaction
        return self._woken(alert_id, await self.store.approve_pending(alert_id, actor, origin, fingerprint))

    async def reject(self, alert_id: AlertId, actor: str, reason: str, origin: str) -> None:
        """Send a queued alert back as a draft with ``reason`` (required: its author reads it), or discard a
        draft; InputError for anything already sent."""
        await self.store.reject(alert_id, actor, reason, origin)

    async def issue(self, alert: Alert, origin: str, send_now: bool, state: Sequence[StateRow] = ()) -> Released:
        """A source's alert, decided by the source's own policy: planned now, or queued for an approver.

        ``state`` (the source's memory of the decision) commits in the same transaction as the alert. A
        queued alert's requester is the source's account (its author, e.g. ``jma``), asked at its creation.
        """
        queued = dataclasses.replace(alert, state=AlertState.DRAFT if send_now else AlertState.PENDING_APPROVAL)
        planned = await self.store.create_alert(queued, alert.created_by, origin, approve=send_now, state=state)
        return self._woken(alert.id, planned) if send_now else self._waiting(alert.id)

    # -- corrections and cancels --------------------------------------------------------

    async def correctable(self, alert: Alert) -> Alert | Uncorrectable:
        """The newest sent version of ``alert``'s event, or why it cannot be corrected, lifted or cancelled.

        Versions still waiting (a correction pending approval, a draft) do not count: they must never
        stand in the way of a cancel.
        """
        if alert.event_key:
            versions = await self.store.versions(alert.event_key, alert.mode)
        else:
            stored = await self.store.get_alert(alert.id)
            versions = [stored] if stored else []
        sent = [v for v in versions if v.state in SENT_STATES]
        if not sent:
            return Uncorrectable.NOTHING_SENT
        latest = sent[-1]
        if latest.msg_type == MsgType.CANCEL:
            return Uncorrectable.CANCELLED
        if latest.msg_type == MsgType.LIFT:
            return Uncorrectable.LIFTED
        return latest

    async def correct(
        self,
        alert: Alert,
        changes: Draft,
        author: str,
        origin: str,
        confirmed: Iterable[str] = (),
        fingerprint: str | None = None,
        districts: tuple[str, ...] | None = None,
    ) -> Released:
        """Correct the event of ``alert`` with new words (【訂正】): its next version, under the policy.

        A live correction is a live alert like any other: it waits for a second person when the policy
        names it. ``confirmed``: translations the officer says are still right though the Japanese
        changed (StaleTranslations otherwise). ``fingerprint``: the correction the sender confirmed
        (typed 本番); Stale if these changes make another. ``districts``: the corrected districts,
        checked (``districts.check_ids``); None keeps the event's.
        """
        latest = await self._latest(alert)
        correction = drafts.correction(self.settings, latest, changes, author, confirmed=confirmed, districts=districts)
        if fingerprint is not None and fingerprint_of(correction) != fingerprint:
            raise Stale(latest.id)
        return await self.submit(correction, author, origin)

    async def lift(self, alert: Alert, author: str, reason: str, origin: str, seen: str | None = None) -> Released:
        """Lift the event of ``alert`` (【解除】: the order or warning is over), under the approval policy.

        A false all-clear sends people home into danger, so a live lift waits for a second person
        whenever the alert it lifts would have. It takes the event off the air once it is carried.
        ``seen``: the fingerprint of the version the officer saw lifted; Stale if a newer one went out.
        """
        latest = await self._latest(alert)
        if seen is not None and fingerprint_of(latest) != seen:
            raise Stale(latest.id)
        return await self.submit(drafts.lift(self.settings, latest, author, reason), author, origin)

    async def cancel(self, alert: Alert, author: str, reason: str, origin: str, seen: str | None = None) -> Released:
        """Cancel the event of ``alert``: at once, to exactly whom it reached, with no second person.

        ``seen``: the fingerprint of the version the officer saw withdrawn; Stale if a newer one went out.
        """
        latest = await self._latest(alert)
        if seen is not None and fingerprint_of(latest) != seen:
            raise Stale(latest.id)
        cancel = drafts.cancellation(self.settings, latest, author, reason)
        return self._woken(cancel.id, await self.store.create_alert(cancel, author, origin, approve=True))

    async def _latest(self, alert: Alert) -> Alert:
        found = await self.correctable(alert)
        if isinstance(found, Alert):
            return found
        if found == Uncorrectable.NOTHING_SENT:
            raise InputError(f"nothing of alert {alert.id}'s event has gone out: edit or discard the draft",
                             code="nothing_sent", id=alert.id)  # fmt: skip
        if found == Uncorrectable.LIFTED:
            raise InputError(f"alert {alert.id}'s event is lifted: it is over; send a new alert if it is not",
                             code="event_lifted", id=alert.id)  # fmt: skip
        raise InputError(f"alert {alert.id}'s event is cancelled: nothing is left to correct", code="event_cancelled",
                         id=alert.id)  # fmt: skip

    def _waiting(self, alert_id: AlertId) -> Released:
        self._queued(alert_id)  # approvers are told at once, not at the notices' next look
        return Released(alert_id, True, {})

    def _woken(self, alert_id: AlertId, planned: Mapping[ChannelName, int]) -> Released:
        self._wake(planned)
        return Released(alert_id, False, planned)
