"""The public website's pages, rendered from a Snapshot: what the routes serve and the export writes.

``render_site`` makes every page and feed as {path: bytes}; the routes render one page at a time with the
same functions. Served pages link from the site root (``/alerts/<id>``); exported pages link relatively
(``../../alerts/<id>/index.html``), so the export works in any folder of the city CMS, on any plain web
server, and from disk. The feeds and CAP documents carry absolute links from ``[city] public_url``.

Districts: every alert names its districts in words (or says 市内全域 for the whole city, where the city
has districts). ``/districts`` lists them and ``/districts/<id>`` shows one district's current and past
alerts, those for the whole city included; the current page takes ``?district=id`` when served (the
export has no query strings: its picker links to the district pages, which it writes too).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from broadcaster import clock, districts, naming, tags
from broadcaster.models import Alert, AlertId, Mode, Published
from broadcaster.on_air import STATUS_NAMES, Event, Snapshot, Status, headline
from broadcaster.rendering import TEMPLATES, Renderer, candidates
from broadcaster.settings import District, Settings
from channels.website.feeds import (
    alerts_atom,
    alerts_json,
    cap_atom,
    cap_document,
    concerns,
    current_in,
    event_concerns,
    whole_city,
)

CSS = TEMPLATES / "static" / "website.css"
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # ids that can be a file name in the export
WEEKDAYS = "月火水木金土日"
MEMO_LIMIT = 10_000  # articles and history rows kept (a few hundred bytes each): district pages repeat them
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

    def feed(self, name: str, district_id: str = "") -> str:
        """A feed at the root: alerts.atom, alerts.json, cap.atom; for one district when served."""
        if district_id and not self.exported:
            return f"{self.root}{name}?district={district_id}"
        return f"{self.root}{name}"

    @property
    def districts(self) -> str:
        """The list of districts."""
        return self._page("districts")

    def district(self, district_id: str) -> str:
        """One district's page."""
        return self._page(f"districts/{district_id}")

    def current_in(self, district_id: str) -> str:
        """The current page for one district; exported, the district's page (an export has no query strings)."""
        return self.district(district_id) if self.exported else f"{self.root}?district={district_id}"


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
        # by everything that shapes them: an alert version's words never change once carried
        self._memo: dict[tuple[Any, ...], Markup] = {}

    def _remember(self, key: tuple[Any, ...], make: Callable[[], Markup]) -> Markup:
        if key not in self._memo:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = make()
        return self._memo[key]

    def article(self, snap: Snapshot, alert: Alert, links: Links, heading: int = 2) -> Markup:
        """One alert version as an <article>: the website channel's own HTML template, with page extras."""
        key = ("article", alert.id, snap.by_id[alert.id][0].sent_at, snap.status(alert.id), links, heading)
        return self._remember(key, lambda: self._article(snap, alert, links, heading))

    def _article(self, snap: Snapshot, alert: Alert, links: Links, heading: int) -> Markup:
        p, _ = snap.by_id[alert.id]
        s = self.settings
        status = snap.status(alert.id)
        ctx = self.renderer.context(alert, "ja") | {
            "heading": heading,
            "href": links.alert(alert.id),
            "status": status.value,
            "status_name": STATUS_NAMES[status],
            "sent": jst(p.sent_at),
            "sent_iso": iso(p.sent_at),
            "expires": jst(alert.expires) if alert.expires is not None else "",
            "area_names": naming.place_names(alert.areas, s),  # in words, never JMA codes
            # each district by name, linking to its page; an alert for the whole city says so where there are districts
            "district_links": [(d.name, links.district(d.id)) for d in districts.chosen(alert.districts, s)],
            "whole_city_mark": bool(s.districts) and whole_city(alert, s),
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
            "has_districts": bool(self.settings.districts),
            "feed_district": "",  # a district's page offers that district's feeds
        } | extra
        return self.env.get_template(f"website/{name}.html.j2").render(ctx).encode()

    def current_page(self, snap: Snapshot, links: Links = SERVED, district: District | None = None) -> bytes:
        """``/``: the current alerts, most severe first; for ``district``, those for it and for the whole city."""
        events = current_in(snap, district, self.settings)
        articles = [self.article(snap, e.latest.alert, links) for e in events]
        exercises = sum(1 for e in events if e.latest.alert.mode == Mode.EXERCISE)
        return self._page(
            "page-current",
            snap,
            links,
            articles=articles,
            exercises=exercises,
            page="current",
            district=district,
            picker=self._picker(links, district),
            feed_district=district.id if district is not None else "",
        )

    def _picker(self, links: Links, chosen: District | None) -> list[dict[str, Any]]:
        """The districts to filter the current page by, as links; [] where the city has none."""
        return [
            {"name": d.name, "href": links.current_in(d.id), "chosen": chosen is not None and d.id == chosen.id}
            for d in self.settings.districts
        ]

    def history_page(self, snap: Snapshot, links: Links = SERVED) -> bytes:
        """``/alerts/history``: every event of the history window, newest first."""
        rows = [self.history_row(e, links) for e in snap.events]
        return self._page("page-history", snap, links, rows=rows, page="history")

    def districts_page(self, snap: Snapshot, links: Links = SERVED) -> bytes | None:
        """``/districts``: every district with its current alerts counted; None where the city has none."""
        if not self.settings.districts:
            return None
        rows = [
            {
                "name": d.name,
                "reading": d.reading,
                "href": links.district(d.id),
                "current": len(current_in(snap, d, self.settings)),
            }
            for d in self.settings.districts
        ]
        return self._page("page-districts", snap, links, rows=rows, page="districts")

    def district_page(self, snap: Snapshot, district_id: str, links: Links = SERVED) -> bytes | None:
        """``/districts/<id>``: the district's current and past alerts, the whole city's too; None for an unknown id."""
        district = self.settings.district(district_id)
        if district is None:
            return None
        current = current_in(snap, district, self.settings)
        articles = [self.article(snap, e.latest.alert, links, heading=3) for e in current]
        # every other event that concerned it in the window: over, or since moved to other districts
        past = [
            e
            for e in snap.events
            if event_concerns(e, district, self.settings)
            and not (e.status == Status.CURRENT and concerns(e.latest.alert, district, self.settings))
        ]
        return self._page(
            "page-district",
            snap,
            links,
            page="districts",
            district=district,
            articles=articles,
            exercises=sum(1 for e in current if e.latest.alert.mode == Mode.EXERCISE),
            rows=[self.history_row(e, links, heading=3) for e in past],
            feed_district=district.id,
        )

    def history_row(self, event: Event, links: Links, heading: int = 2) -> Markup:
        """One past event as a list item, its title a heading of level ``heading``."""
        latest = event.latest
        key = ("row", latest.alert.id, latest.sent_at, event.status, len(event.versions), links, heading)
        template = self.env.get_template("website/_history_row.html.j2")
        return self._remember(key, lambda: Markup(template.render(row=self._row(event, links), hn=heading)))

    def _row(self, event: Event, links: Links) -> dict[str, Any]:
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
            # in words; "" where the city has no districts
            "places": self._places(shown) if self.settings.districts else "",
            "whole_city": whole_city(shown, self.settings),
        }

    def _places(self, alert: Alert) -> str:
        if whole_city(alert, self.settings):
            return districts.WHOLE_CITY_JA
        return districts.names(alert.districts, self.settings)

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
    snap: Snapshot,
    settings: Settings,
    renderer: Renderer,
    cache: dict[tuple[Any, ...], bytes] | None = None,
    site: SiteRenderer | None = None,
) -> Pages:
    """Every page and feed of the static export, as {relative path: bytes}.

    ``cache`` (kept by the caller between exports) holds alert pages and CAP documents by what they
    are made of, and ``site`` (kept too) the articles and history rows, so an export renders only what
    changed rather than the whole history every time, and the district pages cost little more.
    """
    cache = {} if cache is None else cache
    site = SiteRenderer(settings, renderer) if site is None else site
    top, deep = Links("", exported=True), Links("../../", exported=True)
    pages: Pages = {
        "index.html": site.current_page(snap, top),
        "alerts/history/index.html": site.history_page(snap, deep),
        "alerts.atom": alerts_atom(snap, settings),
        "alerts.json": alerts_json(snap, settings),
        "cap.atom": cap_atom(snap, settings),
        "static/website.css": CSS.read_bytes(),
    }
    index = site.districts_page(snap, Links("../", exported=True))
    if index is not None:  # a city without districts has no district pages
        pages["districts/index.html"] = index
    for district in settings.districts:  # ids are [a-z][a-z0-9_-]*: always a safe folder name
        page = site.district_page(snap, district.id, deep)
        if page is not None:
            pages[f"districts/{district.id}/index.html"] = page
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
