"""`run.py users add … --email --line-id` and `run.py users set`: staff contacts for approval notices,
checked before anything is stored, and never printed by `users list`. run.py's main() in process."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.cli.main import main
from broadcaster.settings import load_settings

SiteFactory = Callable[..., Path]
LINE_ID = "U" + "0123456789abcdef" * 2


def contacts(config: Path) -> dict[str, tuple[str, str]]:
    """name -> (email, line_id) as stored."""
    settings = load_settings(config)
    with contextlib.closing(sqlite3.connect(settings.path(settings.storage.path))) as conn:
        return {
            name: (email, line_id) for name, email, line_id in conn.execute("SELECT name, email, line_id FROM users")
        }


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "users", *args])


def test_users_add_and_set_store_contacts_and_list_shows_only_which(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site()
    assert run(config, "add", "tanaka", "--role", "approver", "--email", "tanaka@city.example.jp",
               "--line-id", LINE_ID) == 0  # fmt: skip
    assert run(config, "add", "suzuki", "--role", "approver") == 0
    assert contacts(config) == {"tanaka": ("tanaka@city.example.jp", LINE_ID), "suzuki": ("", "")}

    assert run(config, "set", "suzuki", "--email", "suzuki@city.example.jp") == 0
    assert run(config, "set", "tanaka", "--line-id", "") == 0  # cleared; the address stays
    assert contacts(config) == {"tanaka": ("tanaka@city.example.jp", ""), "suzuki": ("suzuki@city.example.jp", "")}

    capsys.readouterr()
    assert run(config, "list") == 0
    out = capsys.readouterr().out
    assert "@city.example.jp" not in out and LINE_ID not in out
    lines = out.splitlines()
    assert len(lines) == 2 and all(" mail " in line and "mail+line" not in line for line in lines)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "kato", "--role", "approver", "--email", "kato.example.jp"), "mail address"),
        (("add", "kato", "--role", "approver", "--email", "kato@example.jp\nBcc: x@y.jp"), "mail address"),
        (("add", "kato", "--role", "approver", "--line-id", "U123"), "LINE user id"),
        (("add", "kato", "--role", "approver", "--line-id", "U" + "A" * 32), "LINE user id"),
        (("set", "tanaka", "--email", "tanaka@"), "mail address"),
        (("set", "tanaka"), "give --email, --line-id or both"),
        (("set", "nobody", "--email", "n@example.jp"), "no account named 'nobody'"),
    ],
)
def test_a_bad_contact_is_one_line_exit_2_and_stores_nothing(
    site: SiteFactory, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    config = site()
    assert run(config, "add", "tanaka", "--role", "approver", "--email", "tanaka@city.example.jp") == 0
    before = contacts(config)
    capsys.readouterr()

    assert run(config, *args) == 2

    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err
    assert "kato.example.jp" not in err and "U123" not in err  # the input is not repeated back
    assert contacts(config) == before
