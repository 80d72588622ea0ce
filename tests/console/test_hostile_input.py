"""Hostile bytes in every part of a request get a 4xx (or an ordinary answer), never a 500.

Requests are written by hand on a socket to the whole service in process, so that bytes no HTTP
client would send (invalid UTF-8, NUL, a lone surrogate's bytes) reach the server as they are: in the
query string (raw and percent-encoded), the path, form fields, cookies, headers and bodies.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadcaster.models import Role
from broadcaster.web.console.auth_pages import COOKIE as SESSION_COOKIE
from tests.conftest import SiteFactory
from tests.console.conftest import CSRF, ConsoleSite, SiteMaker
from tests.processes import run_cli

LINE_SECRET = "a line channel secret for the hostile tests"

HOSTILE: dict[str, bytes] = {
    "non-ascii": "日本語の値é".encode(),
    "nul": b"a\x00b",
    "invalid-utf8": b"\xff\xfe\xc3(",
    "lone-surrogate": "\udcff".encode("utf-8", "surrogatepass"),  # what a str holding \udcff would be sent as
    "superscript-digit": "²".encode(),  # str.isdigit() says yes, int() says no
    "long-digits": b"9" * 5000,  # over int()'s 4300-digit limit, under the request line limit
    "long": b"A" * 6000,
    "quote-and-markup": b"\"'><script>%00%ff",
}


@dataclass(frozen=True, slots=True)
class Raw:
    """An answer read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes


async def raw_request(
    site: ConsoleSite,
    method: str,
    target: bytes,
    headers: dict[str, bytes] | None = None,
    body: bytes = b"",
) -> Raw:
    """Send one request exactly as given (no encoding, no checks) and read the answer."""
    reader, writer = await asyncio.open_connection(site.server.host, site.server.port)
    try:
        lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: localhost", b"Connection: close"]
        lines += [name.encode() + b": " + value for name, value in (headers or {}).items()]
        if body or method == "POST":
            lines.append(b"Content-Length: " + str(len(body)).encode())
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split()[1]), parsed, rest)


def quoted(value: bytes) -> bytes:
    """Percent-encoded, as a browser would send the value in a query or form."""
    return urllib.parse.quote_from_bytes(value, safe="").encode()


def form(**fields: bytes) -> bytes:
    """An urlencoded form body from raw field values (kept raw: the hostile bytes go through as they are)."""
    return b"&".join(name.encode() + b"=" + value for name, value in fields.items())


def signed(body: bytes) -> bytes:
    """X-Line-Signature for a body, as LINE computes it."""
    return base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest())


@dataclass
class Visitor:
    """A logged-in officer's cookies and CSRF field, an API token, and a subscription page's CSRF pair."""

    session: bytes
    csrf_cookie: bytes
    csrf_field: bytes
    api_token: bytes
    sub_csrf_cookie: bytes
    sub_csrf_field: bytes

    def officer(self, **more: bytes) -> dict[str, bytes]:
        """Headers of the logged-in officer's browser."""
        cookie = b"; ".join([SESSION_COOKIE.encode() + b"=" + self.session, b"csrf=" + self.csrf_cookie])
        return {"Cookie": cookie, **more}


@pytest.fixture
async def hostile_site(make_site: SiteMaker, monkeypatch: pytest.MonkeyPatch) -> tuple[ConsoleSite, Visitor]:
    """The whole service with a secret key and the LINE webhook on, an officer logged in, an API token."""
    monkeypatch.setenv("LINE_CHANNEL_SECRET", LINE_SECRET)
    site = await make_site(secret=True)
    browser = await site.browser("officer", Role.APPROVER)
    jar = {c.key: c.value for c in browser.client.session.cookie_jar}
    await browser.get("/console/compose")
    token = await site.console.accounts.add_token("system", "test", "test", scopes=["alerts:read", "drafts:write"])
    resident = await site.anonymous()
    async with resident.client.get("/subscribe") as r:
        page = await r.text()
    found = CSRF.search(page)
    assert found
    sub_cookie = {c.key: c.value for c in resident.client.session.cookie_jar}["csrf"]
    visitor = Visitor(
        jar[SESSION_COOKIE].encode(),
        jar["csrf"].encode(),
        browser.token.encode(),
        token.encode(),
        sub_cookie.encode(),
        found.group(1).encode(),
    )
    return site, visitor


# A request made from a hostile value: (method, target, headers, body).
Probe = Callable[[Visitor, bytes], tuple[str, bytes, dict[str, bytes], bytes]]
URLENCODED = {"Content-Type": b"application/x-www-form-urlencoded"}


