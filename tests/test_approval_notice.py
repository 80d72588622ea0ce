"""Approval notices (broadcaster/approval_notice.py with channels/staff_notice.py) on a real store, a real
SMTP relay (aiosmtpd) and the fake LINE API: who is told, by what, when, and only once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broadcaster.approval_notice import ApprovalNotices, Stage, waited, words
from broadcaster.errors import ConfigError
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, Mode, Role, Source, User, Waiting
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels.line import TOKEN_ENV
from channels.staff_notice import StaffNotifier
from tests.fakes import serve
from tests.fakes.line import TOKEN, FakeLine, Fault
from tests.smtp_server import PASSWORD, USER, Relay
from tests.test_store import ORIGIN, make_alert

SiteFactory = Callable[..., Path]
PUBLIC_URL = "https://bousai.example.jp/"
ESCALATE_AFTER = 60.0
TANAKA_LINE = "U" + "a1" * 16
# name, role, mail address, LINE user id, disabled
STAFF = (
    ("tanaka", Role.APPROVER, "tanaka@city.example.jp", TANAKA_LINE, False),
    ("suzuki", Role.APPROVER, "suzuki@city.example.jp", "", False),
    ("yamada", Role.APPROVER, "yamada@city.example.jp", "U" + "b2" * 16, True),  # disabled: never told
    ("kato", Role.APPROVER, "kato@city.example.jp", "", False),  # requests the alert: cannot approve it
    ("sato", Role.OPERATOR, "sato@city.example.jp", "", False),  # writes it
    ("bucho", Role.ADMIN, "bucho@city.example.jp", "", False),  # the escalation list
)


@dataclass
class Clock:
    """The notices' clock: the real time moved on by ``skew`` seconds."""

    skew: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


