"""The password rule (broadcaster/passwords.py): length, the common list, the account's and the city's
names, one repeated character; and the one-time passwords `run.py users add/reset` hand out keep it."""

from __future__ import annotations

import pytest

from broadcaster import passwords
from broadcaster.accounts import Accounts
from broadcaster.settings import ROOT, Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.console.web import load_text

CITY = ("小山市", "Oyama City", "おやまし")
COMMON = passwords.common_passwords(ROOT / "config" / "common-passwords.txt")


def reason(password: str, account: str = "tanaka") -> str:
    try:
        passwords.check(password, account, CITY, 12, COMMON)
    except passwords.PasswordRefused as exc:
        return exc.reason
    return ""


def test_the_shipped_list_has_at_least_10000_lowercase_passwords() -> None:
    assert len(COMMON) >= 10_000
    assert all(p == p.lower() and p.strip() == p and p for p in COMMON)
    assert {"123456", "password", "qwertyuiop", "1qaz2wsx3edc", "iloveyou"} <= COMMON


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("short", "short"),
        ("elevenchars", "short"),
        ("1qaz2wsx3edc", "common"),
        ("1QAZ2WSX3EDC", "common"),  # compared without case
        ("qwertyuiop!!", "common"),  # a common one with symbols around it
        ("2024password2024", "common"),
        ("ｑｗｅｒｔｙｕｉｏｐ１２", "common"),  # full-width letters are the same letters
        ("aaaaaaaaaaaa", "repeated"),
        ("////////////", "repeated"),
        ("tanakatanaka", "name"),
        ("Tanaka123456", "name"),
        ("tanaka-2024!!", "name"),
        ("小山市小山市小山市小山市", "city"),
        ("小山2024123456", "city"),
        ("OyamaCity2024", "city"),
        ("oyama city 1234", "city"),
        ("おやましおやまし1234", "city"),
        ("tanakaoyama1234", "city"),  # the account's and the city's names together
    ],
)
def test_a_password_breaking_a_rule_names_it(password: str, broken: str) -> None:
    assert reason(password) == broken


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "tanaka likes long walks", "小山の夏祭りは八月にあります", "x7#Lq9!vR2&m"],
)
def test_a_password_keeping_the_rule_passes(password: str) -> None:
    assert reason(password) == ""


def test_every_reason_has_japanese_words_and_an_english_line() -> None:
    ja = load_text()["ja"]
    for key in passwords.REASONS:
        assert f"err_password_{key}" in ja
        exc = passwords.PasswordRefused(key, 12)
        assert exc.code == f"password_{key}" and str(exc)


async def test_one_time_passwords_keep_the_rule(store: SQLiteStore, settings: Settings) -> None:
    accounts = Accounts(store, settings.console, settings.city)
    for name in ("ab", "sato", "tanaka"):
        for _ in range(50):
            accounts.check_password(accounts.one_time_password(name), name)  # raises if one broke the rule
