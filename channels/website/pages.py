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
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from broadcaster import clock, districts, furigana, names, naming, tags
from broadcaster.models import Alert, AlertId, Mode, Published
from broadcaster.on_air import STATUS_NAMES, Event, Snapshot, Status
from broadcaster.phrasebook import Language
from broadcaster.rendering import TEMPLATES, Renderer
from broadcaster.settings import District, Settings
from channels.website import words
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
from channels.website.render import article, translated
from channels.website.words import Words

CSS = TEMPLATES / "static" / "website.css"
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # ids that can be a file name in the export
MEMO_LIMIT = 10_000  # articles and history rows kept (a few hundred bytes each): district pages repeat them
Pages = dict[str, bytes]


@dataclass(frozen=True, slots=True)
class Links:
    """Where a page's links point: from the site root when served, relative when exported; in one language.

    Japanese pages are at the root (``/alerts/<id>``), every other language's under its code
    (``/en/alerts/<id>``); the stylesheet, the feeds and the CAP documents are one for all languages.
    """

    root: str  # "/" when served; "", "../../" … from an exported page to the export's root
    exported: bool = False
    lang: str = "ja"  # the language of the pages linked to

    @property
    def prefix(self) -> str:
        """The language's folder: "" for Japanese, "en/" …"""
        return "" if self.lang == "ja" else f"{self.lang}/"

    def in_lang(self, lang: str) -> Links:
        """The same links, to the pages in ``lang``."""
        return dataclasses.replace(self, lang=lang)

    def _page(self, path: str) -> str:
        page = f"{self.root}{self.prefix}{path}"
        return f"{page}/index.html" if self.exported else page

    @property
    def home(self) -> str:
        """The current alerts."""
        return f"{self.root}{self.prefix}index.html" if self.exported else f"{self.root}{self.prefix}"

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
        return self.district(district_id) if self.exported else f"{self.home}?district={district_id}"


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
    """A time as Japanese residents read it: 2026年11月29日(日) 17:16."""
    return words.when(timestamp, None, "ja")


def iso(timestamp: float) -> str:
    """A time for <time datetime>: JST with its offset."""
    return clock.iso_jst(timestamp)


