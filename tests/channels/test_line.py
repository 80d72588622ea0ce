"""The LINE channel against the fake LINE API (tests/fakes/line.py) on a local port, through the real SDK.

The fake checks what LINE checks (token, ≤ 500 ids, 1–5 messages, payload shape, retry keys), so a
passing send here is a request LINE would take. The last tests run the whole pipeline: a real
Dispatcher and SQLite store fanning one alert out to imported LINE subscribers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from broadcaster import furigana, variants
from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.dispatcher import Dispatcher
from broadcaster.errors import MissingCredentials, PartialDelivery, PermanentError, TransientError
from broadcaster.models import Alert, AlertState, ContactKind, DeliveryState, Message, Mode, Recipient, Subscriber, Text
from broadcaster.pacing import RetryPolicy
from broadcaster.rendering import ELLIPSIS, EXERCISE_PREFIX, Renderer
from broadcaster.settings import Settings
from broadcaster.store.sqlite import SQLiteStore
from channels.line.channel import RETRY_KEYS, LineChannel, create, retry_key
from channels.line.render import (
    ALT_TEXT_LIMIT,
    EXERCISE_COLOUR,
    MAX_MESSAGES,
    LineRenderer,
    decode_payload,
    flex_message,
    readable_on,
    text_message,
    utf16_units,
)
from tests.fakes.line import TOKEN, FakeLine, Fault, serve
from tests.test_store import ACTOR, ORIGIN, make_alert, states

POLICY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=0.0, deadline=3600.0)
MakeChannel = Callable[..., LineChannel]


@dataclasses.dataclass
class Line:
    """The running fake and a factory of channels pointed at it (closed after the test)."""

    fake: FakeLine
    url: str
    make: MakeChannel


def with_line(settings: Settings, **line: Any) -> Settings:
    """Settings with ``[line]`` keys replaced."""
    return settings.model_copy(update={"line": settings.line.model_copy(update=line)})


@pytest.fixture
async def line(settings: Settings) -> AsyncIterator[Line]:
    """The fake LINE API on a free local port."""
    fake = FakeLine()
    made: list[LineChannel] = []
    async with serve(fake) as url:

        def make(token: str = TOKEN, *, flex: bool = True, **line_settings: Any) -> LineChannel:
            s = with_line(settings, api_host=url, **line_settings)
            channel = LineChannel(token, s, Renderer(s), flex=flex)
            made.append(channel)
            return channel

        try:
            yield Line(fake, url, make)
        finally:
            for channel in made:
                await channel.aclose()


def people(n: int, start: int = 0) -> list[Recipient]:
    """``n`` recipients with well-formed LINE user ids; keys are subscriber ids as text."""
    return [Recipient(str(i + 1), f"U{i:032x}", "ja") for i in range(start, start + n)]


def alert(alert_id: str = "a1", **changes: Any) -> Alert:
    """A live level-3 disaster alert for LINE."""
    return dataclasses.replace(make_alert(alert_id, ("line",)), **changes)


# -- pure parts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [("abc", 3), ("小山市", 3), ("😀", 2), ("𠮷野家", 4), ("", 0)],
)
def test_utf16_units_count_as_line_does(text: str, units: int) -> None:
    assert utf16_units(text) == units


@pytest.mark.parametrize(
    ("colour", "ink"), [("#f2f2ff", "#000000"), ("#ffff00", "#000000"), ("#aa00aa", "#ffffff"), ("#0c000c", "#ffffff")]
)
def test_header_ink_is_readable_on_each_level_colour(colour: str, ink: str) -> None:
    assert readable_on(colour) == ink


def test_retry_key_depends_on_alert_and_rows_not_on_their_order() -> None:
    keys = ["3", "1", "2"]
    assert retry_key("a1", keys) == str(uuid.uuid5(RETRY_KEYS, "multicast\na1\n1,2,3"))  # a plain UUID v5
    many = [str(i) for i in range(1, 501)]  # hashed in pieces: still the same UUID v5
    assert retry_key("a1", many) == str(uuid.uuid5(RETRY_KEYS, "multicast\na1\n" + ",".join(sorted(many))))
    assert retry_key("a1", keys) == retry_key("a1", sorted(keys))
    assert retry_key("a1", keys) != retry_key("a2", keys)
    assert retry_key("a1", keys) != retry_key("a1", keys[:2])


def test_flex_alt_text_is_the_title_cut_to_400_units() -> None:
    m = flex_message(
        title="避" * 500, body="b", instruction="", label="L", colour="#ff2800", url="http://x/a", button="B"
    )
    assert utf16_units(m["altText"]) == ALT_TEXT_LIMIT
    assert m["altText"].endswith(ELLIPSIS)
    assert text_message("hi") == {"type": "text", "text": "hi"}


def test_render_builds_a_flex_bubble_with_level_colour_title_and_link(line: Line, settings: Settings) -> None:
    channel = line.make()
    a = alert(level=4, instruction="直ちに避難してください。")
    message = channel.render(a, "ja")
    broadcast, [flex] = decode_payload(message)
    assert not broadcast
    assert flex["type"] == "flex"
    assert flex["altText"] == a.title
    bubble = flex["contents"]
    assert bubble["header"]["backgroundColor"] == settings.levels[3].colour
    assert "警戒レベル４" in bubble["header"]["contents"][0]["text"]
    assert [t["text"] for t in bubble["body"]["contents"]] == [a.title, a.body, "▶ 直ちに避難してください。"]
    assert bubble["footer"]["contents"][0]["action"]["uri"] == f"{settings.city.public_url}/alerts/a1"
    assert message.text.startswith(f"【警戒レベル４】{a.title}")  # the text rendering is kept alongside


def test_each_language_labels_its_bubble_with_its_own_words(settings: Settings) -> None:
    renderer = LineRenderer(settings, Renderer(settings))
    a = variants.complete(alert(phrase="evacuation_order", slots={"time": "15:30", "hazard": "洪水"}), settings)
    book = settings.phrasebook
    for lang in settings.city.languages:
        _, [flex] = decode_payload(renderer.render(a, lang))
        button = flex["contents"]["footer"]["contents"][0]["action"]["label"]
        assert button == book.word(lang, "details_button"), lang
        label = flex["contents"]["header"]["contents"][0]["text"]
        assert label.startswith(book.term(lang, "categories", "disaster") or ""), lang
        assert flex["contents"]["body"]["contents"][0]["text"] == furigana.plain(a.text(lang).title), lang


def test_easy_japanese_furigana_are_written_in_brackets(settings: Settings) -> None:
    easy = Text("{避難|ひなん}してください", "{川|かわ}が あふれそうです。", "すぐに {逃|に}げてください。")
    message = LineRenderer(settings, Renderer(settings)).render(alert(translations={"ja-x-easy": easy}), "ja-x-easy")
    _, [flex] = decode_payload(message)
    texts = [t["text"] for t in flex["contents"]["body"]["contents"]]
    assert texts == ["避難（ひなん）してください", "川（かわ）が あふれそうです。", "▶ すぐに 逃（に）げてください。"]
    assert flex["altText"] == "避難（ひなん）してください"
    assert "逃（に）げて" in message.text and "{" not in message.text


def test_a_broadcast_carries_the_citys_first_languages_and_links_every_other(settings: Settings) -> None:
    renderer = LineRenderer(with_line(settings, broadcast_categories=("disaster",)), Renderer(settings))
    a = variants.complete(alert(phrase="evacuation_order", slots={"time": "15:30", "hazard": "洪水"}), settings)
    broadcast, messages = decode_payload(renderer.render(a, "vi"))
    assert broadcast and len(messages) == MAX_MESSAGES  # one call
    wanted = settings.city.languages[: MAX_MESSAGES - 1]
    *bubbles, links = messages
    assert [m["altText"] for m in bubbles] == [furigana.plain(a.text(lang).title) for lang in wanted]
    # the last message names every other language in itself, with the alert's page in it
    rest = settings.city.languages[MAX_MESSAGES - 1 :]
    lines = links["text"].splitlines()
    assert len(lines) == len(rest)
    for lang, line in zip(rest, lines, strict=True):
        assert (
            line == f"{settings.phrasebook.languages[lang].name}: {settings.city.public_url}/alerts/{a.id}?lang={lang}"
        )


def test_exercise_bubbles_look_different(line: Line) -> None:
    _, [flex] = decode_payload(line.make().render(alert(mode=Mode.EXERCISE), "ja"))
    assert flex["altText"].startswith(EXERCISE_PREFIX)
    assert flex["contents"]["header"]["backgroundColor"] == EXERCISE_COLOUR


def test_text_mode_sends_the_rendered_text(line: Line) -> None:
    message = line.make(flex=False).render(alert(), "ja")
    assert decode_payload(message) == (False, [text_message(message.text)])


async def test_text_over_5000_utf16_units_is_cut_by_the_rendering_limits(line: Line) -> None:
    channel = line.make(flex=False)
    message = channel.render(alert(body="😀" * 3000), "ja")  # 6,000 units of body alone
    assert utf16_units(message.text) <= 5000
    assert message.text.endswith(ELLIPSIS)
    await channel.send(message, people(1))
    assert line.fake.accepted[people(1)[0].contact] == [[text_message(message.text)]]


def test_factory_needs_the_access_token(settings: Settings) -> None:
    renderer = Renderer(settings)
    with pytest.raises(MissingCredentials, match=r"^LINE_CHANNEL_ACCESS_TOKEN is not set$"):
        create(ChannelContext("line", settings, renderer, {}))
    channel = create(ChannelContext("line", settings, renderer, {"LINE_CHANNEL_ACCESS_TOKEN": "t"}))
    assert isinstance(channel, LineChannel)
    assert channel.name == "line"


# -- multicast against the fake ---------------------------------------------------------


async def test_flex_payload_is_accepted_by_the_fake(line: Line) -> None:
    channel = line.make()
    message = channel.render(alert(), "ja")
    await channel.send(message, people(2))
    _, messages = decode_payload(message)
    for r in people(2):
        assert line.fake.accepted[r.contact] == [messages]


async def test_1234_recipients_go_in_three_multicast_calls(line: Line) -> None:
    channel = line.make()
    to = people(1234)
    await channel.send(channel.render(alert(), "ja"), to)
    calls = line.fake.multicast_calls()
    assert [(c.status, c.recipients) for c in calls] == [(200, 500), (200, 500), (200, 234)]
    assert len({c.retry_key for c in calls}) == 3
    assert sorted(line.fake.accepted) == sorted(r.contact for r in to)
    assert all(len(v) == 1 for v in line.fake.accepted.values())


async def test_the_same_chunk_sent_again_keeps_its_key_and_409_counts_as_delivered(line: Line) -> None:
    to = people(3)
    first = line.make()
    message = first.render(alert(), "ja")
    await first.send(message, to)
    await first.send(message, list(reversed(to)))  # a retry of the same rows
    await line.make().send(message, to)  # after a restart: a new channel, the same key
    calls = line.fake.multicast_calls()
    assert [c.status for c in calls] == [200, 409, 409]
    assert len({c.retry_key for c in calls}) == 1
    assert all(len(line.fake.accepted[r.contact]) == 1 for r in to)


async def test_a_5xx_is_transient_and_the_retry_uses_the_same_key(line: Line) -> None:
    channel = line.make()
    message = channel.render(alert(), "ja")
    line.fake.inject(Fault.ERROR)
    with pytest.raises(TransientError, match="500"):
        await channel.send(message, people(2))
    await channel.send(message, people(2))
    calls = line.fake.multicast_calls()
    assert [c.status for c in calls] == [500, 200]
    assert calls[0].retry_key == calls[1].retry_key
    assert all(len(line.fake.accepted[r.contact]) == 1 for r in people(2))


async def test_a_rate_limit_429_is_transient_with_retry_after(line: Line) -> None:
    channel = line.make()
    line.fake.inject(Fault.RATE)
    with pytest.raises(TransientError) as caught:
        await channel.send(channel.render(alert(), "ja"), people(2))
    assert caught.value.retry_after == 1.0
    assert not channel.quota_exhausted


async def test_the_fakes_rate_limit_answers_429_beyond_it(settings: Settings) -> None:
    fake = FakeLine(multicast_rate=0.001, multicast_burst=1)  # one call, then none for 1,000 s
    async with serve(fake) as url:
        s = with_line(settings, api_host=url)
        channel = LineChannel(TOKEN, s, Renderer(s))
        try:
            message = channel.render(alert(), "ja")
            await channel.send(message, people(1))
            with pytest.raises(TransientError, match="429 rate limited") as caught:
                await channel.send(message, people(1, 1))
        finally:
            await channel.aclose()
    assert caught.value.retry_after == 1.0
    assert [c.status for c in fake.multicast_calls()] == [200, 429]


async def test_the_monthly_quota_429_is_permanent_and_flagged(line: Line) -> None:
    channel = line.make()
    message = channel.render(alert(), "ja")
    line.fake.inject(Fault.QUOTA)
    with pytest.raises(PermanentError, match=r"^monthly quota exhausted$"):
        await channel.send(message, people(1234))
    assert len(line.fake.multicast_calls()) == 1  # the other chunks were not tried
    assert channel.health() == {"quota_exhausted": True, "quota_refusals": 1}
    await channel.send(message, people(1))
    assert not channel.quota_exhausted  # the quota is back (reset or plan changed)


async def test_a_hung_request_times_out_as_transient(line: Line) -> None:
    channel = line.make(request_timeout=0.2)
    line.fake.inject(Fault.HANG)
    with pytest.raises(TransientError, match=r"no answer within 0\.2 s"):
        await channel.send(channel.render(alert(), "ja"), people(1))


async def test_a_refused_connection_is_transient(settings: Settings) -> None:
    async with serve(FakeLine()) as url:
        pass  # the port is free again: nothing listens there now
    s = with_line(settings, api_host=url)
    channel = LineChannel(TOKEN, s, Renderer(s))
    try:
        with pytest.raises(TransientError, match="ClientConnectorError"):
            await channel.send(channel.render(alert(), "ja"), people(1))
    finally:
        await channel.aclose()


async def test_a_bad_token_is_permanent(line: Line) -> None:
    channel = line.make(token="not-the-token")
    with pytest.raises(PermanentError, match="401") as caught:
        await channel.send(channel.render(alert(), "ja"), people(1))
    assert people(1)[0].contact not in str(caught.value)


async def test_a_malformed_user_id_fails_alone(line: Line) -> None:
    channel = line.make()
    to = [*people(2), Recipient("99", "", "ja"), Recipient("98", "not-a-user", "ja")]
    with pytest.raises(PartialDelivery) as caught:
        await channel.send(channel.render(alert(), "ja"), to)
    assert set(caught.value.failures) == {"99", "98"}
    assert all(isinstance(e, PermanentError) for e in caught.value.failures.values())
    assert sorted(line.fake.accepted) == sorted(r.contact for r in people(2))


async def test_a_payload_the_api_refuses_is_permanent(line: Line) -> None:
    channel = line.make()
    empty = Message("a1", "line", "ja", Mode.LIVE, text="")  # no line.json: sent as a text message, an empty one
    with pytest.raises(PermanentError, match=r"400 .*messages\[0\]\.text"):
        await channel.send(empty, people(1))
    assert line.fake.statuses[400] == 1
    assert line.fake.accepted == {}


# -- broadcast ------------------------------------------------------------------------------


async def test_a_broadcast_alert_is_broadcast_once_for_all_its_batches(line: Line) -> None:
    channel = line.make(broadcast_categories=("disaster",))
    a = alert(translations={"en": Text("Evacuation order", "The river may flood.")})
    ja, en = channel.render(a, "ja"), channel.render(a, "en")
    assert decode_payload(ja) == decode_payload(en)  # every batch carries the same broadcast
    assert [m["altText"] for m in decode_payload(ja)[1]] == [a.title, "Evacuation order"]
    await asyncio.gather(channel.send(ja, people(500)), channel.send(en, people(500, 500)))
    await channel.send(ja, people(10, 1000))
    assert len(line.fake.broadcasts) == 1
    assert line.fake.multicast_calls() == []
    await line.make(broadcast_categories=("disaster",)).send(ja, people(1))  # after a restart: 409
    assert [c.status for c in line.fake.calls] == [200, 409]
    assert len(line.fake.broadcasts) == 1


async def test_a_failed_broadcast_is_retried_with_the_same_key(line: Line) -> None:
    channel = line.make(broadcast_categories=("disaster",))
    message = channel.render(alert(), "ja")
    line.fake.inject(Fault.ERROR)
    with pytest.raises(TransientError):
        await channel.send(message, people(1))
    await channel.send(message, people(1))
    assert [c.status for c in line.fake.calls] == [500, 200]
    assert line.fake.calls[0].retry_key == line.fake.calls[1].retry_key


async def test_an_exercise_alert_is_never_broadcast(line: Line) -> None:
    channel = line.make(broadcast_categories=("disaster",))
    await channel.send(channel.render(alert(mode=Mode.EXERCISE), "ja"), people(1))
    assert line.fake.broadcasts == []
    assert len(line.fake.multicast_calls()) == 1


# -- through the dispatcher -----------------------------------------------------------------


def line_subscribers(n: int, *, english_every: int = 0) -> list[Subscriber]:
    """``n`` active LINE subscribers of the disaster category; every ``english_every``-th reads English."""
    return [
        Subscriber(
            id=0,
            channel=ContactKind.LINE,
            contact=f"U{i:032x}",
            categories=frozenset({"disaster"}),
            language="en" if english_every and i % english_every == 0 else "ja",
        )
        for i in range(n)
    ]


async def fan_out(store: SQLiteStore, channel: LineChannel, a: Alert) -> None:
    """Approve ``a`` and run a real Dispatcher until it is done."""
    await store.create_alert(a, ACTOR, ORIGIN)
    channels = ChannelSet(live={"line": channel}, exercise={"line": channel}, notices=[])

    async def finished() -> bool:
        got = await store.get_alert(a.id)
        return got is not None and got.state == AlertState.DONE

    async with Dispatcher(store, channels, channel.settings, policy=POLICY) as d:
        await d.approve(a.id, ACTOR, ORIGIN)
        async with asyncio.timeout(60):
            await d.wait_until(finished)


async def test_end_to_end_every_subscriber_gets_the_alert_once(line: Line, store: SQLiteStore) -> None:
    subs = line_subscribers(1234, english_every=5)
    await store.import_subscribers(subs)
    channel = line.make()
    a = alert(translations={"en": Text("Evacuation order", "The river may flood.")})
    line.fake.inject(Fault.ERROR)  # the first call fails and is retried by the dispatcher

    await fan_out(store, channel, a)

    assert set(states(store, a.id).values()) == {DeliveryState.SENT}
    assert len(states(store, a.id)) == len(subs)
    assert sorted(line.fake.accepted) == sorted(s.contact for s in subs)
    assert all(len(v) == 1 for v in line.fake.accepted.values())
    assert all(c.recipients <= 500 for c in line.fake.multicast_calls())
    english = {s.contact for s in subs if s.language == "en"}
    for contact, [[flex]] in line.fake.accepted.items():
        assert (flex["altText"] == "Evacuation order") == (contact in english)


async def test_end_to_end_broadcast_alert_makes_one_call(line: Line, store: SQLiteStore) -> None:
    subs = line_subscribers(1234)
    await store.import_subscribers(subs)
    channel = line.make(broadcast_categories=("disaster",))

    await fan_out(store, channel, alert())

    assert set(states(store, "a1").values()) == {DeliveryState.SENT}
    assert len(line.fake.broadcasts) == 1
    assert line.fake.multicast_calls() == []
    assert json.dumps(line.fake.broadcasts[0], ensure_ascii=False).count("flex") == 1
