"""The LINE webhook, POST /line/webhook: follow, postback and unfollow keep LINE subscribers in step.

``X-Line-Signature`` (base64 HMAC-SHA256 of the raw body, keyed with LINE_CHANNEL_SECRET) is checked
before anything else, as bytes: a bad or missing one gets 400 and nothing is processed. A body over
``MAX_BODY`` gets 413, one nested deeper than ``MAX_DEPTH`` 400, before it is parsed. Events older
than ``[line] event_max_age`` are ignored (counted in the log). A good request is
answered 200 at once; its events are processed in a task the handler owns (drained on close), one
user's events in order. Redelivered events are skipped by webhookEventId (``store.mark_seen``).

- follow: the subscriber is created (categories: disaster, language: ja, the whole city) or made
  active again, and greeted (in Japanese for a new friend) with the language choice: one button per
  offered language, in its own name (``lang=<code>``; ✓ on the one in use), then 分野を選ぶ
  (``menu=0``: the category buttons) and the districts button when the city has districts.
- the settings buttons (``menu=0``, and after every change): one per category (``cat=<id>`` toggles
  it), the districts (``areas=0``) and 言語 / Language (``langs=0``: the language choice again).
  LINE shows at most 13 buttons: languages beyond ``LANGUAGES_PER_PAGE`` are paged with 次へ
  (``langs=<page>``), and categories that do not fit are left to the console (none do by default).
- postback: toggles the category or sets the language (any offered one), saves, and confirms with
  the settings buttons; choosing the language already in use answers the same way.
- districts (only when the city has some): ``areas=<page>`` (the 地区 button, a rich-menu action, or
  the text 「地区」) answers with the districts as quick-reply buttons, 市内全域 first, ✓ on those
  chosen, paged with 次へ when they are more than fit in LINE's 13; ``area=<id>`` toggles a district,
  ``area=all`` goes back to the whole city, ``add=<id>`` adds one (the はい of the finder).
- message: a text that names a 町, an address or a postal code of the city (when the config says
  which 町 each district holds) is answered 「〇〇は△△地区です。この地区の情報を受け取りますか」 with
  はい / いいえ; any other text gets a line saying it was not found, with the district buttons.
- unfollow: the subscriber becomes gone.

Answers are in the subscriber's language, every offered one, in text.toml's words (``line_*``) and the
phrasebook's category names; やさしい日本語's furigana come as parentheses (LINE has no ruby). User ids
and what residents type are personal data: they are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from linebot.v3 import WebhookParser  # type: ignore[import-untyped]
from linebot.v3.webhooks import (  # type: ignore[import-untyped]
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)

from broadcaster import furigana
from broadcaster.errors import DeliveryError
from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.settings import Settings
from broadcaster.store import Store
from broadcaster.web import line_districts
from broadcaster.web.inputs import as_bytes, nesting
from broadcaster.web.line_districts import LABEL_LIMIT, MAX_QUICK_REPLIES, LineJson, button, lang_of, words
from broadcaster.web.subscription import category_name as category_name_in
from broadcaster.web.subscription import find_place, finder_offered, joined, language_name

log = logging.getLogger("broadcaster.line_webhook")

SECRET_ENV = "LINE_CHANNEL_SECRET"
SEEN_FEED = "line-webhook"  # the store.mark_seen namespace of webhookEventIds
DEFAULT_CATEGORIES = ("disaster",)
DEFAULT_LANGUAGE = "ja"
CHOICE_KINDS = ("cat", "lang", "langs", "menu", *line_districts.KINDS)  # a postback's data (see the docstring)
LANGUAGES_PER_PAGE = 10  # beside 次へ, 分野を選ぶ and the districts: within LINE's 13
# texts asking for the language buttons, compared after NFKC and lower case, beside each language's own word
ASKING_LANGUAGE = frozenset({"言語", "げんご", "ことば", "language", "languages", "lang"})
CLOSE_GRACE_S = 5.0
MAX_BODY = 1024 * 1024  # bytes: LINE sends a few events of a few hundred bytes each
MAX_DEPTH = 32  # LINE's payloads nest about 5 deep; json.loads recursion would end thousands deep

Reply = Callable[[str, Sequence[Mapping[str, Any]]], Awaitable[None]]  # (reply token, LINE messages)


async def no_reply(reply_token: str, messages: Sequence[Mapping[str, Any]]) -> None:
    """The reply function without an access token: subscriptions still change, nobody is answered."""


# -- what residents read (pure) -----------------------------------------------------


def line_categories(settings: Settings) -> list[str]:
    """The categories a LINE friend can choose: those that go out on LINE."""
    return [cat_id for cat_id, cat in settings.categories.items() if "line" in cat.channels]


def category_name(settings: Settings, cat_id: str, lang: str) -> str:
    """A category's name in ``lang``, as LINE shows it (plain text)."""
    return furigana.plain(category_name_in(settings, cat_id, lang))


