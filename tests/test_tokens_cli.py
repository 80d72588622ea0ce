"""`run.py tokens add NAME --scope …`, `tokens list` and `tokens revoke`: scopes chosen at creation, a
mistake is one line and exit code 2 with nothing stored, and the list never shows a token. In process."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.cli.main import main
from broadcaster.scopes import Scope
from broadcaster.settings import load_settings

SiteFactory = Callable[..., Path]


def stored(config: Path) -> dict[str, tuple[str, bool]]:
    """name -> (scopes as stored, revoked) for every token in the database."""
    settings = load_settings(config)
    with contextlib.closing(sqlite3.connect(settings.path(settings.storage.path))) as conn:
        rows = conn.execute("SELECT name, scopes, revoked_at FROM api_tokens").fetchall()
    return {name: (scopes, revoked is not None) for name, scopes, revoked in rows}


def tokens(config: Path, *args: str) -> int:
    return main(["--config", str(config), "tokens", *args])


def test_add_stores_the_scopes_given_and_list_shows_them_but_never_the_token(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site()
    assert tokens(config, "add", "prometheus", "--scope", "metrics:read") == 0
    prometheus = capsys.readouterr().out.strip()
    assert tokens(config, "add", "river", "--scope", "drafts:write", "--scope", "alerts:read") == 0
    river = capsys.readouterr().out.strip()
    assert prometheus.startswith("cab_") and river.startswith("cab_") and prometheus != river
    assert stored(config) == {
        "prometheus": ("metrics:read", False),
        "river": ("alerts:read drafts:write", False),
    }

    assert tokens(config, "revoke", "prometheus") == 0
    capsys.readouterr()
    assert tokens(config, "list") == 0
    out = capsys.readouterr().out
    assert prometheus not in out and river not in out and "cab_" not in out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {"prometheus", "river"}
    assert "metrics:read" in lines["prometheus"] and re.search(r"revoked \d{4}-\d\d-\d\dT", lines["prometheus"])
    assert "alerts:read,drafts:write" in lines["river"] and "working" in lines["river"]
    assert all(re.search(r"created \d{4}-\d\d-\d\dT[\d:]+\+09:00", line) for line in lines.values())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "river", "--scope", "drafts:read"), "invalid choice: 'drafts:read'"),
        (("add", "river", "--scope", "alerts:read", "--scope", "admin"), "invalid choice: 'admin'"),
        (("add", "river"), "the following arguments are required: --scope"),
        (("add", "river", "--scope"), "expected one argument"),
    ],
)
def test_an_unknown_or_missing_scope_is_one_line_exit_2_and_stores_nothing(
    site: SiteFactory, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    config = site()
    assert tokens(config, "add", "other", "--scope", "alerts:read") == 0  # the database exists
    before = stored(config)
    capsys.readouterr()

    with pytest.raises(SystemExit) as exit_:
        tokens(config, *args)

    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err, err
    if "invalid choice" in says:  # the line lists the valid scopes
        assert all(f"'{scope}'" in err for scope in Scope), err
    assert stored(config) == before


def test_a_taken_name_is_one_line_exit_2_and_keeps_the_first_tokens_scopes(
    site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site()
    assert tokens(config, "add", "river", "--scope", "alerts:read") == 0
    capsys.readouterr()
    assert tokens(config, "add", "river", "--scope", "drafts:write") == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "already a token named 'river'" in err
    assert stored(config) == {"river": ("alerts:read", False)}


def test_the_help_names_every_scope_and_what_it_allows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["tokens", "add", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert all(scope in out for scope in Scope)
    assert "at least one" in out
