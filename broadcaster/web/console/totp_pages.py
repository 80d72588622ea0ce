"""Setting up the second factor (TOTP): the secret to scan or type, a code to confirm it, the recovery codes.

The secret is shown while it is being set up and is not in force until a code from it is typed
back; recovery codes are shown once, in the answer to the post that made them, and kept only as
hashes. With ``[console] require_totp`` admins and approvers are sent here (by the guard in
console/app.py) until they have set one up, and cannot switch theirs off.
"""

from __future__ import annotations

from aiohttp import web

from broadcaster import totp
from broadcaster.accounts import Enrolment
from broadcaster.errors import InputError
from broadcaster.models import Role
from broadcaster.web.console.auth_pages import refusal
from broadcaster.web.console.web import client, console, page, see_other, who

TOTP = "/console/totp"


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get(TOTP, status)
    app.router.add_post(TOTP + "/begin", begin)
    app.router.add_post(TOTP + "/confirm", confirm)
    app.router.add_post(TOTP + "/off", switch_off)


def _required(request: web.Request) -> bool:
    return console(request).settings.console.require_totp and who(request).user.role in (Role.ADMIN, Role.APPROVER)


async def _status_page(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    factor = await console(request).store.second_factor(who(request).name)
    return page(request, "totp.html.j2", status=status, error=error, factor=factor, required=_required(request))


async def status(request: web.Request) -> web.Response:
    """Whether the account has a second factor, how many recovery codes are left, and the forms."""
    return await _status_page(request)


def _setup_page(request: web.Request, enrolment: Enrolment, status: int = 200, error: str = "") -> web.Response:
    return page(request, "totp_setup.html.j2", status=status, error=error, secret=totp.spaced(enrolment.secret),
                uri=enrolment.uri)  # fmt: skip


async def begin(request: web.Request) -> web.Response:
    """A new secret to add to an authenticator app (the current one, if any, works until it is confirmed)."""
    return _setup_page(request, await console(request).accounts.begin_totp(who(request).user))


async def confirm(request: web.Request) -> web.Response:
    """Put the new secret in force with a code from it, and show the recovery codes once."""
    state, current = console(request), who(request)
    form = await request.post()
    try:
        codes = await state.accounts.confirm_totp(current.user, str(form.get("code", "")), client(request))
    except InputError as exc:
        factor = await state.store.second_factor(current.name)
        if factor is None or not factor.pending:
            return await _status_page(request, 400, refusal(request, exc))
        return _setup_page(request, state.accounts.enrolment(current.name, factor.pending), 400, refusal(request, exc))
    return page(request, "totp_codes.html.j2", codes=codes)


async def switch_off(request: web.Request) -> web.StreamResponse:
    """Remove the second factor (the password proves it is the owner)."""
    state, current = console(request), who(request)
    form = await request.post()
    try:
        await state.accounts.remove_totp(current.user, str(form.get("current", "")), client(request))
    except InputError as exc:
        return await _status_page(request, 400, refusal(request, exc))
    return see_other(TOTP)
