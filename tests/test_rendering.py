"""Rendering: template lookup, normalising, fitting limits, the exercise prefix, escaping, translations."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

# A straight import sorts before the from-imports below, and must: importing broadcaster.rendering
# first fails with a circular import (see test_rendering_imports_on_its_own).
import broadcaster.rendering as base
from broadcaster import furigana, tags
from broadcaster.channel import render_plain
from broadcaster.models import Alert, Mode, Source, Text
from broadcaster.rendering import (
    ELLIPSIS,
    EXERCISE_PREFIX,
    TEXT_PARTS,
    Renderer,
    candidates,
    fit,
    make_environment,
    normalise,
)
from broadcaster.settings import ROOT, Settings

Templates = Callable[[dict[str, str]], Renderer]
EN = Text("Heavy rain warning", "Heavy rain is expected tonight.", "Stay away from rivers.")


def make_alert(**changes: Any) -> Alert:
    """A live level-1 disaster alert in Japanese, with ``changes``."""
    alert = Alert(
        id="a1",
        source=Source.STAFF,
        category="disaster",
        level=1,
        title="大雨警報",
        body="今夜は大雨になる見込みです。",
        instruction="川に近づかないでください。",
        mode=Mode.LIVE,
    )
    return dataclasses.replace(alert, **changes)


def weighted(text: str) -> int:
    """X-style weights: ASCII counts 1, anything else 2 (the ellipsis too)."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


@pytest.fixture
def templates(tmp_path: Path, settings: Settings) -> Templates:
    """A renderer over a temporary template folder holding exactly ``files`` (name -> source)."""

    def build(files: dict[str, str]) -> Renderer:
        folder = tmp_path / "templates"
        (folder / "chan").mkdir(parents=True, exist_ok=True)
        (folder / "_macros.j2").write_text("", encoding="utf-8")
        for name, source in files.items():
            (folder / name).write_text(source, encoding="utf-8")
        return Renderer(settings, make_environment(folder))

    return build


def test_rendering_imports_on_its_own() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import broadcaster.rendering"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr.splitlines()[-1:]


# -- template lookup ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "category", "lang", "suffix", "expected"),
    [
        ("earthquake", "disaster", "ja", "j2", ["earthquake.ja.j2", "disaster.ja.j2", "default.ja.j2"]),
        (
            "earthquake",
            "disaster",
            "en",
            "j2",
            [f"{kind}.{lang}.j2" for lang in ("en", "ja") for kind in ("earthquake", "disaster", "default")],
        ),
        ("", "crime", "en", "j2", ["crime.en.j2", "default.en.j2", "crime.ja.j2", "default.ja.j2"]),
        ("", "crime", "ja", "html.j2", ["crime.ja.html.j2", "default.ja.html.j2"]),
    ],
)
def test_candidates_most_specific_first(kind: str, category: str, lang: str, suffix: str, expected: list[str]) -> None:
    alert = make_alert(kind=kind, category=category)
    assert candidates("email", alert, lang, suffix) == [f"email/{name}" for name in expected]


@pytest.mark.parametrize(
    ("present", "lang", "chosen"),
    [
        (["earthquake.en", "disaster.en", "default.en", "earthquake.ja"], "en", "earthquake.en"),
        (["disaster.en", "earthquake.ja"], "en", "disaster.en"),  # the language counts before the kind
        (["default.en", "earthquake.ja", "disaster.ja"], "en", "default.en"),
        (["earthquake.ja", "default.ja"], "en", "earthquake.ja"),  # no English template: Japanese
        (["default.ja"], "en", "default.ja"),
        (["disaster.ja", "default.ja", "earthquake.en"], "ja", "disaster.ja"),
    ],
)
def test_template_lookup_order(templates: Templates, present: list[str], lang: str, chosen: str) -> None:
    renderer = templates({f"chan/{name}.j2": f"{{% block subject %}}{name}{{% endblock %}}" for name in present})
    message = renderer.render("chan", make_alert(kind="earthquake"), lang, base.NO_LIMITS)
    assert message.subject == chosen
    assert message.html == ""  # no HTML template, no HTML part


