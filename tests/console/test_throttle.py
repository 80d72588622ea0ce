"""The login throttle: waits that grow per name and per client, a lock only an admin (or the owner's second
factor) lifts, and the same answers and the same work for names that exist and names that do not.

Time is a clock the test moves (Accounts.clock), never a sleep. Clients are told apart by
X-Forwarded-For ([console] trust_forwarded), as behind the city's own proxy.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broadcaster.cli.main import main
from broadcaster.models import Role
from broadcaster.settings import load_settings
from broadcaster.store import CLIENT_KEY, USER_KEY
from broadcaster.store.sqlite import SQLiteStore
from tests.console.conftest import PASSWORD, Browser, ConsoleSite, Reply, SiteMaker

THROTTLE: dict[str, dict[str, Any]] = {
    "console": {"trust_forwarded": True, "ip_login_limit": 10_000, "login_lock_after": 5, "login_delay": 1.0,
                "login_delay_max": 60.0},
}  # fmt: skip
ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def throttled_site(make_site: SiteMaker, **console: Any) -> tuple[ConsoleSite, Clock]:
    site = await make_site({"console": {**THROTTLE["console"], **console}})
    clock = Clock()
    site.console.accounts.clock = clock
    return site, clock


async def attempt(browser: Browser, name: str, password: str, client: str = "192.0.2.1") -> Reply:
    return await browser.post("/console/login", {"name": name, "password": password, "next": "/console/"},
                              headers={"X-Forwarded-For": client})  # fmt: skip


def error(reply: Reply) -> str:
    found = ERROR.search(reply.text)
    return found.group(1) if found else ""


async def test_waits_grow_and_no_password_is_checked_meanwhile(make_site: SiteMaker) -> None:
    site, clock = await throttled_site(make_site)
    await site.add_user("suzuki", Role.APPROVER)
    browser = await site.anonymous()
    accounts = site.console.accounts
    assert (await attempt(browser, "suzuki", "wrong password 1")).status == 401  # the first costs no wait
    assert (await attempt(browser, "suzuki", "wrong password 2")).status == 401
    checks = accounts.hash_checks
    reply = await attempt(browser, "suzuki", PASSWORD)  # right, but within the wait: not even checked
    assert reply.status == 429 and reply.headers["Retry-After"] == "1" and "1秒後" in error(reply)
    assert accounts.hash_checks == checks
    clock.now += 1
    assert (await attempt(browser, "suzuki", "wrong password 3")).status == 401
    clock.now += 1
    reply = await attempt(browser, "suzuki", PASSWORD)
    assert reply.status == 429 and reply.headers["Retry-After"] == "1"  # the wait doubled: 2 s
    clock.now += 1
    reply = await attempt(browser, "suzuki", PASSWORD)
    assert reply.status == 303 and reply.location == "/console/"
    assert (await browser.get("/console/dashboard")).status == 200
    actions = [(e.action, e.detail) for e in await site.store.audit_log(20) if e.target == "suzuki"]
    assert ("login.refused", "wait 1 s") in actions and ("login", "") in actions


async def test_a_stranger_only_slows_the_owner_who_gets_in_after_the_wait(make_site: SiteMaker) -> None:
    site, clock = await throttled_site(make_site, login_lock_after=50)
    await site.add_user("sato", Role.OPERATOR)
    stranger, owner = await site.anonymous(), await site.anonymous()
    for i in range(8):  # waits 0, 1, 2, 4, 8, 16, 32, 60 (the cap): each guess after the last wait
        reply = await attempt(stranger, "sato", f"guess {i}", client="203.0.113.9")
        assert reply.status == 401, i
        clock.now += min(60.0, 2.0 ** max(i - 1, 0)) if i else 0
    clock.now -= 30  # the owner comes 30 s into the stranger's 60 s wait
    reply = await attempt(owner, "sato", PASSWORD, client="192.0.2.50")
    assert reply.status == 429 and reply.headers["Retry-After"] == "30"
    clock.now += 30
    reply = await attempt(owner, "sato", PASSWORD, client="192.0.2.50")
    assert reply.status == 303  # the owner is never locked out by the stranger's guesses
    # a login clears the name's count: the stranger starts from no wait (and needs 50 more to lock it)
    assert (await attempt(stranger, "sato", "guess 9", client="203.0.113.9")).status == 401


async def test_one_client_guessing_many_names_is_slowed_too(make_site: SiteMaker) -> None:
    site, clock = await throttled_site(make_site)
    browser = await site.anonymous()
    assert (await attempt(browser, "name1", "x" * 12)).status == 401
    assert (await attempt(browser, "name2", "x" * 12)).status == 401
    reply = await attempt(browser, "name3", "x" * 12)  # a fresh name, but the client must wait
    assert reply.status == 429
    assert (await attempt(browser, "name3", "x" * 12, client="192.0.2.2")).status == 401  # another client need not
    clock.now += 1
    assert (await attempt(browser, "name3", "x" * 12)).status == 401


async def test_known_and_unknown_names_get_the_same_answers_and_the_same_work(make_site: SiteMaker) -> None:
    site, clock = await throttled_site(make_site)
    await site.add_user("tanaka", Role.OPERATOR)
    accounts = site.console.accounts

    async def story(name: str, client: str) -> list[tuple[int, str, int]]:
        browser, seen = await site.anonymous(), []

        async def one(step: int) -> None:
            checks = accounts.hash_checks
            reply = await attempt(browser, name, f"guess {step}", client)
            seen.append((reply.status, error(reply), accounts.hash_checks - checks))

        for step in range(3):  # two failures, then a wait
            await one(step)
        for step in range(3, 8):  # past each wait: three more failures, then the lock
            clock.now += 61
            await one(step)
        return seen

    start = clock.now
    known = await story("tanaka", "192.0.2.10")
    clock.now = start
    unknown = await story("nobody", "192.0.2.20")
    assert known == unknown  # what a stranger sees: status, words, and the argon2 work done
    assert [status for status, _, _ in known] == [401, 401, 429, 401, 401, 401, 401, 401]
    assert all(work == (0 if status == 429 else 1) for status, _, work in known)
    assert "ロック" in known[-1][1] and "ロック" not in known[-3][1]  # both names end locked, and say so alike
    rows = await site.store._read(lambda c: {r[0]: r[1] for r in c.execute("SELECT key, locked FROM login_throttle")})
    assert rows[USER_KEY + "tanaka"] == rows[USER_KEY + "nobody"] == 1
    assert rows[CLIENT_KEY + "192.0.2.10"] == rows[CLIENT_KEY + "192.0.2.20"] == 0  # a client is slowed, never locked


async def test_a_locked_account_stays_locked_until_an_admin_unlocks_it(make_site: SiteMaker) -> None:
    site, clock = await throttled_site(make_site)
    await site.add_user("ito", Role.APPROVER)
    admin = await site.browser("admin1", Role.ADMIN)
    browser = await site.anonymous()
    for i in range(5):
        assert (await attempt(browser, "ito", f"guess {i}")).status == 401
        clock.now += 60
    reply = await attempt(browser, "ito", PASSWORD, client="192.0.2.77")
    assert reply.status == 401 and "ロック" in error(reply)  # the right password, from anywhere
    clock.now += 30 * 86400  # a lock is not forgotten with time
    reply = await attempt(browser, "ito", PASSWORD, client="192.0.2.78")
    assert reply.status == 401 and "ロック" in error(reply)
    page = await admin.get("/console/admin/users")
    row = re.search(r'<tr id="user-ito">(.*?)</tr>', page.text, re.S)
    assert row and "ロック中" in row.group(1) and "/console/admin/users/ito/unlock" in row.group(1)
    assert (await admin.post("/console/admin/users/ito/unlock")).status == 303
    assert await site.store.locked_names() == set()
    assert (await attempt(browser, "ito", PASSWORD, client="192.0.2.79")).status == 303
    unlock = [e for e in await site.store.audit_log(50) if e.action == "user.unlock"]
    assert [(e.actor, e.target, e.detail) for e in unlock] == [("admin1", "ito", "was locked")]


async def test_an_operator_cannot_unlock(make_site: SiteMaker) -> None:
    site, _ = await throttled_site(make_site)
    await site.add_user("ueno", Role.OPERATOR)
    operator = await site.browser("mori", Role.OPERATOR)
    await operator.get("/console/dashboard")
    assert (await operator.post("/console/admin/users/ueno/unlock")).status == 403


def test_run_py_users_unlock(site: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    config = site({"console": {"login_lock_after": 2}})
    assert main(["--config", str(config), "users", "add", "kudo", "--role", "operator"]) == 0
    settings = load_settings(config)

    async def lock() -> None:
        store = await SQLiteStore.open(settings.path(settings.storage.path))
        for i in range(3):
            await store.begin_login(USER_KEY + "kudo", CLIENT_KEY + "x", 1000.0 + 100 * i, 1.0, 60.0, 2, 86400.0)
        await store.aclose()

    asyncio.run(lock())
    capsys.readouterr()
    assert main(["--config", str(config), "users", "list"]) == 0
    assert "locked" in capsys.readouterr().out
    assert main(["--config", str(config), "users", "unlock", "kudo"]) == 0
    assert "unlocked" in capsys.readouterr().out
    assert main(["--config", str(config), "users", "list"]) == 0
    assert "locked" not in capsys.readouterr().out
    assert main(["--config", str(config), "users", "unlock", "nobody"]) == 2
