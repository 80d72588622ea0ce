"""The SNS channel against local fakes of X, Mastodon and a Bluesky PDS, through tweepy and atproto.

The fakes (tests/fakes/x.py, mastodon.py, bluesky.py) check what the services check: OAuth 1.0a
signatures, bearer tokens, length limits as each service counts, reply references, duplicates and
idempotency keys. The store is a real SQLite database, shared by channel instances to stand for a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from broadcaster.channel import ChannelContext
from broadcaster.errors import MissingCredentials, PermanentError, TransientError
from broadcaster.models import Alert, Message, Mode, MsgType, Recipient, Text
from broadcaster.rendering import ELLIPSIS, EXERCISE_PREFIX, Renderer
from broadcaster.settings import Settings
from broadcaster.state import SNS_FAILED, SNS_POSTED
from broadcaster.store.sqlite import SQLiteStore
from channels.sns.channel import SnsChannel, create, idempotency_key
from channels.sns.mastodon import MastodonTarget, mastodon_length
from channels.sns.render import CHARS_PER_UNIT, MAX_PARTS, Payload, is_priority, split_thread
from channels.sns.target import graphemes, weighted_length
from tests.fakes import bluesky as fake_bluesky
from tests.fakes import mastodon as fake_mastodon
from tests.fakes import x as fake_x
from tests.test_store import make_alert

EVERYONE = [Recipient("*", "", "ja")]
ALL_TARGETS = ("x", "mastodon", "bluesky")
LONG_BODY = "思川の水位が上昇しています。" * 34  # X: 4 posts, Bluesky and Mastodon: 2
TAIL = "https://www.city.oyama.tochigi.jp/alerts/a1 #小山市"


@dataclasses.dataclass
class Fakes:
    """The three running fakes, the store, and a factory of channels pointed at them."""

    x: fake_x.FakeX
    mastodon: fake_mastodon.FakeMastodon
    bluesky: fake_bluesky.FakeBluesky
    store: SQLiteStore
    make: Callable[..., SnsChannel]


class Clock:
    """A clock the quota tests move by hand."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sns_settings(settings: Settings, **sns: Any) -> Settings:
    """Settings with ``[sns]`` keys replaced and a short request timeout."""
    channels = dict(settings.channels)
    channels["sns"] = channels["sns"].model_copy(update={"timeout": 1.0})
    return settings.model_copy(update={"sns": settings.sns.model_copy(update=sns), "channels": channels})


@pytest.fixture
async def fakes(settings: Settings, store: SQLiteStore) -> AsyncIterator[Fakes]:
    """The fakes on free local ports; channels made by ``make`` are closed after the test."""
    fx, fm, fb = fake_x.FakeX(), fake_mastodon.FakeMastodon(), fake_bluesky.FakeBluesky()
    made: list[SnsChannel] = []
    async with fake_x.serve(fx) as xu, fake_mastodon.serve(fm) as mu, fake_bluesky.serve(fb) as bu:

        def make(
            targets: tuple[str, ...] = ALL_TARGETS,
            environ: dict[str, str] | None = None,
            clock: Callable[[], float] | None = None,
            **sns: Any,
        ) -> SnsChannel:
            s = sns_settings(settings, targets=targets, x_api_base=xu, mastodon_url=mu, bluesky_url=bu, **sns)
            env = environ if environ is not None else {**fake_x.ENVIRON, **fake_bluesky.ENVIRON}
            env = {"MASTODON_ACCESS_TOKEN": fake_mastodon.TOKEN, **env} if environ is None else env
            channel = create(ChannelContext("sns", s, Renderer(s), env, store))
            if clock is not None:
                channel = SnsChannel(channel.targets, s, Renderer(s), store, clock=clock)
            made.append(channel)
            return channel

        try:
            yield Fakes(fx, fm, fb, store, make)
        finally:
            for channel in made:
                await channel.aclose()


CREATED = 1_795_900_000.0  # 2026-11-29 in JST


def alert(alert_id: str = "a1", **changes: Any) -> Alert:
    """A live level-3 disaster alert for SNS, created at a fixed time (as a stored alert is: renders are equal)."""
    return dataclasses.replace(make_alert(alert_id, ("sns",)), **({"created_at": CREATED} | changes))


async def post(channel: SnsChannel, a: Alert) -> Message:
    """Render and send once, as the dispatcher does."""
    message = channel.render(a, "ja")
    await channel.send(message, EVERYONE)
    return message