def test_missing_template_raises(templates: Templates) -> None:
    renderer = templates({"chan/default.en.j2": "{% block subject %}x{% endblock %}"})
    with pytest.raises(jinja2.TemplatesNotFound):
        renderer.render("chan", make_alert(), "ja", base.NO_LIMITS)


def test_japanese_only_channel_renders_english_words(settings: Settings) -> None:
    # sns has only default.ja.j2; an English rendering falls back to it, with the English words
    message = Renderer(settings).render("sns", make_alert(translations={"en": EN}), "en", base.NO_LIMITS)
    assert message.text.splitlines()[:2] == [EN.title, EN.body]
    assert "大雨警報" not in message.text


# -- normalise and fit ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "single_line", "expected"),
    [
        ("か\u3099", False, "が"),  # NFC composes
        ("ｶﾞｲﾄﾞ", False, "ｶﾞｲﾄﾞ"),  # ...but does not fold half-width kana (that would be NFKC)
        ("a  \r\nb\t \n", False, "a\nb"),
        ("a\n\n\n\nb", False, "a\n\nb"),
        ("\n\n  \na\n\n", False, "a"),
        ("  indented\nkept", False, "indented\nkept"),
        ("line one  \n\n  line two\r\n", True, "line one line two"),
        ("小山市\n\n避難指示", True, "小山市 避難指示"),
        ("\n \n", True, ""),
    ],
)
def test_normalise(raw: str, single_line: bool, expected: str) -> None:
    assert normalise(raw, single_line=single_line) == expected


@pytest.mark.parametrize(
    ("text", "limit", "measure", "expected"),
    [
        ("abcdef", None, len, "abcdef"),
        ("abcdef", 10, len, "abcdef"),
        ("abcdef", 6, len, "abcdef"),
        ("abcdef", 5, len, "abcd…"),
        ("避難指示が発令されました", 6, len, "避難指示が…"),
        ("ab  cdef", 5, len, "ab…"),  # no spaces before the ellipsis
        ("abcdef", 5, weighted, "abc…"),  # the ellipsis weighs 2
        ("警報abc", 5, weighted, "警…"),
        ("警報abc", 7, weighted, "警報abc"),
    ],
)
def test_fit_examples(text: str, limit: int | None, measure: Callable[[str], int], expected: str) -> None:
    assert fit(text, limit, measure) == expected


@pytest.mark.parametrize("measure", [len, weighted], ids=["len", "weighted"])
@pytest.mark.parametrize("text", ["小山市に避難指示 Evacuate now", "a b c d e f g h", "警戒レベル４　全員避難"])
def test_fit_never_exceeds_the_limit(text: str, measure: Callable[[str], int]) -> None:
    for limit in range(measure(ELLIPSIS), measure(text) + 2):
        result = fit(text, limit, measure)
        assert measure(result) <= limit, (limit, result)
        if result != text:
            assert result.endswith(ELLIPSIS)
            assert text.startswith(result.removesuffix(ELLIPSIS))


@pytest.mark.parametrize(("limit", "measure"), [(0, len), (1, weighted)], ids=["zero", "below-ellipsis-weight"])
def test_fit_never_exceeds_a_limit_smaller_than_the_ellipsis(limit: int, measure: Callable[[str], int]) -> None:
    result = fit("避難指示", limit, measure)
    assert measure(result) <= limit, result


# -- the exercise prefix -------------------------------------------------------

TITLE_EVERYWHERE = "".join(f"{{% block {part} %}}{{{{ text.title }}}}{{% endblock %}}" for part in TEXT_PARTS)


@pytest.mark.parametrize(
    ("title", "mode", "shown"),
    [
        ("避難訓練", Mode.EXERCISE, "【訓練】避難訓練"),
        ("【訓練】避難訓練", Mode.EXERCISE, "【訓練】避難訓練"),  # not added twice
        ("避難訓練", Mode.LIVE, "避難訓練"),
    ],
)
def test_exercise_prefix_rule(templates: Templates, title: str, mode: Mode, shown: str) -> None:
    renderer = templates({"chan/default.ja.j2": TITLE_EVERYWHERE})
    message = renderer.render("chan", make_alert(title=title, mode=mode), "ja", base.NO_LIMITS)
    assert (message.subject, message.text, message.ticker) == (shown, shown, shown)


