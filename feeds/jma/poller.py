"""Polling JMA's Atom feeds politely, and downloading each wanted document once.

JMA blocks clients that re-download files (JMA-NOTES §1), so every step is durable in the Store:

- Feeds are read with If-Modified-Since (and If-None-Match when an ETag was given); the validators are
  remembered only after the entries they cover are queued, so a crash re-reads a feed rather than
  missing entries.
- Entries are pre-filtered by type and office from the file name, then discovered with
  ``store.mark_seen`` (one namespace for all feeds: extra.xml and extra_l.xml list the same documents).
- Discovered documents wait in a durable queue (the backlog) until ``on_document`` accepted them; a
  failed download or callback stays queued and is retried with backoff, bytes already downloaded are
  kept in memory for that retry. The queue is written ahead of ``mark_seen``, so a crash between the
  two commits can at worst download a document a second time, never lose one.
- On first start, and when the last good read of a feed is older than ``backfill_after``, the long
  feed (``*_l.xml``) is read once as well.
- A failing feed (5xx, timeout, a broken or oversized feed) backs off exponentially with jitter.
- Every URL, feed, document and each redirect, is fetched over https from ``[jma] allowed_hosts`` only
  (feeds.jma.hosts); an entry that links elsewhere is refused and logged, never downloaded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp import hdrs
from yarl import URL

from broadcaster.pacing import Backoff
from broadcaster.settings import Jma
from broadcaster.state import JMA_BACKFILL, JMA_ETAG, JMA_LAST_MODIFIED, JMA_LAST_SUCCESS, JMA_QUEUE, Namespace
from broadcaster.store import Store
from feeds.jma.atom import AtomError, Entry, long_feed_url, office_code, parse_feed, type_code
from feeds.jma.hosts import refusal, tls_context

log = logging.getLogger(__name__)

OnDocument = Callable[[str, bytes], Awaitable[None]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SEEN = "jma"  # the mark_seen namespace, shared by every feed
QUEUE_KEY = "queue"  # the one JMA_QUEUE row, shared by every feed
MAX_DOCUMENT_ATTEMPTS = 8  # then it is given up: with the default backoff, after about 45 minutes
MAX_REDIRECTS = 3  # each to an allowed host over https, or the request is refused
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PARSE_IN_THREAD = 1_000_000  # bytes; a long feed (2.3 MB) takes ~0.1 s to parse, too long for the event loop


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed URL (high-frequency or long) as the poller last saw it."""

    url: str
    last_success: float | None  # epoch seconds of the last good read (200 or 304)
    failures: int  # in a row; 0 when the last read was good
    next_attempt: float  # epoch seconds before which the feed is not read again (backoff); 0 if due
    last_error: str | None
    last_failure: float | None = None  # epoch seconds of the last failed read
    failing_since: float | None = None  # the first of the failures in a row; None when the last read was good


@dataclass(frozen=True, slots=True)
class PollerHealth:
    """What /healthz and /metrics show about JMA polling."""

    last_success: float | None  # the newest good read of any feed
    last_error: str | None
    last_error_at: float | None
    backlog: int  # documents discovered but not yet handed to on_document
    fetched: int  # documents downloaded since start
    refused: int  # documents given up since start: too large, gone (4xx) or failing too often
    feeds: tuple[FeedHealth, ...]

    @property
    def failing_feeds(self) -> int:
        """How many feeds failed on their last read."""
        return sum(1 for f in self.feeds if f.failures)


@dataclass(slots=True)
class _FeedState:
    failures: int = 0
    next_attempt: float = 0.0
    last_success: float | None = None
    last_error: str | None = None
    last_failure: float | None = None
    failing_since: float | None = None
    known: frozenset[str] = frozenset()  # candidate ids of the last read: no need to ask the store again


@dataclass(slots=True)
class _Queued:
    url: str
    attempts: int = 0
    next_attempt: float = 0.0


@dataclass(frozen=True, slots=True)
class _Page:
    entries: Sequence[Entry]  # empty for 304
    validators: Mapping[Namespace[str], str]  # JMA_LAST_MODIFIED/JMA_ETAG as the server sent them


