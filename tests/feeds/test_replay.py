"""The local replay server: JMA-shaped feeds over a folder, conditional requests, documents byte for byte."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from multidict import CIMultiDict

from feeds.jma.atom import parse_feed
from feeds.replay import make_sample_app, serve_samples
from tests.paths import JMA_SAMPLES

SAMPLES = JMA_SAMPLES
FEED_FILES = {"extra_l.xml", "eqvol.xml"}  # the two real Atom feeds lying among the documents


def samples() -> Path:
    """The folder of real JMA samples; the tests cannot run without it."""
    if not (SAMPLES / "extra_l.xml").is_file():
        pytest.fail(f"the real JMA samples are missing: expected them in {SAMPLES} (see DESIGN.md)")
    return SAMPLES


def copy_sample(folder: Path, source: str, name: str | None = None, age: float = 0.0) -> Path:
    """Copy a real sample into ``folder`` (optionally renamed), last modified ``age`` seconds ago."""
    target = folder / (name or source)
    shutil.copyfile(samples() / source, target)
    stamp = time.time() - age
    os.utime(target, (stamp, stamp))
    return target


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a free local port; yields its base URL (no trailing slash)."""
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def get(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
    """Status, body and headers of one GET."""
    async with session.get(url, headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers.copy()


async def test_every_real_sample_is_listed_and_served_byte_identical(session: aiohttp.ClientSession) -> None:
    documents = sorted(p.name for p in samples().glob("*.xml") if p.name not in FEED_FILES)
    async with serve(make_sample_app(samples())) as base:
        status, body, _ = await get(session, base + "/feed.xml")
        assert status == 200
        entries = parse_feed(body)
        assert sorted(e.id.rpartition("/")[2] for e in entries) == documents  # the Atom feeds are not documents
        assert all(e.id == e.link and e.id.startswith(base + "/data/") for e in entries)
        for entry in entries:
            status, data, headers = await get(session, entry.link)
            assert status == 200
            assert headers["Content-Type"].startswith("application/xml")
            assert data == (samples() / entry.id.rpartition("/")[2]).read_bytes()
        titles = {e.id.rpartition("/")[2]: (e.title, e.author) for e in entries}
        assert titles["15_08_05_130412_VPWW53.xml"] == ("気象特別警報・警報・注意報", "奈良地方気象台")


async def test_feeds_list_newest_first_split_by_type(folder: Path, session: aiohttp.ClientSession) -> None:
    copy_sample(folder, "20210216140226_0_VXSE53_010000.xml", age=300)
    copy_sample(folder, "15_08_05_130412_VPWW53.xml", age=200)
    copy_sample(folder, "43_01_01_200522_VFVO52.xml", age=100)
    copy_sample(folder, "17_04_01_250630_VXWW50.xml", age=0)
    async with serve(make_sample_app(folder)) as base:
        names = {}
        for feed in ("feed", "feed_l", "extra", "extra_l", "eqvol", "eqvol_l"):
            status, body, headers = await get(session, f"{base}/{feed}.xml")
            assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
            names[feed] = [e.id.rpartition("/")[2] for e in parse_feed(body)]
    assert names["feed"] == [
        "17_04_01_250630_VXWW50.xml",
        "43_01_01_200522_VFVO52.xml",
        "15_08_05_130412_VPWW53.xml",
        "20210216140226_0_VXSE53_010000.xml",
    ]
    assert names["extra"] == ["17_04_01_250630_VXWW50.xml", "15_08_05_130412_VPWW53.xml"]
    assert names["eqvol"] == ["43_01_01_200522_VFVO52.xml", "20210216140226_0_VXSE53_010000.xml"]
    for feed in ("feed", "extra", "eqvol"):
        assert names[feed + "_l"] == names[feed]


async def test_recent_window_for_high_frequency_feeds_only(folder: Path, session: aiohttp.ClientSession) -> None:
    copy_sample(folder, "15_08_05_130412_VPWW53.xml", age=3600)
    copy_sample(folder, "17_04_01_250630_VXWW50.xml", age=10)
    async with serve(make_sample_app(folder, recent=600)) as base:
        _, short, _ = await get(session, base + "/extra.xml")
        _, long, _ = await get(session, base + "/extra_l.xml")
    assert [e.title for e in parse_feed(short)] == ["土砂災害警戒情報"]
    assert len(parse_feed(long)) == 2


async def test_last_modified_etag_and_304(folder: Path, session: aiohttp.ClientSession) -> None:
    copy_sample(folder, "15_08_05_130412_VPWW53.xml", age=120)
    newest = copy_sample(folder, "17_04_01_250630_VXWW50.xml", age=60)
    async with serve(make_sample_app(folder)) as base:
        status, _, headers = await get(session, base + "/extra.xml")
        assert status == 200
        last_modified, etag = headers["Last-Modified"], headers["ETag"]
        assert last_modified == time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(newest.stat().st_mtime))

        status, body, headers = await get(session, base + "/extra.xml", **{"If-Modified-Since": last_modified})
        assert (status, body) == (304, b"")
        assert headers["ETag"] == etag
        older = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(newest.stat().st_mtime - 5))
        status, _, _ = await get(session, base + "/extra.xml", **{"If-Modified-Since": older})
        assert status == 200
        status, _, _ = await get(session, base + "/extra.xml", **{"If-None-Match": etag})
        assert status == 304

        # A file added later (even within the same second) changes the ETag, which decides over the date.
        copy_sample(folder, "19_08_03_250630_VPHW50.xml", age=60)
        status, body, headers = await get(
            session, base + "/extra.xml", **{"If-None-Match": etag, "If-Modified-Since": last_modified}
        )
        assert status == 200 and headers["ETag"] != etag
        assert len(parse_feed(body)) == 3


async def test_unknown_or_escaping_documents_are_404(folder: Path, session: aiohttp.ClientSession) -> None:
    copy_sample(folder, "15_08_05_130412_VPWW53.xml")
    (folder.parent / "secret.xml").write_text("<secret/>")
    async with serve(make_sample_app(folder)) as base:
        for path in ("/data/missing.xml", "/data/..%2Fsecret.xml", "/data/.hidden.xml", "/data/README.md"):
            status, _, _ = await get(session, base + path)
            assert status == 404, path


async def test_hostile_files_are_listed_by_name_and_served_as_they_are(
    folder: Path, session: aiohttp.ClientSession
) -> None:
    hostile = folder / "hostile_fixture_billion_laughs.xml"  # our own fixture: no real document is hostile
    hostile.write_bytes(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    async with serve(make_sample_app(folder)) as base:
        _, body, _ = await get(session, base + "/feed.xml")
        [entry] = parse_feed(body)
        assert entry.title == hostile.name
        _, data, _ = await get(session, entry.link)
    assert data == hostile.read_bytes()


async def test_serve_samples_runs_until_cancelled(folder: Path, session: aiohttp.ClientSession) -> None:
    copy_sample(folder, "15_08_05_130412_VPWW53.xml")
    started = asyncio.Event()

    class Started(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("serving"):
                started.set()

    logger = logging.getLogger("feeds.replay")
    handler, level = Started(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    port = unused_port()
    try:
        task = asyncio.create_task(serve_samples(folder, "127.0.0.1", port))
        async with asyncio.timeout(10):
            await started.wait()
        status, body, _ = await get(session, f"http://127.0.0.1:{port}/feed.xml")
        assert status == 200 and len(parse_feed(body)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, f"http://127.0.0.1:{port}/feed.xml")
