"""The city website: the pages the service serves, and a static export of them for the city CMS.

Publishing needs no credentials. The served pages read ``store.published("website", …)``, so an alert
is on them once its delivery row is 'sent', that is, once send() has returned. With
``[website] export_dir`` set, send() also writes the whole site (the same pages and feeds, see
broadcaster/site.py) into that folder, with the alert being sent already on it.

With every language the export holds ten times the pages, so it is written in two steps. Before send()
returns, the feeds, the CAP documents, every alert's page in every language and the Japanese list pages
(current, history, districts): the alert is on the site, and its page is there in each language that
links to it (a LINE broadcast, an SNS reply, a mail). Just after, in the background and under the same
lock (so before any later export), the whole site again, every language's list pages included, which
also prunes what left the site. ``settled()`` waits for that step; ``aclose()`` does too. A step that
fails is retried every RETRY_S seconds until it is written, and the next send writes it anyway.

The export is idempotent, like every broadcast channel: it writes the site as it is, so a retry or
a restart that sends the same alert again writes the same files. Each file goes to a temporary name
in its folder and is moved into place with os.replace, so a reader (or a crash) never sees half a
file; alert pages and CAP documents go first and the pages that link to them last. Files that did not
change are left alone. Pages and CAP documents of alerts the site no longer shows are removed, and so
are the pages of districts no longer configured. The district pages (``districts/<id>/index.html``) are
written with the linking pages, after the alert pages they link to.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.files import write_atomic
from broadcaster.models import Alert, Message, Recipients
from broadcaster.on_air import Snapshot, load_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from channels.website.pages import SiteRenderer, render_site
from channels.website.render import NAME, WebsiteRenderer

log = logging.getLogger("broadcaster.channels.website")
CLOSE_TIMEOUT_S = 10.0  # seconds aclose() gives the background step to finish
RETRY_S = 30.0  # seconds before the background step is tried again after a write failed
CACHE_LIMIT = 10_000  # rendered documents kept between exports: a CAP document and a page per language per alert
# written first: what the other pages link to (an alert's page in any language, its CAP document, the stylesheet)
LINKED = re.compile(r"^(?:cap/|static/|(?:[^/]+/)?alerts/(?!history/)[^/]+/index\.html$)")


class WebsiteChannel:
    """Publishes alerts on the city website; send() refreshes the static export when there is one."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        store: Store | None,
        export_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.renderer = WebsiteRenderer(renderer)
        self._templates = renderer  # the pages' and feeds' renderer, for the export
        self.store = store
        self.export_dir = export_dir
        self.clock = clock
        self._lock = asyncio.Lock()  # one export at a time: a later snapshot never loses to an earlier one
        self._rendered: dict[tuple[Any, ...], bytes] = {}  # alert pages and CAP documents, by what made them
        self._site = SiteRenderer(settings, renderer)  # keeps the articles and history rows it rendered
        self._written: dict[Path, bytes] = {}  # what this process last wrote to each file: unchanged ones are not read
        self._latest: Snapshot | None = None  # the last snapshot written in part: the background step writes it whole
        self._catching_up: asyncio.Task[None] | None = None

    def render(self, alert: Alert, lang: str) -> Message:
        """The alert as the website shows it (Message.html is its <article>)."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Publish: the pages read the store; write the static export when one is configured."""
        if self.export_dir is None:
            return
        if self.store is None:
            raise PermanentError("the website export needs the store")
        alert = await self.store.get_alert(message.alert_id)
        if alert is None:
            raise PermanentError(f"no alert {message.alert_id} in the store")
        async with self._lock:
            snapshot = await load_snapshot(self.store, self.settings, self.clock(), sending=alert)
            if len(self._rendered) > CACHE_LIMIT:
                self._rendered.clear()
            try:
                # rendering takes a while: in a thread, so that the other channels' sends on this event loop
                # are not held up behind it (one export at a time, under the lock)
                await asyncio.to_thread(self._export, snapshot, self.export_dir, False)
            except OSError as exc:
                raise TransientError(f"website export to {self.export_dir} failed: {exc.strerror or exc}") from exc
            self._latest = snapshot
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up(self.export_dir), name="website-export")

    def _export(self, snapshot: Snapshot, folder: Path, whole: bool) -> None:
        lists = None if whole else ("ja",)
        pages = render_site(snapshot, self.settings, self._templates, self._rendered, self._site, lists)
        # only a whole export prunes: a part must not take away the pages it left out
        write_export(folder, pages, tuple(self.settings.phrasebook.languages), self._written, prune=whole)

    async def _catch_up(self, folder: Path) -> None:
        """Write the newest snapshot whole (every language's lists, pruned), until one is written."""
        while self._latest is not None:
            async with self._lock:
                snapshot, self._latest = self._latest, None
                try:
                    await asyncio.to_thread(self._export, snapshot, folder, True)
                except OSError as exc:
                    log.warning("website export to %s failed, retried in %.0f s: %s", folder, RETRY_S, exc)
                    self._latest = snapshot  # under the lock: no send has put a newer one meanwhile
                    failed = True
                else:
                    failed = False
            if failed:
                await asyncio.sleep(RETRY_S)

    async def settled(self) -> None:
        """Wait until the export is whole: every language's list pages written after the last send."""
        while self._catching_up is not None and not self._catching_up.done():
            await asyncio.shield(self._catching_up)

    async def aclose(self) -> None:
        """Finish the export's background step (or give it up when cancelled)."""
        if self._catching_up is not None and not self._catching_up.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._catching_up), CLOSE_TIMEOUT_S)
            except TimeoutError:
                self._catching_up.cancel()


