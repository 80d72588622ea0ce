"""JMA's Atom feeds (PULL): bytes in, entries out, and what a data URL's file name tells before downloading.

The feed is parsed with the standard library's expat, with every DTD refused at its first byte: JMA never
sends one, and without a DTD no entity other than the five predefined ones can exist, so neither billion
laughs nor external entities can happen. Only the Atom elements we read are kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn
from xml.etree import ElementTree as ET
from xml.parsers import expat

from broadcaster.errors import InputError

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/Atom"
_FEED, _ENTRY = f"{{{ATOM}}}feed", f"{{{ATOM}}}entry"
_ID, _TITLE, _UPDATED = f"{{{ATOM}}}id", f"{{{ATOM}}}title", f"{{{ATOM}}}updated"
_LINK, _CONTENT = f"{{{ATOM}}}link", f"{{{ATOM}}}content"
_AUTHOR_NAME = f"{{{ATOM}}}author/{{{ATOM}}}name"

# Since 2020-12-15: YYYYMMDDhhmmss_<n>_<TYPE>_<office>.xml (JMA-NOTES §1)
_JMA_NAME = re.compile(r"^(\d{14})_\d+_([A-Z]{4}(?:\d{2}|ii))_(\d{6})\.xml$")
_TYPE_TOKEN = re.compile(r"^[A-Z]{4}(?:\d{2}|ii)$")
_STAMP = re.compile(r"^(\d{14})_")


class AtomError(InputError):
    """The bytes are not a safe, well-formed Atom feed; the message says why."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry: a document JMA published. ``id`` is its data URL and never changes."""

    id: str
    link: str  # where to download it; JMA makes it equal to id
    title: str  # the document kind, e.g. 気象警報・注意報
    updated: datetime  # aware, UTC
    author: str  # the issuing office, e.g. 宇都宮地方気象台
    content: str  # the headline text


def parse_xml(data: bytes) -> ET.Element:
    """Parse untrusted bytes into an element tree; any DTD is refused; raises AtomError."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    names: dict[str, str] = {}

    def qname(name: str) -> str:
        # expat writes "uri local"; ElementTree spells it "{uri}local". Names repeat, so convert each once.
        tag = names.get(name)
        if tag is None:
            uri, _, local = name.rpartition(" ")
            tag = names[name] = f"{{{uri}}}{local}" if uri else local
        return tag

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(qname(name), {qname(k): v for k, v in attrs.items()})

    def end(name: str) -> None:
        builder.end(qname(name))

    def refuse_dtd(*_: object) -> NoReturn:
        raise AtomError("has a DOCTYPE (DTDs and entities are refused)")

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise AtomError(f"not well-formed XML: {expat.errors.messages[exc.code]} at line {exc.lineno}") from None
    return builder.close()


def _text(el: ET.Element, path: str) -> str:
    found = el.find(path)
    return "" if found is None or found.text is None else found.text.strip()


def _datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Atom requires an offset; JMA writes Z. A bare time is taken as UTC rather than as local time.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _entry(el: ET.Element) -> Entry | None:
    entry_id = _text(el, _ID)
    updated = _datetime(_text(el, _UPDATED))
    if not entry_id or updated is None:
        return None
    link = next(
        (
            href
            for link_el in el.iterfind(_LINK)
            if (href := (link_el.get("href") or "").strip()) and link_el.get("rel", "alternate") == "alternate"
        ),
        entry_id,
    )
    return Entry(entry_id, link, _text(el, _TITLE), updated, _text(el, _AUTHOR_NAME), _text(el, _CONTENT))


def parse_feed(data: bytes) -> list[Entry]:
    """The entries of an Atom feed, in feed order (JMA: newest first); raises AtomError if it is not one."""
    root = parse_xml(data)
    if root.tag != _FEED:
        raise AtomError(f"not an Atom feed: the root element is {root.tag}")
    entries: list[Entry] = []
    skipped = 0
    for el in root.iterfind(_ENTRY):
        entry = _entry(el)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if skipped:
        log.warning("atom: skipped %d entries without an id or a valid updated time", skipped)
    return entries


def file_name(url: str) -> str:
    """The last path segment of a data URL (query and fragment dropped)."""
    return url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rpartition("/")[2]


def type_code(url: str) -> str | None:
    """The document type (e.g. VPWW53) from a data URL's file name, or None if the name does not say."""
    name = file_name(url)
    if match := _JMA_NAME.match(name):
        return match.group(2)
    # Other names (JMA's sample sets, relays) often still carry the type as one _-separated token.
    stem = name.removesuffix(".xml")
    return next((token for token in reversed(stem.split("_")) if _TYPE_TOKEN.match(token)), None)


def office_code(url: str) -> str | None:
    """The issuing office (e.g. 090000) from a JMA data URL's file name, or None if the name does not say."""
    match = _JMA_NAME.match(file_name(url))
    return match.group(3) if match else None


def name_time(url: str) -> datetime | None:
    """The UTC time at the start of a data URL's file name (YYYYMMDDhhmmss_…), or None."""
    match = _STAMP.match(file_name(url))
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def long_feed_url(url: str) -> str:
    """The long feed beside a high-frequency one: …/extra.xml -> …/extra_l.xml (already long: unchanged)."""
    base, dot, ext = url.rpartition(".")
    if not dot or "/" in ext or base.endswith("_l"):
        return url
    return f"{base}_l.{ext}"
