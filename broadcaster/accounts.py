"""Console accounts: argon2 passwords, logins with lockout, sessions, and API tokens.

Passwords and session cookies are never stored: the store keeps an argon2 hash of a password and a
SHA-256 of a session cookie or API token (both are 256 random bits, so a fast hash is enough).
Hashing runs in a thread: argon2 takes tens of milliseconds of CPU on purpose, and the event loop
must keep delivering alerts meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from broadcaster.errors import InputError, RefusedError
from broadcaster.models import Mode, Role, Session, User
from broadcaster.settings import ACCOUNT_NAME, Console, PasswordHash
from broadcaster.store import Store
from broadcaster.subscribers import EMAIL, LINE_USER

NAME = re.compile(ACCOUNT_NAME)
MAX_EMAIL = 254  # RFC 5321's longest path
TOKEN_PREFIX = "cab_"  # makes a leaked API token easy to find with a secret scanner


def hasher(cost: PasswordHash) -> PasswordHasher:
    """argon2id at the [console.password_hash] cost."""
    return PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_cost, parallelism=cost.parallelism)


def hash_password(password: str, cost: PasswordHash) -> str:
    """The argon2id hash of ``password``."""
    return hasher(cost).hash(password)


def one_time_password() -> str:
    """A password to hand over once; its owner must change it at first login."""
    return secrets.token_urlsafe(12)


def digest(token: str) -> str:
    """What the store keeps of a session cookie or an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """An account name: 2-32 lowercase letters, digits, '.', '_' or '-'."""
    if not NAME.fullmatch(name):
        raise InputError("an account name is 2-32 characters of a-z, 0-9, '.', '_' and '-'")
    return name


def check_email(address: str) -> str:
    """A staff mail address for approval notices ("" for none); InputError that never repeats it."""
    address = address.strip()
    if address and (len(address) > MAX_EMAIL or not EMAIL.fullmatch(address) or not address.isprintable()):
        raise InputError("the mail address is not of the form name@example.jp")
    return address


def check_line_id(line_id: str) -> str:
    """A staff LINE user id for approval notices ("" for none): U and 32 hex digits."""
    line_id = line_id.strip()
    if line_id and not LINE_USER.fullmatch(line_id):
        raise InputError("a LINE user id is U followed by 32 hex digits (0-9, a-f)")
    return line_id


def check_new_password(password: str, name: str, min_length: int) -> None:
    """Refuse passwords that are short or are the account's name."""
    if len(password) < min_length:
        raise InputError(f"the password must be at least {min_length} characters")
    if name.lower() in password.lower():
        raise InputError("the password must not contain the account name")


class LoginRefused(RefusedError):
    """Wrong name or password, or a locked account; never says whether the name exists.

    ``reason`` is "wrong" or "locked" (the console shows its own words for it); ``minutes`` is how
    long a lock lasts.
    """

    def __init__(self, reason: str, minutes: int = 0) -> None:
        super().__init__("wrong name or password" if reason == "wrong" else f"account locked for {minutes} min")
        self.reason = reason
        self.minutes = minutes


@dataclass(frozen=True, slots=True)
class Login:
    """A new session: the cookie value goes to the browser, the record to the store."""

    cookie: str
    session: Session
    user: User


class Accounts:
    """Logins, sessions and tokens over the store, with the [console] policy."""

    def __init__(self, store: Store, policy: Console) -> None:
        self.store = store
        self.policy = policy
        self._hasher = hasher(policy.password_hash)
        # verified for unknown names, at the cost real hashes have: the timing tells nothing
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def add_user(self, name: str, role: Role, actor: str, origin: str, email: str = "", line_id: str = "") -> str:
        """Create an account, with its contacts for approval notices; returns its one-time password."""
        name, email, line_id = check_name(name), check_email(email), check_line_id(line_id)
        password = one_time_password()
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
        password = one_time_password()
        await self.store.set_password(name, await asyncio.to_thread(self._hasher.hash, password), True, actor, origin)
        return password

    async def login(self, name: str, password: str, origin: str) -> Login:
        """Check a password and open a session; LoginRefused says why without telling which part was wrong."""
        user = await self.store.get_user(name)
        ok = await asyncio.to_thread(self._verify, user.password_hash if user else self._dummy, password)
        now = time.time()
        if user is None:
            await self.store.audit(name[:64], "login.failed", name[:64], "unknown account", origin)
            raise LoginRefused("wrong")
        if user.locked_until > now:
            await self.store.audit(name, "login.refused", name, "account locked", origin)
            raise LoginRefused("locked", int(user.locked_until - now) // 60 + 1)
        if user.disabled:
            await self.store.audit(name, "login.refused", name, "account disabled", origin)
            raise LoginRefused("wrong")
        failures = await self.store.note_login(name, ok, self.policy.login_failures, self.policy.lockout)
        if not ok:
            locked = failures >= self.policy.login_failures
            await self.store.audit(name, "login.failed", name, "locked" if locked else f"{failures} in a row", origin)
            if locked:
                raise LoginRefused("locked", int(self.policy.lockout) // 60)
            raise LoginRefused("wrong")
        cookie = secrets.token_urlsafe(32)
        session = Session(digest(cookie), name, Mode.EXERCISE, "ja", now, now, origin)
        # sessions nobody returns to are never looked up again: drop the ones past any possible use
        await self.store.forget_sessions(now - max(self.policy.idle_timeout, self.policy.session_lifetime))
        await self.store.add_session(session)
        await self.store.audit(name, "login", name, "", origin)
        return Login(cookie, session, user)

    async def session(self, cookie: str) -> tuple[Session, User] | None:
        """The session of a cookie, if it is still live."""
        if not cookie:
            return None
        return await self.store.touch_session(digest(cookie), self.policy.idle_timeout, self.policy.session_lifetime)

    async def change_password(self, user: User, current: str, new: str, origin: str) -> None:
        """Change one's own password (this ends every session of the account)."""
        if not await asyncio.to_thread(self._verify, user.password_hash, current):
            raise InputError("the current password is wrong")
        check_new_password(new, user.name, self.policy.password_min_length)
        if new == current:
            raise InputError("the new password must differ from the current one")
        hashed = await asyncio.to_thread(self._hasher.hash, new)
        await self.store.set_password(user.name, hashed, False, user.name, origin)

    async def add_token(self, name: str, actor: str, origin: str) -> str:
        """Make an API token for another city system; returns it (shown once, never stored)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self.store.add_token(digest(token), check_name(name), actor, origin)
        return token

    async def token(self, header: str) -> str | None:
        """The name of the system an ``Authorization: Bearer`` header belongs to, or None."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
            return None
        return await self.store.token_name(digest(token.strip()))

    def _verify(self, password_hash: str, password: str) -> bool:
        # the hash names its own cost, so hashes made at an earlier cost still verify
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
