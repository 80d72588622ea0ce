"""The ticker's poll endpoints against a real SQLite store: what is on air, both charsets, caching.

Alerts reach the 'carried' state the way the dispatcher leaves them: created, approved, the ticker
row claimed and recorded sent. The feed's clock is injected, so expiry is tested without waiting.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broadcaster import variants
from broadcaster.channel import ChannelContext
from broadcaster.models import Alert, DeliveryState, Mode, MsgType, Outcome
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web.ticker import add_routes, setup
from channels.ticker import UNTIMED_TTL, create, iso, limits_for, render_ticker
from tests.channels.test_ticker import ticker_alert
from tests.test_store import ACTOR, ORIGIN

SiteFactory = Callable[..., Path]

Client = TestClient[web.Request, web.Application]
ISO_JST = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$")


class Clock:
    """The feed's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A clock at the real time, until a test moves it."""
    return Clock()


@pytest.fixture
async def client(store: SQLiteStore, settings: Settings, clock: Clock) -> AsyncIterator[Client]:
    """The ticker routes on a test server, over the real store."""
    app = web.Application()
    add_routes(app)
    setup(app, store, settings, Renderer(settings), clock=clock)
    async with TestClient(TestServer(app)) as c:
        yield c


async def carry(store: SQLiteStore, alert: Alert, sent_at: float | None = None) -> None:
    """Create and approve ``alert``, then record its ticker row sent, as the dispatcher would."""
    await store.create_alert(alert, ACTOR, ORIGIN)
    await store.approve(alert.id, ACTOR, ORIGIN)
    now = time.time()
    claims = await store.claim("ticker", 10, now + 60, now)
    assert [c.alert_id for c in claims] == [alert.id]
    outcomes = [Outcome(c.id, c.alert_id, DeliveryState.SENT) for c in claims]
    await store.record("ticker", outcomes, now if sent_at is None else sent_at)


async def lines(client: Client) -> list[dict[str, Any]]:
    """The lines of /ticker.json."""
    response = await client.get("/ticker.json")
    assert response.status == 200
    data = await response.json()
    assert isinstance(data, dict)
    found: list[dict[str, Any]] = data["lines"]
    return found


async def ids(client: Client) -> list[str]:
    """The alert ids on air, in order."""
    return [line["id"] for line in await lines(client)]


async def test_json_lists_the_channels_line_with_its_times(
    client: Client, store: SQLiteStore, settings: Settings
) -> None:
    expires = time.time() + 3600
    await carry(store, ticker_alert("A1", expires=expires), sent_at=time.time())
    [line] = await lines(client)
    stored = await store.get_alert("A1")
    assert stored is not None
    channel = create(ChannelContext("ticker", settings, Renderer(settings), {}))
    assert line["text"] == channel.render(stored, "ja").ticker
    assert line["text"] == render_ticker(Renderer(settings), stored, "ja", limits_for(settings)).ticker
    assert line["text"].startswith("【警戒レベル４】小山市　思川　レベル４　Ｒｉｖｅｒ")
    assert line["id"] == "A1" and line["key"] == "omoigawa-2026-11-26" and line["level"] == 4
    assert line["msg_type"] == "alert"
    assert line["expires"] == iso(expires) and ISO_JST.match(line["expires"])
    assert ISO_JST.match(line["updated"])


async def test_most_severe_first_then_newest(client: Client, store: SQLiteStore) -> None:
    t = time.time()
    # carried in an order that differs from creation's: the list goes by when the ticker carried them
    await carry(store, ticker_alert("new-4", level=4, event_key=""), sent_at=t - 10)
    await carry(store, ticker_alert("top-5", level=5, event_key=""), sent_at=t - 60)
    await carry(store, ticker_alert("old-4", level=4, event_key=""), sent_at=t - 30)
    await carry(store, ticker_alert("low-2", level=2, event_key=""), sent_at=t)
    assert await ids(client) == ["top-5", "new-4", "old-4", "low-2"]
    response = await client.get("/ticker.txt")
    text = await response.text()
    assert text.count("\r\n") == 4 and text.startswith("【警戒レベル５】")


async def test_expired_lines_leave_at_their_expiry(client: Client, store: SQLiteStore, clock: Clock) -> None:
    timed = ticker_alert("timed", expires=clock.now + 600, event_key="")
    untimed = ticker_alert("untimed", event_key="")
    await carry(store, timed)
    await carry(store, untimed)
    assert sorted(await ids(client)) == ["timed", "untimed"]
    clock.now = timed.expires or 0.0
    assert await ids(client) == ["untimed"]
    clock.now = untimed.created_at + UNTIMED_TTL
    assert await ids(client) == []
    assert await (await client.get("/ticker.txt")).text() == ""


async def test_a_cancel_takes_the_line_off_at_approval(client: Client, store: SQLiteStore) -> None:
    await carry(store, ticker_alert("other", event_key="other-event"))
    await carry(store, ticker_alert("A1"))
    assert sorted(await ids(client)) == ["A1", "other"]
    cancel = dataclasses.replace(ticker_alert("A2", msg_type=MsgType.CANCEL, version=2), references="A1")
    await store.create_alert(cancel, ACTOR, ORIGIN)
    assert sorted(await ids(client)) == ["A1", "other"]  # a draft cancel changes nothing
    await store.approve("A2", ACTOR, ORIGIN)
    assert await ids(client) == ["other"]  # before the cancel is carried
    now = time.time()
    claims = await store.claim("ticker", 10, now + 60, now)
    await store.record("ticker", [Outcome(c.id, c.alert_id, DeliveryState.SENT) for c in claims], now)
    assert await ids(client) == ["other"]  # and after


