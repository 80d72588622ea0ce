"""The admin's subscriber page: find one subscriber by their exact contact, and delete them.

Admins only (403 for every other role). Both a search and a deletion write an audit line: who, what,
and how many were found or deleted, never the contact. The contact is posted, never put in a URL,
so it cannot reach an access log or a browser's history; nothing here lists or exports contacts.
"""

from __future__ import annotations

from aiohttp import web

from broadcaster.errors import ConfigError
from broadcaster.models import ContactKind, Role, Subscriber
from broadcaster.web.console.web import HEADERS, client, console, need, page, words
from broadcaster.web.inputs import read_form

SUBSCRIBERS = "/console/admin/subscribers"
CONTACT_MAX = 320  # characters: the longest mail address RFC 5321 allows (64 + 1 + 255)


def add_routes(app: web.Application) -> None:
    """Register the page."""
    app.router.add_get(SUBSCRIBERS, subscribers)
    app.router.add_post(SUBSCRIBERS, search)
    app.router.add_post(SUBSCRIBERS + "/{subscriber_id}/delete", delete)


def _page(
    request: web.Request,
    status: int = 200,
    *,
    error: str = "",
    searched: bool = False,
    found: Subscriber | None = None,
    channel: str = ContactKind.EMAIL,
    contact: str = "",
    deleted: int | None = None,
) -> web.Response:
    categories = console(request).settings.categories
    names = sorted(categories[c].name if c in categories else c for c in found.categories) if found else []
    return page(
        request,
        "admin_subscribers.html.j2",
        status=status,
        error=error,
        searched=searched,
        found=found,
        category_names=names,
        channels=list(ContactKind),
        channel=channel,
        contact=contact,
        deleted=deleted,
    )


async def subscribers(request: web.Request) -> web.Response:
    """The search form."""
    need(request, Role.ADMIN)
    return _page(request)


async def search(request: web.Request) -> web.Response:
    """One subscriber by channel and exact contact (a mail address case-insensitively), audited."""
    current = need(request, Role.ADMIN)
    form = await read_form(request)
    channel, contact = str(form.get("channel", "")), str(form.get("contact", "")).strip()
    t = words(request)
    if channel not in ContactKind.__members__.values():
        return _page(request, 400, error=t["subscribers_bad_channel"], contact=contact[:CONTACT_MAX])
    if not contact or len(contact) > CONTACT_MAX:
        return _page(request, 400, error=t["subscribers_bad_contact"], channel=channel)
    wanted = contact.lower() if channel == ContactKind.EMAIL else contact  # as the import and sign-up store it
    store = console(request).store
    try:
        found = await store.get_subscriber(channel, wanted)
    except ConfigError:  # no data key to look a contact up with
        return _page(request, 503, error=t["subscribers_no_key"], channel=channel, contact=contact)
    target, detail = (f"subscriber:{found.id}" if found else ""), f"{channel}: {int(found is not None)} found"
    await store.audit(current.name, "subscribers.search", target, detail, client(request))
    return _page(request, searched=True, found=found, channel=channel, contact=contact)


async def delete(request: web.Request) -> web.Response:
    """Delete one subscriber by id (the store audits it in the same transaction)."""
    current = need(request, Role.ADMIN)
    await read_form(request)  # the guard has checked its CSRF field
    value = request.match_info["subscriber_id"]
    if not (value.isascii() and value.isdigit() and len(value) <= 18):  # SQLite integers stop at 2**63
        raise web.HTTPNotFound(text="no such subscriber", headers=HEADERS)
    subscriber_id = int(value)
    if not await console(request).store.delete_subscriber(subscriber_id, current.name, client(request)):
        return _page(request, 404, error=words(request)["subscribers_not_found"])
    return _page(request, deleted=subscriber_id)