def label(name: str, chosen: bool = False) -> str:
    """A button label within LINE's limit: ✓ before a chosen one, … where a long name is cut."""
    text = ("✓" if chosen else "") + name
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def parse_choice(data: str) -> tuple[str, str] | None:
    """A postback's ``cat=<id>``, ``lang=<code>``, ``langs=<page>``, ``menu=0``, ``areas=<page>``, ``area=<id>``
    or ``add=<id>`` as (kind, value)."""
    kind, sep, value = data.partition("=")
    return (kind, value) if sep and kind in CHOICE_KINDS and value else None


def language_button(sub: Subscriber) -> LineJson:
    """言語 / Language: every language's word has "Language" beside it, so anyone finds the way back."""
    name = words(sub)["language_button"]
    return button(name, "langs=0", name)


def quick_reply(settings: Settings, sub: Subscriber) -> LineJson:
    """The settings buttons: every category (✓ when chosen; a tap toggles it), the districts if any, 言語 / Language."""
    lang = lang_of(sub)
    tail = [*([line_districts.menu_button(sub)] if settings.districts else []), language_button(sub)]
    items = [
        button(label(name, cat_id in sub.categories), f"cat={cat_id}", name)
        for cat_id in line_categories(settings)
        for name in [category_name(settings, cat_id, lang)]
    ]
    return {"items": items[: MAX_QUICK_REPLIES - len(tail)] + tail}


def language_pages(settings: Settings, per_page: int = LANGUAGES_PER_PAGE) -> list[tuple[str, ...]]:
    """The offered languages as pages of buttons, ``per_page`` a page."""
    every = settings.city.languages
    return [every[i : i + per_page] for i in range(0, len(every), per_page)]


def language_reply(settings: Settings, sub: Subscriber, page: int = 0, per_page: int = LANGUAGES_PER_PAGE) -> LineJson:
    """The language buttons (each in its own name, ✓ on the one in use), 次へ when paged, 分野を選ぶ, the districts."""
    w, pages = words(sub), language_pages(settings, per_page)
    page = page if 0 <= page < len(pages) else 0
    items = [
        button(label(name, code == sub.language), f"lang={code}", name)
        for code in pages[page]
        for name in [language_name(settings, code)]
    ]
    if len(pages) > 1:
        last = page == len(pages) - 1
        turn = w["first"] if last else w["next"]
        items.append(button(turn, f"langs={0 if last else page + 1}", turn))
    items.append(button(w["topics_button"], "menu=0", w["topics_button"]))
    if settings.districts:
        items.append(line_districts.menu_button(sub))
    return {"items": items}


def _chosen(settings: Settings, sub: Subscriber) -> str:
    lang, w = lang_of(sub), words(sub)
    names = [category_name(settings, c, lang) for c in line_categories(settings) if c in sub.categories]
    return w["chosen"].format(categories=joined(settings, names, lang) if names else w["none"])


def _how(settings: Settings, sub: Subscriber) -> str:
    return words(sub)["how_districts" if settings.districts else "how"]


def _places(settings: Settings, sub: Subscriber) -> list[str]:
    return [line_districts.places(settings, sub)] if settings.districts else []


