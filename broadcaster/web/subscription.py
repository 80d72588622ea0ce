"""Email subscriptions: double opt-in, settings through a signed link, unsubscribe.

This is the flow without HTTP (the pages are in subscription_pages.py). Every link carries a token
signed for one purpose and one subscriber; nothing else identifies anyone. An address gets a mail
only when someone asks for it, and at most ``address_limit`` of them per ``address_period``:

- a new address (or one that left, or bounced) is stored *pending* and mailed a confirmation link;
  a pending subscriber receives no alerts;
- an address already subscribed is mailed a link to its settings instead, and the settings sent
  with the request are ignored, so nobody can change someone else's subscription by knowing the
  address.

Whichever it was, the caller shows the same page: the pages never tell whether an address is registered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jinja2

from broadcaster import districts, furigana, names, slots, towns
from broadcaster.errors import InputError
from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.rendering import TEMPLATES
from broadcaster.settings import Settings
from broadcaster.store import Store
from broadcaster.tokens import Signer
from broadcaster.web.ratelimit import WindowLimiter
from channels.email.channel import ADDRESS, UNSUBSCRIBE
from channels.email.mailer import Mail, Mailer

log = logging.getLogger("broadcaster.subscription")

CONFIRM, MANAGE = "confirm", "manage"  # token purposes; UNSUBSCRIBE is shared with the email channel
ACTOR = "resident"  # the audit log's actor for what residents do themselves
FALLBACK = "en"  # the words of a language text.toml lacks (its English serves every language, as in rendering)
RECEIVING = (SubscriberState.ACTIVE, SubscriberState.PAUSED)  # already confirmed
PLACE_LIMIT = 100  # characters of a 町 name, address or postal code the district finder reads


@dataclass(frozen=True, slots=True)
class Choice:
    """What a resident picks on the form: categories, the language alerts come in, and districts."""

    categories: frozenset[str]
    language: str
    districts: frozenset[str] = frozenset()  # empty: the whole city


Words = dict[str, str]


def load_text(folder: Path = TEMPLATES / "subscription") -> dict[str, Words]:
    """The subscription flow's words (pages, mails, LINE answers) per language, from text.toml."""
    with (folder / "text.toml").open("rb") as f:
        data: dict[str, Words] = tomllib.load(f)
    return data


def words_in(text: dict[str, Words], lang: str) -> Words:
    """The words of ``lang``; English for a language text.toml does not have yet."""
    return text.get(lang) or text[FALLBACK]


def language_name(settings: Settings, code: str) -> str:
    """A language's name in itself (Português (Brasil), Tiếng Việt …): residents look for their own."""
    language = settings.phrasebook.languages.get(code)
    return language.name if language else code


def category_name(settings: Settings, cat_id: str, lang: str) -> str:
    """A category's name in ``lang``: the config's in Japanese, the phrasebook's in every other language."""
    conf = settings.categories.get(cat_id)
    if conf is None:
        return cat_id
    if lang == "ja":
        return conf.name
    return settings.phrasebook.term(lang, "categories", cat_id) or conf.name_en


def city_name(settings: Settings, lang: str) -> str:
    """The city's name in ``lang``; in やさしい日本語 with its furigana markup ({小山市|おやまし})."""
    return slots.city(settings.phrasebook, settings, lang)


def town_names(settings: Settings, town: towns.Town, lang: str) -> tuple[str, str]:
    """A 町 in ``lang``'s words ("Mamada"), and beside it its Japanese name as on the city's signs ("" if the same)."""
    if settings.phrasebook.languages[lang].japanese:
        return town.name, ""
    written = names.written(settings.phrasebook, "town", town.name, lang, town.kana)
    return (written, town.name) if written != town.name else (town.name, "")


def joined(settings: Settings, items: list[str], lang: str) -> str:
    """Items joined as ``lang`` joins a list (、 or , …)."""
    return settings.phrasebook.word(lang, "list_joiner").join(items)