# -- counting and splitting ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weight"),
    [("あ" * 140, 280), ("abc", 3), ("小山市", 6), ("ｱ", 2), (TAIL, 23 + 1 + 7), ("【大雨警報】小山市", 18)],
)
def test_weighted_length_counts_as_x_does(text: str, weight: int) -> None:
    assert weighted_length(text) == weight


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("小山市", 3),
        ("が", 1),
        ("か\u3099", 1),
        ("ｶﾞ", 1),
        ("👍🏽", 1),
        ("👨\u200d👩\u200d👧", 1),
        ("🇯🇵🇯🇵", 2),
        ("a\r\nb", 3),
    ],
)
def test_graphemes_are_clusters_not_code_points(text: str, count: int) -> None:
    assert graphemes(text) == count


def test_mastodon_counts_each_url_as_23() -> None:
    assert mastodon_length("避難 https://example.jp/" + "a" * 100) == 3 + 23


@pytest.mark.parametrize(("limit", "measure"), [(280, weighted_length), (300, graphemes), (500, mastodon_length)])
def test_long_text_becomes_a_numbered_thread_cut_at_sentence_ends(limit: int, measure: Callable[[str], int]) -> None:
    parts = split_thread(LONG_BODY, TAIL, limit, measure)
    assert 1 < len(parts) <= MAX_PARTS
    assert all(measure(p) <= limit for p in parts)
    assert parts[0].endswith(f"{TAIL} (1/{len(parts)})")
    assert all(TAIL not in p for p in parts[1:])
    for i, p in enumerate(parts):
        text = p.removesuffix(f" ({i + 1}/{len(parts)})").removesuffix(TAIL).strip()
        assert text.endswith("。"), f"part {i + 1} is cut mid-sentence: {text[-10:]!r}"
    assert "".join(p.split(" (")[0].replace(TAIL, "").strip() for p in parts) == LONG_BODY


def test_short_text_is_one_post_without_a_counter() -> None:
    assert split_thread("小山市に大雨警報。", TAIL, 280, weighted_length) == [f"小山市に大雨警報。\n{TAIL}"]


def test_a_sentence_longer_than_a_post_is_cut_at_a_space_not_inside_a_word() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    parts = split_thread(words, "https://x.example/a", 280, weighted_length)
    for i, p in enumerate(parts):
        assert weighted_length(p) <= 280
        body = p.removesuffix(f" ({i + 1}/{len(parts)})").removesuffix("https://x.example/a").strip()
        assert body.split(" ")[-1].rstrip(ELLIPSIS).startswith("word"), body[-12:]
    assert parts[-1].endswith(f"{ELLIPSIS} ({MAX_PARTS}/{MAX_PARTS})")  # too long for four posts: cut and marked


@pytest.mark.parametrize(
    ("changes", "priority"),
    [
        ({"level": 3}, False),
        ({"level": 4}, True),
        ({"level": 5}, True),
        ({"level": 2, "kind": "earthquake"}, True),
        ({"level": 1, "category": "crime"}, False),
    ],
)
def test_priority_is_level_4_or_an_earthquake(changes: dict[str, Any], priority: bool) -> None:
    assert is_priority(alert(**changes)) is priority


def test_idempotency_keys_are_stable_per_alert_target_and_part() -> None:
    assert idempotency_key("a1", "mastodon", 0) == idempotency_key("a1", "mastodon", 0)
    keys = {idempotency_key(a, t, i) for a in ("a1", "a2") for t in ("mastodon", "x") for i in (0, 1)}
    assert len(keys) == 8


# -- rendering ----------------------------------------------------------------------