@dataclass
class World:
    """A store with staff, the relay, the fake LINE API, and a way to make the notices' watcher."""

    settings: Settings
    store: SQLiteStore
    relay: Relay
    line: FakeLine
    clock: Clock
    notifiers: list[StaffNotifier]

    def notices(self, environ: dict[str, str] | None = None) -> ApprovalNotices:
        """A watcher as the service makes one (a new one is a restart)."""
        env = {TOKEN_ENV: TOKEN, "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD} if environ is None else environ
        notifier = StaffNotifier(self.settings, env, tls=self.relay.client_tls)
        self.notifiers.append(notifier)
        return ApprovalNotices(self.store, self.settings, notifier, clock=self.clock)

    def mailed(self) -> list[tuple[str, str, str]]:
        """(to, subject, text) of every mail the relay accepted."""
        found = []
        for received in self.relay.mailbox.received:
            msg = received.parsed()
            found.append((received.rcpt_tos[0], str(msg["Subject"]), msg.get_content()))
        return found

    def pushed(self, line_id: str) -> list[str]:
        """The texts LINE accepted for ``line_id``."""
        return [m["text"] for call in self.line.accepted.get(line_id, []) for m in call]


def notice_settings(site: SiteFactory, relay_port: int, line_url: str, **approval: Any) -> Settings:
    return load_settings(
        site(
            {
                "city": {"public_url": PUBLIC_URL},
                "email": {"host": "127.0.0.1", "port": relay_port, "timeout": 5.0},
                "line": {"api_host": line_url},
                "approval": {"escalate_after": ESCALATE_AFTER, "escalate_to": ["bucho"]} | approval,
            },
            name="notices.toml",
        )
    )


@pytest.fixture
async def world(site: SiteFactory, relay: Relay) -> AsyncIterator[World]:
    fake = FakeLine()
    async with serve(fake) as url:
        settings = notice_settings(site, relay.port, url)
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        for name, role, email, line_id, disabled in STAFF:
            await store.add_user(User(name, role, "not-a-hash", False, 0, 0.0, False, time.time(), email, line_id),
                                 "root", ORIGIN)  # fmt: skip
            if disabled:
                await store.update_user(name, None, True, "root", ORIGIN)
        w = World(settings, store, relay, fake, Clock(), [])
        try:
            yield w
        finally:
            for notifier in w.notifiers:
                await notifier.aclose()
            await store.aclose()


async def queue(store: SQLiteStore, alert_id: str, mode: Mode = Mode.LIVE, requester: str = "kato") -> Alert:
    """A live alert written by sato and put forward for approval by ``requester``."""
    alert = dataclasses.replace(make_alert(alert_id, mode=mode), created_by="sato")
    await store.create_alert(alert, "sato", ORIGIN)
    await store.request_approval(alert.id, requester, ORIGIN)
    return alert


async def test_every_approver_is_told_at_once_then_the_escalation_list_each_once_even_after_a_restart(
    world: World,
) -> None:
    alert = await queue(world.store, "a1")
    notices = world.notices()

    assert await notices.check() == 3  # two mails and one LINE push

    mailed = world.mailed()
    assert sorted(to for to, _, _ in mailed) == ["suzuki@city.example.jp", "tanaka@city.example.jp"]
    for _, subject, text in mailed:
        assert subject == f"【承認依頼・本番】{alert.title}"
        assert alert.title in text and "本番" in text and "警戒レベル３" in text
        assert f"{PUBLIC_URL}console/alerts/a1" in text  # [city] public_url, never a Host header
        assert "kato" in text  # who asked
    [push] = world.pushed(TANAKA_LINE)
    assert alert.title in push and f"{PUBLIC_URL}console/alerts/a1" in push
    assert world.pushed("U" + "b2" * 16) == []  # the disabled approver

    assert await notices.check() == 0  # each notice once
    assert await world.notices().check() == 0  # a restart remembers them
    assert len(world.mailed()) == 2 and len(world.pushed(TANAKA_LINE)) == 1

    world.clock.skew = ESCALATE_AFTER + 1
    assert await notices.check() == 1
    to, subject, text = world.mailed()[-1]
    assert to == "bucho@city.example.jp"
    assert subject.startswith(f"【承認督促・本番】{alert.title}（承認待ち 1分")
    assert f"{PUBLIC_URL}console/alerts/a1" in text
    assert await notices.check() == 0
    assert await world.notices().check() == 0
    assert len(world.mailed()) == 3 and len(world.pushed(TANAKA_LINE)) == 1


async def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``, a minute at most (a bound for a hung test, not a timing check)."""
    for _ in range(6000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("still not so after a minute")


async def test_an_alert_put_forward_wakes_the_notices_at_once(world: World) -> None:
    notices = world.notices()
    notices.every = 3600.0  # without the wake, the next look would be an hour away
    task = asyncio.create_task(notices.run())
    try:
        await until(lambda: notices.looks == 1)  # the first look found the queue empty
        lifecycle = Lifecycle(world.store, world.settings, queued=notices.wake)
        alert = dataclasses.replace(make_alert("w1", mode=Mode.LIVE), created_by="sato")
        released = await lifecycle.submit(alert, "kato", ORIGIN)
        assert released.waiting
        await until(lambda: notices.looks == 2)  # a look an hour early: only the wake makes one
        assert notices.sent == 3  # two mails and one LINE push
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_jma_alert_waiting_names_jma_as_who_asked(world: World) -> None:
    alert = dataclasses.replace(make_alert("j1", mode=Mode.LIVE), source=Source.JMA, created_by="jma")
    waiting = Waiting(alert, time.time(), "jma", frozenset({"jma"}))
    _, text = words(world.settings, waiting, Stage.ASKED, time.time())
    assert "（気象庁（自動））" in text and "（jma）" not in text


async def test_exercises_and_alerts_not_waiting_tell_nobody(world: World) -> None:
    await queue(world.store, "drill", mode=Mode.EXERCISE)
    await world.store.create_alert(make_alert("draft"), "sato", ORIGIN)  # a draft, never put forward
    sent = make_alert("sent")
    await world.store.create_alert(sent, "sato", ORIGIN)
    await world.store.approve(sent.id, "tanaka", ORIGIN)  # sent at once, no approval asked
    world.clock.skew = ESCALATE_AFTER + 1

    assert await world.notices().check() == 0
    assert world.mailed() == [] and world.line.calls == []


async def test_an_approved_or_rejected_alert_is_no_longer_notified(world: World) -> None:
    await queue(world.store, "a1")
    await queue(world.store, "a2")
    await world.store.approve("a1", "tanaka", ORIGIN)
    await world.store.reject("a2", "tanaka", "数字を確認してください", ORIGIN)

    assert await world.notices().check() == 0
    assert world.mailed() == []


async def test_the_authors_and_the_requester_are_not_asked(world: World) -> None:
    await queue(world.store, "a1", requester="tanaka")  # tanaka asks: only suzuki and kato can approve

    await world.notices().check()

    assert sorted(to for to, _, _ in world.mailed()) == ["kato@city.example.jp", "suzuki@city.example.jp"]
    assert world.pushed(TANAKA_LINE) == []


async def test_a_failed_notice_is_logged_without_contacts_and_sent_at_the_next_look(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await queue(world.store, "a1")
    world.line.inject(Fault.ERROR)
    notices = world.notices()

    with caplog.at_level(logging.INFO, logger="broadcaster.approval_notice"):
        assert await notices.check() == 2  # the mails; LINE answered 500
        assert world.pushed(TANAKA_LINE) == []
        assert await notices.check() == 1  # the push, this time
    assert len(world.pushed(TANAKA_LINE)) == 1 and len(world.mailed()) == 2
    assert "failed (again at the next look)" in caplog.text and "account tanaka by line" in caplog.text
    for _, _, email, line_id, _ in STAFF:
        assert email not in caplog.text and (not line_id or line_id not in caplog.text)


async def test_without_a_relay_or_line_credentials_notices_go_to_the_outbox_without_contacts(world: World) -> None:
    settings = world.settings.model_copy(update={"email": world.settings.email.model_copy(update={"host": ""})})
    world.settings = settings
    await queue(world.store, "a1")

    assert await world.notices(environ={}).check() == 3

    files = sorted((settings.path(settings.storage.outbox_dir) / "staff").glob("*.txt"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert sorted(t.splitlines()[0] for t in texts) == [
        "To: account suzuki (mail)",
        "To: account tanaka (line)",
        "To: account tanaka (mail)",
    ]
    assert all("【承認依頼・本番】" in t for t in texts)
    assert not any("@city.example.jp" in t or TANAKA_LINE in t for t in texts)
    assert world.mailed() == [] and world.line.calls == []


@pytest.mark.parametrize(
    ("seconds", "words"), [(0, "0秒"), (59.9, "59秒"), (252, "4分12秒"), (3600, "1時間0分"), (3780, "1時間3分")]
)
def test_waited_is_said_in_japanese(seconds: float, words: str) -> None:
    assert waited(seconds) == words


def test_escalate_to_must_name_plausible_accounts_each_once(site: SiteFactory) -> None:
    for bad in (["Bucho"], ["bu cho"], ["b"], ["bucho", "bucho"]):
        with pytest.raises(ConfigError, match="escalate_to"):
            load_settings(site({"approval": {"escalate_to": bad}}, name="bad.toml"))
    assert load_settings(site({"approval": {"escalate_to": ["bucho", "kacho.2"]}})).approval.escalate_to == (
        "bucho",
        "kacho.2",
    )


def test_a_notice_says_which_districts_the_alert_reaches_in_words(district_settings: Settings) -> None:
    alert = dataclasses.replace(make_alert("d1", mode=Mode.LIVE), districts=("north", "east", "west"))
    now = time.time()
    waiting = Waiting(alert, now - ESCALATE_AFTER, "kato", frozenset({"kato"}))
    subject, text = words(district_settings, waiting, Stage.ASKED, now)
    assert subject == "【承認依頼・本番】d1 避難指示（市内3地区）"
    assert "対象地区：東部地区、西部地区、北部地区" in text.splitlines()
    subject, _ = words(district_settings, waiting, Stage.ESCALATED, now)
    assert subject.startswith("【承認督促・本番】d1 避難指示（市内3地区）（承認待ち 1分")
    one = dataclasses.replace(waiting, alert=dataclasses.replace(alert, districts=("south",)))
    subject, text = words(district_settings, one, Stage.ASKED, now)
    assert subject == "【承認依頼・本番】d1 避難指示（南部地区）" and "対象地区：南部地区" in text.splitlines()
    for said in words(district_settings, waiting, Stage.ASKED, now) + words(district_settings, one, Stage.ASKED, now):
        assert not any(d.id in said for d in district_settings.districts)  # never an id
    # the whole city: the subject as ever, and the reach said plainly
    city = dataclasses.replace(waiting, alert=dataclasses.replace(alert, districts=()))
    subject, text = words(district_settings, city, Stage.ASKED, now)
    assert subject == "【承認依頼・本番】d1 避難指示" and "対象地区：市内全域" in text.splitlines()
