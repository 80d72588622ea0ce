"""Configuration is validated once at start-up; every error names the dotted key and exits with code 2."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from argon2 import profiles
from pydantic import BaseModel

from broadcaster.errors import ConfigError
from broadcaster.settings import CHANNEL_NAMES, ROOT, PolicyRule, Settings, load_settings, municipality_code

SiteFactory = Callable[..., Path]  # the conftest `site` fixture
CATEGORY_IDS = ("disaster", "crime", "health", "childcare", "elderly", "general")
SEND = ("send", "--category", "disaster", "--level", "1", "--title", "t", "--body", "b", "--exercise", "--no-wait")
STATUS = ("status", "x")

# (case id, site TOML text, dotted key the error must name, what it must say about it)
BAD_CONFIGS: list[tuple[str, str, str, str]] = [
    ("port-too-high", "[server]\nport = 70000\n", "server.port", "less than or equal to 65535"),
    ("port-as-string", '[server]\nport = "80"\n', "server.port", "valid integer (got '80')"),
    ("port-as-float", "[server]\nport = 8080.0\n", "server.port", "valid integer"),
    ("rate-zero", "[channels.email]\nrate_per_s = 0\n", "channels.email.rate_per_s", "greater than 0"),
    ("rate-negative", "[channels.line]\nrate_per_s = -1.5\n", "channels.line.rate_per_s", "greater than 0"),
    ("unknown-channel-key", "[channels.email]\nrate = 1.0\n", "channels.email.rate", "unknown key"),
    ("unknown-section", "[bogus]\nanswer = 42\n", "bogus", "unknown key"),
    ("unknown-city-key", '[city]\nmayor = "x"\n', "city.mayor", "unknown key"),
    ("enabled-not-bool", "[channels.email]\nenabled = 1\n", "channels.email.enabled", "valid boolean"),
    (
        "unknown-channel",
        "[channels.fax]\nenabled = true\n",
        "channels.fax",
        f"unknown channel 'fax'; valid: {', '.join(CHANNEL_NAMES)}",
    ),
    ("one-level-only", '[[levels]]\nlevel = 1\nname = "一"\ncolour = "#ffffff"\n', "levels", "each level 1 to 5"),
    ("level-six", '[[levels]]\nlevel = 6\nname = "六"\ncolour = "#ffffff"\n', "levels.0.level", "less than or equal"),
    (
        "level-repeated",
        "".join(f'[[levels]]\nlevel = {n}\nname = "L{n}"\ncolour = "#ffffff"\n' for n in (1, 2, 3, 4, 4)),
        "levels",
        "exactly once",
    ),
    ("level-colour", '[[levels]]\nlevel = 1\nname = "一"\ncolour = "red"\n', "levels.0.colour", "pattern"),
    (
        "category-unconfigured-channel",
        '[categories.crime]\nchannels = ["email", "pager"]\n',
        "categories.crime.channels",
        "'pager' is not a configured channel",
    ),
    (
        "category-without-name",
        '[categories.parks]\nname_en = "Parks"\nchannels = ["email"]\n',
        "categories.parks.name",
        "Field required",
    ),
    ("approval-unknown-category", '[approval]\ncategories = ["parks"]\n', "approval.categories", "unknown category"),
    ("city-code-six-digits", '[areas]\ncity = "920800"\n', "areas.city", "got '920800'"),
    ("city-code-full-width", '[areas]\ncity = "０９２０８００"\n', "areas.city", "got '０９２０８００'"),
    ("city-code-as-integer", "[areas]\ncity = 920800\n", "areas.city", "valid string"),
    ("jitter-above-one", "[retry]\njitter = 1.5\n", "retry.jitter", "less than or equal to 1"),
    ("attempts-zero", "[retry]\nmax_attempts = 0\n", "retry.max_attempts", "greater than 0"),
    ("claim-size-zero", "[dispatcher]\nclaim_size = 0\n", "dispatcher.claim_size", "greater than or equal to 1"),
    ("public-url-ftp", '[city]\npublic_url = "ftp://city.example.jp"\n', "city.public_url", "got 'ftp://"),
    ("languages-not-list", '[city]\nlanguages = "ja"\n', "city.languages", "valid array"),
    ("jma-feed-not-xml", '[jma]\nfeeds = ["https://example.jp/feed"]\n', "jma.feeds.0", "pattern"),
    ("jma-office-short", '[jma]\noffices = ["0900"]\n', "jma.offices.0", "got '0900'"),
    (
        "policy-bad-decision",
        '[[jma.policy]]\nname = "x"\nkinds = ["VXSE53"]\ndecision = "maybe"\n',
        "jma.policy.0.decision",
        "'auto', 'approve' or 'ignore'",
    ),
    (
        "policy-bad-intensity",
        '[[jma.policy]]\nname = "x"\nkinds = ["VXSE53"]\nmin_intensity = "5弱"\ndecision = "auto"\n',
        "jma.policy.0.min_intensity",
        "got '5弱'",
    ),
    (
        "policy-unknown-category",
        '[[jma.policy]]\nname = "x"\nkinds = ["VXSE53"]\ndecision = "auto"\ncategory = "parks"\n',
        "jma.policy.0 (x).category",
        "unknown category 'parks'",
    ),
    (
        "policy-unknown-kind",
        '[[jma.policy]]\nname = "x"\nkinds = ["quake"]\ndecision = "auto"\n',
        "jma.policy.0.kinds.0",
        "pattern",
    ),
]


def write_site(tmp_path: Path, body: str, name: str = "site.toml") -> Path:
    """A raw site file whose storage lives in tmp_path, followed by ``body``."""
    storage = f'[storage]\npath = "{tmp_path / "var" / "b.db"}"\noutbox_dir = "{tmp_path / "var" / "outbox"}"\n\n'
    path = tmp_path / name
    path.write_text(storage + body, encoding="utf-8")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without a config of its own, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "BROADCASTER_CONFIG"}
    env.update(extra)
    return env


def run(run_py: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run run.py to completion and capture its output."""
    return subprocess.run(
        [*run_py, *args], capture_output=True, text=True, timeout=60, env=env or clean_env(), check=False
    )


