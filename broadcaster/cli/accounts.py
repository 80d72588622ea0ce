"""`run.py users …` and `run.py tokens …`: console accounts and API tokens (with their scopes) from the server's shell.

One-time passwords and tokens are printed once, on standard output, and never stored in the clear.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from broadcaster.accounts import Accounts
from broadcaster.cli.db import opened_store
from broadcaster.clock import iso_jst
from broadcaster.errors import InputError
from broadcaster.models import Role, User
from broadcaster.scopes import ApiToken
from broadcaster.settings import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py users …` or `run.py tokens …`."""
    command = cmd_users if args.command == "users" else cmd_tokens
    return asyncio.run(command(settings, args))


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    """Manage console accounts."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    async with opened_store(settings) as store:
        accounts = Accounts(store, settings.console, settings.city)
        if args.action == "add":
            password = await accounts.add_user(args.name, Role(args.role), actor, origin, args.email, args.line_id)
            print(f"account {args.name} ({args.role}) created; one-time password (change it at first login):")
            print(password)
        elif args.action == "set":
            if args.email is None and args.line_id is None:
                raise InputError("users set: give --email, --line-id or both")
            await accounts.set_contacts(args.name, args.email, args.line_id, actor, origin)
            print(f"account {args.name}: contacts changed")
        elif args.action == "reset":
            if await store.get_user(args.name) is None:
                raise InputError(f"no account named {args.name!r}")
            print(await accounts.reset_password(args.name, actor, origin))
        elif args.action == "unlock":
            was = await store.unlock_user(args.name, actor, origin)
            print(f"account {args.name}: {'unlocked' if was else 'was not locked (its waits are cleared)'}")
        elif args.action == "totp-off":
            if await store.get_user(args.name) is None:
                raise InputError(f"no account named {args.name!r}")
            await store.disable_totp(args.name, actor, origin)
            print(f"account {args.name}: second factor removed (the owner can set one up again at /console/totp)")
        elif args.action == "list":
            locked = await store.locked_names()
            for user in await store.list_users():
                print(
                    f"{user.name:<24} {user.role:<9} {_state(user, user.name in locked):<38} {_contacts(user):<11} "
                    f"created {iso_jst(user.created_at)}"
                )
        else:
            role = Role(args.role) if args.action == "role" else None
            disabled = {"disable": True, "enable": False}.get(args.action)
            await store.update_user(args.name, role, disabled, actor, origin)
            print(f"account {args.name}: {args.action} done")
    return 0


def _contacts(user: User) -> str:
    """Which contacts an account has (mail, LINE), never what they are: the list may be pasted anywhere."""
    return "+".join(name for name, value in (("mail", user.email), ("line", user.line_id)) if value) or "no contact"


def _state(user: User, locked: bool) -> str:
    if user.disabled:
        return "disabled"
    if locked:
        return "locked (run.py users unlock NAME)"
    return "must change password" if user.must_change else "active"


async def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    """Manage API tokens."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    async with opened_store(settings) as store:
        if args.action == "add":
            accounts = Accounts(store, settings.console, settings.city)
            print(await accounts.add_token(args.name, actor, origin, scopes=args.scopes))
        elif args.action == "list":
            for token in await store.list_tokens():
                print(_token_line(token))
        else:
            await store.revoke_token(args.name, actor, origin)
            print(f"token {args.name} revoked")
    return 0


def _token_line(token: ApiToken) -> str:
    """A token's name, scopes and dates (JST): never the token, which only its holder has."""
    revoked = f"revoked {iso_jst(token.revoked_at)}" if token.revoked_at is not None else "working"
    scopes = ",".join(sorted(token.scopes)) or "(no scope)"
    return f"{token.name:<24} {scopes:<48} created {iso_jst(token.created_at)}  {revoked}"
