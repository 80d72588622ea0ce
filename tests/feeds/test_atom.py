"""Atom parsing of JMA's real feeds, the file-name helpers, and refusal of hostile or broken feeds."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from feeds.jma.atom import (
    AtomError,
    Entry,
    long_feed_url,
    name_time,
    office_code,
    parse_feed,
    type_code,
)
from tests.feeds.test_replay import samples

DATA = "https://www.data.jma.go.jp/developer/xml/data/"


def real_feed(name: str) -> list[Entry]:
    """The entries of one of the real feeds in jma-samples."""
    return parse_feed((samples() / name).read_bytes())


def test_the_real_long_feed() -> None:
    entries = real_feed("extra_l.xml")
    assert len(entries) == 3647
    assert len({e.id for e in entries}) == 3647
    assert all(e.id == e.link and e.id.startswith(DATA) for e in entries)
    assert all(e.updated.tzinfo is UTC and e.title and e.author and e.content for e in entries)
    assert min(e.updated for e in entries).date().isoformat() == "2022-07-07"
    assert max(e.updated for e in entries).date().isoformat() == "2022-07-14"
    assert entries[0] == Entry(
        id=DATA + "20220714074044_0_VPFJ50_080000.xml",
        link=DATA + "20220714074044_0_VPFJ50_080000.xml",
        title="府県気象情報",
        updated=datetime(2022, 7, 14, 7, 40, 43, tzinfo=UTC),
        author="水戸地方気象台",
        content=entries[0].content,
    )
    assert entries[0].content.startswith("【大雨と雷及び降ひょうに関する茨城県気象情報】")
    tochigi = [e for e in entries if office_code(e.id) == "090000"]
    assert len(tochigi) == 43
    assert {e.author for e in tochigi} == {"宇都宮地方気象台"}
    warning = next(e for e in tochigi if e.id.endswith("20220714073035_0_VPWW53_090000.xml"))
    assert (warning.title, warning.content) == (
        "気象特別警報・警報・注意報",
        "【栃木県気象警報・注意報】栃木県では、急な強い雨や落雷に注意してください。",
    )


def test_the_real_high_frequency_feed() -> None:
    entries = real_feed("eqvol.xml")
    assert len(entries) == 25
    assert entries[0].id == "http://www.data.jma.go.jp/developer/xml/data/20211123230030_0_VFVO53_010000.xml"
    assert entries[0].updated == datetime(2021, 11, 23, 23, 0, tzinfo=UTC)
    assert entries[0].author == "気象庁"
    assert Counter(type_code(e.id) for e in entries) == {"VFVO53": 20, "VFVO52": 3, "VXSE53": 2}


def test_type_and_office_of_every_real_id() -> None:
    for entry in real_feed("extra_l.xml") + real_feed("eqvol.xml"):
        kind, office = type_code(entry.id), office_code(entry.id)
        assert kind is not None and re.fullmatch(r"[A-Z]{4}\d{2}", kind), entry.id
        assert office is not None and re.fullmatch(r"\d{6}", office), entry.id
        assert entry.id.endswith(f"_{kind}_{office}.xml")
        stamp = name_time(entry.id)
        assert stamp is not None and abs((stamp - entry.updated).total_seconds()) < 120


@pytest.mark.parametrize(
    ("url", "kind", "office"),
    [
        (DATA + "20220714073035_0_VPWW53_090000.xml", "VPWW53", "090000"),
        ("http://www.data.jma.go.jp/developer/xml/data/20211123192802_0_VXSE53_010000.xml", "VXSE53", "010000"),
        (DATA + "20220712120000_0_VXKO52_090000.xml?x=1#frag", "VXKO52", "090000"),
        # JMA's sample sets and relays: the type is often still there, the office is not
        ("15_08_05_130412_VPWW53.xml", "VPWW53", None),
        ("http://localhost/data/16_08_01_260312_VXKOii.xml", "VXKOii", None),
        ("20220918154907_08013775_VTSE41.xml", "VTSE41", None),
        ("http://localhost/data/32-35_06_03_240613_VXSE53.xml", "VXSE53", None),
        # old UUID ids and anything else: nothing to say
        ("urn:uuid:8a3c0a44-7f2c-3c2e-8f0c-2b6b4f7c0a11", None, None),
        (DATA + "a5c1d2e3-0000-4a6f-9c1b-123456789abc.xml", None, None),
        ("", None, None),
        (DATA + "20220714073035_0_vpww53_090000.xml", None, None),
    ],
)
def test_type_and_office_from_names(url: str, kind: str | None, office: str | None) -> None:
    assert (type_code(url), office_code(url)) == (kind, office)


@pytest.mark.parametrize(
    ("url", "long"),
    [
        ("https://www.data.jma.go.jp/developer/xml/feed/extra.xml", "https://www.data.jma.go.jp/developer/xml/feed/extra_l.xml"),
        ("https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml", "https://www.data.jma.go.jp/developer/xml/feed/eqvol_l.xml"),
        ("http://127.0.0.1:8000/feed.xml", "http://127.0.0.1:8000/feed_l.xml"),
        ("https://www.data.jma.go.jp/developer/xml/feed/extra_l.xml", "https://www.data.jma.go.jp/developer/xml/feed/extra_l.xml"),
    ],
)  # fmt: skip
def test_long_feed_url(url: str, long: str) -> None:
    assert long_feed_url(url) == long


def test_name_time() -> None:
    assert name_time(DATA + "20220714073035_0_VPWW53_090000.xml") == datetime(2022, 7, 14, 7, 30, 35, tzinfo=UTC)
    assert name_time("15_08_05_130412_VPWW53.xml") is None
    assert name_time(DATA + "20221399999999_0_VPWW53_090000.xml") is None


ENTRY = (
    "<entry><title>t</title><id>{id}</id><updated>{updated}</updated>"
    "<author><name>a</name></author><content type='text'>c</content>{link}</entry>"
)


def feed(*entries: str) -> bytes:
    """A minimal Atom feed around the given entries (our own fixture)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        + "".join(entries)
        + "</feed>"
    ).encode()


