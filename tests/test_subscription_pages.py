"""The subscription pages through aiohttp's test client, with a real SQLite store and the mails
sent through the real mailer to aiosmtpd (STARTTLS and AUTH). Links are taken from the received mails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.pacing import Backoff
from broadcaster.rendering import make_environment
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.tokens import Signer
from broadcaster.web.subscription import CONFIRM, MANAGE, Subscriptions, parse_address
from broadcaster.web.subscription_pages import PAGES, Pages, add_routes, load_text
from channels.email.channel import UNSUBSCRIBE
from channels.email.mailer import Mailer, Smtp
from tests.smtp_server import PASSWORD, USER, Relay
from tests.test_store import email_subscriber, make_alert

SECRET = b"test-secret-key-0123456789abcdef"
PUBLIC_URL = "http://alerts.city.oyama.example.jp"
ADDRESS = "hanako.oyama@example.jp"
LINK = re.compile(r"https?://\S+")
SiteFactory = Callable[..., Path]


@dataclasses.dataclass
class Site:
    """The pages on a test server, their store, and the relay their mails go to."""

    client: TestClient[web.Request, web.Application]
    store: SQLiteStore
    relay: Relay
    mailer: Mailer
    signer: Signer

    async def csrf(self, path: str = "/subscribe") -> str:
        """Open a page and return its form's CSRF field (the cookie goes into the client's jar)."""
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        return field(await response.text(), "csrf")

    async def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> tuple[int, str]:
        """Post a form (with a fresh CSRF token unless told not to); returns status and page."""
        form: list[tuple[str, str]] = []
        for key, value in data.items():
            form.extend((key, v) for v in (value if isinstance(value, list) else [value]))
        if csrf:
            form.append(("csrf", await self.csrf()))
        response = await self.client.post(path, data=form)
        return response.status, await response.text()

    async def subscribe(self, address: str = ADDRESS, categories: tuple[str, ...] = ("disaster",), **kw: Any) -> str:
        """Post the subscribe form; returns the page."""
        data = {"address": address, "categories": list(categories), "language": kw.pop("language", "ja")}
        status, page = await self.post(kw.pop("path", "/subscribe"), data | kw)
        assert status == 200, page
        return page

    async def mails(self) -> list[EmailMessage]:
        """Every mail the relay has accepted, once the mailer has sent what it was given."""
        await self.mailer.drain()
        return [m.parsed() for m in self.relay.mailbox.received]

    async def subscriber(self, address: str = ADDRESS) -> Subscriber | None:
        return await self.store.get_subscriber(ContactKind.EMAIL, address)


def field(page: str, name: str) -> str:
    """The value of a hidden form field."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field in the page:\n{page[:2000]}"
    return match.group(1)


def link_in(mail: EmailMessage) -> str:
    """The path and query of the one link in a mail, to open on the test server."""
    body = mail.get_body(("plain",))
    assert body is not None
    [url] = LINK.findall(body.get_content())
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, url
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["t"][0]


def page_settings(site: SiteFactory, relay: Relay, districts: str = "oyama", **subscriptions: Any) -> Settings:
    """The pages' settings; ``districts``: "oyama" (default.toml's), "example" (example-districts.toml) or "none"."""
    conf = {"ip_limit": 100, "address_limit": 5} | subscriptions
    sections = {
        "email": {"host": "127.0.0.1", "port": relay.port, "tls": "starttls", "timeout": 5.0},
        "city": {"public_url": PUBLIC_URL},
        "subscriptions": conf,
    }
    settings = load_settings(site(sections, name="pages.toml", districts=districts == "example"))
    # a town with no districts, as config/example-other-town.toml's districts = []
    return settings.model_copy(update={"districts": ()}) if districts == "none" else settings


SiteMaker = Callable[..., Any]


