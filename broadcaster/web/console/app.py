"""The console's wiring: the guard every request passes, its state, and its routes.

The guard decides by path. The console (/console) needs a live session, except its login page; the
API (/api/v1) needs a bearer token, except its OpenAPI document; /metrics takes either. Everything
else is public: the website, its feeds, the ticker and FM feeds, the subscription pages and the LINE
webhook. Every post to the console must carry the CSRF field of the browser's cookie, and a post
that names another site as its Origin is refused before any handler runs.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse

from aiohttp import web

from broadcaster.accounts import Accounts
from broadcaster.channel import ChannelSet
from broadcaster.dispatcher import Dispatcher
from broadcaster.lifecycle import Queued
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import Signer
from broadcaster.web.console import (
    admin_pages,
    alert_pages,
    api,
    auth_pages,
    compose_pages,
    dashboard_pages,
    event_pages,
)
from broadcaster.web.console.web import API_USER, CONSOLE, HEADERS, WHO, Console, Handler, Who, console, jst
from broadcaster.web.csrf import FIELD, Csrf

LOGIN = "/console/login"
OPEN_CONSOLE = (LOGIN,)  # console paths that need no session
OPEN_API = ("/api/v1/openapi.json",)
STREAMS = ("/console/events",)  # an EventSource cannot follow a redirect to the login page: it gets 401


def add_routes(app: web.Application) -> None:
    """Register the guard and every console and API route; ``setup`` fills in the state at start-up."""
    app.middlewares.append(guard)
    for part in (auth_pages, compose_pages, alert_pages, event_pages, dashboard_pages, admin_pages, api):
        part.add_routes(app)


def setup(
    app: web.Application,
    settings: Settings,
    store: SQLiteStore,
    dispatcher: Dispatcher,
    renderer: Renderer,
    channels: ChannelSet,
    queued: Queued,
) -> None:
    """Put the console's state on the app; ``queued`` is told when an alert starts waiting for approval."""
    signer = Signer.from_env(os.environ, required=False)
    # without BROADCASTER_SECRET_KEY the CSRF key lives as long as the process: a form opened before a
    # restart must be reloaded, nothing worse
    secret = signer.secret if signer else secrets.token_bytes(32)
    csrf = Csrf(secret, secure=False)
    state = Console(settings, store, dispatcher, renderer, channels, Accounts(store, settings.console), csrf,
                    renderer.env, queued)  # fmt: skip
    csrf.secure = state.secure_cookies
    renderer.env.filters["jst"] = jst
    renderer.env.globals[compose_pages.CHOICES] = compose_pages.choices(settings)
    app[CONSOLE] = state


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let public paths through; demand a session, a token, or both for the rest."""
    path = request.path
    if _under(path, "/api") and path not in OPEN_API:
        return await _with_token(request, handler)
    if path == "/metrics":
        if request.headers.get("Authorization"):
            return await _with_token(request, handler)
        return await _with_session(request, handler, redirect=False)
    if _under(path, "/console"):
        if path in OPEN_CONSOLE:
            return await _checked_post(request, handler)
        return await _with_session(request, handler, redirect=request.method == "GET" and path not in STREAMS)
    return await handler(request)


async def _with_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    name = await console(request).accounts.token(request.headers.get("Authorization", ""))
    if name is None:
        return web.json_response(
            {"error": "unauthorized", "detail": "send Authorization: Bearer <token> (run.py tokens add NAME)"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="city-alert-broadcaster"'},
        )
    request[API_USER] = name
    return await handler(request)


async def _with_session(request: web.Request, handler: Handler, redirect: bool) -> web.StreamResponse:
    state = console(request)
    found = await state.accounts.session(request.cookies.get(auth_pages.COOKIE, ""))
    if found is None:
        if redirect:
            raise web.HTTPSeeOther(f"{LOGIN}?next={_quote(request.path_qs)}", headers=HEADERS)
        raise web.HTTPUnauthorized(text="login required: open /console/login", headers=HEADERS)
    session, user = found
    request[WHO] = Who(user, session)
    if user.must_change and request.path not in (auth_pages.PASSWORD, auth_pages.LOGOUT):
        if request.method == "GET":
            raise web.HTTPSeeOther(auth_pages.PASSWORD, headers=HEADERS)
        raise web.HTTPForbidden(text="change your one-time password first", headers=HEADERS)
    return await _checked_post(request, handler)


async def _checked_post(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="this form was posted from another site", headers=HEADERS)
    form = await request.post()
    field = form.get(FIELD)
    if not isinstance(field, str) or not console(request).csrf.check(request, field):
        raise web.HTTPForbidden(text="the form has expired or did not come from this console; reload the page",
                                headers=HEADERS)  # fmt: skip
    return await handler(request)


def _quote(path: str) -> str:
    return urllib.parse.quote(path, safe="")