def test_exercise_prefix_is_not_added_to_speech(templates: Templates) -> None:
    # speech announces the exercise in words (see the fm template); a bracket is not read aloud
    renderer = templates({"chan/default.ja.j2": TITLE_EVERYWHERE})
    message = renderer.render("chan", make_alert(title="避難訓練", mode=Mode.EXERCISE), "ja", base.NO_LIMITS)
    assert message.speech == "避難訓練"


def test_exercise_prefix_is_not_added_to_empty_parts(templates: Templates) -> None:
    renderer = templates({"chan/default.ja.j2": "{% block subject %}{{ text.title }}{% endblock %}"})
    message = renderer.render("chan", make_alert(mode=Mode.EXERCISE), "ja", base.NO_LIMITS)
    assert message.subject == EXERCISE_PREFIX + "大雨警報"
    assert (message.text, message.ticker, message.speech) == ("", "", "")


def test_exercise_prefix_survives_fitting(settings: Settings) -> None:
    limits = base.Limits(subject=12, ticker=12)
    message = Renderer(settings).render("email", make_alert(mode=Mode.EXERCISE, title="大" * 40), "ja", limits)
    assert message.subject.startswith(EXERCISE_PREFIX)
    assert len(message.subject) == 12
    assert message.subject.endswith(ELLIPSIS)


@pytest.mark.parametrize(
    ("channel", "part"),
    [("email", "subject"), ("email", "text"), ("website", "subject"), ("website", "text"), ("ticker", "ticker"),
     ("sns", "text"), ("line", "text")],
)  # fmt: skip
@pytest.mark.parametrize("level", [1, 3])
def test_exercise_prefix_on_real_templates(settings: Settings, channel: str, part: str, level: int) -> None:
    message = Renderer(settings).render(channel, make_alert(mode=Mode.EXERCISE, level=level), "ja", base.NO_LIMITS)
    value = getattr(message, part)
    assert value.startswith(EXERCISE_PREFIX)
    assert value.count(EXERCISE_PREFIX) == 1


@pytest.mark.parametrize(("channel", "part"), [("email", "subject"), ("website", "subject"), ("ticker", "ticker")])
@pytest.mark.parametrize("level", [1, 3])
def test_exercise_prefix_typed_in_the_title_is_not_repeated(
    settings: Settings, channel: str, part: str, level: int
) -> None:
    # duty officers write 【訓練】 into exercise titles; the one-line parts must not show it twice
    alert = make_alert(mode=Mode.EXERCISE, level=level, title="【訓練】避難所開設のお知らせ")
    value = getattr(Renderer(settings).render(channel, alert, "ja", base.NO_LIMITS), part)
    assert value.startswith(EXERCISE_PREFIX)
    assert value.count(EXERCISE_PREFIX) == 1, value


def test_exercise_speech_has_no_prefix_but_says_so(settings: Settings) -> None:
    message = Renderer(settings).render("fm", make_alert(mode=Mode.EXERCISE), "ja", base.NO_LIMITS)
    assert EXERCISE_PREFIX not in message.speech
    lines = message.speech.splitlines()
    assert lines[:2] == ["（チャイム）", "これは、訓練放送です。"] and lines[-1] == "これは、訓練放送です。"


# -- undefined names and escaping ------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"chan/default.ja.j2": "{% block text %}{{ no_such_name }}{% endblock %}"},
        {"chan/default.ja.j2": "{% block subject %}{{ alert.no_such_field }}{% endblock %}"},
        {"chan/default.ja.j2": "{% block ticker %}{% if weather.rain %}雨{% endif %}{% endblock %}"},
        {"chan/default.ja.j2": "{% block text %}ok{% endblock %}", "chan/default.ja.html.j2": "<p>{{ nope }}</p>"},
    ],
    ids=["name", "attribute", "test", "html"],
)
def test_undefined_names_raise(templates: Templates, files: dict[str, str]) -> None:
    renderer = templates(files)
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("chan", make_alert(), "ja", base.NO_LIMITS)


def test_defined_names_render(templates: Templates) -> None:
    source = "{% block text %}{{ city.name }} {{ badge }} {{ category_name }} {{ url }} {{ headline }}{% endblock %}"
    alert = make_alert(level=3, title="【訂正】避難指示")
    message = templates({"chan/default.ja.j2": source}).render("chan", alert, "ja", base.NO_LIMITS)
    assert message.text == "小山市 警戒レベル３ 防災 http://127.0.0.1:8080/alerts/a1 【警戒レベル３】避難指示"