@contextlib.asynccontextmanager
async def site_maker(site: SiteFactory, relay: Relay, store: SQLiteStore) -> AsyncIterator[SiteMaker]:
    """Build the pages as the service does, on test servers closed at the end; ``secret=None`` leaves the key out,
    ``districts`` is page_settings'."""
    made: list[tuple[TestClient[web.Request, web.Application], Mailer]] = []

    async def make(secret: bytes | None = SECRET, districts: str = "oyama", **subscriptions: Any) -> Site:
        settings = page_settings(site, relay, districts, **subscriptions)
        env = make_environment()
        signer = Signer(secret or b"unused")
        mailer = Mailer(Smtp(settings, (USER, PASSWORD), relay.client_tls), Backoff(base=0.0, cap=0.0), max_attempts=2)
        subs = Subscriptions(store, settings, signer, mailer, env) if secret else None
        app = web.Application()
        add_routes(app)
        app[PAGES] = Pages.create(settings, env, subs)
        client = TestClient(TestServer(app))
        await client.start_server()
        made.append((client, mailer))
        return Site(client, store, relay, mailer, signer)

    try:
        yield make
    finally:
        for client, mailer in made:
            await mailer.aclose()
            await client.close()


@pytest.fixture
async def make_site(site: SiteFactory, relay: Relay, store: SQLiteStore) -> AsyncIterator[SiteMaker]:
    """The pages' factory (site_maker)."""
    async with site_maker(site, relay, store) as make:
        yield make


# -- the whole flow ----------------------------------------------------------------------


async def test_subscribe_confirm_change_and_leave_following_the_mailed_links(make_site: SiteMaker) -> None:
    s = await make_site()
    page = await s.subscribe(ADDRESS, ("disaster", "childcare"), language="en")
    assert "確認メールをお送りしました" in page

    pending = await s.subscriber()
    assert pending is not None and pending.state == SubscriberState.PENDING
    assert pending.categories == {"disaster", "childcare"} and pending.language == "en"
    [mail] = await s.mails()
    assert mail["To"] == ADDRESS and mail["Subject"] == "【小山市 安全安心メール】登録の確認"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "防災、子育て" in text and "English" in text and "24時間" in text
    assert s.relay.mailbox.received[0].tls and s.relay.mailbox.received[0].login == USER.encode()

    confirm = link_in(mail)
    assert confirm.startswith("/subscribe/confirm?t=")
    opened = await s.client.get(confirm)  # what a mail scanner would do: it must change nothing
    assert opened.status == 200
    assert (await s.subscriber()).state == SubscriberState.PENDING  # type: ignore[union-attr]

    status, page = await s.post("/subscribe/confirm", {"t": field(await opened.text(), "t")})
    assert status == 200 and "登録が完了しました" in page
    assert (await s.subscriber()).state == SubscriberState.ACTIVE  # type: ignore[union-attr]

    manage = re.search(r'href="(/manage\?t=[^"]+)"', page)
    assert manage, page
    form = await s.client.get(manage.group(1).replace("&amp;", "&"))
    form_page = await form.text()
    assert form.status == 200 and 'value="childcare" checked' in form_page and 'value="crime">' in form_page
    status, page = await s.post(
        "/manage", {"t": field(form_page, "t"), "categories": ["crime", "health"], "language": "ja"}
    )
    assert status == 200 and "変更を保存しました" in page
    changed = await s.subscriber()
    assert changed is not None and changed.categories == {"crime", "health"} and changed.language == "ja"
    assert changed.state == SubscriberState.ACTIVE

    status, page = await s.post("/unsubscribe", {"t": field(form_page, "t"), "from": "manage"})
    assert status == 200 and "配信を停止しました" in page
    assert (await s.subscriber()).state == SubscriberState.GONE  # type: ignore[union-attr]
    actions = [e.action for e in await s.store.audit_log()]
    assert actions[:4] == ["subscriber.unsubscribe", "subscriber.update", "subscriber.confirm", "subscriber.request"]


