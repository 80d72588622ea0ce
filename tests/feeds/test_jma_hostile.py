"""Hostile and broken input is refused with a reason, never parsed and never a crash (issue: JMA feeds, Tests).

The hand-made inputs are the hostile-*.xml files beside this module, or are built here; real documents
come from tests/data/jma.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.errors import InputError
from feeds.jma.areas import AreaCodes, concerning
from feeds.jma.parse import parse
from feeds.jma.xmlsafe import DEFAULT_MAX_BYTES, RefusedDocument, is_atom_feed, parse_xml
from tests.paths import JMA_SAMPLES

ROOT = Path(__file__).resolve().parents[2]

SAMPLES = JMA_SAMPLES
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def sample(name: str) -> bytes:
    """A real JMA document; a missing samples folder fails the test rather than skipping it."""
    if not SAMPLES.is_dir():
        raise FileNotFoundError(f"JMA samples not found at {SAMPLES}: restore tests/data/jma with git checkout")
    return (SAMPLES / name).read_bytes()


def refused(data: bytes, **kwargs: int) -> str:
    """The reason parse() gives for refusing ``data``; fails the test if it does not refuse."""
    with pytest.raises(RefusedDocument) as info:
        parse(data, **kwargs)
    assert info.value.reason
    assert str(info.value) == info.value.reason
    assert not is_atom_feed(data)
    return info.value.reason


# fixture file → a word its reason must contain
FIXTURE_REASONS = {
    "hostile-xxe.xml": "DOCTYPE",
    "hostile-billion-laughs.xml": "DOCTYPE",
    "hostile-external-dtd.xml": "DOCTYPE",
    "hostile-html.xml": "HTML",
    "hostile-wrong-namespace.xml": "namespace http://xml.kishou.go.jp/jmaxml2/",
    "hostile-truncated.xml": "truncated",
}


def test_every_fixture_is_listed() -> None:
    assert {p.name for p in FIXTURES.glob("hostile-*.xml")} == set(FIXTURE_REASONS)


@pytest.mark.parametrize(("name", "word"), FIXTURE_REASONS.items())
def test_hostile_fixtures_are_refused(name: str, word: str) -> None:
    reason = refused((FIXTURES / name).read_bytes())
    assert word in reason
    assert "root:" not in reason  # nothing of /etc/passwd leaks into a reason


def test_refusal_is_an_input_error() -> None:
    assert issubclass(RefusedDocument, InputError)


def test_fifty_megabytes_is_refused_before_parsing() -> None:
    head = b'<?xml version="1.0" encoding="UTF-8"?><Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>'
    data = head + b"a" * 50_000_000 + b"</Title></Control></Report>"
    assert "too large" in refused(data)
    assert DEFAULT_MAX_BYTES == 10_000_000


def test_the_size_limit_is_a_parameter() -> None:
    data = sample("32-35_06_03_240613_VXSE53.xml")  # 215 kB
    assert "too large" in refused(data, max_bytes=100_000)
    assert parse(data, max_bytes=len(data)).kind == "VXSE53"


def test_libxml2_limits_hold_when_the_size_limit_is_raised() -> None:
    # Without huge_tree, a single text node over 10 MB is refused even if the caller allows 60 MB.
    data = b"<Report>" + b"a" * 20_000_000 + b"</Report>"
    assert "limits" in refused(data, max_bytes=60_000_000)


def test_deep_nesting_is_refused() -> None:
    data = b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">' + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</Report>"
    assert "limits" in refused(data)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_real_documents(fraction: float) -> None:
    data = sample("15_17_01_250630_VPWW55.xml")
    assert "truncated" in refused(data[: int(len(data) * fraction)])


def test_truncated_inside_a_character() -> None:
    data = sample("15_17_01_250630_VPWW55.xml")
    cut = data.index("島根県".encode()) + 1  # inside the first UTF-8 sequence
    assert "truncated" in refused(data[:cut])


HTML_PAGES = [
    b"<!DOCTYPE html><html><head><title>404</title></head><body>Not Found</body></html>",
    b"<html><body><p>Service Unavailable<br></body></html>",
    b"\xef\xbb\xbf  \n<HTML><BODY>Bad Gateway</BODY></HTML>",
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>maintenance</p></body></html>',
]


@pytest.mark.parametrize("data", HTML_PAGES)
def test_html_is_refused_as_html(data: bytes) -> None:
    assert "HTML" in refused(data)


NOT_JMA = [
    (b"", "empty"),
    (b"   \n ", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not XML"),
    (b'{"error": "not found"}', "not XML"),
    (b"<Report>no namespace</Report>", "namespace (none)"),
    (b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>', "Control"),
    (
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>t</Title></Control>'
        b"<Head><Title>h</Title></Head></Report>",
        "no Head in http://xml.kishou.go.jp/jmaxml1/informationBasis1/",
    ),
]


@pytest.mark.parametrize(("data", "word"), NOT_JMA)
def test_not_jma_documents(data: bytes, word: str) -> None:
    assert word in refused(data)


def test_a_report_with_its_head_in_the_wrong_namespace() -> None:
    data = sample("18_01_01_100806_VPOA50.xml").replace(b"jmaxml1/informationBasis1/", b"jmaxml1/informationBasis9/")
    assert "no Head" in refused(data)


def test_a_report_with_its_body_in_an_unknown_namespace() -> None:
    data = sample("18_01_01_100806_VPOA50.xml").replace(b"body/meteorology1/", b"body/astrology1/")
    assert "Body in unknown namespace" in refused(data)


def test_a_report_missing_its_times() -> None:
    data = sample("18_01_01_100806_VPOA50.xml").replace(b"2010-06-02T02:54:00Z", b"yesterday")
    assert "DateTime" in refused(data)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on the loopback that records whether anyone connected."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def _nobody_connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_no_network_even_past_the_byte_check(listener: socket.socket) -> None:
    # UTF-16 hides "<!DOCTYPE" from the byte search, so libxml2 itself must refuse to fetch the DTD
    # and the entity, and the DOCTYPE check after parsing must still refuse the document.
    port = listener.getsockname()[1]
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<!DOCTYPE Report SYSTEM "http://127.0.0.1:{port}/evil.dtd" '
        f'[<!ENTITY remote SYSTEM "http://127.0.0.1:{port}/x"><!ENTITY local SYSTEM "file:///etc/passwd">]>'
        '<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&remote;&local;</Title></Control></Report>'
    )
    data = text.encode("utf-16")
    assert b"<!DOCTYPE" not in data
    assert "DOCTYPE" in refused(data)
    assert _nobody_connected(listener)


def test_billion_laughs_in_an_attribute_past_the_byte_check() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    text = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY l0 "lol">{lol}]><r a="&l9;"/>'
    reason = refused(text.encode("utf-16"))
    assert "DOCTYPE" in reason or "limits" in reason


def test_parse_xml_returns_a_tree_for_a_real_document() -> None:
    root = parse_xml(sample("15_17_01_250630_VPWW55.xml"))
    assert root.tag == "{http://xml.kishou.go.jp/jmaxml1/}Report"


def _mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Damaged copies of a document: flipped bytes, cut spans, duplicated spans."""
    for n in range(count):
        d = bytearray(data)
        i, j = sorted(rng.randrange(len(d)) for _ in range(2))
        if n % 3 == 0:
            d[i] = rng.randrange(256)
        elif n % 3 == 1:
            del d[i : i + rng.randrange(1, 400)]
        else:
            d[i:i] = d[j : j + rng.randrange(1, 200)]
        yield bytes(d)


@pytest.mark.parametrize(
    "name",
    ["15_17_01_250630_VPWW55.xml", "20210216140226_0_VXSE53_010000.xml", "16_08_01_260312_VXKOii.xml",
     "45_01_01_200522_VFVO50.xml", "17_04_01_250630_VXWW50.xml", "20231009064018_06274659_VTSE41.xml"],
)  # fmt: skip
def test_damaged_documents_parse_or_are_refused(name: str) -> None:
    rng = random.Random(name)  # seeded: the same damage on every run
    codes = AreaCodes("0920800", "090000", "311", "09")
    for data in _mutations(sample(name), rng, 150):
        try:
            report = parse(data)
        except RefusedDocument as exc:
            assert exc.reason
            continue
        assert concerning(report, codes).reason