def test_link_and_time_variants() -> None:
    entries = parse_feed(
        feed(
            ENTRY.format(id="urn:a", updated="2022-07-14T16:30:35+09:00", link="<link rel='self' href='x'/><link href='https://h/a.xml'/>"),
            ENTRY.format(id="urn:b", updated="2022-07-14T07:30:35", link=""),
            ENTRY.format(id="", updated="2022-07-14T07:30:35Z", link=""),
            ENTRY.format(id="urn:d", updated="yesterday", link=""),
        )
    )  # fmt: skip
    assert [(e.id, e.link, e.updated) for e in entries] == [
        ("urn:a", "https://h/a.xml", datetime(2022, 7, 14, 7, 30, 35, tzinfo=UTC)),
        ("urn:b", "urn:b", datetime(2022, 7, 14, 7, 30, 35, tzinfo=UTC)),  # no link: the id is the data URL
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><feed>&b;</feed>', "DOCTYPE"),
        (b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]><feed>&x;</feed>', "DOCTYPE"),
        (b'<!DOCTYPE feed SYSTEM "http://example.invalid/evil.dtd"><feed/>', "DOCTYPE"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'>&undefined;</feed>", "undefined entity"),
        (feed(ENTRY.format(id="urn:a", updated="2022-07-14T07:30:35Z", link=""))[:-20], "not well-formed"),
        (b"<!doctype html><html><body>503 Service Unavailable</body></html>", "not well-formed"),
        (b"<html><body>Service Unavailable</body></html>", "not an Atom feed"),
        (b"<feed><entry/></feed>", "not an Atom feed"),  # Atom without its namespace
        (b"", "not well-formed"),
    ],
)  # fmt: skip
def test_hostile_and_broken_feeds_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(AtomError, match=reason):
        parse_feed(data)
