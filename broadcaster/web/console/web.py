"""What every console page shares: its state, who is asking, the page frame, and refusals.

Handlers read the logged-in account with ``who(request)`` (the guard in console/app.py has already
checked the session and the CSRF token) and check a permission with ``need(request, Role...)``.
Pages render through ``page()``, which adds the frame's context: the account, the mode switch and
its banner, the CSRF field, and the words in the session's language (``t``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from broadcaster.accounts import Accounts
from broadcaster.channel import ChannelSet
from broadcaster.clock import JST
from broadcaster.dispatcher import Dispatcher
from broadcaster.lifecycle import Lifecycle, Queued
from broadcaster.models import Alert, Mode, Role, Session, User
from broadcaster.rendering import TEMPLATES, Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import headers as security
from broadcaster.web.csrf import Csrf
from broadcaster.web.ratelimit import WindowLimiter, client_address

TEXT_DIR = TEMPLATES / "console" / "text"
LANGS = ("ja", "en")
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", **security.CONSOLE}


def load_text(folder: Path = TEXT_DIR) -> dict[str, dict[str, str]]:
    """The console's words per language, merged from every text/*.toml (one file per part of the console)."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as f:
            data = tomllib.load(f)
        for lang, words in data.items():
            clash = merged.setdefault(lang, {}).keys() & words.keys()
            if clash:
                raise ValueError(f"{path.name}: keys defined twice: {sorted(clash)}")
            merged[lang].update(words)
    return merged


@dataclass
class Console:
    """What the console's handlers share."""

    settings: Settings
    store: SQLiteStore
    dispatcher: Dispatcher
    renderer: Renderer
    channels: ChannelSet
    accounts: Accounts
    csrf: Csrf
    env: jinja2.Environment
    queued: Queued  # the approval notices' wake: an alert now waits for a second person
    text: dict[str, dict[str, str]] = field(default_factory=load_text)
    login_limiter: WindowLimiter = field(init=False)
    lifecycle: Lifecycle = field(init=False)  # every change of an alert's state goes through it

    def __post_init__(self) -> None:
        conf = self.settings.console
        self.login_limiter = WindowLimiter(conf.ip_login_limit, conf.ip_login_period)
        self.lifecycle = Lifecycle(self.store, self.settings, self.dispatcher.wake, self.queued)
        # every language the phrasebook speaks is named in the console's words (compose_lang_<code>), from
        # languages.toml: a language a city adds there needs no console words of its own
        for code, language in self.settings.phrasebook.languages.items():
            self.text["ja"].setdefault(f"compose_lang_{code}", language.name_ja)
            self.text["en"].setdefault(f"compose_lang_{code}", language.name_en)

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry Secure."""
        mode = self.settings.console.secure_cookies
        return mode == "always" or (mode == "auto" and self.settings.city.public_url.startswith("https:"))


CONSOLE = web.AppKey("console", Console)


@dataclass(frozen=True, slots=True)
class Who:
    """The logged-in account of a request, and its session."""

    user: User
    session: Session

    @property
    def name(self) -> str:
        """The account name."""
        return self.user.name

    @property
    def mode(self) -> Mode:
        """The mode switch of the session."""
        return self.session.mode


WHO = web.RequestKey("console.who", Who)  # set by the guard
API_USER = web.RequestKey("console.api_user", str)  # set by the guard: the name of the system whose token was used
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def console(request: web.Request) -> Console:
    """The console state."""
    return request.app[CONSOLE]


def who(request: web.Request) -> Who:
    """The logged-in account; the guard guarantees one on every protected route."""
    found: Who | None = request.get(WHO)
    if found is None:
        raise web.HTTPUnauthorized(text="login required")
    return found


def need(request: web.Request, *roles: Role) -> Who:
    """The account, if it has one of ``roles``; otherwise a 403 page."""
    current = who(request)
    if current.user.role not in roles:
        t = words(request)
        allowed = ("、" if lang_of(request) == "ja" else ", ").join(t[f"role_{role}"] for role in roles)
        text = t["refused_role"].format(roles=allowed, role=t[f"role_{current.user.role}"])
        raise web.HTTPForbidden(text=text, headers=HEADERS)
    return current


CAN_SEND = (Role.OPERATOR, Role.APPROVER)  # compose, send exercises, request live, correct, cancel


def client(request: web.Request) -> str:
    """Where a request comes from, for the audit log and the login limit."""
    return client_address(request, console(request).settings.console.trust_forwarded)


def lang_of(request: web.Request) -> str:
    """The page language: the session's, or ?lang= before login."""
    current: Who | None = request.get(WHO)
    lang = current.session.lang if current else request.query.get("lang", "ja")
    return lang if lang in LANGS else "ja"


def words(request: web.Request) -> Mapping[str, str]:
    """The console's words in the page language."""
    return console(request).text[lang_of(request)]


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Render a console page with the frame's context."""
    state = console(request)
    current: Who | None = request.get(WHO)
    response = web.Response(status=status, content_type="text/html", charset="utf-8", headers=HEADERS)
    context.update(
        t=words(request),
        lang=lang_of(request),
        who=current,
        mode=current.mode if current else None,
        csrf=state.csrf.token(request, response),
        city=state.settings.city,
        path=request.path,
        roles=Role,
    )
    response.text = state.env.get_template(f"console/{template}").render(context)
    return response


async def stored_alert(request: web.Request) -> Alert:
    """The alert named by the route's ``alert_id``, or a 404."""
    alert = await console(request).store.get_alert(request.match_info["alert_id"])
    if alert is None:
        raise web.HTTPNotFound(text=words(request)["refused_no_alert"], headers=HEADERS)
    return alert


def refuse(request: web.Request, message: str, status: int = 409) -> web.Response:
    """The message page: why an action on an alert was refused (409 unless told otherwise)."""
    return page(request, "message.html.j2", status=status, message=message)


def jst(ts: float | None) -> str:
    """A timestamp as Japan time to the second (a jinja filter: ``{{ alert.created_at|jst }}``)."""
    return "" if ts is None else datetime.fromtimestamp(ts, JST).strftime("%Y-%m-%d %H:%M:%S")


def see_other(location: str) -> web.Response:
    """The redirect after a successful post (a response, so cookies can be set on it)."""
    return web.Response(status=303, headers={**HEADERS, "Location": location})
