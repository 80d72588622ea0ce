"""Logging in and out, the forced change of a one-time password, the mode switch and the language."""

from __future__ import annotations

from aiohttp import web

from broadcaster.accounts import LoginRefused
from broadcaster.errors import InputError
from broadcaster.models import Mode
from broadcaster.web.console.web import HEADERS, LANGS, client, console, page, see_other, who

COOKIE = "console_session"
LOGIN = "/console/login"
LOGOUT = "/console/logout"
PASSWORD = "/console/password"
HOME = "/console/"


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/console", home)
    app.router.add_get(HOME, home)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login)
    app.router.add_post(LOGOUT, logout)
    app.router.add_get(PASSWORD, password_form)
    app.router.add_post(PASSWORD, change_password)
    app.router.add_post("/console/mode", switch_mode)
    app.router.add_post("/console/lang", switch_lang)


def _next(value: object) -> str:
    """Where to go after login: only a console path of this site (never another site)."""
    if isinstance(value, str) and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return HOME


def _lang(request: web.Request) -> str:
    lang = request.query.get("lang", "ja")
    return lang if lang in LANGS else "ja"


async def home(request: web.Request) -> web.StreamResponse:
    """The console's front page is the live dashboard."""
    return see_other("/console/dashboard")


async def login_form(request: web.Request) -> web.Response:
    """The login page."""
    return page(request, "login.html.j2", next=_next(request.query.get("next")), error="", name="")


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; on success set the session cookie and go on."""
    state = console(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
    target = _next(form.get("next"))
    origin = client(request)
    if not state.login_limiter.hit(origin):
        await state.store.audit(name[:64] or "?", "login.refused", name[:64], "too many attempts from here", origin)
        t = state.text[_lang(request)]
        return page(request, "login.html.j2", status=429, next=target, error=t["login_too_many"], name=name)
    try:
        done = await state.accounts.login(name, password, origin)
    except LoginRefused as exc:
        t = state.text[_lang(request)]
        error = t["login_locked"].format(minutes=exc.minutes) if exc.reason == "locked" else t["login_wrong"]
        return page(request, "login.html.j2", status=401, next=target, error=error, name=name)
    response = see_other(target)
    response.set_cookie(COOKIE, done.cookie, httponly=True, samesite="Strict", secure=state.secure_cookies,
                        path="/")  # fmt: skip
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    state, current = console(request), who(request)
    await state.store.end_session(current.session.id)
    await state.store.audit(current.name, "logout", current.name, "", client(request))
    response = see_other(LOGIN)
    response.del_cookie(COOKIE, path="/")
    return response


async def password_form(request: web.Request) -> web.Response:
    """Change one's password (forced while it is a one-time password)."""
    return page(request, "password.html.j2", error="", forced=who(request).user.must_change)


async def change_password(request: web.Request) -> web.StreamResponse:
    """Change the password, then open a fresh session with it (the change ends every old one)."""
    state, current = console(request), who(request)
    form = await request.post()
    new, again = str(form.get("new", "")), str(form.get("again", ""))
    try:
        if new != again:
            raise InputError("the two new passwords differ")
        await state.accounts.change_password(current.user, str(form.get("current", "")), new, client(request))
        done = await state.accounts.login(current.name, new, client(request))
    except (InputError, LoginRefused) as exc:
        return page(request, "password.html.j2", status=400, error=str(exc), forced=current.user.must_change)
    response = see_other(HOME)
    response.set_cookie(COOKIE, done.cookie, httponly=True, samesite="Strict", secure=state.secure_cookies,
                        path="/")  # fmt: skip
    return response


async def switch_mode(request: web.Request) -> web.StreamResponse:
    """The mode switch: what compose makes from now on in this session (exercise or live)."""
    state, current = console(request), who(request)
    form = await request.post()
    try:
        mode = Mode(str(form.get("mode", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="mode must be exercise or live", headers=HEADERS) from None
    await state.store.update_session(current.session.id, mode=mode)
    await state.store.audit(current.name, "mode", mode, "", client(request))
    return see_other(_next(form.get("next")))


async def switch_lang(request: web.Request) -> web.StreamResponse:
    """Japanese or English pages for this session."""
    state, current = console(request), who(request)
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang not in LANGS:
        raise web.HTTPBadRequest(text=f"lang must be one of {', '.join(LANGS)}", headers=HEADERS)
    await state.store.update_session(current.session.id, lang=lang)
    return see_other(_next(form.get("next")))
