"""Console accounts: argon2 passwords, throttled logins, a TOTP second factor, sessions, and API tokens.

Guessing is slowed, not the owner locked out: each name tried (an account or not) and each client
address has a count of failed logins in a row, and after the second the next try is checked only
after a wait that doubles (``[console] login_delay`` up to ``login_delay_max``). After
``login_lock_after`` failures a name is locked until an admin unlocks it or its owner gets past the
second factor. Unknown names cost the same argon2 verification and get the same answers.

Passwords and session cookies are never stored: the store keeps an argon2 hash of a password and a
SHA-256 of a session cookie or API token (both are 256 random bits, so a fast hash is enough).
Hashing runs in a thread: argon2 takes tens of milliseconds of CPU on purpose, and the event loop
must keep delivering alerts meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from broadcaster import passwords, settings, totp
from broadcaster import scopes as api_scopes
from broadcaster.errors import InputError, RefusedError
from broadcaster.models import Mode, Role, Session, User
from broadcaster.scopes import ApiToken
from broadcaster.settings import ACCOUNT_NAME, City, Console, PasswordHash
from broadcaster.store import CLIENT_KEY, USER_KEY, Gate, SecondFactor, Store
from broadcaster.subscribers import EMAIL, LINE_USER

NAME = re.compile(ACCOUNT_NAME)
MAX_EMAIL = 254  # RFC 5321's longest path
TOKEN_PREFIX = "cab_"  # makes a leaked API token easy to find with a secret scanner
RECOVERY_CODES = 10  # one-time codes that stand in for the second factor (a lost phone)
RECOVERY_LETTERS = 16


def hasher(cost: PasswordHash) -> PasswordHasher:
    """argon2id at the [console.password_hash] cost."""
    return PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_cost, parallelism=cost.parallelism)


def hash_password(password: str, cost: PasswordHash) -> str:
    """The argon2id hash of ``password``."""
    return hasher(cost).hash(password)


def digest(token: str) -> str:
    """What the store keeps of a session cookie or an API token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # any str: bytes not UTF-8 included


def check_name(name: str) -> str:
    """An account name: 2-32 lowercase letters, digits, '.', '_' or '-'."""
    if not NAME.fullmatch(name):
        raise InputError("an account name is 2-32 characters of a-z, 0-9, '.', '_' and '-'", code="bad_account_name")
    return name


def check_email(address: str) -> str:
    """A staff mail address for approval notices ("" for none); InputError that never repeats it."""
    address = address.strip()
    if address and (len(address) > MAX_EMAIL or not EMAIL.fullmatch(address) or not address.isprintable()):
        raise InputError("the mail address is not of the form name@example.jp", code="bad_email")
    return address


def check_line_id(line_id: str) -> str:
    """A staff LINE user id for approval notices ("" for none): U and 32 hex digits."""
    line_id = line_id.strip()
    if line_id and not LINE_USER.fullmatch(line_id):
        raise InputError("a LINE user id is U followed by 32 hex digits (0-9, a-f)", code="bad_line_id")
    return line_id


class LoginRefused(RefusedError):
    """A login refused; never says whether the name exists.

    ``reason`` is "wrong" (name, password or code), "locked" (only an admin or the owner's second
    factor lets the name in), "wait" (``seconds`` before the next try is checked) or "expired" (the
    time between the password and the code ran out); the console shows its own words for each.
    """

    def __init__(self, reason: str, seconds: int = 0) -> None:
        words = {"wrong": "wrong name or password", "locked": "the account is locked; ask an admin to unlock it",
                 "wait": f"too many failed logins: try again in {seconds} s",
                 "expired": "the login took too long: start again with the password"}  # fmt: skip
        super().__init__(words[reason])
        self.reason = reason
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Login:
    """A new session: the cookie value goes to the browser, the record to the store."""

    cookie: str
    session: Session
    user: User


