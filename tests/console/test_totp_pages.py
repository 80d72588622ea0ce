"""The second factor in the console: setting it up, logging in with a code or a recovery code, a code
taken once, `[console] require_totp` for admins and approvers, and the lock a code lifts."""

from __future__ import annotations

import html
import re
import time
from typing import Any

from broadcaster import totp
from broadcaster.models import Role
from tests.console.conftest import PASSWORD, Browser, ConsoleSite, Reply, SiteMaker

SECRET = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')
CODES = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def clocked(make_site: SiteMaker, **console: Any) -> tuple[ConsoleSite, Clock]:
    site = await make_site({"console": {"trust_forwarded": True, "ip_login_limit": 10_000, **console}})
    clock = Clock()
    site.console.accounts.clock = clock
    return site, clock


def wrong_code(secret: str, now: float) -> str:
    """Six digits that are no code of ``secret`` around ``now``."""
    return next(c for c in (f"{n:06d}" for n in range(10)) if totp.verify(secret, c, now) is None)


async def enrol(browser: Browser, clock: Clock) -> tuple[str, list[str]]:
    """Set up the second factor from the console; returns the secret and the recovery codes."""
    await browser.get("/console/totp")
    page = await browser.post("/console/totp/begin")
    assert page.status == 200, page.text[:500]
    found = SECRET.search(page.text)
    assert found and "otpauth://totp/" in page.text
    secret = found.group(1).replace(" ", "")
    done = await browser.post("/console/totp/confirm", {"code": totp.code(secret, clock.now)})
    assert done.status == 200, done.text[:500]
    return secret, CODES.findall(done.text)


async def password(browser: Browser, name: str, client: str = "192.0.2.1") -> Reply:
    await browser.get("/console/login")
    return await browser.post("/console/login", {"name": name, "password": PASSWORD, "next": "/console/history"},
                              headers={"X-Forwarded-For": client})  # fmt: skip


async def code(browser: Browser, given: str, client: str = "192.0.2.1") -> Reply:
    return await browser.post("/console/login/code", {"code": given, "next": "/console/history"},
                              headers={"X-Forwarded-For": client})  # fmt: skip


