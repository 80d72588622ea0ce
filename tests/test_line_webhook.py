"""The LINE webhook through aiohttp's test client, with a real SQLite store and replies sent through the
real LINE channel to the fake LINE API (which checks the quick-reply payload as LINE does).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.line_webhook import (
    LineWebhook,
    language_reply,
    make_webhook_handler,
    parse_choice,
    quick_reply,
)
from channels.line.channel import LineChannel
from tests.fakes.line import TOKEN, FakeLine, Fault, check_messages, serve

SECRET = "test-channel-secret"
USER = "U" + "4" * 32
VALID = "valid"  # post(): sign the body with SECRET


@dataclasses.dataclass
class Hook:
    """The webhook on a test server, its store, and the fake LINE API that receives its replies."""

    client: TestClient[web.Request, web.Application]
    webhook: LineWebhook
    fake: FakeLine
    store: SQLiteStore

    async def post(self, *events: dict[str, Any], signature: str | None = VALID, raw: bytes | None = None) -> int:
        """POST a webhook payload; returns the status once every accepted event is processed."""
        body = raw if raw is not None else json.dumps({"destination": "U" + "0" * 32, "events": list(events)}).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Line-Signature"] = sign(body) if signature == VALID else signature
        response = await self.client.post("/line/webhook", data=body, headers=headers)
        await self.webhook.drain()
        return response.status

    async def subscriber(self, user: str = USER) -> Subscriber | None:
        """The user's subscriber as stored."""
        return await self.store.get_subscriber(ContactKind.LINE, user)

    def reply_to(self, event_id: str) -> dict[str, Any]:
        """The one message the webhook answered event ``event_id`` with."""
        [message] = self.fake.replies[f"reply-{event_id}"]
        return message


def sign(body: bytes, secret: str = SECRET) -> str:
    """X-Line-Signature as LINE computes it."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(
    kind: str, event_id: str, *, user: str = USER, data: str = "", text: str = "", unblocked: bool = False
) -> dict[str, Any]:
    """A webhook event as LINE sends it (``text``: a text message's)."""
    e: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),  # within [line] event_max_age
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
    }
    if kind != "unfollow":
        e["replyToken"] = f"reply-{event_id}"
    if kind == "follow":
        e["follow"] = {"isUnblocked": unblocked}
    if kind == "postback":
        e["postback"] = {"data": data}
    if kind == "message":
        e["message"] = {"id": event_id.removeprefix("E"), "type": "text", "text": text, "quoteToken": "q" + event_id}
    return e


def choices(message: dict[str, Any]) -> dict[str, str]:
    """Quick-reply buttons as postback data -> label."""
    return {i["action"]["data"]: i["action"]["label"] for i in message["quickReply"]["items"]}


@pytest.fixture
async def hook(store: SQLiteStore, settings: Settings) -> AsyncIterator[Hook]:
    """The webhook routed at /line/webhook, replying through a LineChannel to the fake LINE API."""
    async with hook_for(store, settings) as h:
        yield h


@contextlib.asynccontextmanager
async def hook_for(store: SQLiteStore, settings: Settings) -> AsyncIterator[Hook]:
    """The webhook of these settings on a test server, replying to the fake LINE API; closed at the end."""
    fake = FakeLine()
    async with serve(fake) as url:
        s = settings.model_copy(update={"line": settings.line.model_copy(update={"api_host": url})})
        channel = LineChannel(TOKEN, s, Renderer(s))
        webhook = make_webhook_handler(store, s, SECRET, channel.reply)
        app = web.Application()
        app.router.add_post("/line/webhook", webhook.handle)
        try:
            async with TestClient(TestServer(app)) as client:
                yield Hook(client, webhook, fake, store)
        finally:
            await webhook.aclose()
            await channel.aclose()


