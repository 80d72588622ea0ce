"""The admin's pages (accounts, the effective configuration) and the audit log with its CSV export.

Account changes go through Accounts and the store, which write the audit log in the same
transaction. A one-time password is shown once, in the answer to the POST that made it: never in a
URL, a log line or the audit log. The audit log can only be read here; no route changes it, and the
table's triggers refuse UPDATE and DELETE anyway.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from broadcaster import clock, data_key, tokens
from broadcaster.channel import RunsAs
from broadcaster.csv_cells import neutral
from broadcaster.errors import InputError
from broadcaster.models import AuditEntry, Role, User
from broadcaster.scopes import Scope
from broadcaster.web import line_webhook
from broadcaster.web.console import wording
from broadcaster.web.console.web import HEADERS, Who, client, console, jst, need, page, see_other, who, words
from channels import line
from channels.email import channel as email
from channels.sns import target as sns_target

USERS = "/console/admin/users"
TOKENS = "/console/admin/tokens"
AUDIT_PAGE = 100  # lines per page of /console/audit
CSV_BATCH = 1000  # lines per read while exporting
SEARCH_MAX = 200  # characters of ?q= (a LIKE over the whole table; longer finds nothing anyway)
CSV_COLUMNS = ("id", "time_jst", "actor", "action", "target", "detail", "origin")
BOM = "\ufeff".encode()  # Excel in Japan reads a CSV without it as Shift_JIS
# the secrets the service reads from the environment, named by the modules that read them
SECRET_ENV = (
    tokens.SECRET_ENV,
    data_key.DATA_KEY_ENV,
    email.USERNAME_ENV,
    email.PASSWORD_ENV,
    line.TOKEN_ENV,
    line_webhook.SECRET_ENV,
    *(name for names in sns_target.CREDENTIALS.values() for name in names),
)


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get(USERS, users)
    app.router.add_post(USERS, add_user)
    app.router.add_post(USERS + "/{name}/reset", reset_password)
    app.router.add_post(USERS + "/{name}/unlock", unlock)
    app.router.add_post(USERS + "/{name}/role", change_role)
    app.router.add_post(USERS + "/{name}/disable", disable)
    app.router.add_post(USERS + "/{name}/enable", enable)
    app.router.add_post(USERS + "/{name}/contacts", change_contacts)
    app.router.add_get("/console/admin/config", config)
    app.router.add_get(TOKENS, api_tokens)
    app.router.add_get("/console/audit", audit)
    app.router.add_get("/console/audit.csv", audit_csv)


# -- accounts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    """A one-time password just made, to show once."""

    name: str
    password: str
    new: bool  # a new account (else a reset)


def states(user: User, t: Mapping[str, str], locked: bool) -> list[str]:
    """What an account's state is, in words (several may apply)."""
    found = []
    if user.disabled:
        found.append(t["admin_state_disabled"])
    if locked:
        found.append(t["admin_state_login_locked"])
    if user.must_change:
        found.append(t["admin_state_must_change"])
    return found or [t["admin_state_active"]]


async def _users_page(
    request: web.Request, status: int = 200, error: str = "", issued: Issued | None = None
) -> web.Response:
    t, store = words(request), console(request).store
    locked = await store.locked_names()
    rows = [(user, states(user, t, user.name in locked)) for user in await store.list_users()]
    return page(request, "admin_users.html.j2", status=status, rows=rows, error=error, issued=issued, locked=locked)


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise InputError(f"the role must be one of {', '.join(Role)}") from None


async def _account(request: web.Request) -> str:
    name = request.match_info["name"]
    if await console(request).store.get_user(name) is None:
        raise web.HTTPNotFound(text=f"アカウント {name!r} はありません。\nno account named {name!r}", headers=HEADERS)
    return name


async def users(request: web.Request) -> web.Response:
    """Every account, its role and state, and the forms that change them."""
    need(request, Role.ADMIN)
    return await _users_page(request)


async def add_user(request: web.Request) -> web.Response:
    """Make an account and show its one-time password, once."""
    current = need(request, Role.ADMIN)
    form = await request.post()
    name = str(form.get("name", "")).strip().lower()  # login lowercases the name too
    try:
        role = _role(form.get("role"))
        email, line_id = str(form.get("email", "")), str(form.get("line_id", ""))
        password = await console(request).accounts.add_user(name, role, current.name, client(request), email, line_id)
    except InputError as exc:
        return await _users_page(request, 400, error=wording.explained(request, exc))
    return await _users_page(request, issued=Issued(name, password, new=True))


async def reset_password(request: web.Request) -> web.Response:
    """Give an account a new one-time password (unlocking it) and show it, once."""
    current = need(request, Role.ADMIN)
    name = await _account(request)
    password = await console(request).accounts.reset_password(name, current.name, client(request))
    return await _users_page(request, issued=Issued(name, password, new=False))


async def unlock(request: web.Request) -> web.StreamResponse:
    """Lift the lock many failed logins put on an account (and its wait)."""
    current = need(request, Role.ADMIN)
    await console(request).store.unlock_user(await _account(request), current.name, client(request))
    return see_other(USERS)


async def _update(
    request: web.Request, current: Who, name: str, role: Role | None, disabled: bool | None
) -> web.Response:
    try:
        await console(request).store.update_user(name, role, disabled, current.name, client(request))
    except InputError as exc:
        return await _users_page(request, 400, error=wording.explained(request, exc))
    return see_other(USERS)


async def change_role(request: web.Request) -> web.Response:
    """Change an account's role; an admin cannot give up their own (the city would lose its admin)."""
    current = need(request, Role.ADMIN)
    name = await _account(request)
    form = await request.post()
    try:
        role = _role(form.get("role"))
    except InputError as exc:
        return await _users_page(request, 400, error=wording.explained(request, exc))
    if name == current.name and role != Role.ADMIN:
        return await _users_page(request, 400, error=words(request)["admin_self_role"])
    return await _update(request, current, name, role, None)


