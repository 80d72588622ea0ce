"""[console.password_hash]: argon2id at the configured cost, and hashes made at another cost still verify."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import extract_parameters

from broadcaster.accounts import Accounts, LoginRefused, hash_password
from broadcaster.models import Role
from broadcaster.settings import PasswordHash, load_settings
from broadcaster.store.sqlite import SQLiteStore

SiteFactory = Callable[..., Path]  # the conftest `site` fixture


def cost_of(password_hash: str) -> tuple[int, int, int]:
    """(time_cost, memory_cost, parallelism) as the hash itself records them."""
    p = extract_parameters(password_hash)
    return p.time_cost, p.memory_cost, p.parallelism


async def test_accounts_hash_at_the_configured_cost(store: SQLiteStore, site: SiteFactory) -> None:
    settings = load_settings(site({"console.password_hash": {"time_cost": 2, "memory_cost": 2048, "parallelism": 2}}))
    accounts = Accounts(store, settings.console, settings.city)
    password = await accounts.add_user("sato", Role.OPERATOR, "test", "test")
    user = await store.get_user("sato")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert cost_of(user.password_hash) == (2, 2048, 2)
    assert (await accounts.login("sato", password, "test")).user.name == "sato"


async def test_a_hash_made_at_another_cost_still_logs_in(store: SQLiteStore, site: SiteFactory) -> None:
    cheap = load_settings(site())  # the tests' cost
    dearer = PasswordHash(time_cost=2, memory_cost=4096, parallelism=1)
    accounts = Accounts(store, cheap.console, cheap.city)
    await accounts.add_user("kato", Role.OPERATOR, "test", "test")
    await store.set_password("kato", hash_password("a long enough password", dearer), False, "kato", "test")
    assert (await accounts.login("kato", "a long enough password", "test")).user.name == "kato"
    with pytest.raises(LoginRefused) as refused:
        await accounts.login("kato", "not the password", "test")
    assert refused.value.reason == "wrong"


def test_the_tests_run_at_the_cheap_cost(site: SiteFactory) -> None:
    cost = load_settings(site()).console.password_hash
    assert cost_of(hash_password("x" * 12, cost)) == (1, 1024, 1)  # tests/conftest.py sets it for every test