def write_export(
    folder: Path,
    pages: Mapping[str, bytes],
    languages: Iterable[str] = (),
    written: dict[Path, bytes] | None = None,
    prune: bool = True,
) -> None:
    """Write ``pages`` under ``folder`` atomically, file by file, linking pages last; prune what left the site.

    ``languages`` are the codes whose folders hold the site's pages (every language the phrasebook knows),
    so the pages of a language no longer offered go too, and nothing else of the CMS's is touched.
    ``written`` (kept by the caller) holds what was last written to each file, so that a page that did
    not change since is neither read back nor written: with every language, most of an export's pages.
    """
    written = {} if written is None else written
    order = sorted(pages, key=lambda path: (not LINKED.match(path), path))
    for path in order:
        target = folder / path
        if written.get(target) != pages[path] or not target.exists():  # a page the CMS removed comes back
            _write_atomic(target, pages[path])
            written[target] = pages[path]
    if not prune:
        return
    stale: list[Path] = [*folder.glob("cap/*.xml")]
    for top in ["", *(f"{lang}/" for lang in languages if lang != "ja")]:
        # a district taken out of the config leaves too (its page before the list, so the emptied folder goes)
        stale += folder.glob(f"{top}alerts/*/index.html")  # a language's history page too
        stale += [*folder.glob(f"{top}districts/*/index.html"), *folder.glob(f"{top}districts/index.html")]
        if top:
            stale += folder.glob(f"{top}index.html")
    for gone in dict.fromkeys(stale):
        if gone.relative_to(folder).as_posix() not in pages:
            gone.unlink(missing_ok=True)
            written.pop(gone, None)
            if gone.name == "index.html" and gone.parent != folder and not any(gone.parent.iterdir()):
                gone.parent.rmdir()


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    # no fsync: the rename alone keeps readers from ever seeing half a file, and every send rewrites
    # whatever changed, so a page lost to a power cut comes back with the next alert (measured: the
    # fsyncs were most of a send's time, bench/broadcast_latency.py)
    write_atomic(path, data, public=True)  # the public site: the umask's permissions


def create(ctx: ChannelContext) -> WebsiteChannel:
    """The website channel; it needs no credentials. A bad ``[website] export_dir`` is a ConfigError."""
    configured = ctx.settings.website.export_dir
    export_dir = ctx.settings.path(configured) if configured else None
    if export_dir is not None and export_dir.exists() and not export_dir.is_dir():
        raise ConfigError(f"website.export_dir: {export_dir} exists and is not a folder")
    return WebsiteChannel(ctx.settings, ctx.renderer, ctx.store, export_dir)