async def test_nothing_is_sent_to_an_unconfirmed_or_paused_address(make_site: SiteMaker) -> None:
    s = await make_site()
    await s.subscribe()
    alert = make_alert("20261129-090000-aaaaaa", ("email",))
    assert (await s.store.reach(alert)).get("email", 0) == 0  # pending: not in any audience

    sub = await s.subscriber()
    assert sub is not None
    await s.store.set_subscriber_state(sub.id, SubscriberState.ACTIVE)
    assert await s.store.reach(alert) == {"email": 1}

    manage = s.signer.make(MANAGE, sub.id, ttl=600)
    status, page = await s.post("/manage", {"t": manage, "categories": ["disaster"], "language": "ja", "paused": "1"})
    assert status == 200 and "一時停止" in page
    assert (await s.subscriber()).state == SubscriberState.PAUSED  # type: ignore[union-attr]
    assert (await s.store.reach(alert)).get("email", 0) == 0


async def test_the_pages_do_not_tell_whether_an_address_is_registered(make_site: SiteMaker) -> None:
    s = await make_site()
    await s.store.save_subscriber(email_subscriber(ADDRESS, categories=frozenset({"crime"})))

    known = await s.subscribe(ADDRESS, ("disaster", "health"))
    unknown = await s.subscribe("someone.else@example.jp", ("disaster", "health"))
    assert known == unknown

    # the registered address got a link to its settings, and the posted choice changed nothing
    by_to = {m["To"]: m for m in await s.mails()}
    assert by_to[ADDRESS]["Subject"] == "【小山市 安全安心メール】登録内容の変更"
    assert link_in(by_to[ADDRESS]).startswith("/manage?t=")
    assert link_in(by_to["someone.else@example.jp"]).startswith("/subscribe/confirm?t=")
    kept = await s.subscriber()
    assert kept is not None and kept.categories == {"crime"} and kept.state == SubscriberState.ACTIVE


async def test_a_subscriber_who_left_can_come_back_through_a_new_confirmation(make_site: SiteMaker) -> None:
    s = await make_site()
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    old_confirm = s.signer.make(CONFIRM, sub.id, ttl=600)
    await s.store.set_subscriber_state(sub.id, SubscriberState.GONE)

    status, _ = await s.post("/subscribe/confirm", {"t": old_confirm})
    assert status == 400  # a link from before leaving does not bring the address back
    assert (await s.subscriber()).state == SubscriberState.GONE  # type: ignore[union-attr]

    await s.subscribe(ADDRESS, ("elderly",))
    [mail] = await s.mails()
    status, _ = await s.post("/subscribe/confirm", {"t": token_of(link_in(mail))})
    back = await s.subscriber()
    assert status == 200 and back is not None and back.id == sub.id
    assert back.state == SubscriberState.ACTIVE and back.categories == {"elderly"}


# -- unsubscribing -------------------------------------------------------------------------


async def test_rfc8058_one_click_post_unsubscribes_without_a_page_or_cookie(make_site: SiteMaker) -> None:
    s = await make_site()
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    token = s.signer.make(UNSUBSCRIBE, sub.id, ttl=None)  # as the email channel puts it in List-Unsubscribe

    s.client.session.cookie_jar.clear()
    response = await s.client.post(f"/unsubscribe?t={token}", data="List-Unsubscribe=One-Click",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status == 200, await response.text()
    assert (await s.subscriber()).state == SubscriberState.GONE  # type: ignore[union-attr]

    again = await s.client.post(f"/unsubscribe?t={token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status == 200  # mail providers may retry; the second time changes nothing
    forged = await s.client.post(f"/unsubscribe?t={token}x", data={"List-Unsubscribe": "One-Click"})
    assert forged.status == 400


async def test_the_unsubscribe_link_in_a_browser_asks_first(make_site: SiteMaker) -> None:
    s = await make_site()
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    token = s.signer.make(UNSUBSCRIBE, sub.id, ttl=None)

    page = await s.client.get(f"/unsubscribe?t={token}")
    text = await page.text()
    assert page.status == 200 and "配信を停止する" in text
    assert (await s.subscriber()).state == SubscriberState.ACTIVE  # type: ignore[union-attr]

    status, done = await s.post("/unsubscribe", {"t": field(text, "t")})
    assert status == 200 and "配信を停止しました" in done
    assert (await s.subscriber()).state == SubscriberState.GONE  # type: ignore[union-attr]


# -- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"address": "not-an-address", "categories": ["disaster"], "language": "ja"}, "メールアドレスの形式"),
        ({"address": ADDRESS, "categories": [], "language": "ja"}, "1つ以上選んで"),
        ({"address": ADDRESS, "categories": ["disaster", "casino"], "language": "ja"}, "1つ以上選んで"),
        ({"address": ADDRESS, "categories": ["disaster"], "language": "xx"}, "配信の言語を選んで"),
        ({"address": "a@b.jp\r\nBcc: x@y.jp", "categories": ["disaster"], "language": "ja"}, "メールアドレスの形式"),
    ],
)
async def test_a_bad_form_is_shown_again_with_the_error_and_stores_nothing(
    make_site: SiteMaker, form: dict[str, Any], error: str
) -> None:
    s = await make_site()
    status, page = await s.post("/subscribe", form)
    assert status == 400 and error in page
    assert 'aria-invalid="true"' in page or 'class="error"' in page
    assert await s.store.subscriber_counts() == {}
    assert await s.mails() == []


