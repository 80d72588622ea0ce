"""`jma inspect` in process (stale relative to now, several --area codes) and the [jma] settings checked at
start-up (feeds over https from allowed hosts, the CA file). The subprocess contract is in test_cli_jma.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from broadcaster.cli.args import parser
from broadcaster.cli.jma import area_codes, inspect_document
from broadcaster.errors import ConfigError, InputError
from broadcaster.settings import Settings, load_settings
from feeds.jma.hosts import refusal
from tests.paths import JMA_SAMPLES

SiteFactory = Callable[..., Path]
QUAKE = "32-35_06_03_240613_VXSE53.xml"  # 2008-06-14T08:47+09:00: 奥州市 (0321500) 震度６強, 小山市 (0920800) 震度３


def at(iso: str) -> float:
    """Epoch seconds of an ISO time."""
    return datetime.fromisoformat(iso).timestamp()


def inspect(settings: Settings, areas: list[str] | None, now: float) -> dict[str, object]:
    """What `jma inspect QUAKE [--area …]` prints, at ``now``."""
    data = (JMA_SAMPLES / QUAKE).read_bytes()
    return inspect_document(settings, data, QUAKE, area_codes(settings, areas), now=now)


def test_inspect_says_stale_relative_to_now_beside_the_decision(settings: Settings) -> None:
    fresh = inspect(settings, None, at("2008-06-14T09:00:00+09:00"))
    late = inspect(settings, None, at("2008-06-14T10:00:00+09:00"))  # more than [jma.max_age] earthquakes (1 h)
    assert (fresh["decision"], fresh["stale"]) == ("auto", False)
    assert (late["decision"], late["stale"]) == ("auto", True)  # the decision is the policy's; stale says it is old
    assert list(late)[list(late).index("decision") + 1] == "stale"


def test_every_area_code_given_is_honoured(settings: Settings) -> None:
    now = at("2008-06-14T09:00:00+09:00")
    oyama = inspect(settings, ["0920800"], now)
    oshu = inspect(settings, ["0321500"], now)
    both = inspect(settings, ["0321500,0920800"], now)
    assert (oyama["max_intensity"], oshu["max_intensity"], both["max_intensity"]) == ("3", "6+", "6+")
    first_only = inspect(settings, ["0321500", "4720100"], now)  # 奥州市, then 那覇市 (no 震度 there)
    assert first_only["concerns_area"] is True and first_only["max_intensity"] == "6+"  # a later code drops none
    neither = inspect(settings, ["4720100", "4720500"], now)  # 那覇市, 宜野湾市: no 震度 listed there
    assert neither["concerns_area"] is False


def test_area_codes_come_repeated_listed_or_comma_separated(settings: Settings) -> None:
    args = parser().parse_args(["jma", "inspect", "f.xml", "--area", "0920800,0321500", "311", "--area", "09"])
    codes = area_codes(settings, args.area)
    assert [(c.city, c.earthquake_region, c.prefecture) for c in codes] == [
        ("0920800", "", ""),
        ("0321500", "", ""),
        ("", "311", ""),
        ("", "", "09"),
    ]
    with pytest.raises(InputError, match="--area '0920'"):
        area_codes(settings, ["0920800,0920"])


@pytest.mark.parametrize(
    ("jma", "message"),
    [
        ({"feeds": ["http://www.data.jma.go.jp/developer/xml/feed/extra.xml"]}, "is not https"),
        ({"feeds": ["https://jma.example.net/developer/xml/feed/extra.xml"]}, "is not in allowed_hosts"),
        ({"allowed_hosts": ["https://www.data.jma.go.jp/"]}, "is not a host name"),
        ({"ca_file": "/nowhere/ca.pem"}, "no such file"),
    ],
)
def test_jma_settings_are_checked_at_start_up_with_one_clear_line(
    site: SiteFactory, jma: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(site({"jma": jma}))
    assert "\n" not in str(caught.value)


def test_a_feed_on_an_allowed_host_over_https_is_accepted(site: SiteFactory) -> None:
    url = "https://127.0.0.1:8443/extra.xml"
    settings = load_settings(site({"jma": {"feeds": [url], "allowed_hosts": ["127.0.0.1"]}}))
    assert settings.jma.feeds == (url,)


def test_refusal() -> None:
    allowed = frozenset({"www.data.jma.go.jp"})
    assert refusal("https://www.data.jma.go.jp/developer/xml/data/x.xml", allowed) is None
    assert refusal("https://WWW.DATA.JMA.GO.JP/x.xml", allowed) is None  # host names are case-insensitive
    assert "not https" in (refusal("http://www.data.jma.go.jp/x.xml", allowed) or "")
    assert "not on an allowed host" in (refusal("https://www.data.jma.go.jp.example.net/x.xml", allowed) or "")
    assert "not on an allowed host" in (refusal("https://user@evil.example/x.xml", allowed) or "")
    assert "not https" in (refusal("file:///etc/passwd", allowed) or "")
