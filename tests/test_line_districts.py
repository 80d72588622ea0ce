"""LINE friends choose districts: the quick-reply buttons (within LINE's limits, paged when too many), the
postbacks that set them, and a 町 name or postal code sent as text. Signed webhook bodies go through the
webhook to the fake LINE API, which refuses a reply LINE would refuse.

The made-up districts of config/example-districts.toml: east 東部地区 (城東 …), west 西部地区 (神鳥谷 …),
south 南部地区 (間々田 …), north 北部地区 (喜沢 …). 駅南町 is one of 小山市's towns in none of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from broadcaster.models import ContactKind, Subscriber
from broadcaster.settings import District, Settings
from broadcaster.store.sqlite import SQLiteStore
from broadcaster.web import line_districts
from tests.fakes.line import check_messages
from tests.test_line_webhook import USER, Hook, choices, event, hook_for


@pytest.fixture
async def hook(store: SQLiteStore, district_settings: Settings) -> AsyncIterator[Hook]:
    """The webhook with the example districts (the store's folder is the settings')."""
    async with hook_for(store, district_settings) as h:
        yield h


def friend(language: str = "ja", chosen: tuple[str, ...] = ()) -> Subscriber:
    return Subscriber(0, ContactKind.LINE, USER, frozenset({"disaster"}), language, districts=frozenset(chosen))


def many(settings: Settings, n: int) -> Settings:
    """The settings with ``n`` districts (no towns): more than one page of buttons."""
    made = tuple(
        District(id=f"d{i:02d}", name=f"第{i}地区", reading="だいちく", name_en=f"District {i}", towns=(), geometry="")
        for i in range(1, n + 1)
    )
    return settings.model_copy(update={"districts": made})


# -- the buttons (pure) -----------------------------------------------------------------------


def test_oyamas_eleven_districts_and_the_whole_city_fit_one_quick_reply(settings: Settings) -> None:
    menu = line_districts.menu(settings, friend(chosen=("mamada",)))
    assert check_messages([menu]) == []  # what LINE would accept
    buttons = choices(menu)
    assert len(buttons) == 12
    assert list(buttons)[:3] == ["area=all", "area=oyama", "area=oya"]  # 市内全域 first, then the config's order
    assert buttons["area=all"] == "市内全域" and buttons["area=mamada"] == "✓間々田地区"
    assert "受け取る地区：間々田地区" in menu["text"]
    assert "町名か郵便番号" not in menu["text"]  # no district lists its 町 yet: no finder offered

    english = choices(line_districts.menu(settings, friend("en")))
    assert english["area=all"] == "✓Whole city" and english["area=mamada"] == "Mamada district"


def test_more_districts_than_fit_are_paged_with_next(settings: Settings) -> None:
    s = many(settings, 25)
    sub = friend(chosen=("d13",))
    pages = [choices(line_districts.menu(s, sub, page)) for page in range(3)]
    for page in range(3):
        assert check_messages([line_districts.menu(s, sub, page)]) == []
    assert [len(p) for p in pages] == [13, 13, 5]
    assert all(next(iter(p)) == "area=all" for p in pages)
    assert pages[0]["areas=1"] == "次へ" and pages[1]["areas=2"] == "次へ" and pages[2]["areas=0"] == "最初へ"
    shown = [data for p in pages for data in p if data.startswith("area=d")]
    assert shown == [f"area=d{i:02d}" for i in range(1, 26)]  # every district once, in order
    assert pages[1]["area=d13"] == "✓第13地区"
    assert line_districts.page_of(s, "d13") == 1
    assert choices(line_districts.menu(s, sub, 7)) == pages[0]  # a page that is not there: the first


def test_labels_are_cut_to_lines_limit(settings: Settings) -> None:
    district = District(id="long", name="あ" * 30 + "地区", reading="あ", name_en="A" * 40, towns=(), geometry="")
    long = settings.model_copy(update={"districts": (district,)})
    menu = line_districts.menu(long, friend(chosen=("long",)))
    assert check_messages([menu]) == []
    assert choices(menu)["area=long"] == "✓" + "あ" * 19


def test_the_fake_refuses_what_line_refuses() -> None:
    item = {"type": "action", "action": {"type": "postback", "label": "地区", "data": "areas=0"}}
    ok = {"type": "text", "text": "x", "quickReply": {"items": [item]}}
    assert check_messages([ok]) == []
    for broken in (
        {"items": [item] * 14},
        {"items": [{"type": "action", "action": item["action"] | {"label": "あ" * 21}}]},
        {"items": [{"type": "action", "action": item["action"] | {"data": "x" * 301}}]},
        {"items": [{"type": "action", "action": item["action"] | {"displayText": "x" * 301}}]},
        {"items": [{"type": "action", "action": {"type": "message", "label": "地区", "text": ""}}]},
        {"items": [{"type": "action", "action": {"type": "flex", "label": "地区"}}]},
        {"items": [{"type": "button", "action": item["action"]}]},
    ):
        assert check_messages([ok | {"quickReply": broken}]) != [], json.dumps(broken, ensure_ascii=False)[:80]


# -- the webhook ------------------------------------------------------------------------------


async def test_a_friend_chooses_districts_with_the_buttons(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    greeting = hook.reply_to("E1")
    assert "受け取る地区：市内全域" in greeting["text"] and choices(greeting)["areas=0"] == "地区を選ぶ"

    await hook.post(event("postback", "E2", data="areas=0"))
    menu = hook.reply_to("E2")
    assert choices(menu) == {
        "area=all": "✓市内全域",
        "area=east": "東部地区",
        "area=west": "西部地区",
        "area=south": "南部地区",
        "area=north": "北部地区",
    }
    assert "町名か郵便番号を送ると" in menu["text"]

    await hook.post(event("postback", "E3", data="area=south"))
    await hook.post(event("postback", "E4", data="area=north"))
    sub = await hook.subscriber()
    assert sub is not None and sub.districts == {"south", "north"}
    answer = hook.reply_to("E4")
    assert answer["text"].startswith("北部地区を選びました。\n受け取る地区：南部地区、北部地区\n")
    assert choices(answer)["area=all"] == "市内全域" and choices(answer)["area=south"] == "✓南部地区"

    await hook.post(event("postback", "E5", data="area=south"))
    assert (await hook.subscriber()).districts == {"north"}  # type: ignore[union-attr]
    assert hook.reply_to("E5")["text"].startswith("南部地区を選択から外しました。\n受け取る地区：北部地区")

    await hook.post(event("postback", "E6", data="area=all"))
    assert (await hook.subscriber()).districts == frozenset()  # type: ignore[union-attr]
    assert hook.reply_to("E6")["text"].startswith("市内全域の情報を受け取ります。\n受け取る地区：市内全域")


async def test_a_town_or_postal_code_sent_as_text_finds_the_district(hook: Hook) -> None:
    await hook.post(event("follow", "E1"))
    await hook.post(event("message", "E2", text="間々田"))
    ask = hook.reply_to("E2")
    assert ask["text"].startswith("間々田は南部地区です。この地区の情報を受け取りますか。\n（今は市内全域の情報を")
    assert choices(ask) == {"add=south": "はい", "areas=0": "いいえ"}
    assert (await hook.subscriber()).districts == frozenset()  # type: ignore[union-attr]  # asked, not changed

    await hook.post(event("postback", "E3", data="add=south"))
    await hook.post(event("postback", "E4", data="add=south"))  # はい tapped twice adds once
    assert (await hook.subscriber()).districts == {"south"}  # type: ignore[union-attr]
    assert hook.reply_to("E3")["text"].startswith("南部地区を選びました。")

    await hook.post(event("message", "E5", text="〒329-0205"))
    assert hook.reply_to("E5")["text"].startswith("間々田は南部地区です。この地区の情報は、すでに受け取っています。")

    await hook.post(event("message", "E6", text="栃木県小山市城東３丁目"))
    assert hook.reply_to("E6")["text"].startswith("城東は東部地区です。この地区の情報を受け取りますか。")
    assert "今は市内全域" not in hook.reply_to("E6")["text"]
    await hook.post(event("postback", "E7", data="areas=0"))  # いいえ: the buttons, nothing changed
    assert (await hook.subscriber()).districts == {"south"}  # type: ignore[union-attr]
    assert "area=east" in choices(hook.reply_to("E7"))

    await hook.post(event("message", "E8", text="駅南町"))
    assert hook.reply_to("E8")["text"].startswith(
        "駅南町は、どの地区にも入っていません。市内全域の情報を受け取ることを"
    )
    await hook.post(event("message", "E9", text="こんにちは"))
    unknown = hook.reply_to("E9")
    assert unknown["text"].startswith("その町名・郵便番号は小山市内に見つかりません。")
    assert "area=all" in choices(unknown)  # the buttons, to choose without the finder
    await hook.post(event("message", "E10", text="地区"))
    assert "area=north" in choices(hook.reply_to("E10"))


async def test_answers_come_in_the_friends_language(hook: Hook) -> None:
    await hook.post(event("follow", "E1"), event("postback", "E2", data="lang=en"))
    await hook.post(event("message", "E3", text="323-0034"))
    ask = hook.reply_to("E3")
    assert ask["text"].startswith("Hitotonoya (神鳥谷) is in the West district. Do you want to receive its alerts?")
    assert choices(ask) == {"add=west": "Yes", "areas=0": "No"}
    await hook.post(event("postback", "E4", data="add=west"))
    assert hook.reply_to("E4")["text"].startswith("You chose the West district.\nYour districts: West district")
    await hook.post(event("message", "E5", text="Districts"))
    assert choices(hook.reply_to("E5"))["area=west"] == "✓West district"


@pytest.mark.parametrize("data", ["area=atlantis", "add=mamada", "areas=9", "areas=-1", "areas=x", "area="])
async def test_a_district_postback_naming_nothing_changes_nothing_and_gets_no_answer(hook: Hook, data: str) -> None:
    await hook.post(event("follow", "E1"), event("postback", "E2", data="area=east"))
    await hook.post(event("postback", "E3", data=data))
    assert (await hook.subscriber()).districts == {"east"}  # type: ignore[union-attr]
    assert "reply-E3" not in hook.fake.replies


async def test_without_districts_there_are_no_district_buttons_or_answers(
    store: SQLiteStore, settings: Settings
) -> None:
    async with hook_for(store, settings.model_copy(update={"districts": ()})) as h:
        await h.post(event("follow", "E1"))
        assert "areas=0" not in choices(h.reply_to("E1")) and "地区" not in h.reply_to("E1")["text"]
        await h.post(event("message", "E2", text="地区"), event("postback", "E3", data="areas=0"))
        await h.post(event("message", "E4", text="間々田"), event("postback", "E5", data="area=all"))
        assert [t for t in h.fake.replies if t != "reply-E1"] == []


async def test_without_towns_in_districts_a_town_name_gets_no_answer(store: SQLiteStore, settings: Settings) -> None:
    async with hook_for(store, settings) as h:  # Oyama's eleven 地区, their 町 not yet given by the city
        await h.post(event("follow", "E1"), event("message", "E2", text="間々田"))
        assert "reply-E2" not in h.fake.replies
        await h.post(event("message", "E3", text="ちく"))
        assert len(choices(h.reply_to("E3"))) == 12


async def test_user_ids_and_typed_places_never_reach_the_logs(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    typed = ("小山市喜沢９９９", "329-0205", "どこにもない町")
    await hook.post(event("follow", "E1"), *(event("message", f"E{i}", text=t) for i, t in enumerate(typed, 2)))
    await hook.post(event("postback", "E9", data="area=south"))
    assert len(hook.fake.replies) == 5
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert USER not in logged and not any(part in logged for part in ("喜沢", "329", "0205", "どこにもない"))