def _everyones_word(settings: Settings) -> str:
    """「言語 / Language / Idioma / Ngôn ngữ …」: a friend who reads no Japanese still sees where to go."""
    said = [line_districts.WORDS.get(code, {}).get("language_word", "") for code in settings.city.languages]
    return " / ".join(dict.fromkeys(word for word in said if word))


def greeting(settings: Settings, sub: Subscriber) -> LineJson:
    """The answer to a follow: the welcome, what is chosen, and the language buttons first."""
    w = words(sub)
    lines = [
        w["greeting"].format(city=line_districts.city(settings, lang_of(sub))),
        _chosen(settings, sub),
        *_places(settings, sub),
        w["language_menu"],
        _everyones_word(settings),
    ]
    return {"type": "text", "text": "\n".join(lines), "quickReply": language_reply(settings, sub)}


def settings_menu(settings: Settings, sub: Subscriber) -> LineJson:
    """The answer to 分野を選ぶ (``menu=0``): what is chosen, how to change it, and the settings buttons."""
    lines = [_chosen(settings, sub), *_places(settings, sub), _how(settings, sub)]
    return {"type": "text", "text": "\n".join(lines), "quickReply": quick_reply(settings, sub)}


def language_menu(settings: Settings, sub: Subscriber, page: int = 0) -> LineJson:
    """The answer to 言語 / Language (``langs=<page>``): the language buttons."""
    text = f"{words(sub)['language_menu']}\n{_everyones_word(settings)}"
    return {"type": "text", "text": text, "quickReply": language_reply(settings, sub, page)}


def confirmation(settings: Settings, sub: Subscriber, kind: str, value: str) -> LineJson:
    """The answer to a postback that set ``kind`` (cat or lang) to include ``value``, in the language now in use."""
    w, lang = words(sub), lang_of(sub)
    if kind == "lang":
        text = w["language_set"].format(language=language_name(settings, value))
    else:
        key = "category_on" if value in sub.categories else "category_off"
        text = w[key].format(category=category_name(settings, value, lang))
    return {"type": "text", "text": f"{text}\n{_chosen(settings, sub)}", "quickReply": quick_reply(settings, sub)}


def asks_for_languages(text: str) -> bool:
    """Whether a text message asks for the language buttons (「言語」, "language", "Idioma" …)."""
    asked = unicodedata.normalize("NFKC", text).strip().lower()
    own = {unicodedata.normalize("NFKC", w["language_word"]).lower() for w in line_districts.WORDS.values()}
    return asked in ASKING_LANGUAGE or asked in own


# -- the handler ----------------------------------------------------------------------


@dataclasses.dataclass
class _Turn:
    """Serialises one user's events; removed when nobody holds or waits for it."""

    lock: asyncio.Lock
    users: int = 0