async def test_a_file_upload_in_place_of_a_field_is_a_bad_form_not_a_crash(make_site: SiteMaker) -> None:
    s = await make_site()
    form = aiohttp.FormData()
    form.add_field("csrf", await s.csrf())
    form.add_field("address", b"hanako@example.jp", filename="address.txt", content_type="text/plain")
    form.add_field("categories", "disaster")
    form.add_field("language", "ja")
    response = await s.client.post("/subscribe", data=form)
    assert response.status == 400 and "メールアドレスの形式" in await response.text()
    assert await s.store.subscriber_counts() == {}


async def test_posts_without_the_csrf_token_of_the_browsers_cookie_are_refused(make_site: SiteMaker) -> None:
    s = await make_site()
    form = {"address": ADDRESS, "categories": ["disaster"], "language": "ja"}
    status, page = await s.post("/subscribe", form, csrf=False)
    assert status == 403 and "フォームの有効期限" in page

    token = await s.csrf()
    s.client.session.cookie_jar.clear()  # another browser, or a page on another site: no matching cookie
    response = await s.client.post("/subscribe", data=form | {"csrf": token})
    assert response.status == 403
    assert await s.store.subscriber_counts() == {}
    assert await s.mails() == []


async def test_posts_are_limited_per_client(make_site: SiteMaker) -> None:
    s = await make_site(ip_limit=3)
    for i in range(3):
        await s.subscribe(f"resident{i}@example.jp")
    status, page = await s.post("/subscribe", {"address": "one.more@example.jp", "categories": ["disaster"]})
    assert status == 429 and "しばらくたってから" in page
    assert await s.subscriber("one.more@example.jp") is None
    assert len(await s.mails()) == 3


async def test_mails_to_one_address_are_limited_without_saying_so(make_site: SiteMaker) -> None:
    s = await make_site(address_limit=2)
    pages = {await s.subscribe(ADDRESS.upper() if i % 2 else ADDRESS) for i in range(4)}
    assert len(pages) == 1  # the same page every time
    assert len(await s.mails()) == 2


@pytest.mark.parametrize(
    ("path", "purpose", "ttl"),
    [
        ("/subscribe/confirm", CONFIRM, -1.0),  # expired
        ("/manage", UNSUBSCRIBE, 600.0),  # a token for another purpose
        ("/manage", MANAGE, -1.0),
        ("/unsubscribe", CONFIRM, 600.0),
    ],
)
async def test_expired_or_misused_links_open_an_error_page(
    make_site: SiteMaker, path: str, purpose: str, ttl: float
) -> None:
    s = await make_site()
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    response = await s.client.get(f"{path}?t={s.signer.make(purpose, sub.id, ttl)}")
    page = await response.text()
    assert response.status == 400 and "無効か、有効期限が切れています" in page
    assert 'name="t"' not in page


