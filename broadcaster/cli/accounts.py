"""`run.py users …` and `run.py tokens …`: console accounts and API tokens from the server's shell.

One-time passwords and tokens are printed once, on standard output, and never stored in the clear.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from broadcaster.accounts import Accounts
from broadcaster.cli.db import opened_store
from broadcaster.clock import iso_jst
from broadcaster.errors import InputError
from broadcaster.models import Role, User
from broadcaster.settings import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py users …` or `run.py tokens …`."""
    command = cmd_users if args.command == "users" else cmd_tokens
    return asyncio.run(command(settings, args))


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    """Manage console accounts."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    async with opened_store(settings) as store:
        accounts = Accounts(store, settings.console)
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
        elif args.action == "list":
            now = time.time()
            for user in await store.list_users():
                print(
                    f"{user.name:<24} {user.role:<9} {_state(user, now):<38} {_contacts(user):<11} "
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


def _state(user: User, now: float) -> str:
    if user.disabled:
        return "disabled"
    if user.locked_until > now:
        return f"locked until {iso_jst(user.locked_until)}"
    return "must change password" if user.must_change else "active"


async def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    """Manage API tokens."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    async with opened_store(settings) as store:
        if args.action == "add":
            print(await Accounts(store, settings.console).add_token(args.name, actor, origin))
        else:
            await store.revoke_token(args.name, actor, origin)
            print(f"token {args.name} revoked")
    return 0