@dataclass(frozen=True, slots=True)
class SecondStep:
    """A right password for an account with a second factor: the cookie holds the login until the code."""

    cookie: str
    user: User


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A second factor being set up: the secret to type or scan, before a code confirms it."""

    secret: str
    uri: str  # otpauth:// for an authenticator app


def recovery_code() -> str:
    """A one-time recovery code: 80 random bits as 16 base32 letters in groups of four."""
    text = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def _plain_code(text: str) -> str:
    return text.strip().lower().replace("-", "").replace(" ", "")


class Accounts:
    """Logins, sessions, second factors and tokens over the store, with the [console] policy.

    ``clock`` tells the time for the login throttle, the second factor and sessions (tests pass a
    clock they move instead of sleeping).
    """

    def __init__(self, store: Store, policy: Console, city: City, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy
        self.city = city
        self.clock = clock
        self.common = passwords.common_passwords(settings.ROOT / policy.common_passwords)
        self.hash_checks = 0  # argon2 verifications done: a login costs one whatever the name, none when throttled
        self._hasher = hasher(policy.password_hash)
        # verified for unknown names, at the cost real hashes have: the timing tells nothing
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def check_password(self, password: str, name: str) -> None:
        """PasswordRefused naming the rule ``password`` breaks as a new password for account ``name``."""
        city = (self.city.name, self.city.name_en, self.city.name_kana)
        passwords.check(password, name, city, self.policy.password_min_length, self.common)

    def one_time_password(self, name: str) -> str:
        """A password to hand over once (its owner must change it at first login); it keeps the rule."""
        while True:
            password = secrets.token_urlsafe(12)
            try:
                self.check_password(password, name)
            except passwords.PasswordRefused:
                continue  # astronomically rare, but a handed-over password must pass the rule too
            return password

    async def add_user(self, name: str, role: Role, actor: str, origin: str, email: str = "", line_id: str = "") -> str:
        """Create an account, with its contacts for approval notices; returns its one-time password."""
        name, email, line_id = check_name(name), check_email(email), check_line_id(line_id)
        password = self.one_time_password(name)
        user = User(name, role, await asyncio.to_thread(self._hasher.hash, password), True, 0, 0.0, False,
                    time.time(), email, line_id)  # fmt: skip
        await self.store.add_user(user, actor, origin)
        return password

    async def set_contacts(self, name: str, email: str | None, line_id: str | None, actor: str, origin: str) -> None:
        """Change an account's contacts for approval notices (None: unchanged, "": none); checked first."""
        checked_email = None if email is None else check_email(email)
        checked_line = None if line_id is None else check_line_id(line_id)
        await self.store.set_contacts(name, checked_email, checked_line, actor, origin)

    async def reset_password(self, name: str, actor: str, origin: str) -> str:
        """Give an account a new one-time password (unlocking it); returns the password."""
        password = self.one_time_password(name)
        await self.store.set_password(name, await asyncio.to_thread(self._hasher.hash, password), True, actor, origin)
        return password

    def _keys(self, name: str, origin: str) -> tuple[str, str]:
        return USER_KEY + name[:64], CLIENT_KEY + origin[:64]

    async def _gate(self, name: str, origin: str, now: float) -> Gate:
        """Through the throttle, or LoginRefused("wait") without looking at the password."""
        conf = self.policy
        gate = await self.store.begin_login(*self._keys(name, origin), now, conf.login_delay, conf.login_delay_max,
                                            conf.login_lock_after, conf.login_forget)  # fmt: skip
        if gate.wait > 0:
            seconds = math.ceil(gate.wait)
            await self.store.audit(name[:64], "login.refused", name[:64], f"wait {seconds} s", origin)
            raise LoginRefused("wait", seconds)
        return gate

    async def login(self, name: str, password: str, origin: str) -> Login | SecondStep:
        """Check a password: a session, or the step that asks for the second factor's code.

        LoginRefused says why without telling whether the name exists: an unknown name runs the same
        argon2 verification (against a dummy hash) and has a throttle of its own, like any account.
        """
        now = self.clock()
        gate = await self._gate(name, origin, now)
        user = await self.store.get_user(name)
        self.hash_checks += 1
        ok = await asyncio.to_thread(self._verify, user.password_hash if user else self._dummy, password)
        ok = ok and user is not None and not user.disabled
        factor = await self.store.second_factor(name) if ok else None
        two = factor is not None and factor.enrolled
        if gate.locked and not two:
            # a locked name says so whatever the password; only its owner's second factor gets past
            await self.store.audit(name[:64], "login.refused", name[:64], "locked", origin)
            raise LoginRefused("locked")
        if user is None or not ok:
            why = "unknown account" if user is None else "account disabled" if user.disabled else "wrong password"
            await self.store.audit(name[:64], "login.failed", name[:64], why, origin)
            raise LoginRefused("wrong")
        keys = self._keys(name, origin)
        if two:
            await self.store.undo_login_attempt(keys)
            cookie = secrets.token_urlsafe(32)
            await self.store.add_pending_login(digest(cookie), name, now, origin, self.policy.second_factor_timeout)
            await self.store.audit(name, "login.password", name, "second factor next", origin)
            return SecondStep(cookie, user)
        await self.store.clear_login_throttle(keys)
        return await self._open(user, origin, now)

    async def second_step(self, cookie: str, given: str, origin: str) -> Login:
        """Check the code (or a recovery code) after the password; a success lifts the name's lock."""
        now = self.clock()
        name = (
            await self.store.pending_login(digest(cookie), now - self.policy.second_factor_timeout) if cookie else None
        )
        if name is None:
            raise LoginRefused("expired")
        await self._gate(name, origin, now)
        user, factor = await self.store.get_user(name), await self.store.second_factor(name)
        if user is None or user.disabled or factor is None or not factor.enrolled:
            await self.store.end_pending_login(digest(cookie))
            raise LoginRefused("expired")
        how = await self._code(name, factor, given, now)
        if not how:
            await self.store.audit(name, "login.failed", name, "wrong code", origin)
            raise LoginRefused("wrong")
        await self.store.end_pending_login(digest(cookie))
        if await self.store.clear_login_throttle(self._keys(name, origin)):
            await self.store.audit(name, "user.unlock", name, "by the owner's second factor", origin)
        return await self._open(user, origin, now, how)

    async def _code(self, name: str, factor: SecondFactor, given: str, now: float) -> str:
        """How ``given`` proves the owner ("totp", "recovery code"), or "" if it does not."""
        found = totp.verify(factor.secret, given, now, factor.last_step)
        if found is not None:
            return "totp" if await self.store.use_totp_step(name, found) else ""
        plain = _plain_code(given)
        if len(plain) == RECOVERY_LETTERS and await self.store.use_recovery_code(name, digest(plain)):
            return "recovery code"
        return ""

    async def _open(self, user: User, origin: str, now: float, how: str = "") -> Login:
        cookie = secrets.token_urlsafe(32)
        session = Session(digest(cookie), user.name, Mode.EXERCISE, "ja", now, now, origin)
        # sessions nobody returns to are never looked up again: drop the ones past any possible use
        await self.store.forget_sessions(now - max(self.policy.idle_timeout, self.policy.session_lifetime))
        await self.store.add_session(session)
        await self.store.audit(user.name, "login", user.name, how, origin)
        return Login(cookie, session, user)

    async def session(self, cookie: str) -> tuple[Session, User] | None:
        """The session of a cookie, if it is still live."""
        if not cookie:
            return None
        return await self.store.touch_session(digest(cookie), self.policy.idle_timeout, self.policy.session_lifetime)

    async def change_password(self, user: User, current: str, new: str, origin: str) -> Login:
        """Change one's own password; every session of the account ends and a new one opens for this login."""
        self.hash_checks += 1
        if not await asyncio.to_thread(self._verify, user.password_hash, current):
            raise passwords.PasswordRefused("current")
        self.check_password(new, user.name)
        if new == current:
            raise passwords.PasswordRefused("same")
        hashed = await asyncio.to_thread(self._hasher.hash, new)
        await self.store.set_password(user.name, hashed, False, user.name, origin)
        fresh = await self.store.get_user(user.name)
        assert fresh is not None  # set_password raised for an unknown name
        return await self._open(fresh, origin, self.clock())

    async def needs_second_factor(self, user: User) -> bool:
        """Whether ``user`` must set up a second factor before anything else (``require_totp``)."""
        if not self.policy.require_totp or user.role not in (Role.ADMIN, Role.APPROVER):
            return False
        factor = await self.store.second_factor(user.name)
        return factor is None or not factor.enrolled

    async def begin_totp(self, user: User) -> Enrolment:
        """Start setting up a second factor: a new secret, not in force until a code from it confirms it."""
        secret = totp.new_secret()
        await self.store.begin_totp(user.name, secret)
        return self.enrolment(user.name, secret)

    def enrolment(self, name: str, secret: str) -> Enrolment:
        """What to show of a secret being set up: as typed, and as the otpauth:// URI (issuer: the city)."""
        return Enrolment(secret, totp.uri(secret, name, self.city.name_en))

    async def confirm_totp(self, user: User, given: str, origin: str) -> list[str]:
        """Put the secret being set up in force if ``given`` is its code; returns new recovery codes (shown once).

        InputError if nothing is being set up or the code is wrong.
        """
        factor = await self.store.second_factor(user.name)
        if factor is None or not factor.pending:
            raise InputError("no second factor is being set up: start again", code="totp_not_started")
        step = totp.verify(factor.pending, given, self.clock())
        if step is None:
            raise InputError("the code is wrong: type the 6 digits the app shows now", code="totp_wrong")
        codes = [recovery_code() for _ in range(RECOVERY_CODES)]
        await self.store.enable_totp(user.name, factor.pending, [digest(_plain_code(c)) for c in codes], user.name,
                                     origin)  # fmt: skip
        await self.store.use_totp_step(user.name, step)
        return codes

    async def remove_totp(self, user: User, current: str, origin: str) -> None:
        """Switch one's second factor off, proving the password; refused where ``require_totp`` needs it."""
        self.hash_checks += 1
        if not await asyncio.to_thread(self._verify, user.password_hash, current):
            raise passwords.PasswordRefused("current")
        if self.policy.require_totp and user.role in (Role.ADMIN, Role.APPROVER):
            raise InputError(
                "admins and approvers must keep a second factor ([console] require_totp)", code="totp_required"
            )
        await self.store.disable_totp(user.name, user.name, origin)

    async def add_token(self, name: str, actor: str, origin: str, *, scopes: Iterable[str]) -> str:
        """Make an API token with ``scopes`` (at least one) for another city system; returns it (shown once)."""
        granted = api_scopes.parse(scopes)  # InputError naming the valid scopes, before anything is stored
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self.store.add_token(digest(token), check_name(name), granted, actor, origin)
        return token

    async def token(self, header: str) -> ApiToken | None:
        """The working token (its name and scopes) an ``Authorization: Bearer`` header carries, or None."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
            return None
        return await self.store.working_token(digest(token.strip()))

    def _verify(self, password_hash: str, password: str) -> bool:
        # the hash names its own cost, so hashes made at an earlier cost still verify
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