async def test_a_link_signed_with_another_key_is_refused(make_site: SiteMaker) -> None:
    s = await make_site()
    sub = await s.store.save_subscriber(email_subscriber(ADDRESS))
    token = Signer(b"someone-elses-key-0123456789").make(MANAGE, sub.id, ttl=600)
    assert (await s.client.get(f"/manage?t={token}")).status == 400
    status, _ = await s.post("/manage", {"t": token, "categories": ["crime"], "language": "ja"})
    assert status == 400
    assert (await s.subscriber()).categories == {"disaster"}  # type: ignore[union-attr]


async def test_without_the_secret_key_every_page_says_unavailable(make_site: SiteMaker) -> None:
    s = await make_site(secret=None)
    for path in ("/subscribe", "/subscribe/confirm?t=x", "/manage?t=x", "/unsubscribe?t=x"):
        response = await s.client.get(path)
        assert response.status == 503 and "ご利用いただけません" in await response.text(), path
    response = await s.client.post("/subscribe", data={"address": ADDRESS})
    assert response.status == 503


# -- language, headers, personal data -------------------------------------------------------


async def test_english_pages_and_an_english_mail(make_site: SiteMaker) -> None:
    s = await make_site()
    response = await s.client.get("/subscribe?lang=en")
    page = await response.text()
    assert '<html lang="en">' in page and "Subscribe to the safety mail" in page
    assert 'href="/subscribe?lang=ja" lang="ja"' in page  # the way back to Japanese
    assert 'value="en" checked' in page  # alerts in the page's language unless changed

    await s.subscribe(ADDRESS, ("disaster",), language="en", path="/subscribe?lang=en")
    [mail] = await s.mails()
    assert mail["Subject"] == "Oyama City safety mail: please confirm your subscription"
    confirm = link_in(mail)
    assert confirm.endswith("&lang=en")
    assert "Confirm your subscription" in await (await s.client.get(confirm)).text()


async def test_every_page_language_has_every_word() -> None:
    text = load_text()
    for lang, words in text.items():
        assert words.keys() == text["ja"].keys(), f"{lang}: {sorted(words.keys() ^ text['ja'].keys())}"


async def test_pages_keep_tokens_out_of_referers_and_caches(make_site: SiteMaker) -> None:
    s = await make_site()
    response = await s.client.get("/subscribe")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    css = await s.client.get("/static/site.css")
    assert css.status == 200 and css.content_type == "text/css"


async def test_addresses_never_reach_the_log(make_site: SiteMaker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = await make_site(address_limit=1)
    await s.subscribe()
    await s.subscribe()  # over the address limit: logged, by no address
    s.relay.mailbox.refuse.add("refused.person@example.jp")
    await s.subscribe("refused.person@example.jp")
    assert len(await s.mails()) == 1
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("broadcaster"))
    assert "limit" in ours and "550 5.1.1 <address>" in ours
    assert "@" not in ours


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hanako.Oyama@Example.JP ", "hanako.oyama@example.jp"),
        ("a+alerts@city.oyama.tochigi.jp", "a+alerts@city.oyama.tochigi.jp"),
        ("no-at-sign.example.jp", None),
        ("two@@example.jp", None),
        ("dot.@example.jp", None),
        ("a..b@example.jp", None),
        ("user@localhost", None),
        ("花子@example.jp", None),  # SMTPUTF8 addresses: the relay may not carry them
        ("x" * 250 + "@example.jp", None),
    ],
)
def test_which_addresses_the_form_takes(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(Exception, match="not an email address"):
            parse_address(raw)
    else:
        assert parse_address(raw) == expected


async def test_the_csrf_cookie_is_secure_when_the_site_is_https(site: SiteFactory, store: SQLiteStore) -> None:
    settings = load_settings(site({"city": {"public_url": "https://alerts.example.jp"}}, name="https.toml"))
    env = make_environment()
    app = web.Application()
    add_routes(app)
    subs = Subscriptions(store, settings, Signer(SECRET), Mailer(Smtp(settings, None, None)), env)
    app[PAGES] = Pages.create(settings, env, subs)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/subscribe")
        assert "Secure" in response.headers["Set-Cookie"]