def _officer_post(path: bytes, **fields: bytes) -> Probe:
    def probe(v: Visitor, x: bytes) -> tuple[str, bytes, dict[str, bytes], bytes]:
        body = form(**{k: (x if val == b"X" else val) for k, val in fields.items()}, csrf=v.csrf_field)
        return "POST", path, v.officer(**URLENCODED), body

    return probe


PROBES: dict[str, Probe] = {
    # the console's login page and post
    "login-query": lambda v, x: ("GET", b"/console/login?next=" + x + b"&lang=" + x, {}, b""),
    "login-form": lambda v, x: (
        "POST",
        b"/console/login",
        {**URLENCODED, "Cookie": b"csrf=" + v.csrf_cookie},
        form(name=x, password=x, next=x, csrf=v.csrf_field),
    ),
    "login-csrf-field": lambda v, x: (
        "POST",
        b"/console/login",
        {**URLENCODED, "Cookie": b"csrf=" + v.csrf_cookie},
        form(name=b"officer", password=b"p", csrf=x),
    ),
    "login-csrf-cookie": lambda v, x: (
        "POST",
        b"/console/login",
        {**URLENCODED, "Cookie": b"csrf=" + x},
        form(name=b"officer", password=b"p", csrf=x),
    ),
    "console-session-cookie": lambda v, x: ("GET", b"/console/", {"Cookie": SESSION_COOKIE.encode() + b"=" + x}, b""),
    "console-origin": lambda v, x: (
        "POST",
        b"/console/mode",
        v.officer(Origin=x, **URLENCODED),
        form(csrf=v.csrf_field),
    ),
    # CSRF-protected posts: a garbage field, then hostile fields behind a good one
    "console-csrf-field": lambda v, x: ("POST", b"/console/mode", v.officer(**URLENCODED), form(mode=b"live", csrf=x)),
    "console-compose": _officer_post(
        b"/console/compose",
        category=b"X",
        level=b"X",
        title=b"X",
        body=b"X",
        instruction=b"X",
        kind=b"X",
        expires_in=b"X",
        areas=b"X",
        channels=b"X",
        do=b"preview",
    ),
    "console-compose-expiry": _officer_post(b"/console/compose", expires_at=b"X", title=b"t", do=b"X"),
    "console-compose-districts": _officer_post(
        b"/console/compose", category=b"disaster", title=b"t", body=b"b", districts=b"X", whole_city=b"X", do=b"save"
    ),
    "console-reach": _officer_post(
        b"/console/compose/reach", category=b"X", channels=b"X", districts=b"X", whole_city=b"X"
    ),
    "console-alert-reach": lambda v, x: (
        "POST",
        b"/console/alerts/" + x + b"/reach",
        v.officer(**URLENCODED),
        form(category=b"disaster", districts=x, csrf=v.csrf_field),
    ),
    "console-lang": _officer_post(b"/console/lang", lang=b"X"),
    "console-users": _officer_post(b"/console/admin/users", name=b"X", role=b"X"),
    "console-reject": _officer_post(b"/console/alerts/nothing/reject", reason=b"X"),
    "console-history": lambda v, x: (
        "GET",
        b"/console/history?page=" + x + b"&q=" + x + b"&mode=" + x,
        v.officer(),
        b"",
    ),
    "console-alert-path": lambda v, x: ("GET", b"/console/alerts/" + x, v.officer(), b""),
    "console-compose-query": lambda v, x: ("GET", b"/console/compose?from=" + x + b"&phrase=" + x, v.officer(), b""),
    "console-audit": lambda v, x: ("GET", b"/console/audit?before=" + x + b"&q=" + x, v.officer(), b""),
    # the API
    "api-bearer": lambda v, x: ("GET", b"/api/v1/alerts", {"Authorization": b"Bearer " + x}, b""),
    "api-bearer-prefixed": lambda v, x: (
        "GET",
        b"/api/v1/alerts",
        {"Authorization": b"Bearer " + v.api_token[:4] + x},
        b"",
    ),
    "api-query": lambda v, x: (
        "GET",
        b"/api/v1/alerts?limit=" + x + b"&state=" + x,
        {"Authorization": b"Bearer " + v.api_token},
        b"",
    ),
    "api-alert-path": lambda v, x: ("GET", b"/api/v1/alerts/" + x, {"Authorization": b"Bearer " + v.api_token}, b""),
    "api-draft-body": lambda v, x: (
        "POST",
        b"/api/v1/drafts",
        {"Authorization": b"Bearer " + v.api_token, "Content-Type": b"application/json", "Idempotency-Key": x},
        x,
    ),
    "api-draft-escapes": lambda v, x: (
        "POST",
        b"/api/v1/drafts",
        {"Authorization": b"Bearer " + v.api_token, "Content-Type": b"application/json"},
        b'{"title": "\\udcff' + x + b'", "body": "\\ud800", "category": "\\u0000"}',
    ),
    "api-draft-districts": lambda v, x: (
        "POST",
        b"/api/v1/drafts",
        {"Authorization": b"Bearer " + v.api_token, "Content-Type": b"application/json"},
        b'{"category": "disaster", "level": 3, "title": "t", "body": "b", "districts": ["' + x + b'"]}',
    ),
    "api-metrics": lambda v, x: ("GET", b"/metrics", {"Authorization": b"Bearer " + x}, b""),
    # the subscription pages: links with a garbage token, forms with hostile fields
    "sub-confirm-link": lambda v, x: ("GET", b"/subscribe/confirm?t=" + x + b"&lang=" + x, {}, b""),
    "sub-manage-link": lambda v, x: ("GET", b"/manage?t=" + x, {}, b""),
    "sub-unsubscribe-link": lambda v, x: ("GET", b"/unsubscribe?t=" + x, {}, b""),
    "sub-token-like": lambda v, x: ("GET", b"/manage?t=eyJ." + x, {}, b""),
    "sub-one-click": lambda v, x: ("POST", b"/unsubscribe?t=" + x, URLENCODED, b"List-Unsubscribe=One-Click"),
    "sub-subscribe-form": lambda v, x: (
        "POST",
        b"/subscribe?lang=" + x,
        {**URLENCODED, "Cookie": b"csrf=" + v.sub_csrf_cookie, "X-Forwarded-For": x},
        form(address=x, categories=x, language=x, csrf=v.sub_csrf_field),
    ),
    "sub-confirm-form": lambda v, x: (
        "POST",
        b"/subscribe/confirm",
        {**URLENCODED, "Cookie": b"csrf=" + v.sub_csrf_cookie},
        form(t=x, csrf=v.sub_csrf_field),
    ),
    "sub-manage-form": lambda v, x: (
        "POST",
        b"/manage",
        {**URLENCODED, "Cookie": b"csrf=" + v.sub_csrf_cookie},
        form(t=x, categories=b"disaster", language=b"ja", csrf=v.sub_csrf_field),
    ),
    "sub-csrf": lambda v, x: ("POST", b"/subscribe", {**URLENCODED, "Cookie": b"csrf=" + x * 3}, form(csrf=x)),
    "sub-body-charset": lambda v, x: (
        "POST",
        b"/subscribe",
        {"Content-Type": b"application/x-www-form-urlencoded; charset=" + x, "Cookie": b"csrf=" + v.sub_csrf_cookie},
        form(address=x, csrf=v.sub_csrf_field),
    ),
    "sub-multipart": lambda v, x: (
        "POST",
        b"/subscribe",
        {"Content-Type": b"multipart/form-data; boundary=" + x[:60], "Cookie": b"csrf=" + v.sub_csrf_cookie},
        b"--" + x[:60] + b"\r\n" + x + b"\r\n",
    ),
    # the LINE webhook: a garbage signature, a garbage body that is signed
    "line-signature": lambda v, x: (
        "POST",
        b"/line/webhook",
        {"X-Line-Signature": x, "Content-Type": b"application/json"},
        b'{"events": []}',
    ),
    "line-signed-body": lambda v, x: (
        "POST",
        b"/line/webhook",
        {"X-Line-Signature": signed(x), "Content-Type": b"application/json"},
        x,
    ),
    "line-signed-events": lambda v, x: (
        "POST",
        b"/line/webhook",
        {"X-Line-Signature": signed(_events(x)), "Content-Type": b"application/json"},
        _events(x),
    ),
    # the public pages and feeds
    "website-alert-path": lambda v, x: ("GET", b"/alerts/" + x, {}, b""),
    "website-cap-path": lambda v, x: ("GET", b"/cap/" + x + b".xml", {}, b""),
    "fm-path": lambda v, x: ("GET", b"/fm/" + x + b".wav", {}, b""),
    "ticker": lambda v, x: ("GET", b"/ticker.txt?charset=" + x, {"If-None-Match": x, "If-Modified-Since": x}, b""),
    "ticker-json": lambda v, x: ("GET", b"/ticker.json", {"If-None-Match": b'"' + x + b'"'}, b""),
    "static": lambda v, x: ("GET", b"/static/" + x, {}, b""),
}