# -- pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "choice"),
    [
        ("cat=crime", ("cat", "crime")),
        ("lang=en", ("lang", "en")),
        ("lang=pt-BR", ("lang", "pt-BR")),
        ("langs=0", ("langs", "0")),
        ("menu=0", ("menu", "0")),
        ("cat=", None),
        ("colour=red", None),
        ("crime", None),
        ("", None),
    ],
)
def test_parse_choice(data: str, choice: tuple[str, str] | None) -> None:
    assert parse_choice(data) == choice


def test_quick_reply_fits_line_limits(settings: Settings) -> None:
    sub = Subscriber(0, ContactKind.LINE, USER, frozenset({"disaster", "health"}), "en")
    items = quick_reply(settings, sub)["items"]
    assert 1 <= len(items) <= 13
    assert all(1 <= len(i["action"]["label"]) <= 20 for i in items)
    labels = {i["action"]["data"]: i["action"]["label"] for i in items}
    assert labels["cat=disaster"] == "✓Disaster"
    assert labels["cat=crime"] == "Crime prevention"
    assert labels["cat=health"] == "✓Health and medical…"  # cut to LINE's 20, visibly
    assert labels["langs=0"] == "Language"  # the way to the language buttons
    assert list(labels)[-2:] == ["areas=0", "langs=0"]


LANGUAGE_BUTTONS = {
    "lang=ja": "✓日本語",
    "lang=ja-x-easy": "やさしい にほんご",
    "lang=en": "English",
    "lang=pt-BR": "Português (Brasil)",
    "lang=es": "Español",
    "lang=vi": "Tiếng Việt",
    "lang=tl": "Tagalog",
    "lang=zh-Hans": "简体中文",
    "lang=ko": "한국어",
    "lang=ne": "नेपाली",
}


def test_the_language_buttons_name_each_language_in_itself(settings: Settings) -> None:
    sub = Subscriber(0, ContactKind.LINE, USER, frozenset({"disaster"}), "ja")
    names = {code: settings.phrasebook.languages[code].name for code in settings.city.languages}
    reply = language_reply(settings, sub)
    assert check_messages([{"type": "text", "text": "x", "quickReply": reply}]) == []
    labels = {i["action"]["data"]: i["action"]["label"] for i in reply["items"]}
    assert labels == {f"lang={code}": ("✓" if code == "ja" else "") + name for code, name in names.items()} | {
        "menu=0": "分野を選ぶ",
        "areas=0": "地区を選ぶ",
    }


def test_more_languages_than_fit_are_paged(settings: Settings) -> None:
    sub = Subscriber(0, ContactKind.LINE, USER, frozenset({"disaster"}), "vi")
    pages = [language_reply(settings, sub, page, per_page=4) for page in range(3)]
    data = [[i["action"]["data"] for i in p["items"]] for p in pages]
    assert [d for page in data for d in page if d.startswith("lang=")] == [f"lang={c}" for c in settings.city.languages]
    assert data[0][-3:] == ["langs=1", "menu=0", "areas=0"] and data[2][-3:] == ["langs=0", "menu=0", "areas=0"]
    labels = {i["action"]["data"]: i["action"]["label"] for p in pages for i in p["items"]}
    assert (labels["langs=1"], labels["langs=0"], labels["lang=vi"]) == ("Tiếp", "Trang đầu", "✓Tiếng Việt")
    assert language_reply(settings, sub, 9, per_page=4) == pages[0]  # a page that is not there: the first


# -- events -----------------------------------------------------------------------------


async def test_follow_creates_an_active_subscriber_and_greets_with_the_language_choice(hook: Hook) -> None:
    assert await hook.post(event("follow", "E1")) == 200
    sub = await hook.subscriber()
    assert sub is not None
    assert (sub.state, sub.categories, sub.language) == (SubscriberState.ACTIVE, frozenset({"disaster"}), "ja")
    greeting = hook.reply_to("E1")
    assert "友だち追加" in greeting["text"] and "配信の言語を選んでください。" in greeting["text"]
    assert "言語 / ことば / Language / Idioma / Ngôn ngữ / Wika / 语言 / 언어 / भाषा" in greeting["text"]
    assert choices(greeting) == LANGUAGE_BUTTONS | {
        "menu=0": "分野を選ぶ",
        "areas=0": "地区を選ぶ",  # the default config's eleven 地区
    }
    assert "受け取る分野：防災" in greeting["text"] and "受け取る地区：市内全域" in greeting["text"]


