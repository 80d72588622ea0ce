"""Every channel that reaches subscribers or the public names an alert's districts in words, within its limits.

Email (subject and both parts), LINE (text, bubble and notification), SNS (the first post of each
language in every target's thread) and the ticker (one line: the names, or 「市内3地区」 when they would not fit). The
districts are config/example-districts.toml's made-up east, west, south and north; their ids never
appear in anything a person reads. A whole-city alert reads as it always has.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from broadcaster.channel import ChannelRenderer
from broadcaster.models import Alert, AlertState, Message, Mode, MsgType, Source, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from channels import build_renderers
from channels.line.render import LineRenderer, decode_payload
from channels.sns.render import Payload
from channels.ticker import limits_for, render_ticker
from tests.conftest import SiteFactory
from tests.test_city_config import readable

ONE = ("south",)
THREE = ("north", "east", "west")  # config order is east, west, …, north: the words follow it
NAMES = {
    ("ja", ONE): ["南部地区"],
    ("en", ONE): ["South district"],
    ("ja", THREE): ["東部地区", "西部地区", "北部地区"],
    ("en", THREE): ["East district", "West district", "North district"],
}
LINES = {
    ("ja", ONE): "対象地区：南部地区",
    ("en", ONE): "District: South district",
    ("ja", THREE): "対象地区：東部地区、西部地区、北部地区",
    ("en", THREE): "Districts: East district, West district, North district",
}
SHORT = {("ja", ONE): "南部地区", ("en", ONE): "South district", ("ja", THREE): "市内3地区",
         ("en", THREE): "3 districts of Oyama City"}  # fmt: skip
IDS = re.compile(r"\b(?:east|west|south|north)\b")  # as an id would show: lower case, a word of its own
LABELS = ("対象地区", "District")
CASES = [(lang, ids) for ids in (ONE, THREE) for lang in ("ja", "en")]


def district_alert(districts: tuple[str, ...] = (), **changes: Any) -> Alert:
    """A live level-4 evacuation order in Japanese and English for ``districts`` (none: the whole city)."""
    alert = Alert(
        id="d1",
        source=Source.STAFF,
        category="disaster",
        level=4,
        title="避難指示を発令",
        body="川の水位が上がっています。",
        instruction="直ちに避難してください。",
        translations={"en": Text("Evacuation order", "The river is rising.", "Leave for a safe place now.")},
        channels=("email", "line", "sns", "ticker"),
        districts=districts,
        mode=Mode.LIVE,
        state=AlertState.DRAFT,
        created_at=1_795_900_000.0,
    )
    return dataclasses.replace(alert, **changes)


def renderers(settings: Settings) -> dict[str, ChannelRenderer]:
    """Every channel's renderer, as the outbox and the console's preview build them."""
    return build_renderers(settings, Renderer(settings))


def after(words: str, places: str, lang: str) -> str:
    """``words`` with ``places`` in brackets after them, as the language writes it."""
    return f"{words}（{places}）" if lang == "ja" else f"{words} ({places})"


def everything(message: Message) -> str:
    """Every part of a rendering as a person would read it, attachments decoded."""
    parts = [message.subject, message.text, message.html, message.ticker, message.speech]
    return "\n".join(parts + [readable(data) for _, data in message.attachments])


# -- email ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "ids"), CASES)
def test_an_email_names_the_districts_under_its_title_and_in_its_subject(
    district_settings: Settings, lang: str, ids: tuple[str, ...]
) -> None:
    message = renderers(district_settings)["email"].render(district_alert(ids), lang)
    headline = "【警戒レベル４】避難指示を発令" if lang == "ja" else "[Alert Level 4] Evacuation order"
    assert message.subject == after(headline, SHORT[lang, ids], lang)
    lines = message.text.splitlines()
    assert lines[lines.index(headline) + 1] == LINES[lang, ids]  # right under the title
    label, _, names = LINES[lang, ids].partition("：" if lang == "ja" else ": ")
    colon = "：" if lang == "ja" else ":"
    assert f"<strong>{label}{colon}</strong>{'' if lang == 'ja' else ' '}{names}</p>" in message.html


def test_an_email_subject_leaves_out_districts_its_title_already_names(district_settings: Settings) -> None:
    alert = district_alert(ONE, title="南部地区に避難指示を発令")
    message = renderers(district_settings)["email"].render(alert, "ja")
    assert message.subject == "【警戒レベル４】南部地区に避難指示を発令"
    assert LINES["ja", ONE] in message.text.splitlines()  # the body still says it on its own line


# -- LINE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "ids"), CASES)
def test_line_names_the_districts_in_the_text_the_bubble_and_the_notification(
    district_settings: Settings, lang: str, ids: tuple[str, ...]
) -> None:
    renderer = renderers(district_settings)["line"]
    message = renderer.render(district_alert(ids), lang)
    assert message.text.splitlines()[1] == LINES[lang, ids]  # right under the headline
    _, [bubble] = decode_payload(message)
    body = bubble["contents"]["body"]["contents"]
    assert body[1]["text"] == LINES[lang, ids]  # under the title, before the body
    title = "避難指示を発令" if lang == "ja" else "Evacuation order"
    assert bubble["altText"] == after(title, SHORT[lang, ids], lang)


def test_line_text_mode_names_the_districts(district_settings: Settings) -> None:
    renderer = LineRenderer(district_settings, Renderer(district_settings), flex=False)
    _, [message] = decode_payload(renderer.render(district_alert(THREE), "ja"))
    assert message["type"] == "text" and LINES["ja", THREE] in message["text"].splitlines()


# -- SNS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "ids"), CASES)
def test_sns_names_the_districts_in_the_first_post_of_every_target(
    site: SiteFactory, lang: str, ids: tuple[str, ...]
) -> None:
    settings = load_settings(site({"sns": {"targets": ["x", "mastodon", "bluesky"]}}, districts=True))
    payload = Payload.decode(renderers(settings)["sns"].render(district_alert(ids), lang))
    assert payload is not None and set(payload.threads) == {"x", "mastodon", "bluesky"}
    for target, posts in payload.threads.items():
        # the thread is the same whatever language is asked: Japanese, then the English reply
        first = payload.langs[target].index(lang)
        assert posts[first].splitlines()[1] == LINES[lang, ids]


def test_an_sns_target_whose_first_post_cannot_hold_the_names_counts_them(site: SiteFactory) -> None:
    settings = load_settings(site({"sns": {"targets": ["x", "mastodon"]}}, districts=True))
    # on X (280, a kanji weighs 2) the title leaves room for 「市内3地区」 in the first post but not the names
    alert = district_alert(THREE, title="思川" + "の水位" * 27 + "による避難指示")
    payload = Payload.decode(renderers(settings)["sns"].render(alert, "ja"))
    assert payload is not None
    x, mastodon = payload.threads["x"][0], payload.threads["mastodon"][0]
    assert "対象地区：市内3地区" in x.splitlines() and not any(n in x for n in NAMES["ja", THREE])
    assert LINES["ja", THREE] in mastodon.splitlines()  # 500 characters hold the names
    # one district is its name: never counted
    one = Payload.decode(renderers(settings)["sns"].render(dataclasses.replace(alert, districts=ONE), "ja"))
    assert one is not None and "対象地区：南部地区" in "".join(one.threads["x"])


# -- ticker ---------------------------------------------------------------------------------------


def ticker_line(settings: Settings, alert: Alert) -> str:
    """The line as every way of delivery airs it (the push and the poll endpoints)."""
    return render_ticker(Renderer(settings), alert, "ja", limits_for(settings)).ticker


def test_the_ticker_names_the_districts_after_the_city(district_settings: Settings) -> None:
    assert ticker_line(district_settings, district_alert(ONE)) == (
        "【警戒レベル４】小山市　南部地区　避難指示を発令　直ちに避難してください。"
    )
    assert ticker_line(district_settings, district_alert(THREE)).startswith(
        "【警戒レベル４】小山市　東部地区、西部地区、北部地区　避難指示を発令"
    )


def test_the_ticker_counts_the_districts_exactly_when_their_names_would_not_fit(site: SiteFactory) -> None:
    alert = district_alert(THREE)
    full = "【警戒レベル４】小山市　東部地区、西部地区、北部地区　避難指示を発令　直ちに避難してください。"
    counted = "【警戒レベル４】小山市　市内３地区　避難指示を発令　直ちに避難してください。"
    at = load_settings(site({"ticker": {"max_length": len(full)}}, districts=True))
    assert ticker_line(at, alert) == full  # the names fit to the last character
    over = load_settings(site({"ticker": {"max_length": len(full) - 1}}, name="over.toml", districts=True))
    assert ticker_line(over, alert) == counted  # one character short: counted, and nothing else is cut
    tight = load_settings(site({"ticker": {"max_length": len(counted) - 1}}, name="tight.toml", districts=True))
    line = ticker_line(tight, alert)
    assert line.startswith("【警戒レベル４】小山市　市内３地区　避難指示を発令") and line.endswith("…")
    assert len(line) == len(counted) - 1
    # the console's check measures the line that airs: the counted one, once the names do not fit
    assert [(f.length, f.over) for f in renderers(over)["ticker"].fits(alert)] == [(len(counted), False)]
    assert [(f.length, f.over) for f in renderers(at)["ticker"].fits(alert)] == [(len(full), False)]


def test_the_ticker_decides_by_the_lines_length_not_the_number_of_districts(site: SiteFactory) -> None:
    settings = load_settings(site({"ticker": {"max_length": 40}}, districts=True))
    two = ("east", "west")
    assert "東部地区、西部地区" in ticker_line(settings, district_alert(two, instruction="避難を。"))
    longer = "直ちに安全な場所へ避難してください。"
    assert "市内２地区" in ticker_line(settings, district_alert(two, instruction=longer))
    # one district is never counted: the cut takes the end of the line instead
    lone = ticker_line(settings, district_alert(ONE, instruction=longer * 3))
    assert "小山市　南部地区　" in lone and lone.endswith("…")


def test_the_ticker_names_the_districts_of_a_lift(district_settings: Settings) -> None:
    lift = district_alert(ONE, msg_type=MsgType.LIFT, event_key="e1", version=2)
    assert ticker_line(district_settings, lift) == "【解除】小山市　南部地区　避難指示を解除しました。"


# -- every channel --------------------------------------------------------------------------------


def test_a_whole_city_alert_reads_as_before(district_settings: Settings, settings: Settings) -> None:
    with_districts, without = renderers(district_settings), renderers(settings)
    alert = district_alert()
    for name in ("email", "line", "sns", "ticker"):
        for lang in alert.languages:
            message = with_districts[name].render(alert, lang)
            # the same words as for a city with other districts configured, and no districts line
            assert message == without[name].render(alert, lang), (name, lang)
            assert not any(label in everything(message) for label in LABELS), (name, lang)
    assert with_districts["email"].render(alert, "ja").subject == "【警戒レベル４】避難指示を発令"
    assert ticker_line(district_settings, alert) == "【警戒レベル４】小山市　避難指示を発令　直ちに避難してください。"


@pytest.mark.parametrize("ids", [ONE, THREE, ("east", "west", "south", "north")])
def test_no_channel_shows_a_district_id(district_settings: Settings, ids: tuple[str, ...]) -> None:
    for name, renderer in renderers(district_settings).items():
        for lang in ("ja", "en"):
            text = everything(renderer.render(district_alert(ids), lang))
            assert IDS.findall(text) == [], (name, lang)


def test_the_example_districts_ids_are_what_the_check_looks_for(district_settings: Settings) -> None:
    # the id check above can fail: each id, written where a name belongs, is caught
    assert [d.id for d in district_settings.districts] == ["east", "west", "south", "north"]
    assert all(IDS.search(f"対象地区：{d.id}") for d in district_settings.districts)
    assert not IDS.search("East district, North district")