def test_make_environment_is_strict() -> None:
    env = make_environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


SCRIPT = "<script>alert('x')</script>"


def test_html_part_escapes_and_text_parts_do_not(templates: Templates) -> None:
    renderer = templates(
        {
            "chan/default.ja.j2": "{% block subject %}{{ text.title }}{% endblock %}"
            "{% block text %}{{ text.body }}{% endblock %}",
            "chan/default.ja.html.j2": "<h1>{{ text.title }}</h1><p>{{ text.body }}</p>",
        }
    )
    message = renderer.render("chan", make_alert(title=SCRIPT, body="A & B"), "ja", base.NO_LIMITS)
    assert message.html == "<h1>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</h1><p>A &amp; B</p>"
    assert (message.subject, message.text) == (SCRIPT, "A & B")


def test_real_email_escapes_html_only(settings: Settings) -> None:
    message = Renderer(settings).render("email", make_alert(title=SCRIPT, body=f"本文 {SCRIPT}"), "ja", base.NO_LIMITS)
    assert "<script>" not in message.html
    assert message.html.count("&lt;script&gt;") == 3  # <title>, <h1> and the body paragraph
    assert message.subject == SCRIPT
    assert message.text.count(SCRIPT) == 2


# -- translations ----------------------------------------------------------------


def test_english_uses_the_translation(settings: Settings) -> None:
    alert = make_alert(level=3, translations={"en": EN})
    message = Renderer(settings).render("email", alert, "en", base.NO_LIMITS)
    assert message.lang == "en"
    assert message.subject == f"[Alert Level 3] {EN.title}"
    for words in (EN.title, EN.body, EN.instruction, "Category: Disaster"):
        assert words in message.text
    assert EN.title in message.html
    for japanese in (alert.title, alert.body, alert.instruction):
        assert japanese not in message.text + message.subject + message.html


def test_japanese_ignores_the_translation(settings: Settings) -> None:
    alert = make_alert(translations={"en": EN})
    message = Renderer(settings).render("email", alert, "ja", base.NO_LIMITS)
    assert message.subject == alert.title
    assert alert.body in message.text
    assert "区分：防災" in message.text
    assert EN.title not in message.text + message.html


def test_english_without_a_translation_uses_the_japanese_words(settings: Settings) -> None:
    alert = make_alert()
    message = Renderer(settings).render("line", alert, "en", base.NO_LIMITS)
    assert message.text.startswith(alert.title)
    assert alert.body in message.text


def test_normalised_output_is_nfc(settings: Settings) -> None:
    message = Renderer(settings).render("email", make_alert(title="ガイド", body="か\u3099"), "ja", base.NO_LIMITS)
    assert message.text == unicodedata.normalize("NFC", message.text)
    assert "が" in message.text


# -- plain-text channels and furigana ----------------------------------------


def test_render_plain_writes_furigana_in_brackets_before_the_cut(templates: Templates) -> None:
    # what a template puts out as it is (a phrasebook word, the rich title) may hold furigana markup
    renderer = templates({"chan/default.en.j2": "{% block subject %}{{ rich.title }}{% endblock %}"
                          "{% block text %}{{ rich.body }}{% endblock %}"})  # fmt: skip
    easy = Text("{避難|ひなん}して", "{川|かわ}に {近|ちか}づかない。")
    alert = make_alert(translations={"ja-x-easy": easy}, mode=Mode.EXERCISE)
    limits = base.Limits(subject=14)
    assert furigana.has(renderer.render("chan", alert, "ja-x-easy", base.NO_LIMITS).text)  # the renderer keeps it
    message = render_plain(renderer, "chan", alert, "ja-x-easy", limits)
    mark = tags.exercise_tag("ja-x-easy", renderer.settings)
    assert message.text == mark + "川（かわ）に 近（ちか）づかない。"
    assert message.subject == fit(mark + "避難（ひなん）して", 14) and len(message.subject) <= 14
    assert message.html == "" and not furigana.has(message.subject + message.text)
