"""A local stand-in for JMA's PULL server: a folder of JMA XML files served as Atom feeds plus documents.

Routes: /feed.xml (every document), /extra.xml and /eqvol.xml (split by type as JMA splits them), their
long variants (/extra_l.xml …) and /data/<file name>. Entries are newest first by file modification time,
so a file copied into the folder later shows up at the top, as a new arrival does on JMA's feeds. Feeds
carry Last-Modified and an ETag and answer conditional requests with 304. The folder is read on every
request; what each document says is cached by (name, mtime, size).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from aiohttp import hdrs, web

from feeds.jma.atom import ATOM, AtomError, parse_xml, type_code

log = logging.getLogger(__name__)

JMX = "http://xml.kishou.go.jp/jmaxml1/"
HEAD = JMX + "informationBasis1/"
EQVOL_PREFIXES = ("VXSE", "VTSE", "VFVO", "VZSE", "VYSE")  # earthquakes, tsunami, volcanoes: JMA's eqvol feed
FEED_NAMES = ("feed", "extra", "eqvol")
ATOM_TYPE = "application/atom+xml"


@dataclass(frozen=True, slots=True)
class Sample:
    """One document in the folder and what its feed entry says about it."""

    name: str
    mtime_ns: int
    size: int
    title: str  # Control/Title, e.g. 気象特別警報・警報・注意報; the file name if unreadable
    author: str  # Control/PublishingOffice
    content: str  # Head/Headline/Text

    @property
    def updated(self) -> datetime:
        """The modification time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.mtime_ns / 1e9, UTC)

    @property
    def feed(self) -> str:
        """Which of JMA's feeds would list it: eqvol or extra."""
        kind = type_code(self.name) or ""
        return "eqvol" if kind.startswith(EQVOL_PREFIXES) else "extra"


class SampleFolder:
    """The folder's documents, newest first; Atom feeds lying in it are not documents and are left out."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[tuple[str, int, int], Sample | None] = {}

    def scan(self) -> list[Sample]:
        """Every document in the folder, newest first (ties: by name, descending)."""
        samples = []
        with os.scandir(self.folder) as it:
            for item in it:
                if not item.name.endswith(".xml") or item.name.startswith(".") or not item.is_file():
                    continue
                stat = item.stat()
                key = (item.name, stat.st_mtime_ns, stat.st_size)
                if key not in self._cache:
                    self._cache[key] = _describe(Path(item.path), item.name, stat.st_mtime_ns, stat.st_size)
                if (sample := self._cache[key]) is not None:
                    samples.append(sample)
        samples.sort(key=lambda s: (s.mtime_ns, s.name), reverse=True)
        return samples

    def path(self, name: str) -> Path | None:
        """The file behind /data/<name>, or None if there is no such document."""
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".xml"):
            return None
        path = self.folder / name
        return path if path.is_file() else None


def _describe(path: Path, name: str, mtime_ns: int, size: int) -> Sample | None:
    """What the document says about itself; None for an Atom feed; unreadable files are listed by name."""
    try:
        root = parse_xml(path.read_bytes())
    except (AtomError, OSError):
        # Hostile or broken files are served as they are: clients must cope with them.
        return Sample(name, mtime_ns, size, name, "", "")
    if root.tag == f"{{{ATOM}}}feed":
        return None

    def text(path: str) -> str:
        found = root.find(path)
        return "" if found is None or found.text is None else found.text.strip()

    return Sample(
        name,
        mtime_ns,
        size,
        text(f"{{{JMX}}}Control/{{{JMX}}}Title") or name,
        text(f"{{{JMX}}}Control/{{{JMX}}}PublishingOffice"),
        text(f"{{{HEAD}}}Head/{{{HEAD}}}Headline/{{{HEAD}}}Text"),
    )


def select(samples: Sequence[Sample], feed: str, long: bool, now: float, recent: float | None) -> list[Sample]:
    """The samples one feed lists: by type for extra/eqvol; high-frequency feeds only the recent ones."""
    chosen = [s for s in samples if feed == "feed" or s.feed == feed]
    if recent is not None and not long:
        chosen = [s for s in chosen if s.mtime_ns / 1e9 >= now - recent]
    return chosen


def render_feed(samples: Sequence[Sample], feed_url: str, data_url: str, title: str) -> bytes:
    """An Atom feed shaped like JMA's: entry id == link == the document's data URL."""
    ET.register_namespace("", ATOM)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        el.text = text
        return el

    feed = ET.Element(f"{{{ATOM}}}feed")
    add(feed, "title", title)
    add(feed, "subtitle", "JMAXML publishing feed (local replay)")
    newest = samples[0].updated if samples else datetime.fromtimestamp(0, UTC)
    add(feed, "updated", newest.isoformat(timespec="seconds"))
    add(feed, "id", feed_url)
    add(feed, "link", rel="self", href=feed_url)
    for sample in samples:
        url = data_url + sample.name
        entry = add(feed, "entry")
        add(entry, "title", sample.title)
        add(entry, "id", url)
        add(entry, "updated", sample.updated.isoformat(timespec="seconds").replace("+00:00", "Z"))
        add(add(entry, "author"), "name", sample.author)
        add(entry, "link", type="application/xml", href=url)
        add(entry, "content", sample.content, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _etag(samples: Sequence[Sample], feed_url: str) -> str:
    # The host is part of every entry id, so it is part of the version too.
    digest = hashlib.sha1(feed_url.encode(), usedforsecurity=False)
    for s in samples:
        digest.update(f"{s.name}\0{s.mtime_ns}\0{s.size}\n".encode())
    return digest.hexdigest()[:20]


def _not_modified(request: web.Request, etag: str, last_modified: int | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; otherwise If-Modified-Since."""
    if_none_match = request.headers.get(hdrs.IF_NONE_MATCH)
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.if_modified_since
    return since is not None and last_modified is not None and last_modified <= since.timestamp()


