"""The public website, served: /, /alerts/history, /alerts/<id>, /districts, /districts/<id>, /alerts.atom,
/alerts.json, /cap.atom, /cap/<id>.xml and /static/website.css. No login, no JavaScript, no cookies.

Every page is in every language the city offers (``[city] languages``): Japanese at the paths above,
each other language under its code (``/en/``, ``/pt-BR/alerts/<id>``, ``/vi/districts``), and any page
takes ``?lang=`` too. A code the city does not offer is a 404; ``/ja/…`` leads to the Japanese page.

``/`` and the three feeds take ``?district=id``: the alerts for that district and for the whole city. An
id the city does not have is a 404 that says so (in the page's language; a feed's in Japanese, JSON for the
JSON feed), never a 500.

Each request reads one Snapshot of what the website channel carried (broadcaster/site_model.py) and
renders one page from it with the code the static export uses (broadcaster/site.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from aiohttp import web

from broadcaster.on_air import Snapshot, load_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import District, Settings
from broadcaster.store import Store
from broadcaster.web import headers as security
from channels.website.feeds import alerts_atom, alerts_json, cap_atom, cap_document
from channels.website.pages import CSS, Links, SiteRenderer
from channels.website.words import Words

HEADERS = {
    "Cache-Control": "public, max-age=30",  # alerts change; a short cache spares the store under a rush
    **security.WEBSITE,
}
HTML = "text/html"
ATOM = "application/atom+xml"
CAP = "application/cap+xml"


@dataclass
class Website:
    """What the page handlers share."""

    store: Store
    settings: Settings
    site: SiteRenderer
    css: bytes
    clock: Callable[[], float] = time.time

    async def snapshot(self) -> Snapshot:
        """What the website shows now."""
        return await load_snapshot(self.store, self.settings, self.clock())


WEBSITE = web.AppKey("website", Website)


def setup(app: web.Application, store: Store, settings: Settings, renderer: Renderer) -> None:
    """Put the pages' state on the app (called at service start-up)."""
    app[WEBSITE] = Website(store, settings, SiteRenderer(settings, renderer), CSS.read_bytes())


# a language tag's shape (en, pt-BR, zh-Hans, ja-x-easy); whether the city offers it is checked per request
LANG = r"{lang:[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*}"


def add_routes(app: web.Application) -> None:
    """Register the public pages (at the root in Japanese, under /<lang>/ in the others) and the feeds."""
    app.router.add_get("/", current)
    app.router.add_get(f"/{LANG}", to_language_home)
    for prefix in ("", f"/{LANG}"):
        app.router.add_get(f"{prefix}/alerts/history", history)
        app.router.add_get(f"{prefix}/alerts/{{alert_id}}", alert)
        app.router.add_get(f"{prefix}/districts", district_list)
        app.router.add_get(f"{prefix}/districts/{{district_id}}", district)
    app.router.add_get(f"/{LANG}/", current)
    app.router.add_get("/alerts.atom", atom_feed)
    app.router.add_get("/alerts.json", json_feed)
    app.router.add_get("/cap.atom", cap_feed)
    app.router.add_get("/cap/{alert_id}.xml", cap_xml)
    app.router.add_get("/static/website.css", stylesheet)


def _response(body: bytes, content_type: str, status: int = 200) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset="utf-8", status=status, headers=HEADERS)


def _lang(request: web.Request) -> str:
    """The page's language: the path's /<lang>/, else ``?lang=``, else Japanese.

    A path language the city does not offer is a 404 (HTTPNotFound); /ja/… redirects to the Japanese
    page at the root. An unknown ``?lang=`` is ignored: the page is Japanese.
    """
    offered = request.app[WEBSITE].settings.city.languages
    code = request.match_info.get("lang")
    if code is None:
        asked = request.query.get("lang", "")
        return asked if asked in offered else "ja"
    if code == "ja":
        rest = request.path.removeprefix("/ja") or "/"
        raise web.HTTPMovedPermanently(rest + (f"?{request.query_string}" if request.query_string else ""))
    if code not in offered:
        page = _not_found_page(request.app[WEBSITE].settings, "ja", "not_found")
        raise web.HTTPNotFound(text=page, content_type=HTML, headers=HEADERS)
    return code


def _links(lang: str) -> Links:
    return Links("/", lang=lang)


def _not_found(settings: Settings, lang: str, key: str, choose: bool = False) -> web.Response:
    """A 404 page in ``lang`` saying words ``key``; with ``choose``, it lists the city's districts to pick from."""
    return _response(_not_found_page(settings, lang, key, choose).encode(), HTML, status=404)


