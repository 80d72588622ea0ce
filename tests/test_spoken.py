"""Spoken form (numbers, dates, times, units) and place-name readings: pure string tables."""

from __future__ import annotations

import pytest

from channels.fm.spoken import apply_readings, for_synthesis, kanji_number, spoken_form, without_cues


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