FolderKey = web.AppKey("folder", SampleFolder)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_sample_app(
    folder: Path, *, recent: float | None = None, clock: Callable[[], float] = time.time
) -> web.Application:
    """Serve ``folder`` as JMA-like feeds and documents; high-frequency feeds list only the last ``recent`` s."""
    if not folder.is_dir():
        raise NotADirectoryError(folder)
    samples = SampleFolder(folder)
    app = web.Application()
    app[FolderKey] = samples

    def feed_handler(feed: str, long: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            listed = select(await asyncio.to_thread(samples.scan), feed, long, clock(), recent)
            base = f"{request.scheme}://{request.host}"
            feed_url = base + request.path
            etag = _etag(listed, feed_url)
            last_modified = max((s.mtime_ns // 1_000_000_000 for s in listed), default=None)
            response: web.StreamResponse
            if _not_modified(request, etag, last_modified):
                response = web.Response(status=304)
            else:
                body = render_feed(listed, feed_url, base + "/data/", f"{feed}{'_l' if long else ''} (replay)")
                response = web.Response(body=body, content_type=ATOM_TYPE, charset="utf-8")
            response.etag = etag
            if last_modified is not None:
                response.last_modified = last_modified
            return response

        return handle

    async def document(request: web.Request) -> web.StreamResponse:
        path = samples.path(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={hdrs.CONTENT_TYPE: "application/xml"})

    for feed in FEED_NAMES:
        app.router.add_get(f"/{feed}.xml", feed_handler(feed, long=False))
        app.router.add_get(f"/{feed}_l.xml", feed_handler(feed, long=True))
    app.router.add_get("/data/{name}", document)
    return app


async def serve_samples(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    sockets: Sequence[socket.socket] = (),
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve ``folder`` (see make_sample_app) on host:port, or on ``sockets`` already listening, until cancelled.

    With ``ssl_context`` it serves https, as the service reads JMA's feeds over https only.
    """
    runner = web.AppRunner(make_sample_app(folder), access_log=None)
    await runner.setup()
    try:
        sites: list[web.BaseSite] = [web.SockSite(runner, sock, ssl_context=ssl_context) for sock in sockets]
        for site in sites or [web.TCPSite(runner, host, port, ssl_context=ssl_context)]:
            await site.start()
        for address in runner.addresses:
            where = f"[{address[0]}]" if ":" in address[0] else address[0]
            scheme = "https" if ssl_context else "http"
            log.info("serving %s as JMA feeds at %s://%s:%s/feed.xml", folder, scheme, where, address[1])
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