async def test_postbacks_toggle_categories_and_set_the_language(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    assert await hook.post(event("postback", "E2", data="cat=crime")) == 200
    assert await hook.post(event("postback", "E3", data="cat=disaster")) == 200
    sub = await hook.subscriber()
    assert sub is not None and sub.categories == {"crime"}
    assert hook.reply_to("E2")["text"].startswith("「防犯」の情報を受け取ります。")
    assert hook.reply_to("E3")["text"].startswith("「防災」の情報を停止しました。")
    assert choices(hook.reply_to("E3"))["cat=disaster"] == "防災"
    assert choices(hook.reply_to("E3"))["langs=0"] == "言語 / Language"

    await hook.post(event("postback", "E4", data="lang=en"))
    sub = await hook.subscriber()
    assert sub is not None and sub.language == "en"
    answer = hook.reply_to("E4")
    assert answer["text"] == "Alerts will now come in English.\nYou receive: Crime prevention"
    assert choices(answer)["langs=0"] == "Language"


async def test_the_menus_open_from_their_buttons_and_the_language_in_use_answers_too(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    await hook.post(event("postback", "E2", data="menu=0"))
    menu = hook.reply_to("E2")
    assert choices(menu)["cat=disaster"] == "✓防災" and "下のボタンで分野の受け取り" in menu["text"]
    await hook.post(event("postback", "E3", data="langs=0"))
    assert choices(hook.reply_to("E3")) == LANGUAGE_BUTTONS | {"menu=0": "分野を選ぶ", "areas=0": "地区を選ぶ"}
    await hook.post(event("postback", "E4", data="lang=ja"))  # the ✓ one: nothing changes, the buttons come back
    assert hook.reply_to("E4")["text"].startswith("言語を日本語にしました。")
    assert "cat=disaster" in choices(hook.reply_to("E4"))
    await hook.post(event("message", "E5", text=" ＬＡＮＧＵＡＧＥ "), event("message", "E6", text="Idioma"))
    assert "lang=pt-BR" in choices(hook.reply_to("E5")) and "lang=pt-BR" in choices(hook.reply_to("E6"))
    await hook.post(event("postback", "E7", data="langs=5"), event("postback", "E8", data="menu=x"))
    assert "reply-E7" not in hook.fake.replies and "reply-E8" not in hook.fake.replies


@pytest.mark.parametrize("data", ["cat=unknown", "lang=fr", "lang=pt", "nonsense"])
async def test_a_postback_that_changes_nothing_gets_no_answer(hook: Hook, data: str) -> None:
    await hook.post(event("follow", "E1"))
    await hook.post(event("postback", "E2", data=data))
    sub = await hook.subscriber()
    assert sub is not None and (sub.categories, sub.language) == (frozenset({"disaster"}), "ja")
    assert "reply-E2" not in hook.fake.replies


async def test_unfollow_makes_the_subscriber_gone_and_a_new_follow_brings_them_back(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    await hook.post(event("postback", "E2", data="cat=crime"))
    assert await hook.post(event("unfollow", "E3")) == 200
    sub = await hook.subscriber()
    assert sub is not None and sub.state == SubscriberState.GONE

    await hook.post(event("follow", "E4", unblocked=True))
    sub = await hook.subscriber()
    assert sub is not None
    assert (sub.state, sub.categories) == (SubscriberState.ACTIVE, frozenset({"disaster", "crime"}))  # choices kept


async def test_events_of_several_users_in_one_request(hook: Hook) -> None:
    other = "U" + "5" * 32
    await hook.post(event("follow", "E1"), event("follow", "E2", user=other), event("postback", "E3", data="cat=crime"))
    mine, theirs = await hook.subscriber(), await hook.subscriber(other)
    assert mine is not None and mine.categories == {"disaster", "crime"}
    assert theirs is not None and theirs.categories == {"disaster"}


# -- signatures and redelivery --------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(sign(b"{}", SECRET), id="signed-other-body"),
        pytest.param("wrong-secret", id="wrong-secret"),
    ],
)
async def test_a_bad_or_missing_signature_gets_400_and_nothing_happens(hook: Hook, signature: str | None) -> None:
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event("follow", "E1")]}).encode()
    if signature == "wrong-secret":
        signature = sign(body, "another-secret")
    assert await hook.post(raw=body, signature=signature) == 400
    assert await hook.subscriber() is None
    assert hook.fake.replies == {}
    # nothing was marked seen either: the same event, properly signed, is still processed
    assert await hook.post(raw=body) == 200
    assert await hook.subscriber() is not None


