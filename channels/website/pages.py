"""The public website's pages, rendered from a Snapshot: what the routes serve and the export writes.

``render_site`` makes every page and feed as {path: bytes}; the routes render one page at a time with the
same functions. Served pages link from the site root (``/alerts/<id>``); exported pages link relatively
(``../../alerts/<id>/index.html``), so the export works in any folder of the city CMS, on any plain web
server, and from disk. The feeds and CAP documents carry absolute links from ``[city] public_url``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from broadcaster import clock, naming, tags
from broadcaster.models import Alert, AlertId, Mode, Published
from broadcaster.on_air import STATUS_NAMES, Event, Snapshot, headline
from broadcaster.rendering import TEMPLATES, Renderer, candidates
from broadcaster.settings import Settings
from channels.website.feeds import alerts_atom, alerts_json, cap_atom, cap_document

CSS = TEMPLATES / "static" / "website.css"
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # ids that can be a file name in the export
WEEKDAYS = "月火水木金土日"
Pages = dict[str, bytes]


@dataclass(frozen=True, slots=True)
class Links:
    """Where a page's links point: from the site root when served, relative when exported."""

    root: str  # "/" when served; "", "../../" … from an exported page to the export's root
    exported: bool = False

    def _page(self, path: str) -> str:
        return f"{self.root}{path}/index.html" if self.exported else f"{self.root}{path}"

    @property
    def home(self) -> str:
        """The current alerts."""
        return f"{self.root}index.html" if self.exported else self.root

    @property
    def history(self) -> str:
        """The past alerts."""
        return self._page("alerts/history")

    @property
    def css(self) -> str:
        """The stylesheet."""
        return f"{self.root}static/website.css"

    def alert(self, alert_id: AlertId) -> str:
        """One alert's page."""
        return self._page(f"alerts/{alert_id}")

    def cap(self, alert_id: AlertId) -> str:
        """One alert's CAP document."""
        return f"{self.root}cap/{alert_id}.xml"

    def feed(self, name: str) -> str:
        """A feed at the root: alerts.atom, alerts.json, cap.atom."""
        return f"{self.root}{name}"


SERVED = Links("/")


def readable_on(colour: str) -> str:
    """Black or white text, whichever has the better contrast on ``colour`` (#rrggbb)."""

    def lum(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    y = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b)
    return "#000000" if (y + 0.05) / 0.05 >= 1.05 / (y + 0.05) else "#ffffff"


def level_css(settings: Settings) -> str:
    """The level colours from config as CSS; the badge always carries the level's name too."""
    rules = []
    for info in settings.levels:
        fg = readable_on(info.colour)
        rules.append(
            f".level-{info.level} .level-badge {{ background: {info.colour}; color: {fg}; }}\n"
            f".alert.level-{info.level} {{ border-left-color: {info.colour}; }}"
        )
    return "\n".join(rules)


def jst(timestamp: float) -> str:
    """A time as residents read it: 2026年11月29日(日) 17:16."""
    t = clock.jst(timestamp)
    return f"{t.year}年{t.month}月{t.day}日({WEEKDAYS[t.weekday()]}) {t.hour:02d}:{t.minute:02d}"


def iso(timestamp: float) -> str:
    """A time for <time datetime>: JST with its offset."""
    return clock.iso_jst(timestamp)


