"""Approval notices: when a live alert waits for a second person, the people who can give it hear of it.

At once, every active approver who may approve it (not its authors or its requester, who cannot) is
told; once it has waited ``[approval] escalate_after`` seconds, the ``escalate_to`` accounts are told
too, whatever their role. Each account hears by mail when it has an address and by LINE when it has
a LINE user id; each notice (alert, stage, account, medium) goes out once, remembered in the store
(``state.APPROVAL_NOTICE``), so a restart does not send it again. A notice that fails is logged and
tried again at the next look; one refused for good (a LINE 400, an SMTP 5xx) is given up until the
next start. Nothing here stops the service. Exercise alerts notify nobody.

The sending is a ``Notifier``'s (channels/staff_notice.py for the service); this module decides who
is told what and when. It looks at the queue whenever ``wake`` is called (the lifecycle's ``queued``:
an alert was just put forward, here or by the JMA ingest) and every ``CHECK_S`` seconds besides, for
alerts queued by another process (`run.py send`) and for escalations. Contacts are personal data: no
log line carries one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from broadcaster import districts
from broadcaster.clock import jst
from broadcaster.errors import DeliveryError, PermanentError
from broadcaster.models import AlertId, Mode, Role, Source, User, Waiting
from broadcaster.settings import Settings
from broadcaster.state import APPROVAL_NOTICE
from broadcaster.store import Store

log = logging.getLogger("broadcaster.approval_notice")

CHECK_S = 5.0  # looks at the queue this often without a wake (an alert queued by another process)


class Stage(StrEnum):
    ASKED = "asked"  # every active approver who may approve it, as soon as it waits
    ESCALATED = "escalated"  # the [approval] escalate_to accounts, once it has waited escalate_after


class Medium(StrEnum):
    MAIL = "mail"  # through the [email] relay
    LINE = "line"  # a LINE push to the account's own LINE user id


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one account by one medium."""

    key: str  # remembered once sent; also the notice's idempotency key
    alert_id: AlertId
    stage: Stage
    account: str
    medium: Medium
    address: str  # personal data: the mail address or LINE user id; never logged
    subject: str
    text: str


class Notifier(Protocol):
    """Where notices go: sends one, or raises DeliveryError (it is tried again at the next look)."""

    async def send(self, notice: Notice) -> None:
        """Send ``notice`` or raise DeliveryError."""


def console_link(settings: Settings, alert_id: AlertId) -> str:
    """The alert's console page under [city] public_url (never a request's Host)."""
    return f"{settings.city.public_url.rstrip('/')}/console/alerts/{urllib.parse.quote(alert_id, safe='')}"


