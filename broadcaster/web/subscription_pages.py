"""The residents' subscription pages: /subscribe, /subscribe/confirm, /manage, /unsubscribe.

Server-rendered, no JavaScript, in every language the city offers (``[city] languages``): Japanese
first, every other one link away (``?lang=vi``), each link named in its own language. The words are
text.toml's; やさしい日本語's furigana ({漢字|かんじ}) become <ruby>. The alerts' language is the
resident's own choice on the form, the page's language until changed. Every form carries a CSRF
token; posts are limited per client address. Links from mails lead to a page with one button, so
that a mail scanner that opens links changes nothing; the exception is RFC 8058's one-click POST,
which mail providers send without a page (the signed token in its URL is the authority there).

The subscribe and settings forms offer the city's districts (none ticked: 市内全域) and, when the
config says which 町 each district holds, a finder: the resident types a 町 name, an address or a
postal code and presses 調べる (``go=find``), and the same form comes back with everything as it
was, the district found ticked and a line saying where that is. Nothing is saved and no mail is sent
by a search; the typed text is posted, never put in a URL, never logged and never shown again.
Pressing Enter while the finder holds text searches too (the form's first button is an unseen
``go=send`` one, so Enter elsewhere sends the form as before).

Without BROADCASTER_SECRET_KEY there are no tokens to sign, and every page says the service is
unavailable (503) instead of half working.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup
from multidict import MultiDict

from broadcaster import districts, furigana, names
from broadcaster.errors import InputError
from broadcaster.models import SubscriberState
from broadcaster.phrasebook import EASY
from broadcaster.rendering import TEMPLATES
from broadcaster.settings import Settings
from broadcaster.web import headers as security
from broadcaster.web.csrf import FIELD, Csrf
from broadcaster.web.inputs import read_form
from broadcaster.web.ratelimit import WindowLimiter, client_address
from broadcaster.web.subscription import (
    CONFIRM,
    MANAGE,
    RECEIVING,
    Subscriptions,
    Words,
    category_name,
    city_name,
    find_place,
    finder_offered,
    language_name,
    load_text,
    parse_address,
    read_choice,
    town_names,
    words_in,
)
from channels.email.channel import UNSUBSCRIBE

log = logging.getLogger("broadcaster.subscription_pages")

STATIC = TEMPLATES / "static"  # the pages' and the console's stylesheets and scripts, one folder, no subfolders
STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # checked first: a long name is an OSError, not a 404
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's POST body
HEADERS = {
    "Cache-Control": "no-store",  # pages may carry tokens
    "X-Frame-Options": "DENY",
    **security.SUBSCRIPTION,  # no referrer: the pages' URLs may carry tokens too
}


__all__ = ["PAGES", "Pages", "add_routes", "load_text"]  # load_text: the tests read the words through this module


@dataclass
class Pages:
    """What the page handlers share; ``subscriptions`` and ``csrf`` are None without a secret key."""

    settings: Settings
    env: jinja2.Environment
    subscriptions: Subscriptions | None
    csrf: Csrf | None
    text: dict[str, dict[str, Markup]]  # page language -> key -> words as HTML (furigana as <ruby>)
    per_ip: WindowLimiter

    @classmethod
    def create(cls, settings: Settings, env: jinja2.Environment, subscriptions: Subscriptions | None) -> Pages:
        """Pages for ``subscriptions`` (None: answer 503)."""
        csrf = None
        if subscriptions is not None:
            csrf = Csrf(subscriptions.signer.secret, secure=settings.city.public_url.startswith("https:"))
        conf = settings.subscriptions
        text = load_text()
        html = {lang: _as_html(words_in(text, lang)) for lang in settings.city.languages}
        return cls(settings, env, subscriptions, csrf, html, WindowLimiter(conf.ip_limit, conf.ip_period))


def _as_html(words: Words) -> dict[str, Markup]:
    return {key: furigana.html(value) for key, value in words.items()}


PAGES = web.AppKey("subscription_pages", Pages)


def add_routes(app: web.Application) -> None:
    """Register the pages; the service puts a Pages under PAGES when it starts."""
    app.router.add_get("/subscribe", subscribe_form)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_get("/subscribe/confirm", confirm_form)
    app.router.add_post("/subscribe/confirm", confirm)
    app.router.add_get("/manage", manage_form)
    app.router.add_post("/manage", manage)
    app.router.add_get("/unsubscribe", unsubscribe_form)
    app.router.add_post("/unsubscribe", unsubscribe)
    app.router.add_get("/static/{name}", static_file)


# -- handlers ---------------------------------------------------------------------------


async def subscribe_form(request: web.Request) -> web.Response:
    """The empty form: the city's default categories ticked, alerts in the page's language."""
    pages, lang = _pages(request), _lang(request)
    if pages.subscriptions is None:
        return _unavailable(request)
    return _form_page(request, "subscribe", chosen={"disaster"}, language=lang)


async def subscribe(request: web.Request) -> web.Response:
    """Check the form, then mail whatever fits the address; the answer is the same for every address."""
    form, refused = await _accept(request)
    if refused is not None:
        return refused
    subs, lang = _subs(request), _lang(request)
    chosen, language, raw = form.getall("categories", []), form.get("language", ""), form.get("address", "")
    picked = form.getall("districts", [])
    if _finding(request, form):  # a search for a district: the same form again, nothing saved, nothing mailed
        place = form.get("place", "")
        return _form_page(
            request, "subscribe", chosen=set(chosen), language=language, picked=picked, address=raw, place=place
        )
    choice, errors = read_choice(subs.settings, chosen, language, picked)
    try:
        address = parse_address(raw)
    except InputError:
        errors.add("address")
    if choice is None or errors:
        page = _form_page(
            request, "subscribe", chosen=set(chosen), language=language, picked=picked, errors=errors, address=raw
        )
        page.set_status(400)
        return page
    await subs.request(address, choice, lang)
    return _message(request, "sent_title", "sent_body")


async def confirm_form(request: web.Request) -> web.Response:
    """The page a confirmation link opens: one button."""
    return await _action_page(request, CONFIRM, "/subscribe/confirm", "confirm_title", "confirm_body", "submit_confirm")


async def confirm(request: web.Request) -> web.Response:
    """Confirm the subscription; the page links to the settings."""
    form, refused = await _accept(request)
    if refused is not None:
        return refused
    subs, lang = _subs(request), _lang(request)
    try:
        subscriber = await subs.confirm(form.get("t", ""))
    except InputError:
        return _bad_link(request)
    href = subs.link("/manage", MANAGE, subscriber.id, subs.settings.subscriptions.manage_ttl, lang, site=False)
    return _message(request, "confirmed_title", "confirmed_body", link=(href, "manage_link"))


async def manage_form(request: web.Request) -> web.Response:
    """A subscriber's settings, from a settings link."""
    pages = _pages(request)
    if pages.subscriptions is None:
        return _unavailable(request)
    token = request.query.get("t", "")
    try:
        subscriber = await pages.subscriptions.lookup(token, MANAGE)
    except InputError:
        return _bad_link(request)
    if subscriber.state not in RECEIVING:
        return _bad_link(request)
    chosen, language = set(subscriber.categories), subscriber.language
    paused = subscriber.state == SubscriberState.PAUSED
    return _form_page(
        request, "manage", chosen=chosen, language=language, picked=subscriber.districts, token=token, paused=paused
    )