class SiteRenderer:
    """Renders the website's pages with the project's templates (autoescaped)."""

    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.renderer = renderer
        self.env: jinja2.Environment = renderer.env
        self.css = level_css(settings)

    def article(self, snap: Snapshot, alert: Alert, links: Links, heading: int = 2) -> Markup:
        """One alert version as an <article>: the website channel's own HTML template, with page extras."""
        p, _ = snap.by_id[alert.id]
        status = snap.status(alert.id)
        ctx = self.renderer.context(alert, "ja") | {
            "heading": heading,
            "href": links.alert(alert.id),
            "status": status.value,
            "status_name": STATUS_NAMES[status],
            "sent": jst(p.sent_at),
            "sent_iso": iso(p.sent_at),
            "expires": jst(alert.expires) if alert.expires is not None else "",
            "places": naming.place_names(alert.areas, self.settings),  # in words, never JMA codes
        }
        template = self.env.select_template(candidates("website", alert, "ja", "html.j2"))
        return Markup(template.render(ctx))

    def _page(self, name: str, snap: Snapshot, links: Links, **extra: Any) -> bytes:
        ctx = {
            "city": self.settings.city,
            "links": links,
            "level_css": self.css,
            "updated": jst(snap.now),
            "updated_iso": iso(snap.now),
            "history_days": self.settings.website.history_days,
            "show_exercises": self.settings.website.show_exercises,
        } | extra
        return self.env.get_template(f"website/{name}.html.j2").render(ctx).encode()

    def current_page(self, snap: Snapshot, links: Links = SERVED) -> bytes:
        """``/``: the current alerts, most severe first."""
        articles = [self.article(snap, e.latest.alert, links) for e in snap.current]
        exercises = sum(1 for e in snap.current if e.latest.alert.mode == Mode.EXERCISE)
        return self._page("page-current", snap, links, articles=articles, exercises=exercises, page="current")

    def history_page(self, snap: Snapshot, links: Links = SERVED) -> bytes:
        """``/alerts/history``: every event of the history window, newest first."""
        rows = [self._history_row(e, links) for e in snap.events]
        return self._page("page-history", snap, links, rows=rows, page="history")

    def _history_row(self, event: Event, links: Links) -> dict[str, Any]:
        shown = event.shown
        return {
            "href": links.alert(event.latest.alert.id),
            "title": tags.headline(shown, self.settings, badged=False),  # the badge is shown beside it
            "status": event.status.value,
            "status_name": STATUS_NAMES[event.status],
            "level": shown.level,
            "level_name": tags.badge(shown, self.settings),  # "" for none: level 0 has no name
            "exercise": shown.mode == Mode.EXERCISE,
            "sent": jst(event.sent_at),
            "sent_iso": iso(event.sent_at),
            "versions": len(event.versions),
        }

    def alert_page(self, snap: Snapshot, alert_id: AlertId, links: Links = SERVED) -> bytes | None:
        """``/alerts/<id>``: one carried alert version, its event's course, its translations; None if not shown."""
        if alert_id not in snap.by_id:
            return None
        p, event = snap.by_id[alert_id]
        alert = p.alert
        status = snap.status(alert_id)
        course = [self._version(v, links, v.alert.id == alert_id) for v in event.versions]
        # each translation's title after its tags in that language ([EXERCISE] [CORRECTION] …)
        translations = [
            (lang, dataclasses.replace(alert.text(lang), title=tags.headline(alert, self.settings, lang)))
            for lang in alert.languages
            if lang != "ja"
        ]
        return self._page(
            "page-alert",
            snap,
            links,
            page="alert",
            alert=alert,
            title=headline(alert, self.settings),
            article=self.article(snap, alert, links, heading=1),
            status=status.value,
            status_name=STATUS_NAMES[status],
            latest_href=links.alert(event.latest.alert.id),
            cancelled_at=jst(event.cancelled_at) if event.cancelled_at is not None else "",
            course=course,
            translations=translations,
            cap_href=links.cap(alert_id),
            sender=naming.sender_name(alert, self.settings),  # 発信者: never empty
            exercise=alert.mode == Mode.EXERCISE,
            # the event's last change, not the snapshot's time: a page that did not change stays byte-identical
            updated=jst(event.sent_at),
            updated_iso=iso(event.sent_at),
        )

    def _version(self, p: Published, links: Links, this: bool) -> dict[str, Any]:
        return {
            "href": links.alert(p.alert.id),
            "title": headline(p.alert, self.settings),
            "sent": jst(p.sent_at),
            "sent_iso": iso(p.sent_at),
            "this": this,
        }


def render_site(
    snap: Snapshot, settings: Settings, renderer: Renderer, cache: dict[tuple[Any, ...], bytes] | None = None
) -> Pages:
    """Every page and feed of the static export, as {relative path: bytes}.

    ``cache`` (kept by the caller between exports) holds alert pages and CAP documents by what they
    are made of, so an export renders only what changed rather than the whole history every time.
    """
    cache = {} if cache is None else cache
    site = SiteRenderer(settings, renderer)
    top, deep = Links("", exported=True), Links("../../", exported=True)
    pages: Pages = {
        "index.html": site.current_page(snap, top),
        "alerts/history/index.html": site.history_page(snap, deep),
        "alerts.atom": alerts_atom(snap, settings),
        "alerts.json": alerts_json(snap, settings),
        "cap.atom": cap_atom(snap, settings),
        "static/website.css": CSS.read_bytes(),
    }
    for alert_id in snap.by_id:
        if not SAFE_ID.fullmatch(alert_id):  # never a path outside the export; such an id is only served
            continue
        p, event = snap.by_id[alert_id]
        versions = tuple((v.alert.id, v.sent_at) for v in event.versions)
        page_key = ("page", alert_id, snap.status(alert_id), event.status, versions)
        cap_key = ("cap", alert_id, tuple(a.id for a in snap.earlier(p.alert)))
        page = cache.get(page_key) or site.alert_page(snap, alert_id, deep)
        cap = cache.get(cap_key) or cap_document(snap, settings, alert_id)
        if page is not None and cap is not None:
            cache[page_key], cache[cap_key] = page, cap
            pages[f"alerts/{alert_id}/index.html"] = page
            pages[f"cap/{alert_id}.xml"] = cap
    return pages