def waited(seconds: float) -> str:
    """How long something has waited, in Japanese: 4分12秒, 1時間3分."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}時間{minutes}分"
    return f"{minutes}分{secs}秒" if minutes else f"{secs}秒"


def level_text(settings: Settings, waiting: Waiting) -> str:
    """The alert's scale as officers read it: its badge, the level's name, or なし."""
    alert = waiting.alert
    if alert.badge:
        return alert.badge
    names = {info.level: info.name for info in settings.levels}
    return names.get(alert.level, "なし")


def words(settings: Settings, waiting: Waiting, stage: Stage, now: float) -> tuple[str, str]:
    """The subject and text of a notice about ``waiting``, in Japanese."""
    alert = waiting.alert
    title = " ".join(alert.title.split())  # one line, whatever the title holds
    category = settings.categories.get(alert.category)
    since = jst(waiting.since).strftime("%m月%d日 %H:%M")
    # a source's alert is queued by its policy, not by a person
    asker = "気象庁（自動）" if alert.source == Source.JMA else waiting.requested_by or alert.created_by or "不明"
    # the reach: the approver must see at a glance whether it goes to the whole city or a few districts
    chosen = districts.chosen(alert.districts, settings)
    reach = f"（{districts.short(alert.districts, settings)}）" if chosen else ""
    places = districts.names(alert.districts, settings) if chosen else districts.WHOLE_CITY_JA
    if stage == Stage.ASKED:
        subject = f"【承認依頼・本番】{title}{reach}"
        lead = "本番の情報が承認を待っています。内容を確認し、承認または差し戻しをしてください。"
    else:
        subject = f"【承認督促・本番】{title}{reach}（承認待ち {waited(now - waiting.since)}）"
        lead = (
            f"本番の情報が承認を {waited(now - waiting.since)} 待っています。"
            "承認できる方に連絡をとるか、内容を確認してください。"
        )
    lines = [
        f"{settings.city.name} 緊急情報配信システムからのお知らせです。",
        "",
        lead,
        "",
        f"件名：{title}",
        f"対象地区：{places}",
        f"分類：{category.name if category else alert.category}",
        f"レベル：{level_text(settings, waiting)}",
        "モード：本番（承認されると住民に配信されます）",
        f"承認依頼：{since}（{asker}）",
        "",
        "確認と承認はこちら（ログインが必要です）：",
        console_link(settings, alert.id),
        "",
        "このお知らせは自動で送っています。作成者と依頼者は、その情報を承認できません。",
    ]
    return subject, "\n".join(lines) + "\n"


def recipients(settings: Settings, users: Sequence[User], waiting: Waiting, stage: Stage) -> list[User]:
    """Who hears of ``waiting`` at ``stage``: active accounts only."""
    if stage == Stage.ASKED:
        return [u for u in users if u.role == Role.APPROVER and not u.disabled and u.name not in waiting.cannot_approve]
    wanted = set(settings.approval.escalate_to)
    return [u for u in users if u.name in wanted and not u.disabled]


def due(settings: Settings, users: Sequence[User], waiting: Waiting, now: float) -> list[Notice]:
    """Every notice ``waiting`` calls for at ``now``, sent or not: none for an exercise."""
    if waiting.alert.mode != Mode.LIVE:
        return []
    stages = [Stage.ASKED]
    if now - waiting.since >= settings.approval.escalate_after:
        stages.append(Stage.ESCALATED)
    found = []
    for stage in stages:
        subject, text = words(settings, waiting, stage, now)
        for user in recipients(settings, users, waiting, stage):
            for medium, address in ((Medium.MAIL, user.email), (Medium.LINE, user.line_id)):
                if address:
                    # a request after a rejection is a new request: its notices go out again
                    key = f"{waiting.alert.id}@{waiting.since!r}:{stage}:{user.name}:{medium}"
                    found.append(Notice(key, waiting.alert.id, stage, user.name, medium, address, subject, text))
    return found


class ApprovalNotices:
    """Watches the approval queue and tells people, each notice once."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
        every: float = CHECK_S,
    ) -> None:
        self.store = store
        self.settings = settings
        self.notifier = notifier
        self.clock = clock
        self.every = every
        self.sent = 0
        self.failed = 0
        self.looks = 0  # finished looks at the queue
        self._wake = asyncio.Event()
        self._unreachable: set[str] = set()  # accounts already logged as having no contact
        self._given_up: set[str] = set()  # notices refused for good: not tried again until a restart

    def wake(self, alert_id: AlertId = "") -> None:
        """Look at the queue now: ``alert_id`` was just queued (Lifecycle's ``queued``)."""
        self._wake.set()

    async def check(self) -> int:
        """Look once: send every notice that is due and not yet sent; returns how many went out."""
        now = self.clock()
        queue = await self.store.approval_queue()
        if not queue:
            return 0
        users = await self.store.list_users()
        self._note_unreachable(users, queue)
        todo = []
        for waiting in queue:
            for notice in due(self.settings, users, waiting, now):
                if notice.key not in self._given_up and await self.store.get_state(APPROVAL_NOTICE, notice.key) is None:
                    todo.append(notice)
        results = await asyncio.gather(*(self._send(n) for n in todo))  # each returns, never raises
        sent = [n for n, ok in zip(todo, results, strict=True) if ok]
        if sent:
            await self.store.put_states([APPROVAL_NOTICE.entry(n.key, now) for n in sent])
        return len(sent)

    async def _send(self, notice: Notice) -> bool:
        try:
            await self.notifier.send(notice)
        except DeliveryError as exc:
            self.failed += 1
            again = "given up until the next start" if isinstance(exc, PermanentError) else "again at the next look"
            if isinstance(exc, PermanentError):
                self._given_up.add(notice.key)
            log.warning(
                "approval notice %s of alert %s to account %s by %s failed (%s): %s",
                notice.stage, notice.alert_id, notice.account, notice.medium, again, exc,
            )  # fmt: skip
            return False
        self.sent += 1
        log.info("approval notice %s of alert %s sent to account %s by %s",
                 notice.stage, notice.alert_id, notice.account, notice.medium)  # fmt: skip
        return True

    def _note_unreachable(self, users: Sequence[User], queue: Sequence[Waiting]) -> None:
        """Log, once per account, an approver or escalation account that has no contact to be told by."""
        named = set(self.settings.approval.escalate_to)
        for user in users:
            wanted = user.role == Role.APPROVER or user.name in named
            if wanted and not user.disabled and not (user.email or user.line_id) and user.name not in self._unreachable:
                self._unreachable.add(user.name)
                log.warning("account %s has no mail address or LINE user id: approval notices cannot reach it",
                            user.name)  # fmt: skip
        missing = named - {u.name for u in users} - self._unreachable
        for name in sorted(missing):
            self._unreachable.add(name)
            log.warning("[approval] escalate_to names %s, which is no account", name)

    async def run(self) -> None:
        """Look at the queue every ``every`` seconds or on a wake, until cancelled; a failed look is logged."""
        while True:
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # a store error, a bug: logged, and the next look tries again
                log.exception("approval notices: the look at the queue failed")
            self.looks += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()
