"""The admin's subscriber page: search by exact contact and delete, admins only, each audited without the
contact; the contact travels in a posted form, never in a URL."""

from __future__ import annotations

import re

import pytest

from broadcaster.models import ContactKind, Role, Subscriber, SubscriberState
from tests.console.conftest import ConsoleSite

PAGE = "/console/admin/subscribers"
CONTACT = "Hanako.Yamada@example.jp"  # a mail address is found whatever its case
LINE_ID = "U" + "0123456789abcdef" * 2


async def resident(site: ConsoleSite, contact: str, channel: ContactKind = ContactKind.EMAIL) -> Subscriber:
    """A subscriber to two categories, stored as sign-up stores one."""
    stored = contact.lower() if channel == ContactKind.EMAIL else contact
    subscriber = Subscriber(0, channel, stored, frozenset({"disaster", "crime"}), "ja", SubscriberState.ACTIVE)
    return await site.store.save_subscriber(subscriber)


def without_contacts(site_text: str, *contacts: str) -> bool:
    """Whether none of ``contacts`` appears (in any case) in ``site_text``."""
    return not any(contact.lower() in site_text.lower() for contact in contacts)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.APPROVER])
async def test_only_an_admin_may_search_or_delete(console_site: ConsoleSite, role: Role) -> None:
    found = await resident(console_site, CONTACT)
    browser = await console_site.browser("tanaka", role)
    assert (await browser.get(PAGE)).status == 403
    assert (await browser.post(PAGE, {"channel": "email", "contact": CONTACT})).status == 403
    assert (await browser.post(f"{PAGE}/{found.id}/delete")).status == 403
    assert await console_site.store.get_subscriber_by_id(found.id) is not None
    assert not await console_site.store.audit_search("subscriber")  # nothing was searched or deleted


async def test_an_admin_finds_a_subscriber_by_exact_contact_and_the_search_is_audited(
    console_site: ConsoleSite,
) -> None:
    found = await resident(console_site, CONTACT)
    await resident(console_site, LINE_ID, ContactKind.LINE)
    admin = await console_site.browser("sato", Role.ADMIN)
    form = await admin.get(PAGE)
    assert form.status == 200 and f'href="{PAGE}"' in form.text  # in the admin's menu
    assert 'method="post" action="/console/admin/subscribers"' in form.text

    reply = await admin.post(PAGE, {"channel": "email", "contact": CONTACT.upper()})
    assert reply.status == 200
    assert f'id="subscriber-{found.id}"' in reply.text
    assert "配信中" in reply.text and "防災" in reply.text  # its state and categories in words
    assert f'action="{PAGE}/{found.id}/delete"' in reply.text

    missed = await admin.post(PAGE, {"channel": "email", "contact": "nobody@example.jp"})
    assert missed.status == 200 and 'id="not-found"' in missed.text and 'id="subscriber-' not in missed.text
    line = await admin.post(PAGE, {"channel": "line", "contact": LINE_ID.upper()})  # a LINE id is exact
    assert 'id="not-found"' in line.text

    entries = await console_site.store.audit_search("subscribers.search")
    assert [(e.actor, e.action, e.target, e.detail) for e in reversed(entries)] == [
        ("sato", "subscribers.search", f"subscriber:{found.id}", "email: 1 found"),
        ("sato", "subscribers.search", "", "email: 0 found"),
        ("sato", "subscribers.search", "", "line: 0 found"),
    ]
    assert all(without_contacts(f"{e.target} {e.detail} {e.origin}", CONTACT, "nobody@example.jp", LINE_ID)
               for e in entries)  # fmt: skip


async def test_an_admin_deletes_a_subscriber_with_the_csrf_field_and_it_is_audited(console_site: ConsoleSite) -> None:
    found = await resident(console_site, CONTACT)
    admin = await console_site.browser("sato", Role.ADMIN)
    await admin.post(PAGE, {"channel": "email", "contact": CONTACT})

    refused = await admin.post(f"{PAGE}/{found.id}/delete", csrf=False)
    assert refused.status == 403 and await console_site.store.get_subscriber_by_id(found.id) is not None

    reply = await admin.post(f"{PAGE}/{found.id}/delete")
    assert reply.status == 200 and 'id="deleted"' in reply.text
    assert await console_site.store.get_subscriber_by_id(found.id) is None
    assert await console_site.store.get_subscriber("email", CONTACT.lower()) is None
    assert await console_site.store.subscriber_counts() == {}  # its categories went with it
    [entry] = await console_site.store.audit_search("subscriber.delete")
    assert (entry.actor, entry.target, entry.detail) == ("sato", f"subscriber:{found.id}", "1 deleted")

    again = await admin.post(f"{PAGE}/{found.id}/delete")
    assert again.status == 404 and 'class="error"' in again.text
    assert len(await console_site.store.audit_search("subscriber.delete")) == 1  # nothing deleted, nothing audited


@pytest.mark.parametrize(
    ("form", "status"),
    [
        pytest.param({"channel": "fax", "contact": CONTACT}, 400, id="unknown-channel"),
        pytest.param({"channel": "email", "contact": "   "}, 400, id="empty-contact"),
        pytest.param({"channel": "email", "contact": "a" * 321}, 400, id="too-long"),
        pytest.param({}, 400, id="nothing"),
    ],
)
async def test_a_bad_search_is_a_400_page_and_audits_nothing(
    console_site: ConsoleSite, form: dict[str, str], status: int
) -> None:
    admin = await console_site.browser("sato", Role.ADMIN)
    await admin.get(PAGE)
    reply = await admin.post(PAGE, form)
    assert reply.status == status and 'class="error"' in reply.text
    assert not await console_site.store.audit_search("subscribers.search")


@pytest.mark.parametrize("subscriber_id", ["abc", "-1", "1" * 19, "１"])
async def test_a_bad_id_is_a_404(console_site: ConsoleSite, subscriber_id: str) -> None:
    admin = await console_site.browser("sato", Role.ADMIN)
    await admin.get(PAGE)
    assert (await admin.post(f"{PAGE}/{subscriber_id}/delete")).status == 404


async def test_the_page_is_japanese_for_a_japanese_session(console_site: ConsoleSite) -> None:
    admin = await console_site.browser("sato", Role.ADMIN)
    page = await admin.get(PAGE)
    main = re.search(r"<main.*?</main>", page.text, re.S)
    assert main and "登録者の検索と削除" in main.group(0)
    assert not re.search(r">\s*(Search|Contact|Kind|Delete)", main.group(0))