async def manage(request: web.Request) -> web.Response:
    """Save a subscriber's settings."""
    form, refused = await _accept(request)
    if refused is not None:
        return refused
    subs, token = _subs(request), form.get("t", "")
    chosen, language, paused = form.getall("categories", []), form.get("language", ""), bool(form.get("paused"))
    picked = form.getall("districts", [])
    if _finding(request, form):  # a search for a district: the form again for a valid link, nothing saved
        try:
            subscriber = await subs.lookup(token, MANAGE)
        except InputError:
            return _bad_link(request)
        if subscriber.state not in RECEIVING:
            return _bad_link(request)
        return _form_page(
            request,
            "manage",
            chosen=set(chosen),
            language=language,
            picked=picked,
            token=token,
            paused=paused,
            place=form.get("place", ""),
        )
    choice, errors = read_choice(subs.settings, chosen, language, picked)
    if choice is None:
        page = _form_page(
            request,
            "manage",
            chosen=set(chosen),
            language=language,
            picked=picked,
            errors=errors,
            token=token,
            paused=paused,
        )
        page.set_status(400)
        return page
    try:
        await subs.update(token, choice, paused)
    except InputError:
        return _bad_link(request)
    return _message(request, "saved_title", "paused_body" if paused else "saved_body")


async def unsubscribe_form(request: web.Request) -> web.Response:
    """The page the List-Unsubscribe link opens in a browser: one button."""
    return await _action_page(
        request, UNSUBSCRIBE, "/unsubscribe", "unsubscribe_title", "unsubscribe_body", "submit_unsubscribe"
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """Unsubscribe: RFC 8058 one-click (no page, no cookie), or the button of a page."""
    pages = _pages(request)
    if pages.subscriptions is None:
        return _unavailable(request)
    if (await read_form(request)).get("List-Unsubscribe") == "One-Click":
        if not pages.per_ip.hit(_client(request)):
            return web.Response(status=429, text="too many requests\n")
        try:
            await pages.subscriptions.unsubscribe(request.query.get("t", ""))
        except InputError:
            return web.Response(status=400, text="this link is not valid\n")
        return web.Response(text="unsubscribed\n")
    form, refused = await _accept(request)
    if refused is not None:
        return refused
    purpose = MANAGE if form.get("from") == "manage" else UNSUBSCRIBE
    try:
        await pages.subscriptions.unsubscribe(form.get("t", "") or request.query.get("t", ""), purpose)
    except InputError:
        return _bad_link(request)
    return _message(request, "unsubscribed_title", "unsubscribed_body", link=("/subscribe", "subscribe_again"))


async def static_file(request: web.Request) -> web.StreamResponse:
    """A file of the static folder by its name; 404 for any other name."""
    name = request.match_info["name"]
    if not STATIC_NAME.fullmatch(name) or not (STATIC / name).is_file():
        raise web.HTTPNotFound(text="not found\n")
    return web.FileResponse(STATIC / name)


# -- pieces -----------------------------------------------------------------------------


def _pages(request: web.Request) -> Pages:
    return request.app[PAGES]


def _subs(request: web.Request) -> Subscriptions:
    subscriptions = _pages(request).subscriptions
    assert subscriptions is not None  # _accept answered 503 otherwise
    return subscriptions


def _lang(request: web.Request) -> str:
    """The page's language: ``?lang=`` when the city offers it (any case: pt-br is pt-BR), else Japanese."""
    asked = request.query.get("lang", "ja").lower()
    return next((code for code in _pages(request).text if code.lower() == asked), "ja")


def _client(request: web.Request) -> str:
    return client_address(request, _pages(request).settings.subscriptions.trust_forwarded)


async def _accept(request: web.Request) -> tuple[MultiDict[str], web.Response | None]:
    """The posted form's text fields, or the page refusing it: unavailable, too many posts, or a bad CSRF token."""
    pages = _pages(request)
    if pages.subscriptions is None or pages.csrf is None:
        return MultiDict(), _unavailable(request)
    if not pages.per_ip.hit(_client(request)):
        log.info("a client reached the form limit")
        return MultiDict(), _message(request, "error_title", "too_many", status=429, error=True)
    form = MultiDict((k, v) for k, v in (await read_form(request)).items() if isinstance(v, str))  # no uploads
    if not pages.csrf.check(request, form.get(FIELD, "")):
        return MultiDict(), _message(request, "error_title", "bad_form", status=403, error=True)
    return form, None


def _render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    pages, lang = _pages(request), _lang(request)
    settings = pages.settings
    response = web.Response(status=status, content_type="text/html", charset="utf-8", headers=HEADERS)
    csrf = pages.csrf.token(request, response) if pages.csrf else ""
    query = {k: v for k, v in request.query.items() if k == "t"}
    book = settings.phrasebook
    languages = [  # the switch: every page language by its own name, the link keeping a settings link's token
        {
            "code": code,
            "name": language_name(settings, code),
            "html": book.languages[code].html,
            "href": f"{request.path}?{urllib.parse.urlencode({**query, 'lang': code})}",
        }
        for code in pages.text
    ]
    template = pages.env.get_template(f"subscription/{name}.html.j2")
    response.text = template.render(
        t=pages.text[lang],
        lang=lang,
        page_language=book.languages[lang],
        city_name=furigana.html(city_name(settings, lang)),
        languages=languages,
        csrf=csrf,
        **context,
    )
    return response


def _form_page(
    request: web.Request,
    name: str,
    *,
    chosen: set[str],
    language: str,
    picked: Iterable[str] = (),
    errors: set[str] | None = None,
    place: str | None = None,
    **context: Any,
) -> web.Response:
    """A subscription form; ``picked`` are the districts ticked, ``place`` a 町 name or postal code to look up."""
    settings, lang = _pages(request).settings, _lang(request)
    categories = [(cid, furigana.html(category_name(settings, cid, lang))) for cid in settings.categories]
    book = settings.phrasebook
    alert_languages = [  # every offered language in its own name, marked as that language
        (code, language_name(settings, code), book.languages[code].html) for code in settings.city.languages
    ]
    ticked = set(districts.ordered(picked, settings))  # known ids only: a forged one is never shown back
    found = None
    if place is not None:
        found, district_id = _found(request, place)
        ticked |= {district_id} if district_id else set()
    context.setdefault("address", "")
    return _render(
        request,
        name,
        categories=categories,
        alert_languages=alert_languages,
        chosen=chosen,
        language=language,
        district_choices=_district_choices(settings, lang),
        ticked=ticked,
        finder=finder_offered(settings),
        found=found,
        errors=errors or set(),
        **context,
    )


def _district_choices(settings: Settings, lang: str) -> list[dict[str, Any]]:
    """Each district as the form shows it: its id (the value), its name in the page's language, and a hint."""
    japanese = settings.phrasebook.languages[lang].japanese
    return [
        {
            "id": d.id,
            # やさしい日本語: the name with furigana; 日本語: the reading after it; others: the name in their words
            "name": furigana.html(names.ruby(settings.phrasebook, "district", d.name, d.reading))
            if lang == EASY
            else d.name_in(lang),
            "reading": d.reading if lang == "ja" else "",
            "name_ja": "" if japanese else d.name,  # the name on the city's own signs and papers
            "towns": "・".join(d.towns),
        }
        for d in settings.districts
    ]


def _finding(request: web.Request, form: MultiDict[str]) -> bool:
    """Whether a post asks for the district finder: its button, or Enter pressed while the finder holds text."""
    if not finder_offered(_pages(request).settings):
        return False  # the form has no finder: a place posted anyway is ignored
    return form.get("go") == "find" or bool(form.get("place", "").strip())


def _found(request: web.Request, text: str) -> tuple[dict[str, str], str]:
    """What the finder says about ``text`` (kind and words), and the id of the district it found ("" if none)."""
    pages, lang = _pages(request), _lang(request)
    t, settings = pages.text[lang], pages.settings
    if not text.strip():
        return {"kind": "error", "text": t["find_empty"]}, ""
    place = find_place(text, settings)
    if place is None:
        return {"kind": "error", "text": t["find_unknown"].format(city=furigana.html(city_name(settings, lang)))}, ""
    # the 町 in the page's words, and as the city writes it, marked as Japanese: Mamada (<span lang="ja">間々田</span>)
    written, japanese = town_names(settings, place.town, lang)
    town = Markup('{} (<span lang="ja">{}</span>)').format(written, japanese) if japanese else written
    if place.district is None:
        return {"kind": "notice", "text": t["find_no_district"].format(town=town)}, ""
    district = place.district.name_in(lang)
    if lang == EASY:
        district = furigana.html(
            names.ruby(settings.phrasebook, "district", place.district.name, place.district.reading)
        )
    return {"kind": "found", "text": t["find_found"].format(town=town, district=district)}, place.district.id


async def _action_page(
    request: web.Request, purpose: str, action: str, title: str, body: str, button: str
) -> web.Response:
    pages = _pages(request)
    if pages.subscriptions is None:
        return _unavailable(request)
    token = request.query.get("t", "")
    try:
        await pages.subscriptions.lookup(token, purpose)
    except InputError:
        return _bad_link(request)
    t = pages.text[_lang(request)]
    action = f"{action}?lang={_lang(request)}"
    return _render(request, "action", title=t[title], body=t[body], button=t[button], action=action, token=token)


def _message(
    request: web.Request,
    title: str,
    body: str,
    *,
    status: int = 200,
    error: bool = False,
    link: tuple[str, str] | None = None,
) -> web.Response:
    lang = _lang(request)
    t = _pages(request).text[lang]
    shown = None
    if link:
        href = link[0] if "?" in link[0] or lang == "ja" else f"{link[0]}?lang={lang}"
        shown = {"href": href, "text": t[link[1]]}
    return _render(request, "message", status, title=t[title], body=t[body], error=error, link=shown)


def _bad_link(request: web.Request) -> web.Response:
    return _message(request, "error_title", "bad_link", status=400, error=True, link=("/subscribe", "subscribe_again"))


def _unavailable(request: web.Request) -> web.Response:
    return _message(request, "error_title", "unavailable", status=503, error=True)
