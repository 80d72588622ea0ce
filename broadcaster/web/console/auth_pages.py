"""Logging in (the password, then a second factor's code where the account has one) and out, the forced
change of a one-time password, the mode switch and the language."""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiohttp import web

from broadcaster.accounts import Login, LoginRefused, SecondStep
from broadcaster.errors import InputError
from broadcaster.models import Mode
from broadcaster.passwords import PasswordRefused
from broadcaster.web.console.web import (
    HEADERS,
    LANGS,
    Console,
    client,
    console,
    lang_of,
    page,
    see_other,
    who,
    words,
)

COOKIE = "console_session"
PENDING_COOKIE = "console_login"  # a login whose password was right, until its second factor's code
LOGIN = "/console/login"
CODE = "/console/login/code"
LOGOUT = "/console/logout"
PASSWORD = "/console/password"
HOME = "/console/"


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/console", home)
    app.router.add_get(HOME, home)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login)
    app.router.add_get(CODE, code_form)
    app.router.add_post(CODE, code)
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


async def home(request: web.Request) -> web.StreamResponse:
    """The console's front page is the live dashboard."""
    return see_other("/console/dashboard")


async def login_form(request: web.Request) -> web.Response:
    """The login page."""
    return page(request, "login.html.j2", next=_next(request.query.get("next")), error="", name="")


def _refused(request: web.Request, exc: LoginRefused, target: str, name: str = "") -> web.Response:
    """The login page again with why, in the page's words: 429 and Retry-After while a wait is pending."""
    t = words(request)
    error = t[f"login_{exc.reason}"].format(seconds=exc.seconds)
    status = 429 if exc.reason == "wait" else 401
    response = page(request, "login.html.j2", status=status, next=target, error=error, name=name)
    if exc.reason == "wait":
        response.headers["Retry-After"] = str(exc.seconds)
    return response


def _signed_in(state: Console, done: Login, target: str) -> web.Response:
    response = see_other(target)
    response.set_cookie(COOKIE, done.cookie, httponly=True, samesite="Strict", secure=state.secure_cookies,
                        path="/")  # fmt: skip
    response.del_cookie(PENDING_COOKIE, path=LOGIN)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; on success set the session cookie and go on (or ask for the second factor's code)."""
    state = console(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
    target = _next(form.get("next"))
    origin = client(request)
    if not state.login_limiter.hit(origin):
        await state.store.audit(name[:64] or "?", "login.refused", name[:64], "too many attempts from here", origin)
        return page(request, "login.html.j2", status=429, next=target, error=words(request)["login_too_many"],
                    name=name)  # fmt: skip
    try:
        done = await state.accounts.login(name, password, origin)
    except LoginRefused as exc:
        return _refused(request, exc, target, name)
    if isinstance(done, SecondStep):
        response = see_other(f"{CODE}?{urllib.parse.urlencode({'next': target, 'lang': lang_of(request)})}")
        response.set_cookie(PENDING_COOKIE, done.cookie, httponly=True, samesite="Strict",
                            secure=state.secure_cookies, path=LOGIN,
                            max_age=int(state.settings.console.second_factor_timeout))  # fmt: skip
        return response
    return _signed_in(state, done, target)


async def code_form(request: web.Request) -> web.Response:
    """The second step of a login: the code from the authenticator app, or a recovery code."""
    return page(request, "login_code.html.j2", next=_next(request.query.get("next")), error="")


async def code(request: web.Request) -> web.StreamResponse:
    """Check the second factor's code; on success the session cookie, as after a password alone."""
    state = console(request)
    form = await request.post()
    target, origin = _next(form.get("next")), client(request)
    try:
        done = await state.accounts.second_step(request.cookies.get(PENDING_COOKIE, ""), str(form.get("code", "")),
                                                origin)  # fmt: skip
    except LoginRefused as exc:
        if exc.reason in ("wrong", "wait"):
            status = 429 if exc.reason == "wait" else 401
            error = words(request)["login_code_wrong" if exc.reason == "wrong" else "login_wait"]
            response = page(request, "login_code.html.j2", status=status, next=target,
                            error=error.format(seconds=exc.seconds))  # fmt: skip
            if exc.reason == "wait":
                response.headers["Retry-After"] = str(exc.seconds)
            return response
        return _refused(request, exc, target)
    return _signed_in(state, done, target)


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    state, current = console(request), who(request)
    await state.store.end_session(current.session.id)
    await state.store.audit(current.name, "logout", current.name, "", client(request))
    response = see_other(LOGIN)
    response.del_cookie(COOKIE, path="/")
    return response


def _rule(request: web.Request) -> dict[str, Any]:
    """The password rule in the page's words, shown before the first try (a line per rule)."""
    min_length = console(request).settings.console.password_min_length
    city = console(request).settings.city.name
    return {"rule": words(request)["password_rule"].format(min_length=min_length, city=city), "min_length": min_length}


async def password_form(request: web.Request) -> web.Response:
    """Change one's password (forced while it is a one-time password)."""
    return page(request, "password.html.j2", error="", forced=who(request).user.must_change, **_rule(request))


async def change_password(request: web.Request) -> web.StreamResponse:
    """Change the password, then open a fresh session with it (the change ends every old one)."""
    state, current = console(request), who(request)
    form = await request.post()
    new, again = str(form.get("new", "")), str(form.get("again", ""))
    try:
        if new != again:
            raise PasswordRefused("differ")
        done = await state.accounts.change_password(current.user, str(form.get("current", "")), new, client(request))
    except InputError as exc:
        return page(request, "password.html.j2", status=400, error=refusal(request, exc),
                    forced=current.user.must_change, **_rule(request))  # fmt: skip
    response = see_other(HOME)
    response.set_cookie(COOKIE, done.cookie, httponly=True, samesite="Strict", secure=state.secure_cookies,
                        path="/")  # fmt: skip
    return response


def refusal(request: web.Request, exc: InputError) -> str:
    """An account page's refusal (a password rule, a wrong code) in the page's words."""
    template = words(request).get(f"err_{exc.code}") if exc.code else None
    return str(exc) if template is None else template.format(**exc.problems[0].params)


async def switch_mode(request: web.Request) -> web.StreamResponse:
    """The mode switch: what compose makes from now on in this session (exercise or live)."""
    state, current = console(request), who(request)
    form = await request.post()
    try:
        mode = Mode(str(form.get("mode", "")))
    except ValueError:
        raise web.HTTPBadRequest(
            text="モードは訓練（exercise）か本番（live）です。\nmode must be exercise or live", headers=HEADERS
        ) from None
    await state.store.update_session(current.session.id, mode=mode)
    await state.store.audit(current.name, "mode", mode, "", client(request))
    return see_other(_next(form.get("next")))


async def switch_lang(request: web.Request) -> web.StreamResponse:
    """Japanese or English pages for this session."""
    state, current = console(request), who(request)
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang not in LANGS:
        raise web.HTTPBadRequest(
            text=f"表示言語は {', '.join(LANGS)} のどれかです。\nlang must be one of {', '.join(LANGS)}",
            headers=HEADERS,
        )
    await state.store.update_session(current.session.id, lang=lang)
    return see_other(_next(form.get("next")))