async def test_a_signed_body_that_is_not_a_payload_gets_400(hook: Hook) -> None:
    assert await hook.post(raw=b"not json") == 400
    assert await hook.post(raw=b'{"events": [{"no": "type"}]}') == 400


async def test_a_redelivered_event_is_processed_once(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    again = event("postback", "E2", data="cat=crime")
    assert await hook.post(again) == 200
    again["deliveryContext"] = {"isRedelivery": True}
    assert await hook.post(again) == 200  # toggling twice would switch crime off again
    sub = await hook.subscriber()
    assert sub is not None and sub.categories == {"disaster", "crime"}
    assert len([t for t in hook.fake.replies if t == "reply-E2"]) == 1


async def test_events_older_than_the_window_are_ignored_and_counted_without_user_ids(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    old = event("follow", "E1")
    old["timestamp"] = int((time.time() - hook.webhook.settings.line.event_max_age - 60) * 1000)
    assert await hook.post(old) == 200
    assert await hook.subscriber() is None  # a follow replayed long after is not a follow
    assert "1 event(s) older than" in caplog.text and USER not in caplog.text
    assert await hook.post(event("follow", "E2")) == 200  # a fresh one is
    assert await hook.subscriber() is not None


@pytest.mark.parametrize("depth", [100_000, 40])
async def test_signed_json_nested_too_deep_gets_400(hook: Hook, depth: int) -> None:
    assert await hook.post(raw=b'{"events": ' + b"[" * depth + b"]" * depth + b"}") == 400


# -- answering fast, failing softly, never logging user ids ---------------------------------------


async def test_the_webhook_answers_before_the_reply_is_sent(hook: Hook) -> None:
    hook.fake.inject(Fault.HANG)  # the reply call hangs
    body = json.dumps({"events": [event("follow", "E1")]}).encode()
    response = await hook.client.post("/line/webhook", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status == 200
    assert hook.webhook.pending == 1  # still working on it
    hook.fake.release()  # the hung reply ends with a 500: the answer is lost, the subscription is not
    await hook.webhook.drain()
    sub = await hook.subscriber()
    assert sub is not None and sub.state == SubscriberState.ACTIVE


async def test_user_ids_never_reach_the_logs(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook.fake.inject(Fault.ERROR)  # one failed reply is logged too
    await hook.post(event("follow", "E1"))
    await hook.post(event("postback", "E2", data="cat=crime"))
    await hook.post(event("unfollow", "E3"))
    await hook.post(raw=b"{}", signature="bad")
    assert "reply failed" in caplog.text
    assert USER not in caplog.text


async def test_after_close_requests_are_refused_for_redelivery(hook: Hook) -> None:
    await hook.webhook.aclose()
    assert await hook.post(event("follow", "E1")) == 503
    assert await hook.subscriber() is None