def parse_address(raw: str) -> str:
    """A plain ASCII address in lower case (as subscribers are stored); InputError if it is not one."""
    address = raw.strip().lower()
    local, _, domain = address.partition("@")
    if (
        len(address) > 254
        or not ADDRESS.fullmatch(address)
        or "." not in domain
        or ".." in address
        or local.startswith(".")
        or local.endswith(".")
        or domain.startswith(".")
        or domain.endswith(".")
    ):
        raise InputError("not an email address")
    return address


def read_choice(
    settings: Settings, categories: list[str], language: str, chosen_districts: list[str] | None = None
) -> tuple[Choice | None, set[str]]:
    """The resident's choice checked against the config, or None and the fields that are wrong."""
    problems = set()
    if not categories or any(c not in settings.categories for c in categories):
        problems.add("categories")
    if language not in settings.city.languages:
        problems.add("language")
    try:
        ids = districts.check_ids(chosen_districts or [], settings)
    except InputError:  # only a forged form sends an id the page did not offer
        problems.add("districts")
        ids = ()
    return (None, problems) if problems else (Choice(frozenset(categories), language, frozenset(ids)), problems)


def finder_offered(settings: Settings) -> bool:
    """Whether a typed 町 name can lead to a district: some district lists its towns."""
    return any(d.towns for d in settings.districts)


def find_place(text: str, settings: Settings) -> districts.Place | None:
    """The town (and its district) a resident's 町 name, address or postal code names; None if none of the city's.

    What was typed is personal data: it is read here and forgotten, never logged or stored.
    """
    text = text.strip()
    if not text or len(text) > PLACE_LIMIT:
        return None
    return districts.locate(text, settings)


