"""ふりがな markup ({漢字|かんじ}) never reaches a resident as it is (broadcaster/furigana.py)."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from broadcaster import furigana

TEXT = "{避難所|ひなんじょ}へ にげて ください。"
PLAIN_TEXTS = ["", "避難所へ にげて ください。", "Evacuate now.", "{x} と {places}", "a|b {c}", "{|}"]


def test_has() -> None:
    assert furigana.has(TEXT)
    assert not any(furigana.has(t) for t in PLAIN_TEXTS)


def test_plain_puts_the_reading_in_parentheses() -> None:
    assert furigana.plain(TEXT) == "避難所（ひなんじょ）へ にげて ください。"
    assert (
        furigana.plain("{間々田地区|ままだちく}、{大谷地区|おおやちく}")
        == "間々田地区（ままだちく）、大谷地区（おおやちく）"
    )


def test_bare_keeps_the_kanji() -> None:
    assert furigana.bare(TEXT) == "避難所へ にげて ください。"


def test_spoken_reads_the_reading() -> None:
    assert furigana.spoken(TEXT) == "ひなんじょへ にげて ください。"
    assert furigana.spoken("{小山市|おやまし}の {間々田地区|ままだちく}") == "おやましの ままだちく"


def test_spoken_keeps_a_counter_after_a_number() -> None:
    """30分 is さんじゅっぷん and 1日 ついたち: the engine reads those from the kanji, not from ふん or にち."""
    assert furigana.spoken("12{月|がつ}1{日|にち} 9{時|じ}30{分|ふん}") == "12月1日 9時30分"
    assert furigana.spoken("{何年|なんねん}かに {一回|いっかい}") == "なんねんかに いっかい"


def test_html_gives_ruby() -> None:
    out = furigana.html(TEXT)
    assert isinstance(out, Markup)
    assert out == "<ruby>避難所<rp>（</rp><rt>ひなんじょ</rt><rp>）</rp></ruby>へ にげて ください。"


@pytest.mark.parametrize("text", PLAIN_TEXTS)
def test_text_without_markup_is_unchanged(text: str) -> None:
    assert furigana.plain(text) == furigana.bare(text) == furigana.spoken(text) == text
    assert furigana.html(text) == text  # nothing here needs escaping


def test_html_escapes_text_around_the_markup() -> None:
    out = str(furigana.html('<script>alert("x")</script>{避難|ひなん} & <b>'))
    assert "<script>" not in out and "<b>" not in out
    assert out.startswith("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<ruby>避難")
    assert out.endswith("</ruby> &amp; &lt;b&gt;")


def test_markup_cannot_inject_html() -> None:
    """A name or a reading that holds HTML (a slot value an officer typed) comes out as text."""
    out = str(furigana.html('{<img src=x onerror="alert(1)">|<script>}'))
    assert "<img" not in out and "<script>" not in out
    assert out == (
        "<ruby>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;<rp>（</rp><rt>&lt;script&gt;</rt><rp>）</rp></ruby>"
    )


def test_html_of_markup_text_passed_as_markup_is_still_ruby() -> None:
    """Jinja's ``| ruby`` filter may get a Markup; its markup still becomes ruby, its HTML stays as it is."""
    assert furigana.html(Markup("<br>{雨|あめ}")) == "<br><ruby>雨<rp>（</rp><rt>あめ</rt><rp>）</rp></ruby>"