def assert_config_error(result: subprocess.CompletedProcess[str], key: str, what: str) -> None:
    """Exit code 2, one line on stderr naming ``key`` exactly, and no traceback."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert re.search(rf"(^|[ ;]){re.escape(key)}: ", result.stderr), result.stderr
    assert what in result.stderr


@pytest.mark.parametrize(("toml", "key", "what"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_and_exits_2(
    tmp_path: Path, run_py: list[str], toml: str, key: str, what: str
) -> None:
    config = write_site(tmp_path, toml)
    assert_config_error(run(run_py, "--config", str(config), *STATUS), key, what)


@pytest.mark.parametrize(
    ("toml", "key", "what"),
    [
        ("[server]\nport = 0\n", "server.port", "greater than or equal to 1"),
        ("[channels.email]\nrate = 1.0\n", "channels.email.rate", "unknown key"),
        ("[dispatcher]\nclaim_size = 0\n", "dispatcher.claim_size", "greater than or equal to 1"),
    ],
)
def test_send_with_a_bad_config_stores_nothing(
    tmp_path: Path, run_py: list[str], toml: str, key: str, what: str
) -> None:
    config = write_site(tmp_path, toml)
    assert_config_error(run(run_py, "--config", str(config), *SEND), key, what)
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("command", [STATUS, SEND], ids=["status", "send"])
def test_invalid_toml_names_the_file(tmp_path: Path, run_py: list[str], command: tuple[str, ...]) -> None:
    config = write_site(tmp_path, '[city\nname = "小山市"\n', name="broken-site.toml")
    result = run(run_py, "--config", str(config), *command)
    assert result.returncode == 2
    assert f"{config}: not valid TOML" in result.stderr
    assert "line 5" in result.stderr  # the storage lines come first
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_missing_config_file(tmp_path: Path, run_py: list[str]) -> None:
    missing = tmp_path / "nowhere" / "site.toml"
    result = run(run_py, "--config", str(missing), *STATUS)
    assert result.returncode == 2
    assert f"{missing}: no such config file" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_cli_honours_broadcaster_config(tmp_path: Path, run_py: list[str]) -> None:
    config = write_site(tmp_path, "[retry]\njitter = 2.0\n")
    result = run(run_py, *STATUS, env=clean_env(BROADCASTER_CONFIG=str(config)))
    assert_config_error(result, "retry.jitter", "less than or equal to 1")


def test_cli_config_argument_wins_over_the_environment(tmp_path: Path, run_py: list[str]) -> None:
    bad = write_site(tmp_path, "[retry]\njitter = 2.0\n", name="bad.toml")
    good = write_site(tmp_path, "", name="good.toml")
    result = run(run_py, "--config", str(good), *STATUS, env=clean_env(BROADCASTER_CONFIG=str(bad)))
    assert result.returncode == 2  # the config is fine; the alert does not exist
    assert "no alert 'x'" in result.stderr
    assert "retry.jitter" not in result.stderr


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[server]\nport = 0\n", "server.port"),
        ("[channels.email]\nrate = 1.0\n", "channels.email.rate"),
        ('[areas]\nprefecture = "9"\n', "areas.prefecture"),
        ('[categories.health]\nchannels = ["email", "pager"]\n', "categories.health.channels"),
    ],
)
def test_load_settings_raises_config_error_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\b{re.escape(key)}: "):
        load_settings(write_site(tmp_path, toml))


def test_load_settings_honours_broadcaster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_CONFIG", str(write_site(tmp_path, "[server]\nport = 9191\n")))
    assert load_settings().server.port == 9191


def test_load_settings_argument_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_CONFIG", str(write_site(tmp_path, "[server]\nport = 0\n", name="bad.toml")))
    assert load_settings(write_site(tmp_path, "[server]\nport = 9292\n")).server.port == 9292


def test_default_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    s = load_settings()
    assert tuple(s.categories) == CATEGORY_IDS
    assert (s.areas.city, s.areas.forecast_area, s.areas.earthquake_region, s.areas.prefecture) == (
        "0920800",
        "090000",
        "311",
        "09",
    )
    assert [info.level for info in s.levels] == [1, 2, 3, 4, 5]
    assert s.enabled_channels == CHANNEL_NAMES
    for cat_id, cat in s.categories.items():
        assert set(cat.channels) <= set(s.channels), cat_id


def changed_keys(before: Any, after: Any, prefix: str = "") -> set[str]:
    """Dotted keys whose values differ between two nested dumps."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = set(before) | set(after)
        return set().union(*(changed_keys(before.get(k), after.get(k), f"{prefix}{k}.") for k in keys))
    return set() if before == after else {prefix.rstrip(".")}