async def test_render_puts_link_and_hashtags_in_the_first_post_of_each_target(fakes: Fakes) -> None:
    channel = fakes.make(hashtags=("#小山市", "#防災"))
    body = LONG_BODY[: len(LONG_BODY) // 2]
    message = channel.render(alert(body=body, level=4, instruction="高台へ避難してください"), "ja")
    payload = Payload.decode(message)
    assert payload is not None and payload.priority
    url = f"{channel.settings.city.public_url}/alerts/a1"
    assert url in message.text  # the template's text (what the outbox would show) keeps the link
    for name, measure, limit in (("x", weighted_length, 280), ("mastodon", mastodon_length, 500)):
        thread = payload.threads[name]
        assert f"{url} #小山市 #防災" in thread[0], name
        assert all(measure(p) <= limit for p in thread)
        assert sum(url in p for p in thread) == 1
        assert "▶ 高台へ避難してください" in thread[-1]
    assert all(graphemes(p) <= 300 for p in payload.threads["bluesky"])


async def test_update_cancel_and_exercise_are_marked(fakes: Fakes) -> None:
    channel = fakes.make()
    for changes, mark in (
        ({"msg_type": MsgType.UPDATE}, "【更新】"),
        ({"msg_type": MsgType.CANCEL}, "【取消】"),
        ({"mode": Mode.EXERCISE}, EXERCISE_PREFIX),
    ):
        payload = Payload.decode(channel.render(alert(**changes), "ja"))
        assert payload is not None
        assert all(thread[0].startswith(mark) for thread in payload.threads.values()), mark


# -- posting ------------------------------------------------------------------------


async def test_a_thread_reaches_every_target_as_replies(fakes: Fakes) -> None:
    channel = fakes.make()
    message = await post(channel, alert(body=LONG_BODY))
    payload = Payload.decode(message)
    assert payload is not None
    assert fakes.x.texts() == payload.threads["x"]
    tweets = list(fakes.x.tweets.values())
    assert tweets[0].reply_to is None and [t.reply_to for t in tweets[1:]] == [t.id for t in tweets[:-1]]
    statuses = list(fakes.mastodon.statuses.values())
    assert [s.text for s in statuses] == payload.threads["mastodon"]
    assert {(s.visibility, s.language) for s in statuses} == {("public", "ja")}
    assert [s.in_reply_to_id for s in statuses[1:]] == [s.id for s in statuses[:-1]]
    records = list(fakes.bluesky.records.values())
    assert [r.value["text"] for r in records] == payload.threads["bluesky"]
    assert records[0].value["langs"] == ["ja"]
    assert all(r.value["reply"]["root"]["uri"] == records[0].uri for r in records[1:])
    assert [r.value["reply"]["parent"]["uri"] for r in records[1:]] == [r.uri for r in records[:-1]]
    link = records[0].value["facets"][0]["features"][0]
    assert link["$type"] == "app.bsky.richtext.facet#link" and link["uri"].endswith("/alerts/a1")


async def test_each_other_language_is_one_reply_in_its_language(fakes: Fakes) -> None:
    channel = fakes.make(languages=("ja", "en", "pt-BR", "zh-Hans"))
    texts = {
        "en": Text("Evacuation order", "The river may flood.", "Go to the shelter."),
        "pt-BR": Text("Ordem de evacuação", "O rio pode transbordar. " * 40, "Vá para o abrigo."),  # longer than a post
    }  # no Chinese words: no reply in Chinese
    message = await post(channel, alert(body=LONG_BODY, translations=texts))
    payload = Payload.decode(message)
    assert payload is not None
    url = f"{channel.settings.city.public_url}/alerts/a1"
    for target, measure, limit in (
        ("x", weighted_length, 280),
        ("mastodon", mastodon_length, 500),
        ("bluesky", graphemes, 300),
    ):
        thread = payload.threads[target]
        english, portuguese = thread[-2:]
        assert payload.langs[target] == ["ja"] * (len(thread) - 2) + ["en", "pt-BR"]
        assert (
            english == f"[Alert Level 3] Evacuation order\nThe river may flood.\n▶ Go to the shelter.\n{url}"
        )  # no hashtags
        title, body = portuguese.splitlines()[:2]  # the tags in Portuguese words, the title, the cut body
        assert title.endswith("] Ordem de evacuação") and body.startswith("O rio pode")
        assert portuguese.endswith(f"{ELLIPSIS}\n{url}")
        assert measure(portuguese) <= limit, target
    statuses = list(fakes.mastodon.statuses.values())
    assert [s.language for s in statuses] == ["ja"] * (len(statuses) - 2) + ["en", "pt"]  # ISO 639 for Mastodon
    assert [s.in_reply_to_id for s in statuses[1:]] == [s.id for s in statuses[:-1]]
    records = list(fakes.bluesky.records.values())
    assert [r.value["langs"] for r in records][-2:] == [["en"], ["pt-BR"]]
    assert fakes.x.texts() == payload.threads["x"]


async def test_without_other_languages_the_thread_is_japanese_alone(fakes: Fakes) -> None:
    a = alert(translations={"en": Text("Evacuation order", "The river may flood.")})
    payload = Payload.decode(fakes.make(languages=("ja",)).render(a, "ja"))
    assert payload is not None and all(len(t) == 1 and "Evacuation" not in t[0] for t in payload.threads.values())
    english_first = Payload.decode(fakes.make(languages=("en", "ja")).render(a, "ja"))
    assert english_first is not None
    assert english_first.threads["x"][0].startswith("[Alert Level 3] Evacuation order\n")
    assert english_first.langs["x"] == ["en", "ja"]


async def test_a_retry_after_a_partial_failure_never_posts_twice(fakes: Fakes) -> None:
    channel = fakes.make()
    fakes.mastodon.inject(fake_mastodon.Fault.ERROR)
    with pytest.raises(TransientError, match="mastodon: 500"):
        await post(channel, alert())
    assert len(fakes.x.tweets) == 1 and len(fakes.bluesky.records) == 1 and not fakes.mastodon.statuses
    await post(channel, alert())  # the dispatcher's retry
    assert len(fakes.x.tweets) == 1 and len(fakes.bluesky.records) == 1 and len(fakes.mastodon.statuses) == 1
    assert fakes.x.statuses == [201]  # X was not even asked again


async def test_a_restart_never_reposts(fakes: Fakes) -> None:
    first = fakes.make()
    await post(first, alert(body=LONG_BODY))
    await first.aclose()
    counts = (len(fakes.x.tweets), len(fakes.mastodon.statuses), len(fakes.bluesky.records))
    await post(fakes.make(), alert(body=LONG_BODY))  # a new instance on the same store
    assert (len(fakes.x.tweets), len(fakes.mastodon.statuses), len(fakes.bluesky.records)) == counts


async def test_a_half_posted_thread_continues_under_its_last_post(fakes: Fakes) -> None:
    channel = fakes.make(targets=("x",))
    fakes.x.inject(fake_x.Fault.ERROR, after=1)  # part 1 goes through, part 2 meets a 500
    with pytest.raises(TransientError):
        message = await post(channel, alert(body=LONG_BODY))
    assert len(fakes.x.tweets) == 1
    message = await post(channel, alert(body=LONG_BODY))
    payload = Payload.decode(message)
    assert payload is not None and len(payload.threads["x"]) >= 2
    assert fakes.x.texts() == payload.threads["x"]
    tweets = list(fakes.x.tweets.values())
    assert [t.reply_to for t in tweets[1:]] == [t.id for t in tweets[:-1]]


async def test_x_429_waits_until_the_rate_limit_reset(fakes: Fakes) -> None:
    channel = fakes.make(targets=("x",))
    fakes.x.reset_in = 600
    fakes.x.inject(fake_x.Fault.RATE)
    with pytest.raises(TransientError, match="429") as caught:
        await post(channel, alert())
    assert caught.value.retry_after is not None and 500 < caught.value.retry_after <= 601
    await post(channel, alert())
    assert len(fakes.x.tweets) == 1


@pytest.mark.parametrize("fault", [fake_x.Fault.ERROR, fake_x.Fault.HANG])
async def test_x_5xx_and_timeouts_are_transient(fakes: Fakes, fault: fake_x.Fault) -> None:
    channel = fakes.make(targets=("x",))
    fakes.x.inject(fault)
    with pytest.raises(TransientError):
        await post(channel, alert())
    fakes.x.release()
    await post(channel, alert())
    assert len(fakes.x.tweets) == 1


async def test_x_duplicate_content_is_permanent_and_not_tried_again(fakes: Fakes) -> None:
    channel = fakes.make(targets=("x", "mastodon"))
    await post(channel, alert())
    # the record of the post is lost (a crash right after X answered): X sees the same text again
    await fakes.store.put_state(SNS_POSTED, "a1:x", [])
    await fakes.store.put_state(SNS_POSTED, "a1:mastodon", [])
    await post(channel, alert())  # Mastodon carried it (its key found the same status), so the send succeeds
    assert fakes.x.statuses == [201, 403]
    failed = await fakes.store.get_state(SNS_FAILED, "a1:x")
    assert failed is not None and "duplicate content" in failed
    assert len(fakes.mastodon.statuses) == 1  # the Idempotency-Key returned the status it had made
    x_only = fakes.make(targets=("x",))
    with pytest.raises(PermanentError, match="duplicate content"):
        await post(x_only, alert())
    assert fakes.x.statuses == [201, 403]  # remembered: X is not asked a third time


async def test_x_wrong_keys_are_permanent(fakes: Fakes) -> None:
    environ = {**fake_x.ENVIRON, "X_ACCESS_TOKEN_SECRET": "wrong"}
    channel = fakes.make(targets=("x",), environ=environ)
    with pytest.raises(PermanentError, match="401"):
        await post(channel, alert())
    assert not fakes.x.tweets


# -- the X quota ----------------------------------------------------------------------


async def test_daily_life_posts_cannot_use_the_reserve(fakes: Fakes) -> None:
    clock = Clock()
    channel = fakes.make(targets=("x",), clock=clock, daily_quota=5, reserve=2)
    for i in range(3):
        await post(channel, alert(f"life{i}", category="crime", level=1))
        clock.now += 60
    with pytest.raises(TransientError, match="quota") as caught:
        await post(channel, alert("life3", category="crime", level=1))
    assert caught.value.retry_after == pytest.approx(86_400 - 180)  # when the oldest post ages out
    await post(channel, alert("quake", level=2, kind="earthquake"))  # the reserve serves the earthquake
    await post(channel, alert("l4", level=4))
    with pytest.raises(TransientError, match="quota"):
        await post(channel, alert("l5", level=5))
    assert len(fakes.x.tweets) == 5
    clock.now += 86_400 - 180 + 1  # the first post is a day old, but the reserve is in use: still no room
    with pytest.raises(TransientError, match="quota"):
        await post(channel, alert("life3", category="crime", level=1))
    clock.now += 120  # the three daily-life posts are a day old
    await post(channel, alert("life3", category="crime", level=1))
    assert len(fakes.x.tweets) == 6


async def test_the_quota_survives_a_restart(fakes: Fakes) -> None:
    clock = Clock()
    await post(fakes.make(targets=("x",), clock=clock, daily_quota=3, reserve=1), alert("a", level=1))
    await post(fakes.make(targets=("x",), clock=clock, daily_quota=3, reserve=1), alert("b", level=1))
    with pytest.raises(TransientError, match="quota"):
        await post(fakes.make(targets=("x",), clock=clock, daily_quota=3, reserve=1), alert("c", level=1))


async def test_a_thread_that_can_never_fit_is_permanent(fakes: Fakes) -> None:
    channel = fakes.make(targets=("x",), clock=Clock(), daily_quota=3, reserve=1)
    with pytest.raises(PermanentError, match="can never fit"):
        await post(channel, alert(body=LONG_BODY, level=1))  # four posts, two allowed for daily life
    assert not fakes.x.tweets


async def test_quota_refusal_still_posts_the_other_targets(fakes: Fakes) -> None:
    clock = Clock()
    channel = fakes.make(targets=("x", "mastodon"), clock=clock, daily_quota=2, reserve=1)
    await post(channel, alert("a", level=1))
    with pytest.raises(TransientError, match="quota"):
        await post(channel, alert("b", level=1))
    assert len(fakes.mastodon.statuses) == 2 and len(fakes.x.tweets) == 1


# -- Mastodon -------------------------------------------------------------------------


async def test_mastodon_same_idempotency_key_gives_the_same_status(fakes: Fakes) -> None:
    channel = fakes.make(targets=("mastodon",))
    target = channel.targets[0]
    assert isinstance(target, MastodonTarget)
    key = idempotency_key("a1", "mastodon", 0)
    first = await target.post("小山市に大雨警報", root=None, parent=None, key=key)
    again = await target.post("小山市に大雨警報", root=None, parent=None, key=key)
    assert first == again and len(fakes.mastodon.statuses) == 1


async def test_mastodon_429_and_wrong_token(fakes: Fakes) -> None:
    channel = fakes.make(targets=("mastodon",))
    fakes.mastodon.inject(fake_mastodon.Fault.RATE)
    with pytest.raises(TransientError, match="429") as caught:
        await post(channel, alert())
    assert caught.value.retry_after is not None and caught.value.retry_after > 200
    wrong = fakes.make(targets=("mastodon",), environ={"MASTODON_ACCESS_TOKEN": "wrong"})
    with pytest.raises(PermanentError, match="401"):
        await post(wrong, alert("a2"))


# -- Bluesky --------------------------------------------------------------------------


async def test_bluesky_logs_in_once_for_many_posts_and_across_restarts(fakes: Fakes) -> None:
    channel = fakes.make(targets=("bluesky",))
    for i in range(5):
        await post(channel, alert(f"b{i}", body=LONG_BODY if i == 0 else "短い本文。"))
    await channel.aclose()
    assert fakes.bluesky.logins == 1
    await post(fakes.make(targets=("bluesky",)), alert("b9"))  # a new instance: the stored session
    assert fakes.bluesky.logins == 1
    assert len(fakes.bluesky.texts()) == len(set(fakes.bluesky.texts())) >= 6


async def test_bluesky_refreshes_an_expired_session_and_logs_in_only_when_refused(fakes: Fakes) -> None:
    channel = fakes.make(targets=("bluesky",))
    await post(channel, alert("b1"))
    fakes.bluesky.expire_sessions()
    await post(channel, alert("b2"))  # the access token is refused: one fresh login, then the post
    assert fakes.bluesky.logins == 2
    fakes.bluesky.revoke_sessions()
    await post(fakes.make(targets=("bluesky",)), alert("b3"))  # the stored session is refused at start
    assert fakes.bluesky.logins == 3
    assert len(fakes.bluesky.records) == 3


async def test_bluesky_wrong_password_is_permanent_and_5xx_transient(fakes: Fakes) -> None:
    wrong = fakes.make(targets=("bluesky",), environ={**fake_bluesky.ENVIRON, "BLUESKY_APP_PASSWORD": "nope"})
    with pytest.raises(PermanentError, match="Invalid identifier or password"):
        await post(wrong, alert("refused"))
    channel = fakes.make(targets=("bluesky",))
    fakes.bluesky.inject(fake_bluesky.Fault.ERROR)
    with pytest.raises(TransientError):
        await post(channel, alert())
    await post(channel, alert())
    assert len(fakes.bluesky.records) == 1


# -- credentials ----------------------------------------------------------------------


async def test_missing_credentials_name_the_variables(fakes: Fakes) -> None:
    with pytest.raises(MissingCredentials) as caught:
        fakes.make(environ={"X_API_KEY": "k"})
    text = str(caught.value)
    for name in ("X_API_SECRET", "X_ACCESS_TOKEN", "MASTODON_ACCESS_TOKEN", "BLUESKY_HANDLE"):
        assert name in text
    partial = fakes.make(environ={"MASTODON_ACCESS_TOKEN": fake_mastodon.TOKEN})
    assert [t.name for t in partial.targets] == ["mastodon"]
    await post(partial, alert())
    assert len(fakes.mastodon.statuses) == 1 and not fakes.x.tweets


async def test_the_fakes_refuse_what_the_services_refuse(fakes: Fakes) -> None:
    mastodon, bluesky = fakes.make(targets=("mastodon", "bluesky")).targets
    with pytest.raises(PermanentError, match="422 Validation failed: Text character limit"):
        await mastodon.post("あ" * 501, root=None, parent=None, key="k1")
    with pytest.raises(PermanentError, match="300 graphemes"):
        await bluesky.post("あ" * 301, root=None, parent=None, key="k2")
    await bluesky.post("👨\u200d👩\u200d👧" * 300, root=None, parent=None, key="k3")  # 300 clusters fit
    assert len(fakes.bluesky.records) == 1 and not fakes.mastodon.statuses


def test_two_alerts_with_one_body_make_different_replies() -> None:
    # X refuses a post identical to an earlier one: an update repeating the body must not fail on its replies
    body = "思川の水位が上昇しています。" * 20
    first = split_thread(body, "https://example.jp/alerts/a", 280, weighted_length, tag="29日14:30発表")
    again = split_thread(body, "https://example.jp/alerts/b", 280, weighted_length, tag="29日14:45発表")
    assert len(first) == len(again) > 1
    assert not set(first) & set(again)
    assert all("29日14:30発表" in part for part in first)
    assert all(weighted_length(part) <= 280 for part in first + again)


@pytest.mark.parametrize(
    "body",
    ["避難してください" * 500, "避難してください。" * 444, "evacuate now " * 300],
    ids=["one-long-sentence", "many-sentences", "english"],
)
def test_a_body_at_the_draft_limit_is_split_without_measuring_it_whole(body: str) -> None:
    # measuring a 5,000-character text costs tens of ms with twitter-text; a split that measured the
    # whole remainder at every step stalled the event loop for seconds (found by tests/fuzz)
    measured: list[int] = []

    def measure(text: str) -> int:
        measured.append(len(text))
        return weighted_length(text)

    parts = split_thread(body, "https://example.jp/a/1", 280, measure)
    assert len(parts) == MAX_PARTS and all(weighted_length(p) <= 280 for p in parts)
    assert parts[-1].split(" (")[0].endswith(ELLIPSIS)  # the overflow is cut, and says so
    assert max(measured) <= 280 * CHARS_PER_UNIT + 30 and len(measured) < 200  # 30: the part counter
