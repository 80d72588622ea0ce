"""The LINE webhook, POST /line/webhook: follow, postback and unfollow keep LINE subscribers in step.

``X-Line-Signature`` (base64 HMAC-SHA256 of the raw body, keyed with LINE_CHANNEL_SECRET) is checked
before anything else, as bytes: a bad or missing one gets 400 and nothing is processed. A body over
``MAX_BODY`` gets 413, one nested deeper than ``MAX_DEPTH`` 400, before it is parsed. Events older
than ``[line] event_max_age`` are ignored (counted in the log). A good request is
answered 200 at once; its events are processed in a task the handler owns (drained on close), one
user's events in order. Redelivered events are skipped by webhookEventId (``store.mark_seen``).

- follow: the subscriber is created (categories: disaster, language: ja, the whole city) or made
  active again, and greeted with quick-reply buttons: one per category (postback ``cat=<id>`` toggles
  it), one for the districts when the city has them (``areas=0``), and one per other language
  (``lang=<code>``).
- postback: toggles the category or sets the language, saves, and confirms with the buttons again.
- districts (only when the city has some): ``areas=<page>`` (the 地区 button, a rich-menu action, or
  the text 「地区」) answers with the districts as quick-reply buttons, 市内全域 first, ✓ on those
  chosen, paged with 次へ when they are more than fit in LINE's 13; ``area=<id>`` toggles a district,
  ``area=all`` goes back to the whole city, ``add=<id>`` adds one (the はい of the finder).
- message: a text that names a 町, an address or a postal code of the city (when the config says
  which 町 each district holds) is answered 「〇〇は△△地区です。この地区の情報を受け取りますか」 with
  はい / いいえ; any other text gets a line saying it was not found, with the district buttons.
- unfollow: the subscriber becomes gone.

Answers are in the subscriber's language (Japanese, or English for every other). User ids and what
residents type are personal data: they are never logged.
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

from broadcaster.errors import DeliveryError
from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.settings import Settings
from broadcaster.store import Store
from broadcaster.web import line_districts
from broadcaster.web.inputs import as_bytes, nesting
from broadcaster.web.line_districts import MAX_QUICK_REPLIES, LineJson, button
from broadcaster.web.subscription import find_place, finder_offered

log = logging.getLogger("broadcaster.line_webhook")

SECRET_ENV = "LINE_CHANNEL_SECRET"
SEEN_FEED = "line-webhook"  # the store.mark_seen namespace of webhookEventIds
DEFAULT_CATEGORIES = ("disaster",)
DEFAULT_LANGUAGE = "ja"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
CHOICE_KINDS = ("cat", "lang", *line_districts.KINDS)  # what a postback's data may set (see the docstring)
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
    """A category's name in ``lang`` (Japanese, or English for every other language)."""
    cat = settings.categories[cat_id]
    return cat.name if lang == "ja" else cat.name_en


def parse_choice(data: str) -> tuple[str, str] | None:
    """A postback's ``cat=<id>``, ``lang=<code>``, ``areas=<page>``, ``area=<id>`` or ``add=<id>`` as (kind, value)."""
    kind, sep, value = data.partition("=")
    return (kind, value) if sep and kind in CHOICE_KINDS and value else None


def quick_reply(settings: Settings, sub: Subscriber) -> LineJson:
    """Buttons: every category (✓ when chosen; a tap toggles it), the districts if any, then every other language."""
    lang = sub.language
    items: list[LineJson] = []
    for cat_id in line_categories(settings):
        name = category_name(settings, cat_id, lang)
        label = ("✓" if cat_id in sub.categories else "") + name
        items.append(button(label, f"cat={cat_id}", name))
    if settings.districts:
        items.append(line_districts.menu_button(sub))
    for code in settings.city.languages:
        if code != lang:
            name = LANGUAGE_NAMES.get(code, code)
            items.append(button(name, f"lang={code}", name))
    return {"items": items[:MAX_QUICK_REPLIES]}


def _chosen(settings: Settings, sub: Subscriber) -> str:
    names = [category_name(settings, c, sub.language) for c in line_categories(settings) if c in sub.categories]
    if sub.language == "ja":
        return "受け取る分野：" + ("、".join(names) or "（なし）")
    return "You receive: " + (", ".join(names) or "(none)")


def greeting(settings: Settings, sub: Subscriber) -> LineJson:
    """The answer to a follow."""
    city = settings.city.name_in(sub.language)
    places = f"{line_districts.places(settings, sub)}\n" if settings.districts else ""
    if sub.language == "ja":
        text = (
            f"{city}の防災・安全情報です。友だち追加ありがとうございます。\n{_chosen(settings, sub)}\n{places}"
            f"下のボタンで分野の受け取り（タップで切り替え）{'、地区' if places else ''}と言語を選べます。"
        )
    else:
        text = (
            f"Thank you for following {city}'s safety information.\n{_chosen(settings, sub)}\n{places}"
            f"Tap a topic below to switch it on or off, or choose {'districts or ' if places else ''}a language."
        )
    return {"type": "text", "text": text, "quickReply": quick_reply(settings, sub)}


def confirmation(settings: Settings, sub: Subscriber, kind: str, value: str) -> LineJson:
    """The answer to a postback that changed ``kind`` (cat or lang) to include ``value``."""
    ja = sub.language == "ja"
    if kind == "lang":
        text = "言語を日本語にしました。" if ja else f"Alerts will now come in {LANGUAGE_NAMES.get(value, value)}."
    else:
        name = category_name(settings, value, sub.language)
        if value in sub.categories:
            text = f"「{name}」の情報を受け取ります。" if ja else f"You will receive {name}."
        else:
            text = f"「{name}」の情報を停止しました。" if ja else f"You will no longer receive {name}."
    return {"type": "text", "text": f"{text}\n{_chosen(settings, sub)}", "quickReply": quick_reply(settings, sub)}


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
                if answer is not None:
                    await self._reply(event.reply_token, answer)
                return
            sub, changed = await self._choose(user_id, *choice)
            if changed:
                await self._reply(event.reply_token, confirmation(self.settings, sub, *choice))
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

    async def _choose(self, user_id: str, kind: str, value: str) -> tuple[Subscriber, bool]:
        """Apply a postback choice; returns the subscriber as saved and whether anything changed."""
        sub = await self._subscriber(user_id, reactivate=False)
        if kind == "cat" and value in line_categories(self.settings):
            sub = dataclasses.replace(sub, categories=sub.categories ^ {value})
        elif kind == "lang" and value in self.settings.city.languages and value != sub.language:
            sub = dataclasses.replace(sub, language=value)
        else:
            return sub, False
        return await self.store.save_subscriber(dataclasses.replace(sub, updated_at=time.time())), True

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
        """The answer to a text message: the district buttons, or where a 町 or postal code is; None: no answer."""
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