def test_site_file_overrides_only_what_it_names(site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    base = load_settings(site())
    over = load_settings(
        site({"channels.email": {"rate_per_s": 5}, "server": {"port": 9000}, "city": {"name": "栃木市"}}, name="o.toml")
    )
    expected = {"channels.email.rate_per_s", "server.port", "city.name"}
    assert changed_keys(base.model_dump(), over.model_dump()) == expected
    assert over.channels["email"].rate_per_s == 5.0  # an integer is accepted where a float is expected
    assert over.channels["email"].burst == base.channels["email"].burst == 20
    assert over.server.host == "127.0.0.1"


def test_site_file_adds_a_category_and_keeps_the_defaults(tmp_path: Path) -> None:
    parks = '[categories.parks]\nname = "公園"\nname_en = "Parks"\nchannels = ["email"]\nlevels = false\n'
    s = load_settings(write_site(tmp_path, parks))
    assert tuple(s.categories) == (*CATEGORY_IDS, "parks")
    assert s.categories["parks"].channels == ("email",)


def test_example_production_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    example = Path(__file__).resolve().parent.parent / "config" / "example-production.toml"
    settings = load_settings(example)
    assert settings.server.host == "0.0.0.0"
    assert "sns" not in settings.enabled_channels
    assert settings.path(settings.storage.path) == Path("/var/lib/broadcaster/broadcaster.db")


# -- config/default.toml is the one home of every default ------------------------------------


def section_models(model: type[BaseModel]) -> Iterator[tuple[str, type[BaseModel]]]:
    """Every settings class reachable from ``model`` (itself included), with a dotted path."""
    yield model.__name__, model
    for name, field in model.model_fields.items():
        for inner in nested_models(field.annotation):
            yield from ((f"{name}.{path}", m) for path, m in section_models(inner))


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The settings classes a field holds: itself, or the values of its dict or tuple."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in nested_models(arg)]


def key_problems(model: type[BaseModel], table: Any, where: str) -> list[str]:
    """Keys of ``model`` that ``table`` lacks (those without a default) and keys it has that ``model`` lacks."""
    if not isinstance(table, dict):
        return [f"{where}: not a table"]
    problems = [f"{where}.{k}: missing" for k, f in model.model_fields.items() if f.is_required() and k not in table]
    problems += [f"{where}.{k}: unknown" for k in table if k not in model.model_fields]
    for key, field in model.model_fields.items():
        if key not in table:
            continue
        for inner in nested_models(field.annotation):
            origin = get_origin(field.annotation)
            if origin is dict:
                items = table[key].items() if isinstance(table[key], dict) else [("?", table[key])]
            elif origin is tuple:
                items = enumerate(table[key])
            else:
                items = [("", table[key])]
            for name, value in items:
                problems += key_problems(inner, value, f"{where}.{key}" + (f".{name}" if name != "" else ""))
    return problems


def test_default_toml_has_every_key_and_no_other() -> None:
    with (ROOT / "config" / "default.toml").open("rb") as f:
        defaults = tomllib.load(f)
    assert key_problems(Settings, defaults, "default.toml") == []


def test_no_default_lives_in_the_code() -> None:
    # only rows of the JMA policy table, which a site writes itself, may leave keys out
    with_defaults = [
        f"{path}.{name}"
        for path, model in section_models(Settings)
        if model is not PolicyRule
        for name, field in model.model_fields.items()
        if not field.is_required()
    ]
    assert with_defaults == []


def test_the_default_password_cost_is_argon2s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCASTER_CONFIG", raising=False)
    cost = load_settings().console.password_hash
    low_memory = profiles.RFC_9106_LOW_MEMORY
    assert (cost.time_cost, cost.memory_cost, cost.parallelism) == (
        low_memory.time_cost,
        low_memory.memory_cost,
        low_memory.parallelism,
    )


@pytest.mark.parametrize(
    ("toml", "key", "what"),
    [
        ("[console.password_hash]\ntime_cost = 0\n", "console.password_hash.time_cost", "greater than or equal to 1"),
        (
            "[console.password_hash]\nmemory_cost = 4\n",
            "console.password_hash.memory_cost",
            "greater than or equal to 8",
        ),
        ("[console.password_hash]\nparallelism = 0\n", "console.password_hash.parallelism", "greater than or equal"),
        ("[console.password_hash]\nparallelism = 1.5\n", "console.password_hash.parallelism", "valid integer"),
        (
            "[console.password_hash]\nmemory_cost = 16\nparallelism = 4\n",
            "console.password_hash.memory_cost",
            "at least 8 KiB per lane, 32 for parallelism = 4 (got 16)",
        ),
        (
            '[areas]\ncity = "0920300"\n',  # 栃木市, with Oyama's municipality code left in place
            "website.municipality_code",
            "'092088' is not the code of areas.city '0920300'; expected '092037'",
        ),
    ],
    ids=["time-zero", "memory-too-small", "no-lanes", "lanes-float", "memory-per-lane", "municipality-code"],
)
def test_cross_checked_keys_name_the_key(tmp_path: Path, toml: str, key: str, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_site(tmp_path, toml))
    assert re.search(rf"(^|[ ;]){re.escape(key)}: ", str(caught.value)), caught.value
    assert what in str(caught.value)


@pytest.mark.parametrize(
    ("jma_city", "code"),
    [
        ("0920800", "092088"),  # 小山市
        ("0920300", "092037"),  # 栃木市
        ("0920100", "092011"),  # 宇都宮市: remainder 0
        ("1310100", "131016"),  # 千代田区
        ("0900000", "090000"),  # 栃木県's own code: remainder 1
    ],
)
def test_municipality_code_of_a_jma_city_code(jma_city: str, code: str) -> None:
    assert municipality_code(jma_city) == code


def test_a_sites_readings_replace_the_default_table(tmp_path: Path) -> None:
    s = load_settings(write_site(tmp_path, '[fm.readings]\n"巴波川" = "うずまがわ"\n'))
    assert s.fm.readings == {"巴波川": "うずまがわ"}
    assert s.readings == {"小山市": "おやまし", "巴波川": "うずまがわ"}  # the city's own name from [city] name_kana


def test_other_tables_still_merge_key_by_key(tmp_path: Path) -> None:
    s = load_settings(write_site(tmp_path, "[console.password_hash]\ntime_cost = 2\n"))
    assert (s.console.password_hash.time_cost, s.console.password_hash.memory_cost) == (2, 65536)