def _events(x: bytes) -> bytes:
    text = x.decode("utf-8", "replace")
    e = {
        "type": "postback",
        "mode": "active",
        "timestamp": text,
        "source": {"type": "user", "userId": text},
        "webhookEventId": text,
        "replyToken": text,
        "postback": {"data": text},
    }
    return json.dumps({"destination": text, "events": [e]}).encode()


@pytest.mark.parametrize("encoding", ["raw", "quoted"])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_bytes_anywhere_get_no_500(
    hostile_site: tuple[ConsoleSite, Visitor], value: bytes, encoding: str
) -> None:
    site, visitor = hostile_site
    x = value if encoding == "raw" else quoted(value)
    failed = {}
    for name, probe in PROBES.items():
        method, target, headers, body = probe(visitor, x)
        answer = await raw_request(site, method, target, headers, body)
        if answer.status >= 500:
            failed[name] = (answer.status, answer.body[:200])
    assert not failed
    assert (await site.store.get_user("officer")) is not None  # the officer's account is still there


@pytest.mark.parametrize("depth", [100_000, 5_000])
async def test_deeply_nested_json_is_refused(hostile_site: tuple[ConsoleSite, Visitor], depth: int) -> None:
    site, visitor = hostile_site
    nested = b"[" * depth + b"]" * depth
    line = await raw_request(
        site,
        "POST",
        b"/line/webhook",
        {"X-Line-Signature": signed(nested), "Content-Type": b"application/json"},
        nested,
    )
    assert line.status in (400, 413)
    api = await raw_request(
        site,
        "POST",
        b"/api/v1/drafts",
        {"Authorization": b"Bearer " + visitor.api_token, "Content-Type": b"application/json"},
        b'{"title": ' + nested + b"}",
    )
    assert api.status in (400, 413)


