"""Untrusted XML in, one element tree out, or one exception with a short human reason.

Everything the feeds download passes through ``parse_xml``: no DTD, no entity expansion, no network,
a size limit, and well-formedness. The small namespace-aware lookups below are what the family
parsers use to read the tree; codes stay strings.

Why lxml and not defusedxml: lxml's parser lets us switch off, at the C level, every feature that
makes XML dangerous (entity substitution, DTD loading, network access), and without ``huge_tree``
libxml2 also caps nesting depth and text-node size, which expat (under defusedxml) does not. It is
fast on the 2.3 MB long feeds, and it is maintained. A DOCTYPE is refused explicitly on top of that,
before and after parsing: JMA never sends one, so any DTD is hostile or a mistake.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo

from lxml import etree

from broadcaster.errors import InputError
from broadcaster.intake import clean_text

Element = etree._Element

DEFAULT_MAX_BYTES = 10_000_000  # the [jma] max_bytes default; a real JMA document is at most a few hundred kB

JMX = "http://xml.kishou.go.jp/jmaxml1/"  # Report and Control
HEAD = JMX + "informationBasis1/"
METEOROLOGY = JMX + "body/meteorology1/"
SEISMOLOGY = JMX + "body/seismology1/"
VOLCANOLOGY = JMX + "body/volcanology1/"
ELEMENT_BASIS = JMX + "elementBasis1/"  # jmx_eb: Magnitude, Coordinate, WaterLevel …
BODY_NAMESPACES = frozenset({METEOROLOGY, SEISMOLOGY, VOLCANOLOGY})
ATOM = "http://www.w3.org/2005/Atom"


class RefusedDocument(InputError):
    """A document we will not read: hostile, oversized, truncated, or not JMA XML at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# libxml2 error codes worth a clearer word than "not well-formed".
SYNTAX_REASONS: dict[int, str] = {
    etree.ErrorTypes.ERR_RESOURCE_LIMIT: "beyond the parser's limits (nesting depth or text size)",
    etree.ErrorTypes.ERR_DOCUMENT_EMPTY: "not XML (no root element)",
}


def _cut_short(data: bytes, line: int, column: int) -> bool:
    # A cut-off download fails exactly where the bytes end: on the last line, past its last character.
    last = data.rsplit(b"\n", 1)[-1].decode("utf-8", "ignore")
    return line >= data.count(b"\n") + 1 and column > len(last)


def _syntax_reason(data: bytes, exc: etree.XMLSyntaxError) -> str:
    if exc.code in SYNTAX_REASONS:
        return SYNTAX_REASONS[exc.code]
    line, column = exc.position
    return "truncated XML (the document ends early)" if _cut_short(data, line, column) else "not well-formed XML"


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers keep state and are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,  # never substitute entities (billion laughs, external entities)
        no_network=True,  # never fetch anything
        load_dtd=False,  # never read an external DTD
        dtd_validation=False,
        huge_tree=False,  # keep libxml2's limits on depth and text size
        remove_comments=True,
        remove_pis=True,
    )


def _looks_like_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and not head.startswith(b"<?xml"))


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """Parse untrusted bytes into the root element, or raise RefusedDocument with the reason."""
    if len(data) > max_bytes:
        raise RefusedDocument(f"too large: {len(data):,} bytes, the limit is {max_bytes:,}")
    if not data or data.isspace():
        raise RefusedDocument("empty document")
    if _looks_like_html(data):
        raise RefusedDocument("HTML, not XML (an error page?)")
    # A DOCTYPE must come before the root element, but searching all of it is cheap and also
    # catches one hidden behind long comments; the check after parsing covers other encodings.
    if b"<!DOCTYPE" in data or b"<!doctype" in data:
        raise RefusedDocument("has a DOCTYPE (DTDs and entity declarations are refused)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise RefusedDocument(f"{_syntax_reason(data, exc)}: {exc.msg}") from None
    except ValueError as exc:  # e.g. an unknown encoding declaration
        raise RefusedDocument(f"not readable as XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise RefusedDocument("has a DOCTYPE (DTDs and entity declarations are refused)")
    if etree.QName(root).localname.lower() == "html":
        raise RefusedDocument("HTML, not XML (an error page?)")
    return root


def is_atom_feed(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bool:
    """True when the bytes are an Atom feed (JMA's PULL feeds), False for anything else, refused or not."""
    try:
        root = parse_xml(data, max_bytes=max_bytes)
    except RefusedDocument:
        return False
    return root.tag == f"{{{ATOM}}}feed"


@functools.cache
def _clark(ns: str, path: str) -> str:
    return "/".join(f"{{{ns}}}{step}" for step in path.split("/"))


def find(el: Element | None, ns: str, path: str) -> Element | None:
    """The first element at ``path`` (steps separated by /, all in ``ns``), or None."""
    return None if el is None else el.find(_clark(ns, path))


def findall(el: Element | None, ns: str, path: str) -> list[Element]:
    """Every element at ``path`` (steps separated by /, all in ``ns``)."""
    return [] if el is None else el.findall(_clark(ns, path))


def text(el: Element | None, ns: str = "", path: str = "") -> str:
    """The stripped text at ``path`` below ``el`` (or of ``el`` itself when path is empty), "" if absent.

    Cleaned at intake like every text (broadcaster/intake): a ``&#13;``, a NUL-like control or a bidi
    override in a document never reaches an alert.
    """
    target = find(el, ns, path) if path else el
    if target is None or target.text is None:
        return ""
    return clean_text(target.text).strip()


def attr(el: Element | None, name: str) -> str:
    """An attribute's value, "" if absent."""
    return "" if el is None else (el.get(name) or "")


def to_datetime(value: str, assume: tzinfo) -> datetime | None:
    """An aware datetime from xs:dateTime text; ``assume`` is the zone the schema promises if none is written."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=assume)