async def disable(request: web.Request) -> web.Response:
    """Switch an account off (its sessions end); never one's own."""
    current = need(request, Role.ADMIN)
    name = await _account(request)
    if name == current.name:
        return await _users_page(request, 400, error=words(request)["admin_self_disable"])
    return await _update(request, current, name, None, True)


async def enable(request: web.Request) -> web.Response:
    """Switch an account back on."""
    current = need(request, Role.ADMIN)
    return await _update(request, current, await _account(request), None, False)


async def change_contacts(request: web.Request) -> web.Response:
    """Change where an account's approval notices go (mail address, LINE user id; empty: none)."""
    current = need(request, Role.ADMIN)
    name = await _account(request)
    form = await request.post()
    email, line_id = str(form.get("email", "")), str(form.get("line_id", ""))
    try:
        await console(request).accounts.set_contacts(name, email, line_id, current.name, client(request))
    except InputError as exc:
        return await _users_page(request, 400, error=wording.explained(request, exc))
    return see_other(USERS)


# -- API tokens -----------------------------------------------------------------


async def api_tokens(request: web.Request) -> web.Response:
    """Every API token: name, scopes, created, revoked. Never the token: the store keeps only its hash."""
    need(request, Role.ADMIN)
    tokens = await console(request).store.list_tokens()
    return page(request, "admin_tokens.html.j2", tokens=tokens, scopes=list(Scope))


# -- configuration --------------------------------------------------------------


def flatten(key: str, value: Any) -> Iterator[tuple[str, str]]:
    """(dotted key, shown value) for every leaf of a dumped setting; lists of scalars stay one value."""
    if isinstance(value, dict) and value:
        for name, inner in value.items():
            yield from flatten(f"{key}.{name}" if key else str(name), inner)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        for i, item in enumerate(value):
            yield from flatten(f"{key}[{i}]", item)
    else:
        yield key, value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)


async def config(request: web.Request) -> web.Response:
    """The effective configuration, which secrets are set (never their values) and what each channel runs as."""
    need(request, Role.ADMIN)
    state = console(request)
    sections = [(name, list(flatten("", value))) for name, value in state.settings.model_dump(mode="json").items()]
    secrets = [(name, bool(os.environ.get(name))) for name in SECRET_ENV]
    channels = [
        (name, type(sink).__name__, sink.runs_as == RunsAs.OUTBOX, type(state.channels.exercise[name]).__name__)
        for name, sink in state.channels.live.items()
    ]
    notices = state.channels.notices
    return page(request, "admin_config.html.j2", sections=sections, secrets=secrets, channels=channels, notices=notices)


# -- audit log ------------------------------------------------------------------


def _query(request: web.Request) -> str:
    return request.query.get("q", "").strip()[:SEARCH_MAX]


def _before(request: web.Request) -> int | None:
    value = request.query.get("before", "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):  # SQLite integers stop at 2**63
        raise web.HTTPBadRequest(
            text="before には監査ログの番号を指定してください。\nbefore must be an audit line id", headers=HEADERS
        )
    return int(value)


async def audit(request: web.Request) -> web.Response:
    """The audit log, newest first, searchable, a page at a time."""
    current = who(request)
    q, before = _query(request), _before(request)
    found = await console(request).store.audit_search(q, AUDIT_PAGE + 1, before)
    shown = found[:AUDIT_PAGE]
    older = shown[-1].id if len(found) > AUDIT_PAGE else None
    can_export = current.user.role in (Role.APPROVER, Role.ADMIN)
    rows = wording.audit_rows(request, shown)  # in words; the CSV keeps the machine names
    return page(request, "audit.html.j2", entries=shown, rows=rows, q=q, before=before, older=older,
                can_export=can_export)  # fmt: skip


def csv_lines(rows: Iterable[Iterable[str]]) -> bytes:
    """Rows as CSV (RFC 4180 quoting, CRLF) in UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def csv_row(entry: AuditEntry) -> list[str]:
    """One audit line as CSV cells, each one a spreadsheet shows as text (broadcaster/csv_cells.py)."""
    cells = (str(entry.id), jst(entry.at), entry.actor, entry.action, entry.target, entry.detail, entry.origin)
    return [neutral(text) for text in cells]


async def audit_csv(request: web.Request) -> web.StreamResponse:
    """The whole audit log (or what ?q= finds) as a CSV download, newest first."""
    current = need(request, Role.APPROVER, Role.ADMIN)
    store, q = console(request).store, _query(request)
    await store.audit(current.name, "audit.export", "", f"q={q}" if q else "", client(request))
    stamp = dt.datetime.now(clock.JST).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'}
    )
    response.content_type, response.charset = "text/csv", "utf-8"
    await response.prepare(request)
    await response.write(BOM + csv_lines([CSV_COLUMNS]))
    # Not store.audit_export: it hands every batch to a callback on the store's only thread in one go, so
    # streaming from it means either holding the whole log in memory or stalling that thread (which every
    # delivery needs too) at the pace of the download. Paging down by id instead costs one short read per
    # batch, keeps one batch in memory, leaves the thread free between batches, and serves a search the
    # same way. Ids only grow, so the export holds exactly the lines there were at its first read.
    before: int | None = None
    while batch := await store.audit_search(q, CSV_BATCH, before):
        await response.write(csv_lines(csv_row(entry) for entry in batch))
        before = batch[-1].id
        if len(batch) < CSV_BATCH:
            break
    await response.write_eof()
    return response