async def test_an_update_replaces_the_line_of_its_event(client: Client, store: SQLiteStore) -> None:
    await carry(store, ticker_alert("A1"))
    update = ticker_alert("A2", msg_type=MsgType.UPDATE, version=2, title="思川 避難指示 継続", level=3)
    await carry(store, dataclasses.replace(update, references="A1"))
    [line] = await lines(client)
    assert line["id"] == "A2" and line["msg_type"] == "update"
    assert line["text"].startswith("【更新】【警戒レベル３】小山市　思川　避難指示　継続")


async def test_an_exercise_is_never_listed(client: Client, store: SQLiteStore) -> None:
    await carry(store, ticker_alert("drill", mode=Mode.EXERCISE))
    assert await ids(client) == []
    assert await (await client.get("/ticker.txt?charset=sjis")).read() == b""


async def test_shift_jis_holds_the_same_lines(client: Client, store: SQLiteStore) -> None:
    await carry(store, ticker_alert("A1", title="髙椅地区 — ①避難所 🌀 開設", event_key=""))
    await carry(store, ticker_alert("A2", title="間々田地区に避難指示", event_key="", level=5))
    utf8 = await client.get("/ticker.txt")
    assert utf8.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = (await utf8.read()).decode("utf-8")
    sjis = await client.get("/ticker.txt?charset=sjis")
    assert sjis.status == 200
    assert sjis.headers["Content-Type"] == "text/plain; charset=Shift_JIS"
    decoded = (await sjis.read()).decode("cp932")
    assert "髙椅地区　―　①避難所　？　開設" in decoded  # the typhoon emoji has no Shift_JIS code
    assert decoded == text.replace("🌀", "？").replace("—", "―")
    assert decoded.startswith("【警戒レベル５】小山市　間々田地区に避難指示")


async def test_an_unknown_charset_is_a_clear_400(client: Client) -> None:
    response = await client.get("/ticker.txt?charset=latin-1")
    assert response.status == 400
    assert "utf-8 or sjis" in await response.text()


@pytest.mark.parametrize("path", ["/ticker.txt", "/ticker.txt?charset=sjis", "/ticker.json"])
async def test_if_none_match_answers_304_until_the_list_changes(client: Client, store: SQLiteStore, path: str) -> None:
    await carry(store, ticker_alert("A1", event_key=""))
    first = await client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache" and "Last-Modified" in first.headers
    same = await client.get(path, headers={"If-None-Match": etag})
    assert same.status == 304 and await same.read() == b""
    assert same.headers["ETag"] == etag
    await carry(store, ticker_alert("A2", event_key=""))
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag


async def test_if_modified_since_answers_304_and_moves_on_every_change(
    client: Client, store: SQLiteStore, clock: Clock
) -> None:
    await carry(store, ticker_alert("A1", event_key=""))
    first = await client.get("/ticker.txt")
    since = first.headers["Last-Modified"]
    assert (await client.get("/ticker.txt", headers={"If-Modified-Since": since})).status == 304
    await carry(store, ticker_alert("A2", event_key=""))  # the feed's clock stands still: same second
    added = await client.get("/ticker.txt", headers={"If-Modified-Since": since})
    assert added.status == 200 and (await added.text()).count("\r\n") == 2
    later = added.headers["Last-Modified"]
    assert parsedate_to_datetime(later) > parsedate_to_datetime(since)
    clock.now += UNTIMED_TTL + 1  # both lines' day on air is over: a removal moves it on too
    gone = await client.get("/ticker.txt", headers={"If-Modified-Since": later})
    assert gone.status == 200 and await gone.text() == ""
    assert parsedate_to_datetime(gone.headers["Last-Modified"]) > parsedate_to_datetime(later)


async def test_with_english_on_each_line_is_followed_by_its_english_line(
    store: SQLiteStore, site: SiteFactory, clock: Clock
) -> None:
    settings = load_settings(site({"ticker": {"english": True}}))
    app = web.Application()
    add_routes(app)
    setup(app, store, settings, Renderer(settings), clock=clock)
    alert = variants.complete(ticker_alert("A1"), settings)  # English from the notice, as drafts make it
    await carry(store, alert)
    async with TestClient(TestServer(app)) as english_client:
        [line] = await lines(english_client)
        text = await (await english_client.get("/ticker.txt")).text()
    assert line["text_en"] and not any("\uff01" <= c <= "\uff5e" for c in line["text_en"]), line  # half-width
    assert line["text_en"].startswith("Evacuation order (Alert Level 4) for Oyama City"), line  # the level once
    assert text == f"{line['text']}\r\n{line['text_en']}\r\n"


async def test_without_english_there_is_no_english_line(client: Client, store: SQLiteStore, settings: Settings) -> None:
    await carry(store, variants.complete(ticker_alert("A1"), settings))
    [line] = await lines(client)
    assert line["text_en"] == ""
    assert await (await client.get("/ticker.txt")).text() == line["text"] + "\r\n"
