"""The console's wiring: the guard every request passes, its state, and its routes.

The guard decides by path. The console (/console) needs a live session, except its login page; the
API (/api/v1) needs a bearer token, except its OpenAPI document, and the token must carry the scope
the route needs (``api_schema.SCOPES`` by the route's name; 403 insufficient-scope otherwise);
/metrics takes a session or a token with ``metrics:read``. Everything
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
from broadcaster.scopes import ApiToken, Scope
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import Signer
from broadcaster.web.console import (
    admin_pages,
    alert_pages,
    api,
    api_schema,
    auth_pages,
    compose_pages,
    dashboard_pages,
    event_pages,
    language_pages,
    subscriber_pages,
    totp_pages,
)
from broadcaster.web.console.web import API_USER, CONSOLE, HEADERS, WHO, Console, Handler, Who, console, jst
from broadcaster.web.csrf import FIELD, Csrf
from broadcaster.web.inputs import read_form

LOGIN = "/console/login"
OPEN_CONSOLE = (LOGIN, auth_pages.CODE)  # console paths that need no session (the password, then a code)
OPEN_API = ("/api/v1/openapi.json",)
REALM = 'Bearer realm="city-alert-broadcaster"'
NO_STORE = {"Cache-Control": "no-store"}
UNSCOPED = "unscoped-route"  # what a route under /api without a scope needs: no token has it
STREAMS = ("/console/events",)  # an EventSource cannot follow a redirect to the login page: it gets 401


def add_routes(app: web.Application) -> None:
    """Register the guard and every console and API route; ``setup`` fills in the state at start-up."""
    app.middlewares.append(guard)
    pages = (auth_pages, totp_pages, compose_pages, alert_pages, event_pages, dashboard_pages, admin_pages,
             language_pages)  # fmt: skip
    for part in (*pages, subscriber_pages, api):
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
    accounts = Accounts(store, settings.console, settings.city)
    state = Console(settings, store, dispatcher, renderer, channels, accounts, csrf, renderer.env, queued)
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
        return await _with_token(request, handler, _api_scope(request))
    if path == "/metrics":
        if request.headers.get("Authorization"):
            return await _with_token(request, handler, Scope.METRICS_READ)
        return await _with_session(request, handler, redirect=False)
    if _under(path, "/console"):
        if path in OPEN_CONSOLE:
            return await _checked_post(request, handler)
        return await _with_session(request, handler, redirect=request.method == "GET" and path not in STREAMS)
    return await handler(request)


def _api_scope(request: web.Request) -> str | None:
    """The scope an API route needs, by the route's name; None for no route (the handler answers 404/405).

    A route under /api that names no scope needs ``UNSCOPED``, which no token carries: a route added
    without a scope fails closed.
    """
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return api_schema.SCOPES.get(resource.name or "", UNSCOPED)


async def _with_token(request: web.Request, handler: Handler, scope: str | None) -> web.StreamResponse:
    token = await console(request).accounts.token(request.headers.get("Authorization", ""))
    if token is None:
        detail = "send Authorization: Bearer <token> (run.py tokens add NAME --scope SCOPE)"
        return web.json_response(
            {"error": "unauthorized", "detail": detail}, status=401, headers={**NO_STORE, "WWW-Authenticate": REALM}
        )
    if scope is not None and not token.allows(scope):
        return _insufficient(token, scope)
    request[API_USER] = token.name
    return await handler(request)


def _insufficient(token: ApiToken, scope: str) -> web.Response:
    """403 naming the scope the token lacks (RFC 6750's insufficient_scope)."""
    has = ", ".join(sorted(token.scopes)) or "none"
    detail = (
        f"the token {token.name!r} lacks the scope {scope} (it has: {has}); "
        f"make one that has it: run.py tokens add NAME --scope {scope}"
    )
    headers = {**NO_STORE, "WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'}
    return web.json_response({"error": "insufficient-scope", "detail": detail}, status=403, headers=headers)


async def _with_session(request: web.Request, handler: Handler, redirect: bool) -> web.StreamResponse:
    state = console(request)
    found = await state.accounts.session(request.cookies.get(auth_pages.COOKIE, ""))
    if found is None:
        if redirect:
            raise web.HTTPSeeOther(f"{LOGIN}?next={_quote(request.path_qs)}", headers=HEADERS)
        raise web.HTTPUnauthorized(
            text="ログインしてください: /console/login\nlogin required: open /console/login", headers=HEADERS
        )
    session, user = found
    request[WHO] = Who(user, session)
    if user.must_change and request.path not in (auth_pages.PASSWORD, auth_pages.LOGOUT):
        if request.method == "GET":
            raise web.HTTPSeeOther(auth_pages.PASSWORD, headers=HEADERS)
        raise web.HTTPForbidden(
            text="先に仮パスワードを変更してください: /console/password\nchange your one-time password first",
            headers=HEADERS,
        )
    exempt = _under(request.path, totp_pages.TOTP) or request.path == auth_pages.LOGOUT
    if not exempt and await state.accounts.needs_second_factor(user):  # [console] require_totp: admins, approvers
        if request.method == "GET":
            raise web.HTTPSeeOther(totp_pages.TOTP, headers=HEADERS)
        raise web.HTTPForbidden(
            text="先に二要素認証を設定してください: /console/totp\nset up the second factor (/console/totp) first",
            headers=HEADERS,
        )
    return await _checked_post(request, handler)


async def _checked_post(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(
            text="別のサイトから送信されたフォームは受け付けません。\nthis form was posted from another site",
            headers=HEADERS,
        )
    form = await read_form(request)  # 400 for a body that is not UTF-8; handlers then read the same form
    field = form.get(FIELD)
    if not isinstance(field, str) or not console(request).csrf.check(request, field):
        raise web.HTTPForbidden(
            text="フォームの有効期限が切れたか、この画面から送られていません。ページを読み込み直してください。\n"
            "the form has expired or did not come from this console; reload the page",
            headers=HEADERS,
        )
    return await handler(request)


def _quote(path: str) -> str:
    return urllib.parse.quote(path, safe="")