def _not_found_page(settings: Settings, lang: str, key: str, choose: bool = False) -> str:
    words = Words(lang)
    links = _links(lang)
    choices = ""
    if choose and settings.districts:
        items = "".join(
            f'<li><a href="{links.district(d.id)}">{escape(d.name_in(lang))}</a></li>' for d in settings.districts
        )
        choices = f"<p>{words.say('choose_district')}</p><ul>{items}</ul>"
    body = (
        f'<!doctype html><html lang="{escape(settings.phrasebook.language(lang).html)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(words.plain('not_found_title'))}</title>"
        '<link rel="stylesheet" href="/static/website.css"></head>'
        f"<body><main><h1>{words.say(key)}</h1>{choices}"
        f'<p><a href="{links.home}">{words.say("to_current")}</a></p></main></body></html>'
    )
    return body


def _asked(request: web.Request) -> tuple[str, District | None]:
    """The id ``?district=`` asks for ("" for none) and its district (None when unknown or not asked for)."""
    wanted = request.query.get("district", "").strip()
    return wanted, request.app[WEBSITE].settings.district(wanted) if wanted else None


def _unknown_feed_district(settings: Settings, content_type: str) -> web.Response:
    """A feed's 404 for an unknown district: one line in Japanese, with the ids the query takes."""
    valid = "、".join(f"{d.id}（{d.name}）" for d in settings.districts)
    line = f"指定された地区はありません。指定できる地区: {valid}" if valid else "この市には地区の設定がありません。"
    if content_type == "application/json":
        ids = [{"id": d.id, "name": d.name} for d in settings.districts]
        body = json.dumps({"error": "unknown_district", "message": line, "districts": ids}, ensure_ascii=False)
        return _response(body.encode(), content_type, status=404)
    return _response(line.encode(), "text/plain", status=404)


async def to_language_home(request: web.Request) -> web.Response:
    """/en → /en/: the language's current page."""
    lang = _lang(request)
    raise web.HTTPMovedPermanently(_links(lang).home)


async def current(request: web.Request) -> web.Response:
    """The current alerts, most severe first."""
    website, lang = request.app[WEBSITE], _lang(request)
    wanted, chosen = _asked(request)
    if wanted and chosen is None:
        return _not_found(website.settings, lang, "no_district", choose=True)
    page = website.site.current_page(await website.snapshot(), _links(lang), district=chosen)
    return _response(page, HTML)


async def history(request: web.Request) -> web.Response:
    """The alerts of the last history_days."""
    website, lang = request.app[WEBSITE], _lang(request)
    return _response(website.site.history_page(await website.snapshot(), _links(lang)), HTML)


async def alert(request: web.Request) -> web.Response:
    """One alert version; 404 for one the website does not show."""
    website, lang = request.app[WEBSITE], _lang(request)
    page = website.site.alert_page(await website.snapshot(), request.match_info["alert_id"], _links(lang))
    return _not_found(website.settings, lang, "not_found") if page is None else _response(page, HTML)


async def district_list(request: web.Request) -> web.Response:
    """Every district of the city; 404 where it has none."""
    website, lang = request.app[WEBSITE], _lang(request)
    page = website.site.districts_page(await website.snapshot(), _links(lang))
    return _not_found(website.settings, lang, "no_districts") if page is None else _response(page, HTML)


async def district(request: web.Request) -> web.Response:
    """One district's current and past alerts, the whole city's included; 404 for an unknown id."""
    website, lang = request.app[WEBSITE], _lang(request)
    page = website.site.district_page(await website.snapshot(), request.match_info["district_id"], _links(lang))
    if page is None:
        return _not_found(website.settings, lang, "no_district", choose=True)
    return _response(page, HTML)


async def atom_feed(request: web.Request) -> web.Response:
    """Atom 1.0 of the alerts (of one district and the whole city with ``?district=``)."""
    website = request.app[WEBSITE]
    wanted, chosen = _asked(request)
    if wanted and chosen is None:
        return _unknown_feed_district(website.settings, ATOM)
    return _response(alerts_atom(await website.snapshot(), website.settings, chosen), ATOM)


async def json_feed(request: web.Request) -> web.Response:
    """JSON of the current and recent alerts (of one district and the whole city with ``?district=``)."""
    website = request.app[WEBSITE]
    wanted, chosen = _asked(request)
    if wanted and chosen is None:
        return _unknown_feed_district(website.settings, "application/json")
    return _response(alerts_json(await website.snapshot(), website.settings, chosen), "application/json")


async def cap_feed(request: web.Request) -> web.Response:
    """The Atom index of the CAP documents (of one district and the whole city with ``?district=``)."""
    website = request.app[WEBSITE]
    wanted, chosen = _asked(request)
    if wanted and chosen is None:
        return _unknown_feed_district(website.settings, ATOM)
    return _response(cap_atom(await website.snapshot(), website.settings, chosen), ATOM)


async def cap_xml(request: web.Request) -> web.Response:
    """One alert as CAP 1.2."""
    website = request.app[WEBSITE]
    document = cap_document(await website.snapshot(), website.settings, request.match_info["alert_id"])
    return _not_found(website.settings, "ja", "not_found") if document is None else _response(document, CAP)


async def stylesheet(request: web.Request) -> web.Response:
    """The pages' stylesheet."""
    return web.Response(body=request.app[WEBSITE].css, content_type="text/css", charset="utf-8", headers=HEADERS)