class _Failure(Exception):
    """A request that did not give us a body; ``permanent`` means asking again will not help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(slots=True)
class _Counters:
    fetched: int = 0
    refused: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    feeds: dict[str, _FeedState] = field(default_factory=dict)


def next_poll(now: float, interval: float, second: float) -> float:
    """The first time after ``now`` that is ``second`` past a multiple of ``interval`` (epoch seconds)."""
    return (math.floor((now - second) / interval) + 1) * interval + second


class JmaPoller:
    """Reads the configured feeds each round and hands every new wanted document to ``on_document``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        store: Store,
        settings: Jma,
        on_document: OnDocument,
        *,
        clock: Clock = time.time,
        rand: Callable[[], float] = random.random,
        sleep: Sleep = asyncio.sleep,
        backoff: Backoff | None = None,
    ) -> None:
        self._session = session
        self._store = store
        self._settings = settings
        self._on_document = on_document
        self._clock = clock
        self._rand = rand
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=settings.interval, cap=10 * settings.interval)
        self._types = frozenset(settings.types)
        self._offices = frozenset(settings.offices)
        self._hosts = frozenset(host.lower() for host in settings.allowed_hosts)
        self._tls = tls_context(settings.ca_file)
        self._queue: dict[str, _Queued] | None = None  # loaded on the first round
        self._held: dict[str, bytes] = {}  # downloaded, but on_document failed: retried without downloading
        self._counters = _Counters()
        self._lock = asyncio.Lock()  # rounds never overlap (the run loop and a direct poll_once)

    # -- the schedule ----------------------------------------------------------

    async def run(self) -> None:
        """Poll now, then at about ``second`` past the minute every ``interval`` seconds, until cancelled."""
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # a bug or a store outage: report it, keep polling
                log.exception("jma: poll round failed")
                self._error(f"poll round failed: {exc!r}")
            now = self._clock()
            await self._sleep(next_poll(now, self._settings.interval, self._settings.second) - now)

    async def poll_once(self) -> None:
        """One round: read every due feed (and its long feed when backfilling), then fetch what is queued."""
        async with self._lock:
            if self._queue is None:
                self._queue = await self._load_queue()
            for url in self._settings.feeds:
                await self._poll_feed(url)
            await self._fetch_queued()

    def health(self) -> PollerHealth:
        """A snapshot for /healthz and /metrics."""
        c = self._counters
        feeds = tuple(
            FeedHealth(url, s.last_success, s.failures, s.next_attempt, s.last_error, s.last_failure, s.failing_since)
            for url, s in c.feeds.items()
        )
        successes = [s.last_success for s in c.feeds.values() if s.last_success is not None]
        return PollerHealth(
            last_success=max(successes, default=None),
            last_error=c.last_error,
            last_error_at=c.last_error_at,
            backlog=len(self._queue or ()),
            fetched=c.fetched,
            refused=c.refused,
            feeds=feeds,
        )

    # -- feeds -------------------------------------------------------------------

    def _feed(self, url: str) -> _FeedState:
        return self._counters.feeds.setdefault(url, _FeedState())

    async def _poll_feed(self, url: str) -> None:
        now = self._clock()
        state = self._feed(url)
        if now < state.next_attempt:
            return
        stored = await self._store.get_state(JMA_LAST_SUCCESS, url)
        if state.last_success is None and stored is not None:
            state.last_success = stored
        long_url = long_feed_url(url)
        backfill = long_url != url and (
            stored is None
            or now - stored > self._settings.backfill_after
            or await self._store.get_state(JMA_BACKFILL, url) is True
        )
        try:
            page = await self._read_feed(url)
        except _Failure as exc:
            self._feed_failed(url, exc, now)
            return
        entries = list(page.entries)
        long_page: _Page | None = None
        if backfill and now >= self._feed(long_url).next_attempt:
            try:
                long_page = await self._read_feed(long_url)
                entries += long_page.entries
            except _Failure as exc:
                self._feed_failed(long_url, exc, now)
        await self._discover(url, entries, now)
        # Only now that the entries are queued: a crash before here re-reads the feeds instead of skipping them.
        await self._remember(url, page)
        if long_page is not None:
            await self._remember(long_url, long_page)
            self._feed_ok(long_url, now)
        if backfill:
            await self._store.put_state(JMA_BACKFILL, url, long_page is None)
        await self._store.put_state(JMA_LAST_SUCCESS, url, now)
        self._feed_ok(url, now)

    async def _read_feed(self, url: str) -> _Page:
        headers: dict[str, str] = {}
        if last_modified := await self._store.get_state(JMA_LAST_MODIFIED, url):
            headers[hdrs.IF_MODIFIED_SINCE] = last_modified
        if etag := await self._store.get_state(JMA_ETAG, url):
            headers[hdrs.IF_NONE_MATCH] = etag
        status, data, validators, elapsed = await self._get(url, headers)
        if status == 304:
            log.debug("jma: feed %s not modified (%.3f s)", url, elapsed)
            return _Page((), {})
        try:
            if len(data) > PARSE_IN_THREAD:
                entries = await asyncio.to_thread(parse_feed, data)
            else:
                entries = parse_feed(data)
        except AtomError as exc:
            raise _Failure(f"bad feed: {exc}") from None
        log.debug("jma: feed %s: %d entries, %d bytes, %.3f s", url, len(entries), len(data), elapsed)
        return _Page(entries, validators)

    async def _remember(self, url: str, page: _Page) -> None:
        for namespace, value in page.validators.items():
            await self._store.put_state(namespace, url, value)

    def _feed_ok(self, url: str, now: float) -> None:
        state = self._feed(url)
        state.failures, state.next_attempt, state.last_success, state.last_error = 0, 0.0, now, None
        state.failing_since = None

    def _feed_failed(self, url: str, exc: _Failure, now: float) -> None:
        state = self._feed(url)
        state.failures += 1
        state.last_failure, state.failing_since = now, state.failing_since or now
        delay = self._backoff.delay(state.failures, self._rand(), exc.retry_after)
        state.next_attempt = now + delay
        state.last_error = str(exc)
        log.warning("jma: feed %s failed (%d in a row, next try in %.0f s): %s", url, state.failures, delay, exc)
        self._error(f"{url}: {exc}")

    def _error(self, text: str) -> None:
        self._counters.last_error, self._counters.last_error_at = text, self._clock()

    # -- discovery -----------------------------------------------------------------

    def wanted(self, url: str) -> bool:
        """Whether a data URL passes the type and office pre-filter (names that do not say are let through)."""
        kind, office = type_code(url), office_code(url)
        # An empty list in the config means "no filter"; an unreadable name is left for the parser to judge.
        # "ii" in a configured type stands for the two digits of the real one (VXKOii matches VXKO52).
        type_ok = not self._types or kind is None or kind in self._types or kind[:4] + "ii" in self._types
        office_ok = not self._offices or office is None or office in self._offices
        return type_ok and office_ok

    async def _discover(self, url: str, entries: Sequence[Entry], now: float) -> None:
        """Queue the wanted entries never seen before, oldest first, durably."""
        queue = self._queue
        assert queue is not None
        refused: dict[str, Entry] = {}
        candidates: dict[str, Entry] = {}
        state = self._feed(url)
        for entry in sorted(entries, key=lambda e: (e.updated, e.id)):
            if not self.wanted(entry.link):
                continue
            if why := refusal(entry.link, self._hosts):
                if entry.id not in state.known:  # said once per feed, not every minute
                    log.warning("jma: refused entry %s in %s: %s", entry.id, url, why)
                    self._counters.refused += 1
                    self._error(f"{url}: refused entry: {why}")
                refused[entry.id] = entry
                continue
            candidates.setdefault(entry.id, entry)
        unknown = [e for e in candidates.values() if e.id not in state.known and e.id not in queue]
        if unknown:
            # Write ahead: if we die between mark_seen's commit and the queue's, the entries are still queued.
            await self._save_queue({**queue, **{e.id: _Queued(e.link) for e in unknown}})
            new = set(await self._store.mark_seen(SEEN, [e.id for e in unknown], now))
            queue.update((e.id, _Queued(e.link)) for e in unknown if e.id in new)
            await self._save_queue(queue)
            if new:
                log.info("jma: %d new documents in %s", len(new), url)
        state.known = frozenset(candidates) | frozenset(refused)

    async def _load_queue(self) -> dict[str, _Queued]:
        items: dict[str, list[object]] = await self._store.get_state(JMA_QUEUE, QUEUE_KEY) or {}
        return {
            entry_id: _Queued(str(url), int(str(attempts)), float(str(next_attempt)))
            for entry_id, (url, attempts, next_attempt) in items.items()
        }

    async def _save_queue(self, queue: Mapping[str, _Queued]) -> None:
        raw = {entry_id: [q.url, q.attempts, q.next_attempt] for entry_id, q in queue.items()}
        await self._store.put_state(JMA_QUEUE, QUEUE_KEY, raw)

    # -- documents -----------------------------------------------------------------

    async def _fetch_queued(self) -> None:
        queue = self._queue
        assert queue is not None
        for entry_id, item in list(queue.items()):
            if item.next_attempt > self._clock():
                continue
            data = self._held.pop(entry_id, None)
            try:
                if data is None:
                    data = await self._download(item.url)
                await self._on_document(item.url, data)
            except _Failure as exc:
                await self._document_failed(entry_id, item, str(exc), give_up=exc.permanent)
                continue
            except Exception as exc:  # the pipeline failed on it: keep the bytes and try again later
                log.exception("jma: handling %s failed", item.url)
                if data is not None and sum(map(len, self._held.values())) + len(data) <= self._settings.max_bytes:
                    self._held[entry_id] = data
                await self._document_failed(entry_id, item, f"handling failed: {exc!r}", give_up=False)
                continue
            del queue[entry_id]
            await self._save_queue(queue)

    async def _download(self, url: str) -> bytes:
        _, data, _, elapsed = await self._get(url, {})
        self._counters.fetched += 1
        log.info("jma: fetched %s (%d bytes, %.3f s)", url, len(data), elapsed)
        return data

    async def _document_failed(self, entry_id: str, item: _Queued, reason: str, give_up: bool) -> None:
        queue = self._queue
        assert queue is not None
        item.attempts += 1
        self._error(f"{item.url}: {reason}")
        if give_up or item.attempts >= MAX_DOCUMENT_ATTEMPTS:
            log.error("jma: gave up %s after %d attempts: %s", item.url, item.attempts, reason)
            self._counters.refused += 1
            self._held.pop(entry_id, None)
            del queue[entry_id]
        else:
            delay = self._backoff.delay(item.attempts, self._rand())
            item.next_attempt = self._clock() + delay
            log.warning("jma: %s failed (attempt %d, next in %.0f s): %s", item.url, item.attempts, delay, reason)
        await self._save_queue(queue)

    # -- HTTP ----------------------------------------------------------------------

    async def _get(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes, dict[Namespace[str], str], float]:
        """GET with the timeout and size limit: (status 200 or 304, body, validators, seconds) or _Failure.

        Only https URLs on the allowed hosts are asked, and redirects are followed only to such URLs.
        """
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.timeout):
                for hop in range(MAX_REDIRECTS + 1):
                    if why := refusal(url, self._hosts):
                        raise _Failure(f"redirected: {why}" if hop else why, permanent=True)
                    get = self._session.get(url, headers=headers, allow_redirects=False, ssl=self._tls)
                    async with get as resp:
                        if resp.status in REDIRECTS and (location := resp.headers.get(hdrs.LOCATION)):
                            url = str(resp.url.join(URL(location)))
                            continue
                        if resp.status not in (200, 304):
                            raise _status_failure(resp)
                        data = b"" if resp.status == 304 else await _read_limited(resp, self._settings.max_bytes)
                        validators = {
                            namespace: value
                            for namespace, header in ((JMA_LAST_MODIFIED, hdrs.LAST_MODIFIED), (JMA_ETAG, hdrs.ETAG))
                            if (value := resp.headers.get(header))
                        }
                        return resp.status, data, validators, time.perf_counter() - started
                raise _Failure(f"more than {MAX_REDIRECTS} redirects", permanent=True)
        except TimeoutError:
            raise _Failure(f"no complete answer within {self._settings.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise _Failure(f"{type(exc).__name__}: {exc}") from None


def _status_failure(resp: aiohttp.ClientResponse) -> _Failure:
    retry_after = resp.headers.get(hdrs.RETRY_AFTER, "")
    permanent = 400 <= resp.status < 500 and resp.status not in (408, 425, 429)
    return _Failure(
        f"HTTP {resp.status} {resp.reason or ''}".strip(),
        permanent=permanent,
        retry_after=float(retry_after) if retry_after.isdigit() else None,
    )


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` (by header, or while reading)."""
    if resp.content_length is not None and resp.content_length > limit:
        resp.close()
        raise _Failure(f"too large: {resp.content_length:,} bytes announced, the limit is {limit:,}", permanent=True)
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            resp.close()  # drop the connection rather than drain the rest
            raise _Failure(f"too large: more than {limit:,} bytes", permanent=True)
    return bytes(body)
