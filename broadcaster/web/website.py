"""The public website, served: /, /alerts/history, /alerts/<id>, /districts, /districts/<id>, /alerts.atom,
/alerts.json, /cap.atom, /cap/<id>.xml and /static/website.css. No login, no JavaScript, no cookies.

``/`` and the three feeds take ``?district=id``: the alerts for that district and for the whole city. An
id the city does not have is a 404 that says so (in Japanese; JSON for the JSON feed), never a 500.

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
from channels.website.pages import CSS, SiteRenderer

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


def add_routes(app: web.Application) -> None:
    """Register the public pages and feeds."""
    app.router.add_get("/", current)
    app.router.add_get("/alerts/history", history)
    app.router.add_get("/alerts.atom", atom_feed)
    app.router.add_get("/alerts.json", json_feed)
    app.router.add_get("/cap.atom", cap_feed)
    app.router.add_get("/cap/{alert_id}.xml", cap_xml)
    app.router.add_get("/alerts/{alert_id}", alert)
    app.router.add_get("/districts", district_list)
    app.router.add_get("/districts/{district_id}", district)
    app.router.add_get("/static/website.css", stylesheet)


def _response(body: bytes, content_type: str, status: int = 200) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset="utf-8", status=status, headers=HEADERS)


def _not_found(heading: str = "この情報は見つかりません", settings: Settings | None = None) -> web.Response:
    """A 404 page in Japanese; given ``settings``, it lists the city's districts to choose from."""
    choices = ""
    if settings is not None and settings.districts:
        items = "".join(f'<li><a href="/districts/{d.id}">{escape(d.name)}</a></li>' for d in settings.districts)
        choices = f"<p>地区を選んでください。</p><ul>{items}</ul>"
    body = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>見つかりません</title>'
        '<link rel="stylesheet" href="/static/website.css"></head>'
        f'<body><main><h1>{escape(heading)}</h1>{choices}<p><a href="/">発表中の情報へ</a></p></main></body></html>'
    )
    return _response(body.encode(), HTML, status=404)


NO_DISTRICT = "この地区は見つかりません"


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


async def current(request: web.Request) -> web.Response:
    """The current alerts, most severe first."""
    website = request.app[WEBSITE]
    wanted, chosen = _asked(request)
    if wanted and chosen is None:
        return _not_found(NO_DISTRICT, website.settings)
    return _response(website.site.current_page(await website.snapshot(), district=chosen), HTML)


async def history(request: web.Request) -> web.Response:
    """The alerts of the last history_days."""
    website = request.app[WEBSITE]
    return _response(website.site.history_page(await website.snapshot()), HTML)


async def alert(request: web.Request) -> web.Response:
    """One alert version; 404 for one the website does not show."""
    website = request.app[WEBSITE]
    page = website.site.alert_page(await website.snapshot(), request.match_info["alert_id"])
    return _not_found() if page is None else _response(page, HTML)


async def district_list(request: web.Request) -> web.Response:
    """Every district of the city; 404 where it has none."""
    website = request.app[WEBSITE]
    page = website.site.districts_page(await website.snapshot())
    return _not_found("地区の設定はありません") if page is None else _response(page, HTML)


async def district(request: web.Request) -> web.Response:
    """One district's current and past alerts, the whole city's included; 404 for an unknown id."""
    website = request.app[WEBSITE]
    page = website.site.district_page(await website.snapshot(), request.match_info["district_id"])
    return _not_found(NO_DISTRICT, website.settings) if page is None else _response(page, HTML)


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
    return _not_found() if document is None else _response(document, CAP)


async def stylesheet(request: web.Request) -> web.Response:
    """The pages' stylesheet."""
    return web.Response(body=request.app[WEBSITE].css, content_type="text/css", charset="utf-8", headers=HEADERS)
