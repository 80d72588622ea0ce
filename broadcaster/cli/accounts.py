"""`run.py users …` and `run.py tokens …`: console accounts and API tokens from the server's shell.

One-time passwords and tokens are printed once, on standard output, and never stored in the clear.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from broadcaster.accounts import Accounts
from broadcaster.errors import InputError
from broadcaster.models import Role
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore

ROLES = [r.value for r in Role]


def add_parsers(sub: Any) -> None:
    """Add `users` and `tokens` to the top-level subparsers."""
    users = sub.add_parser("users", help="console accounts: add, list, reset, role, disable, enable")
    cmd = users.add_subparsers(dest="action", required=True)
    add = cmd.add_parser("add", help="create an account; prints a one-time password")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    cmd.add_parser("list", help="every account with its role and state")
    reset = cmd.add_parser("reset", help="a new one-time password (also unlocks the account)")
    reset.add_argument("name")
    role = cmd.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    for action in ("disable", "enable"):
        cmd.add_parser(action, help=f"{action} an account").add_argument("name")

    tokens = sub.add_parser("tokens", help="API tokens for other city systems: add, revoke")
    tcmd = tokens.add_subparsers(dest="action", required=True)
    tcmd.add_parser("add", help="make a token; prints it once").add_argument("name")
    tcmd.add_parser("revoke", help="stop a token working").add_argument("name")


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    """Manage console accounts."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        accounts = Accounts(store, settings.console)
        if args.action == "add":
            password = await accounts.add_user(args.name, Role(args.role), actor, origin)
            print(f"account {args.name} ({args.role}) created; one-time password (change it at first login):")
            print(password)
        elif args.action == "reset":
            if await store.get_user(args.name) is None:
                raise InputError(f"no account named {args.name!r}")
            print(await accounts.reset_password(args.name, actor, origin))
        elif args.action == "list":
            for user in await store.list_users():
                state = "disabled" if user.disabled else "must change password" if user.must_change else "active"
                print(f"{user.name:<24} {user.role:<9} {state}")
        else:
            role = Role(args.role) if args.action == "role" else None
            disabled = {"disable": True, "enable": False}.get(args.action)
            await store.update_user(args.name, role, disabled, actor, origin)
            print(f"account {args.name}: {args.action} done")
    finally:
        await store.aclose()
    return 0


async def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    """Manage API tokens."""
    actor, origin = os.environ.get("USER", "cli"), f"cli pid={os.getpid()}"
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    try:
        if args.action == "add":
            print(await Accounts(store, settings.console).add_token(args.name, actor, origin))
        else:
            await store.revoke_token(args.name, actor, origin)
            print(f"token {args.name} revoked")
    finally:
        await store.aclose()
    return 0