class SiteRenderer:
    """Renders the website's pages with the project's templates (autoescaped), each in any offered language.

    The language of a page is its Links' (``links.lang``): every method renders in it.
    """

    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.renderer = renderer
        self.env: jinja2.Environment = renderer.env
        self.css = level_css(settings)
        self.book = settings.phrasebook
        # by everything that shapes them: an alert version's words never change once carried
        self._memo: dict[tuple[Any, ...], Markup] = {}
        self._towns_written: dict[tuple[str, str], str] = {}

    def _remember(self, key: tuple[Any, ...], make: Callable[[], Markup]) -> Markup:
        if key not in self._memo:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = make()
        return self._memo[key]

    def language(self, lang: str) -> Language:
        """The Language of ``lang`` (Japanese for one the phrasebook lacks)."""
        return self.book.languages.get(lang) or self.book.languages["ja"]

    def _when(self, timestamp: float, lang: str) -> str:
        return words.when(timestamp, self.settings, lang)

    def _naming_lang(self, lang: str) -> str:
        # やさしい日本語 names places as Japanese does
        return "ja" if self.language(lang).japanese else lang

    def status_name(self, status: Status, lang: str) -> str:
        """発表中, "In effect" …"""
        return STATUS_NAMES[status] if lang == "ja" else Words(lang).plain(f"status_{status.value}")

    def article(self, snap: Snapshot, alert: Alert, links: Links, heading: int = 2) -> Markup:
        """One alert version as an <article> in the links' language, with page extras."""
        key = ("article", alert.id, snap.by_id[alert.id][0].sent_at, snap.status(alert.id), links, heading)
        return self._remember(key, lambda: self._article(snap, alert, links, heading))

    def _article(self, snap: Snapshot, alert: Alert, links: Links, heading: int) -> Markup:
        p, _ = snap.by_id[alert.id]
        s, lang = self.settings, links.lang
        status = snap.status(alert.id)
        return article(
            self.renderer,
            alert,
            lang,
            heading=heading,
            href=links.alert(alert.id),
            status=status.value,
            status_name=self.status_name(status, lang),
            sent=self._when(p.sent_at, lang),
            sent_iso=iso(p.sent_at),
            expires=self._when(alert.expires, lang) if alert.expires is not None else "",
            area_names=naming.place_names(alert.areas, s, self._naming_lang(lang)),  # in words, never JMA codes
            # each district by name, linking to its page; an alert for the whole city says so where there are districts
            district_links=[(d.name_in(lang), links.district(d.id)) for d in districts.chosen(alert.districts, s)],
            whole_city_mark=bool(s.districts) and whole_city(alert, s),
            japanese_href=links.in_lang("ja").alert(alert.id),
        )

    def _page(self, name: str, snap: Snapshot, links: Links, here: Callable[[Links], str], **extra: Any) -> bytes:
        """Render page ``name``; ``here`` gives this page's address in any language (the switch, hreflang)."""
        lang = links.lang
        said = Words(lang)
        book_lang = self.book.own(lang)
        offered = [self.language(code) for code in self.settings.city.languages]
        ctx = {
            "city": self.settings.city,
            "city_name": self.settings.city.name_in(lang),
            "language": self.language(lang),
            "words": said,
            "t": said.say,
            "tt": said.plain,
            "w": functools.partial(self.book.word, book_lang),
            "tag": lambda key: tags.bracket([self.book.word(book_lang, key)], lang, self.settings),
            "alternates": [(other, here(links.in_lang(other.code))) for other in offered],
            "x_default": here(links.in_lang("ja")),
            "links": links,
            "level_css": self.css,
            "updated": self._when(snap.now, lang),
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

        def here(other: Links) -> str:
            return other.current_in(district.id) if district is not None else other.home

        return self._page(
            "page-current",
            snap,
            links,
            here,
            articles=articles,
            exercises=exercises,
            page="current",
            district=district,
            district_name=district.name_in(links.lang) if district is not None else "",
            picker=self._picker(links, district),
            feed_district=district.id if district is not None else "",
        )

    def _picker(self, links: Links, chosen: District | None) -> list[dict[str, Any]]:
        """The districts to filter the current page by, as links; [] where the city has none."""
        return [
            {
                "name": d.name_in(links.lang),
                "href": links.current_in(d.id),
                "chosen": chosen is not None and d.id == chosen.id,
            }
            for d in self.settings.districts
        ]

    def history_page(self, snap: Snapshot, links: Links = SERVED) -> bytes:
        """``/alerts/history``: every event of the history window, newest first."""
        rows = [self.history_row(e, links) for e in snap.events]
        return self._page("page-history", snap, links, lambda other: other.history, rows=rows, page="history")

    def districts_page(self, snap: Snapshot, links: Links = SERVED) -> bytes | None:
        """``/districts``: every district with its current alerts counted; None where the city has none."""
        if not self.settings.districts:
            return None
        japanese = self.language(links.lang).japanese
        rows = [
            {
                "name": d.name_in(links.lang),
                "name_ja": d.name,  # beside a translated name: the name on the city's signs
                "reading": d.reading,
                "japanese": japanese,
                "href": links.district(d.id),
                "current": len(current_in(snap, d, self.settings)),
            }
            for d in self.settings.districts
        ]
        return self._page("page-districts", snap, links, lambda other: other.districts, rows=rows, page="districts")

    def district_page(self, snap: Snapshot, district_id: str, links: Links = SERVED) -> bytes | None:
        """``/districts/<id>``: the district's current and past alerts, the whole city's too; None for an unknown id."""
        district = self.settings.district(district_id)
        if district is None:
            return None
        current = current_in(snap, district, self.settings)
        articles = [self.article(snap, e.latest.alert, links, heading=3) for e in current]
        concerning = [e for e in snap.events if event_concerns(e, district, self.settings)]
        # every other event that concerned it in the window: over, or since moved to other districts
        past = [
            e
            for e in concerning
            if not (e.status == Status.CURRENT and concerns(e.latest.alert, district, self.settings))
        ]
        # its events' last change, not the snapshot's time: a page that did not change stays byte-identical
        updated = max((e.sent_at for e in concerning), default=snap.now)
        return self._page(
            "page-district",
            snap,
            links,
            lambda other: other.district(district.id),
            page="districts",
            district=district,
            district_name=district.name_in(links.lang),
            towns=self._towns(district, links.lang),
            articles=articles,
            exercises=sum(1 for e in current if e.latest.alert.mode == Mode.EXERCISE),
            rows=[self.history_row(e, links, heading=3) for e in past],
            feed_district=district.id,
            updated=self._when(updated, links.lang),
            updated_iso=iso(updated),
        )

    def district_made_of(self, snap: Snapshot, district: District) -> tuple[Any, ...]:
        """What a district's page is made of: the export renders it again only when this changes."""
        concerning = [e for e in snap.events if event_concerns(e, district, self.settings)]
        made = tuple((e.latest.alert.id, e.latest.sent_at, e.status, len(e.versions)) for e in concerning)
        return made if made else (snap.now,)  # a page with no events says when it was made

    def _towns(self, district: District, lang: str) -> str:
        """The district's 町・大字 in words of ``lang`` (romanised from the postal data's readings)."""
        key = (district.id, lang)
        if key not in self._towns_written:  # a postal-data lookup and a romanisation per town: done once
            self._towns_written[key] = self._write_towns(district, lang)
        return self._towns_written[key]

    def _write_towns(self, district: District, lang: str) -> str:
        if not district.towns:
            return ""
        joiner = self.book.word(lang, "list_joiner")
        if self.language(lang).japanese:
            return joiner.join(district.towns)
        index = districts.town_index(self.settings)
        written = []
        for name in district.towns:
            town = index.get(name)
            written.append(names.written(self.book, "town", name, lang, town.kana if town else ""))
        return joiner.join(written)

    def history_row(self, event: Event, links: Links, heading: int = 2) -> Markup:
        """One past event as a list item, its title a heading of level ``heading``."""
        latest = event.latest
        key = ("row", latest.alert.id, latest.sent_at, event.status, len(event.versions), links, heading)
        template = self.env.get_template("website/_history_row.html.j2")
        said = Words(links.lang)
        return self._remember(
            key,
            lambda: Markup(
                template.render(
                    row=self._row(event, links),
                    hn=heading,
                    t=said.say,
                    w=functools.partial(self.book.word, links.lang),
                )
            ),
        )

    def _row(self, event: Event, links: Links) -> dict[str, Any]:
        shown, lang = event.shown, links.lang
        book_lang = self.book.own(lang)
        return {
            "href": links.alert(event.latest.alert.id),
            "title": tags.headline(shown, self.settings, lang, badged=False),  # the badge is shown beside it
            "translated": translated(shown, lang),
            "status": event.status.value,
            "status_name": self.status_name(event.status, lang),
            "level": shown.level,
            "level_name": tags.badge(shown, self.settings, lang),  # "" for none: level 0 has no name
            "exercise": shown.mode == Mode.EXERCISE,
            "exercise_word": self.book.word(book_lang, "tag_exercise"),
            "sent": self._when(event.sent_at, lang),
            "sent_iso": iso(event.sent_at),
            "versions": len(event.versions),
            # in words; "" where the city has no districts
            "places": self._places(shown, lang) if self.settings.districts else "",
            "whole_city": whole_city(shown, self.settings),
        }

    def _places(self, alert: Alert, lang: str) -> str:
        if whole_city(alert, self.settings):
            return districts.whole_city(self.settings, lang)
        return districts.names(alert.districts, self.settings, lang)

    def alert_page(self, snap: Snapshot, alert_id: AlertId, links: Links = SERVED) -> bytes | None:
        """``/alerts/<id>``: one carried alert version in the links' language, and its course; None if not shown."""
        if alert_id not in snap.by_id:
            return None
        p, event = snap.by_id[alert_id]
        alert, lang = p.alert, links.lang
        status = snap.status(alert_id)
        course = [self._version(v, links, v.alert.id == alert_id) for v in event.versions]
        return self._page(
            "page-alert",
            snap,
            links,
            lambda other: other.alert(alert_id),
            page="alert",
            alert=alert,
            title=furigana.plain(tags.headline(alert, self.settings, lang)),
            article=self.article(snap, alert, links, heading=1),
            status=status.value,
            latest_href=links.alert(event.latest.alert.id),
            cancelled_at=self._when(event.cancelled_at, lang) if event.cancelled_at is not None else "",
            course=course,
            cap_href=links.cap(alert_id),
            sender=naming.sender_name(alert, self.settings, self._naming_lang(lang)),  # 発信者: never empty
            exercise=alert.mode == Mode.EXERCISE,
            # the event's last change, not the snapshot's time: a page that did not change stays byte-identical
            updated=self._when(event.sent_at, lang),
            updated_iso=iso(event.sent_at),
        )

    def _version(self, p: Published, links: Links, this: bool) -> dict[str, Any]:
        return {
            "href": links.alert(p.alert.id),
            "title": tags.headline(p.alert, self.settings, links.lang),
            "sent": self._when(p.sent_at, links.lang),
            "sent_iso": iso(p.sent_at),
            "this": this,
        }


def _folder(lang: str) -> str:
    """Where a language's pages sit in the export: Japanese at the top, others in their folder."""
    return "" if lang == "ja" else f"{lang}/"


def render_site(
    snap: Snapshot,
    settings: Settings,
    renderer: Renderer,
    cache: dict[tuple[Any, ...], bytes] | None = None,
    site: SiteRenderer | None = None,
    lists: Iterable[str] | None = None,
) -> Pages:
    """Every page and feed of the static export, as {relative path: bytes}, each page in every offered language.

    ``cache`` (kept by the caller between exports) holds alert pages and CAP documents by what they
    are made of, and ``site`` (kept too) the articles and history rows, so an export renders only what
    changed rather than the whole history every time, and the district pages cost little more.
    ``lists``: the languages whose list pages (current, history, districts) to render (default: every
    offered one); every alert page, feed and CAP document is rendered whatever it says.
    """
    cache = {} if cache is None else cache
    site = SiteRenderer(settings, renderer) if site is None else site
    pages: Pages = {
        "alerts.atom": alerts_atom(snap, settings),
        "alerts.json": alerts_json(snap, settings),
        "cap.atom": cap_atom(snap, settings),
        "static/website.css": CSS.read_bytes(),
    }
    for alert_id in snap.by_id:
        if not SAFE_ID.fullmatch(alert_id):  # never a path outside the export; such an id is only served
            continue
        p, _ = snap.by_id[alert_id]
        cap_key = ("cap", alert_id, tuple(a.id for a in snap.earlier(p.alert)))
        cap = cache.get(cap_key) or cap_document(snap, settings, alert_id)
        if cap is not None:
            cache[cap_key] = pages[f"cap/{alert_id}.xml"] = cap
    listed = set(settings.city.languages if lists is None else lists)
    for lang in settings.city.languages:
        pages |= _language_pages(snap, settings, site, cache, lang, lang in listed)
    return pages


def _language_pages(
    snap: Snapshot,
    settings: Settings,
    site: SiteRenderer,
    cache: dict[tuple[Any, ...], bytes],
    lang: str,
    lists: bool = True,
) -> Pages:
    """A language's pages: every alert page, and with ``lists`` the current, history and district pages."""
    folder = _folder(lang)
    up = "../" if folder else ""  # from a language's folder back to the export's root
    top, mid, deep = (Links(up + r, exported=True, lang=lang) for r in ("", "../", "../../"))
    pages: Pages = {}
    if lists:
        pages |= _list_pages(snap, settings, site, cache, lang, folder, (top, mid, deep))
    for alert_id in snap.by_id:
        if not SAFE_ID.fullmatch(alert_id):
            continue
        _, event = snap.by_id[alert_id]
        versions = tuple((v.alert.id, v.sent_at) for v in event.versions)
        page_key = ("page", lang, alert_id, snap.status(alert_id), event.status, versions)
        page = cache.get(page_key) or site.alert_page(snap, alert_id, deep)
        if page is not None:
            cache[page_key] = pages[f"{folder}alerts/{alert_id}/index.html"] = page
    return pages


def _list_pages(
    snap: Snapshot,
    settings: Settings,
    site: SiteRenderer,
    cache: dict[tuple[Any, ...], bytes],
    lang: str,
    folder: str,
    links: tuple[Links, Links, Links],
) -> Pages:
    top, mid, deep = links
    pages: Pages = {
        f"{folder}index.html": site.current_page(snap, top),
        f"{folder}alerts/history/index.html": site.history_page(snap, deep),
    }
    index = site.districts_page(snap, mid)
    if index is not None:  # a city without districts has no district pages
        pages[f"{folder}districts/index.html"] = index
    for district in settings.districts:  # ids are [a-z][a-z0-9_-]*: always a safe folder name
        district_key = ("district", lang, district.id, site.district_made_of(snap, district))
        page = cache.get(district_key) or site.district_page(snap, district.id, deep)
        if page is not None:
            cache[district_key] = pages[f"{folder}districts/{district.id}/index.html"] = page
    return pages