async def test_set_up_then_every_login_asks_for_a_code(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site)
    owner = await site.browser("sato", Role.OPERATOR)
    assert 'data-enrolled="no"' in (await owner.get("/console/totp")).text
    begun = await owner.post("/console/totp/begin")
    secret = SECRET.search(begun.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    wrong = await owner.post("/console/totp/confirm", {"code": wrong_code(secret, clock.now)})
    assert wrong.status == 400 and "確認コードが違います" in wrong.text
    assert SECRET.search(wrong.text).group(1).replace(" ", "") == secret  # type: ignore[union-attr]  # same secret
    factor = await site.store.second_factor("sato")
    assert factor is not None and not factor.enrolled  # nothing in force before a right code
    done = await owner.post("/console/totp/confirm", {"code": totp.code(secret, clock.now)})
    codes = CODES.findall(done.text)
    assert done.status == 200 and len(set(codes)) == 10 and "今回だけ" in done.text
    factor = await site.store.second_factor("sato")
    assert factor is not None and factor.enrolled and factor.recovery_codes == 10
    stored = await site.store._read(lambda c: [r[0] for r in c.execute("SELECT id FROM recovery_codes")])
    assert not set(codes) & set(stored) and all(len(h) == 64 for h in stored)  # kept only as hashes
    assert "10" in (await owner.get("/console/totp")).text

    clock.now += 90  # the code used to confirm is behind us
    browser = await site.anonymous()
    reply = await password(browser, "sato")
    assert reply.status == 303 and reply.location.startswith("/console/login/code?")
    assert (await browser.get("/console/history")).status == 303  # no session before the code
    page = await browser.follow(reply)
    assert page.status == 200 and "6桁の確認コード" in page.text
    assert (await code(browser, wrong_code(secret, clock.now))).status == 401
    reply = await code(browser, totp.code(secret, clock.now))
    assert (reply.status, reply.location) == (303, "/console/history")
    assert (await browser.get("/console/history")).status == 200
    login = [e for e in await site.store.audit_log(20) if e.action == "login" and e.target == "sato"]
    assert login[0].detail == "totp"


async def test_a_code_works_once_and_a_recovery_code_once(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site)
    secret, codes = await enrol(await site.browser("kato", Role.APPROVER), clock)
    clock.now += 60
    first = await site.anonymous()
    await password(first, "kato")
    used = totp.code(secret, clock.now)
    assert (await code(first, used)).status == 303
    second = await site.anonymous()
    await password(second, "kato", client="192.0.2.2")
    assert (await code(second, used, client="192.0.2.2")).status == 401  # the same code again: refused
    clock.now += 1  # past the wait a wrong code earned
    assert (await code(second, codes[0].upper(), client="192.0.2.2")).status == 303  # case and dashes as typed
    third = await site.anonymous()
    await password(third, "kato", client="192.0.2.3")
    assert (await code(third, codes[0], client="192.0.2.3")).status == 401
    factor = await site.store.second_factor("kato")
    assert factor is not None and factor.recovery_codes == 9


async def test_the_code_step_needs_its_own_cookie_and_runs_out(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site)
    secret, _ = await enrol(await site.browser("abe", Role.OPERATOR), clock)
    stranger = await site.anonymous()
    await stranger.get("/console/login")
    reply = await code(stranger, totp.code(secret, clock.now + 30))
    assert reply.status == 401 and "もう一度パスワードから" in html.unescape(reply.text)
    browser = await site.anonymous()
    await password(browser, "abe")
    clock.now += site.settings.console.second_factor_timeout + 1
    reply = await code(browser, totp.code(secret, clock.now))
    assert reply.status == 401 and "もう一度パスワードから" in reply.text


async def test_a_locked_account_is_let_in_and_unlocked_by_its_owners_second_factor(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site, login_lock_after=3)
    secret, _ = await enrol(await site.browser("ueda", Role.APPROVER), clock)
    stranger = await site.anonymous()
    for i in range(4):
        await stranger.get("/console/login")
        await stranger.post("/console/login", {"name": "ueda", "password": f"guess {i}"},
                             headers={"X-Forwarded-For": "203.0.113.5"})  # fmt: skip
        clock.now += 61
    assert await site.store.locked_names() == {"ueda"}
    owner = await site.anonymous()
    reply = await password(owner, "ueda")
    assert reply.status == 303 and reply.location.startswith("/console/login/code")  # not "locked": a code may follow
    assert (await code(owner, totp.code(secret, clock.now))).status == 303
    assert await site.store.locked_names() == set()
    unlock = [e for e in await site.store.audit_log(30) if e.action == "user.unlock"]
    assert unlock and unlock[0].detail == "by the owner's second factor"


async def test_require_totp_sends_admins_and_approvers_to_set_it_up_first(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site, require_totp=True)
    approver = await site.browser("ono", Role.APPROVER)
    reply = await approver.get("/console/dashboard")
    assert (reply.status, reply.location) == (303, "/console/totp")
    page = await approver.get("/console/totp")
    assert "他の操作ができません" in page.text
    assert (await approver.post("/console/mode", {"mode": "live"})).status == 403
    await enrol(approver, clock)
    assert (await approver.get("/console/dashboard")).status == 200
    page = await approver.get("/console/totp")
    assert "/console/totp/off" not in page.text  # cannot be switched off
    refused = await approver.post("/console/totp/off", {"current": PASSWORD})
    assert refused.status == 400 and "必須" in refused.text
    operator = await site.browser("mori", Role.OPERATOR)
    assert (await operator.get("/console/dashboard")).status == 200  # operators may choose


async def test_the_owner_can_switch_it_off_with_the_password(make_site: SiteMaker) -> None:
    site, clock = await clocked(make_site)
    owner = await site.browser("endo", Role.OPERATOR)
    await enrol(owner, clock)
    wrong = await owner.post("/console/totp/off", {"current": "not the password"})
    assert wrong.status == 400 and "現在のパスワードが違います" in wrong.text
    assert (await owner.post("/console/totp/off", {"current": PASSWORD})).status == 303
    assert (await password(await site.anonymous(), "endo")).location == "/console/history"  # no code asked