async def test_a_huge_body_is_refused_before_it_is_read(hostile_site: tuple[ConsoleSite, Visitor]) -> None:
    site, visitor = hostile_site
    huge = b"[" + b"0," * 3_000_000 + b"0]"
    line = await raw_request(
        site, "POST", b"/line/webhook", {"X-Line-Signature": signed(huge), "Content-Type": b"application/json"}, huge
    )
    assert line.status == 413
    api = await raw_request(
        site,
        "POST",
        b"/api/v1/drafts",
        {"Authorization": b"Bearer " + visitor.api_token, "Content-Type": b"application/json"},
        huge,
    )
    assert api.status == 413


async def test_a_link_token_with_non_ascii_is_a_bad_link_page(hostile_site: tuple[ConsoleSite, Visitor]) -> None:
    site, _ = hostile_site
    answer = await raw_request(site, "GET", b"/manage?t=" + quoted("é.é".encode()))
    assert answer.status == 400
    assert re.search(rb"<html", answer.body)


async def test_a_non_ascii_csrf_field_is_refused_with_403(hostile_site: tuple[ConsoleSite, Visitor]) -> None:
    site, visitor = hostile_site
    answer = await raw_request(
        site, "POST", b"/console/mode", visitor.officer(**URLENCODED), form(mode=b"live", csrf=quoted("é".encode()))
    )
    assert answer.status == 403
    page = await raw_request(site, "GET", b"/console/dashboard", visitor.officer())  # the session still works
    assert page.status == 200


# -- files read whole are read with a limit ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("jma", "inspect", "/dev/zero"), "larger than [jma] max_bytes"),
        (("jma", "replay", "/dev/zero"), "larger than [jma] max_bytes"),
        (("subscribers", "import", "/dev/zero"), "larger than"),
    ],
)
async def test_an_endless_file_is_one_line_and_exit_2(
    run_py: list[str], site: SiteFactory, args: tuple[str, ...], says: str
) -> None:
    result = await run_cli(run_py, site({"jma": {"max_bytes": 100_000}}), *args)
    assert result.rc == 2, result.stderr[-2000:]
    assert says in result.stderr and "/dev/zero" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\xff\xfe[city]\nname = '\x82\xa0'\n", "not UTF-8"), (None, "larger than")],
    ids=["not-utf8", "endless"],
)
async def test_a_bad_config_file_is_one_line_and_exit_2(
    run_py: list[str], tmp_path: Path, content: bytes | None, says: str
) -> None:
    config = tmp_path / "site.toml"
    if content is None:
        config.symlink_to("/dev/zero")
    else:
        config.write_bytes(content)
    result = await run_cli(run_py, config, "subscribers", "list")
    assert result.rc == 2, result.stderr[-2000:]
    assert says in result.stderr and str(config) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