class LineWebhook:
    """Checks, acknowledges and processes webhook requests; ``handle`` is the aiohttp handler."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channel_secret: str,
        reply: Reply,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.reply = reply
        self.clock = clock
        self._secret = channel_secret.encode()
        # handle() has checked the signature on the raw bytes before the SDK sees the body
        self._parser = WebhookParser(channel_secret, skip_signature_verification=lambda: True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._turns: dict[str, _Turn] = {}
        self._closing = False
        self._defaults = frozenset(c for c in DEFAULT_CATEGORIES if c in line_categories(settings))

    async def handle(self, request: web.Request) -> web.Response:
        """POST /line/webhook: 400 unless signed by LINE; otherwise 200 at once, events processed after."""
        if self._closing:
            return web.Response(status=503, text="shutting down")  # LINE redelivers later
        if (request.content_length or 0) > MAX_BODY:
            return web.Response(status=413, text="too large")
        raw = bytearray()
        async for chunk in request.content.iter_chunked(16_384):  # a chunked body has no length to check first
            raw += chunk
            if len(raw) > MAX_BODY:
                return web.Response(status=413, text="too large")
        if not self._signed(bytes(raw), request.headers.get("X-Line-Signature", "")):
            log.warning("line webhook: bad or missing signature; request ignored")
            return web.Response(status=400, text="invalid signature")
        if not nesting(raw, MAX_DEPTH):
            log.warning("line webhook: signed request nests deeper than %d; ignored", MAX_DEPTH)
            return web.Response(status=400, text="malformed payload")
        try:
            payload = self._parser.parse(raw.decode(), "", as_payload=True)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # ValueError: not UTF-8 or JSON
            log.warning("line webhook: signed request is not a webhook payload; ignored")
            return web.Response(status=400, text="malformed payload")
        events = self._recent(list(payload.events or []))
        if events:
            task = asyncio.create_task(self._process(events), name="line-webhook")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(text="OK")

    def _signed(self, raw: bytes, signature: str) -> bool:
        expected = base64.b64encode(hmac.new(self._secret, raw, hashlib.sha256).digest())
        return hmac.compare_digest(as_bytes(signature), expected)

    def _recent(self, events: list[Any]) -> list[Any]:
        """The events within [line] event_max_age of now; the rest are counted in the log (no user ids)."""
        oldest_ms = (self.clock() - self.settings.line.event_max_age) * 1000
        recent = [e for e in events if isinstance(getattr(e, "timestamp", None), int) and e.timestamp >= oldest_ms]
        if len(recent) < len(events):
            log.warning("line webhook: %d event(s) older than %g s or undated; ignored",
                        len(events) - len(recent), self.settings.line.event_max_age)  # fmt: skip
        return recent

    @property
    def pending(self) -> int:
        """Requests accepted whose events are still being processed."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every event accepted so far is processed."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def aclose(self, grace: float = CLOSE_GRACE_S) -> None:
        """Refuse new requests, finish processing within ``grace`` seconds, then cancel the rest."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.drain()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _process(self, events: list[Any]) -> None:
        try:
            ids = [e.webhook_event_id for e in events if getattr(e, "webhook_event_id", None)]
            fresh = set(await self.store.mark_seen(SEEN_FEED, ids, time.time())) if ids else set()
        except Exception:
            log.exception("line webhook: could not record %d event ids; events dropped", len(events))
            return
        done = skipped = 0
        for event in events:
            event_id = getattr(event, "webhook_event_id", None)
            if event_id and event_id not in fresh:
                skipped += 1  # a redelivery of an event already handled
                continue
            source = getattr(event, "source", None)
            user_id = source.user_id if isinstance(source, UserSource) else None
            if not user_id:
                continue  # groups and rooms do not subscribe
            async with self._turn(user_id):
                try:
                    await self._handle_event(event, user_id)
                    done += 1
                except Exception:
                    log.exception("line webhook: %s event failed", getattr(event, "type", "unknown"))
        log.info("line webhook: events=%d handled=%d redelivered=%d", len(events), done, skipped)

    @contextlib.asynccontextmanager
    async def _turn(self, user_id: str) -> AsyncIterator[None]:
        turn = self._turns.setdefault(user_id, _Turn(asyncio.Lock()))
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[user_id]

    async def _handle_event(self, event: Any, user_id: str) -> None:
        if isinstance(event, FollowEvent):
            sub = await self._subscriber(user_id, reactivate=True)
            await self._reply(event.reply_token, greeting(self.settings, sub))
        elif isinstance(event, PostbackEvent):
            choice = parse_choice(event.postback.data or "")
            if choice is None:
                return
            if choice[0] in line_districts.KINDS:
                answer = await self._districts(user_id, *choice)
            elif choice[0] in ("langs", "menu"):
                answer = await self._menu(user_id, *choice)
            else:
                answer = await self._choose(user_id, *choice)
            if answer is not None:
                await self._reply(event.reply_token, answer)
        elif isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
            answer = await self._text(user_id, event.message.text or "")
            if answer is not None:
                await self._reply(event.reply_token, answer)
        elif isinstance(event, UnfollowEvent):
            known = await self.store.get_subscriber(ContactKind.LINE, user_id)
            if known is not None:
                await self.store.set_subscriber_state(known.id, SubscriberState.GONE)

    async def _subscriber(self, user_id: str, *, reactivate: bool) -> Subscriber:
        """The user's subscriber, created with the defaults when new; active again after a follow."""
        now = time.time()
        sub = await self.store.get_subscriber(ContactKind.LINE, user_id)
        if sub is None:
            sub = Subscriber(
                id=0,
                channel=ContactKind.LINE,
                contact=user_id,
                categories=self._defaults,
                language=DEFAULT_LANGUAGE,
                state=SubscriberState.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        elif reactivate and sub.state != SubscriberState.ACTIVE:
            sub = dataclasses.replace(sub, state=SubscriberState.ACTIVE, updated_at=now)
        else:
            return sub
        return await self.store.save_subscriber(sub)

    async def _choose(self, user_id: str, kind: str, value: str) -> LineJson | None:
        """Apply a cat or lang postback and answer it; None (no answer) for one that names nothing offered."""
        sub = await self._subscriber(user_id, reactivate=False)
        if kind == "cat" and value in line_categories(self.settings):
            sub = dataclasses.replace(sub, categories=sub.categories ^ {value})
        elif kind == "lang" and value in self.settings.city.languages:
            if value == sub.language:  # the ✓ button: nothing to save, the settings buttons all the same
                return confirmation(self.settings, sub, kind, value)
            sub = dataclasses.replace(sub, language=value)
        else:
            return None
        sub = await self.store.save_subscriber(dataclasses.replace(sub, updated_at=time.time()))
        return confirmation(self.settings, sub, kind, value)

    async def _menu(self, user_id: str, kind: str, value: str) -> LineJson | None:
        """The language buttons (``langs=<page>``) or the settings buttons (``menu=0``); None for a page not there."""
        if not value.isdigit():
            return None
        sub = await self._subscriber(user_id, reactivate=False)
        if kind == "menu":
            return settings_menu(self.settings, sub)
        if int(value) >= len(language_pages(self.settings)):
            return None
        return language_menu(self.settings, sub, int(value))

    async def _districts(self, user_id: str, kind: str, value: str) -> LineJson | None:
        """Apply a district postback; the answer, or None for one that names nothing the city has."""
        if not self.settings.districts:
            return None
        if kind == "areas":  # show a page of buttons
            if not value.isdigit() or int(value) >= len(line_districts.pages(self.settings)):
                return None
            return line_districts.menu(self.settings, await self._subscriber(user_id, reactivate=False), int(value))
        sub = await self._subscriber(user_id, reactivate=False)
        chosen = line_districts.apply(self.settings, sub, kind, value)
        if chosen is None:
            return None
        if chosen != sub.districts:
            sub = await self.store.save_subscriber(dataclasses.replace(sub, districts=chosen, updated_at=time.time()))
        return line_districts.confirmation(self.settings, sub, value)

    async def _text(self, user_id: str, text: str) -> LineJson | None:
        """The answer to a text: the language or district buttons, or where a 町 or postal code is; None: none."""
        if asks_for_languages(text):
            return language_menu(self.settings, await self._subscriber(user_id, reactivate=False))
        if not self.settings.districts:
            return None
        if line_districts.asks_for_buttons(text):
            return line_districts.menu(self.settings, await self._subscriber(user_id, reactivate=False))
        if not finder_offered(self.settings):
            return None  # no district lists its 町 yet: a text can say nothing about districts
        place = find_place(text, self.settings)  # the text is personal data: looked at here, kept nowhere
        return line_districts.place_answer(self.settings, await self._subscriber(user_id, reactivate=False), place)

    async def _reply(self, reply_token: str | None, message: LineJson) -> None:
        if not reply_token:
            return
        try:
            await self.reply(reply_token, [message])
        except DeliveryError as exc:  # the change is saved; only the answer is lost
            log.warning("line webhook: reply failed: %s", exc)


def make_webhook_handler(store: Store, settings: Settings, channel_secret: str, reply: Reply) -> LineWebhook:
    """The /line/webhook handler: route ``.handle``, and ``await .aclose()`` on shutdown."""
    return LineWebhook(store, settings, channel_secret, reply)
