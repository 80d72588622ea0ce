"""Spoken form (numbers, dates, times, units) and place-name readings: pure string tables."""

from __future__ import annotations

import pytest

from channels.fm.spoken import Readings, apply_readings, for_synthesis, kanji_number, spoken_form, without_cues


@pytest.mark.parametrize(
    ("n", "spoken"),
    [
        (0, "ゼロ"),
        (7, "七"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (105, "百五"),
        (1001, "千一"),
        (1234, "千二百三十四"),
        (20_000, "二万"),
        (160_123, "十六万百二十三"),
        (100_000_000, "一億"),
    ],
)
def test_kanji_numbers(n: int, spoken: str) -> None:
    assert kanji_number(n) == spoken


def test_negative_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        kanji_number(-1)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("11月29日 14時30分", "十一月二十九日 十四時三十分"),
        ("１１月２９日", "十一月二十九日"),  # full-width digits
        ("14:30発表", "十四時三十分発表"),
        ("9:05", "九時五分"),
        ("18:00まで", "十八時まで"),
        ("2026/11/29", "二千二十六年十一月二十九日"),
        ("震度5強", "震度五強"),
        ("震度6-", "震度六弱"),
        ("震度5+", "震度五強"),
        ("M5.3", "マグニチュード五点三"),
        ("水位2.5メートル", "水位二点五メートル"),
        ("2.5m", "二点五メートル"),
        ("雨量50mm", "雨量五十ミリ"),
        ("0.05", "ゼロ点ゼロ五"),
        ("1,234人", "千二百三十四人"),
        ("12,000世帯", "一万二千世帯"),
        ("30%", "三十パーセント"),
        ("電話0285-22-9111", "電話ゼロ二八五、二二、九一一一"),
        ("【取消】避難指示。。", "取消、避難指示。"),
        ("▶直ちに避難", "直ちに避難"),
        ("数字なし", "数字なし"),
    ],
)
def test_spoken_form(text: str, spoken: str) -> None:
    assert spoken_form(text) == spoken


READINGS = {
    "小山市": "おやまし",
    "小山市役所": "おやましやくしょ",
    "思川": "おもいがわ",
    "城東1丁目": "じょうとういっちょうめ",
}


def test_readings_replace_the_longest_name_first() -> None:
    assert apply_readings("小山市役所と小山市と思川", READINGS) == "おやましやくしょとおやましとおもいがわ"


def test_a_name_with_digits_is_found_in_a_script_already_in_spoken_form() -> None:
    assert apply_readings(spoken_form("城東1丁目付近"), READINGS) == "じょうとういっちょうめ付近"


def test_no_readings_leave_the_text_alone() -> None:
    assert apply_readings("小山市", {}) == "小山市"


def test_cues_are_dropped_and_the_rest_is_spoken() -> None:
    script = "（チャイム）\nこちらは、小山市です。\n(chime)\n思川の水位は2.5メートル（観測所）です。"
    assert without_cues(script) == "こちらは、小山市です。\n思川の水位は2.5メートル（観測所）です。"
    assert (
        for_synthesis(script, READINGS) == "こちらは、おやましです。\nおもいがわの水位は二点五メートル（観測所）です。"
    )


PLACES = Readings(
    everywhere={"小山市": "おやまし", "城北": "じょうほく"},
    as_places={"平和": "ひらわ", "梁": "やな"},  # towns that are also words
    places=frozenset({"小山市", "城北", "平和", "梁", "生井地区"}),
    prefixes=("小山市", "大字", "字"),
)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("世界の平和", "世界の平和"),
        ("平和な暮らし", "平和な暮らし"),
        ("橋梁付近", "橋梁付近"),  # 梁 ends a longer word
        ("梁が落ちた", "梁が落ちた"),
        ("平和へ", "平和へ"),
        ("平和", "ひらわ"),  # alone on its line
        ("対象は\n平和。\nです", "対象は\nひらわ。\nです"),
        ("平和地区", "ひらわ地区"),
        ("梁付近", "やな付近"),
        ("平和1丁目", "ひらわ1丁目"),
        ("平和一丁目", "ひらわ一丁目"),
        ("平和三番", "ひらわ三番"),
        ("平和の皆さん", "ひらわの皆さん"),
        ("梁に避難指示", "やなに避難指示"),
        ("小山市平和", "おやましひらわ"),
        ("大字梁", "大字やな"),
        ("生井地区・平和・梁", "生井地区・ひらわ・やな"),
        ("梁、城北", "やな、じょうほく"),
        ("平和、安全", "平和、安全"),  # beside a word, not a place
        ("城北の平和", "じょうほくの平和"),  # a name read everywhere is read everywhere
    ],
)
def test_a_town_that_is_also_a_word_is_read_as_the_town_only_where_the_text_names_a_place(text: str, read: str) -> None:
    assert apply_readings(text, PLACES) == read


def test_a_plain_table_is_read_everywhere() -> None:
    assert apply_readings("世界の平和", {"平和": "ひらわ"}) == "世界のひらわ"
    assert for_synthesis("平和1丁目", PLACES) == "ひらわ一丁目"