class Subscriptions:
    """Subscribe, confirm, change and unsubscribe, for email subscribers."""

    def __init__(self, store: Store, settings: Settings, signer: Signer, mailer: Mailer, env: jinja2.Environment):
        self.store = store
        self.settings = settings
        self.signer = signer
        self.mailer = mailer
        self.env = env
        conf = settings.subscriptions
        self.per_address = WindowLimiter(conf.address_limit, conf.address_period)
        self.base_url = settings.city.public_url.rstrip("/")
        self.text = load_text()

    async def request(self, address: str, choice: Choice, page_lang: str) -> None:
        """Someone asked to subscribe ``address``: mail it a confirmation or a settings link (or neither)."""
        # the key is a hash: the limiter's memory is not a list of addresses
        if not self.per_address.hit(hashlib.sha256(address.encode()).hexdigest()):
            log.info("subscription mail not sent: the address reached its limit")
            return
        now = time.time()
        existing = await self.store.get_subscriber(ContactKind.EMAIL, address)
        if existing is not None and existing.state in RECEIVING:
            self._mail(existing, address, MANAGE, self.settings.subscriptions.manage_ttl, page_lang)
            return
        pending = Subscriber(
            id=0,
            channel=ContactKind.EMAIL,
            contact=address,
            categories=choice.categories,
            language=choice.language,
            districts=choice.districts,
            state=SubscriberState.PENDING,
            tester=existing.tester if existing else False,
            created_at=now,
            updated_at=now,
        )
        stored = await self.store.save_subscriber(pending)
        await self.store.audit(ACTOR, "subscriber.request", f"subscriber:{stored.id}", "", "web")
        self._mail(stored, address, CONFIRM, self.settings.subscriptions.confirm_ttl, page_lang)

    async def confirm(self, token: str) -> Subscriber:
        """Follow a confirmation link: a pending subscriber becomes active (again is harmless)."""
        subscriber = await self.lookup(token, CONFIRM)
        if subscriber.state == SubscriberState.PENDING:
            await self.store.set_subscriber_state(subscriber.id, SubscriberState.ACTIVE)
            await self.store.audit(ACTOR, "subscriber.confirm", f"subscriber:{subscriber.id}", "", "web")
            return dataclasses.replace(subscriber, state=SubscriberState.ACTIVE)
        if subscriber.state in RECEIVING:
            return subscriber
        raise InputError("this link is not valid")  # unsubscribed or bounced since: ask again

    async def lookup(self, token: str, purpose: str) -> Subscriber:
        """The email subscriber a link is for; InputError if the link is bad, expired or for nobody."""
        subscriber = await self.store.get_subscriber_by_id(self.signer.check(token, purpose))
        if subscriber is None or subscriber.channel != ContactKind.EMAIL:
            raise InputError("this link is not valid")
        return subscriber

    async def update(self, token: str, choice: Choice, paused: bool) -> Subscriber:
        """Save new settings through a settings link; pausing stops alerts until resumed."""
        subscriber = await self.lookup(token, MANAGE)
        if subscriber.state not in RECEIVING:
            raise InputError("this link is not valid")
        state = SubscriberState.PAUSED if paused else SubscriberState.ACTIVE
        changed = dataclasses.replace(
            subscriber,
            categories=choice.categories,
            language=choice.language,
            districts=choice.districts,
            state=state,
            updated_at=time.time(),
        )
        stored = await self.store.save_subscriber(changed)
        detail = f"categories={','.join(sorted(choice.categories))} language={choice.language} state={state}"
        if self.settings.districts:
            detail += f" districts={','.join(districts.ordered(choice.districts, self.settings)) or 'all'}"
        await self.store.audit(ACTOR, "subscriber.update", f"subscriber:{stored.id}", detail, "web")
        return stored

    async def unsubscribe(self, token: str, purpose: str = UNSUBSCRIBE) -> None:
        """Stop every mail to the subscriber of an unsubscribe (or settings) link; again is harmless."""
        subscriber = await self.lookup(token, purpose)
        if subscriber.state != SubscriberState.GONE:
            await self.store.set_subscriber_state(subscriber.id, SubscriberState.GONE)
            await self.store.audit(ACTOR, "subscriber.unsubscribe", f"subscriber:{subscriber.id}", purpose, "web")

    def link(self, path: str, purpose: str, subscriber_id: int, ttl: float | None, lang: str, site: bool = True) -> str:
        """A signed link to one of the pages; ``site=False`` leaves out the site, for links within it."""
        token = self.signer.make(purpose, subscriber_id, ttl)
        suffix = "" if lang == "ja" else f"&lang={lang}"
        return f"{self.base_url if site else ''}{path}?t={token}{suffix}"

    def _mail(self, subscriber: Subscriber, address: str, purpose: str, ttl: float, lang: str) -> None:
        """A confirmation or settings mail in ``lang`` (the page's); furigana as parentheses: mails are plain text."""
        path = "/subscribe/confirm" if purpose == CONFIRM else "/manage"
        plain = furigana.plain
        cats = [category_name(self.settings, c, lang) for c in self.settings.categories if c in subscriber.categories]
        template = self.env.select_template([f"subscription/{purpose}.{lang}.j2", f"subscription/{purpose}.en.j2"])
        context = template.new_context(
            {
                "t": {key: plain(value) for key, value in words_in(self.text, lang).items()},
                "city": plain(city_name(self.settings, lang)),
                "link": self.link(path, purpose, subscriber.id, ttl, lang),
                "hours": round(ttl / 3600),
                "categories": plain(joined(self.settings, cats, lang)),
                "language": language_name(self.settings, subscriber.language),
                "places": plain(self._places(subscriber.districts, lang)) if self.settings.districts else "",
            }
        )
        subject = "".join(template.blocks["subject"](context)).strip()
        text = "".join(template.blocks["text"](context)).strip() + "\n"
        self.mailer.post(Mail(subscriber.id, address, subject, text))

    def _places(self, ids: frozenset[str], lang: str) -> str:
        """The chosen districts in words for a resident; none chosen: 市内全域 (the whole city)."""
        if not districts.chosen(ids, self.settings):
            return districts.whole_city(self.settings, lang)
        return districts.names(ids, self.settings, lang)
