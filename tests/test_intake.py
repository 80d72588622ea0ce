"""Control characters are handled where text comes in: bodies keep LF line breaks and nothing else, titles
are one line, NUL and bidi overrides never reach a channel, a page or a feed (no ``&#13;`` anywhere).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from broadcaster import drafts
from broadcaster.errors import InputError
from broadcaster.intake import clean_text, clean_title
from broadcaster.models import Alert, Published, Source
from broadcaster.on_air import build_snapshot
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from channels import build_renderers
from channels.website.pages import render_site

# any control character but LF and TAB, and the bidi embeddings, overrides and isolates
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("raw", "body", "title"),
    [
        ("一行目\r\n二行目", "一行目\n二行目", "一行目 二行目"),
        ("一行目\r二行目\n三行目", "一行目\n二行目\n三行目", "一行目 二行目 三行目"),
        ("避難\u202e示指\u202c", "避難示指", "避難示指"),
        ("\u2067右から\u2069左へ\u202a", "右から左へ", "右から左へ"),
        ("ヌル\x00文字\x07\x1b[31m", "ヌル文字[31m", "ヌル文字[31m"),
        ("C1\x85改行\u2028と\u2029段落", "C1\n改行\nと\n段落", "C1 改行 と 段落"),
        ("タブ\tはそのまま\x7f", "タブ\tはそのまま", "タブ はそのまま"),
        ("  前後の空白\r\n\r\n  ", "  前後の空白\n\n  ", "前後の空白"),
    ],
)
def test_text_and_titles_are_cleaned(raw: str, body: str, title: str) -> None:
    assert clean_text(raw) == body
    assert clean_title(raw) == title
    assert not UNSAFE.search(clean_text(raw)) and "\n" not in clean_title(raw)


def dirty(**changes: Any) -> dict[str, Any]:
    """A draft as a careless paste or a hostile system sends it."""
    data = {
        "category": "disaster",
        "level": 4,
        "title": "避難指示\r\n思川\u202e周辺\x00",
        "body": "川の水位が\r\n上昇しています。\x00\r\n\u2066直ちに\u2069避難してください。",
        "instruction": "高い所へ\r移動\u202dしてください。",
        "translations": {"en": {"title": "Evacuation\norder", "body": "The river\r\nis rising.\u202e"}},
        "mode": "live",
    }
    return data | changes


def test_a_draft_is_stored_clean(settings: Settings) -> None:
    alert = drafts.build(settings, drafts.parse(dirty()), "sato", Source.STAFF)
    assert alert.title == "避難指示 思川周辺"
    assert alert.body == "川の水位が\n上昇しています。\n直ちに避難してください。"
    assert alert.instruction == "高い所へ\n移動してください。"
    assert (alert.translations["en"].title, alert.translations["en"].body) == (
        "Evacuation order",
        "The river\nis rising.",
    )


@pytest.mark.parametrize("title", ["\u202e\u202c", "\x00", "\r\n"])
def test_a_title_of_nothing_but_control_characters_is_refused_in_one_line(settings: Settings, title: str) -> None:
    with pytest.raises(InputError) as refused:
        drafts.parse(dirty(title=title))
    assert str(refused.value).startswith("title: ") and "\n" not in str(refused.value)


def test_tags_typed_in_a_title_are_left_to_the_code_that_adds_them(settings: Settings) -> None:
    data = dirty(
        title="【訓練】【訂正】【警戒レベル４】避難指示【重要】",
        translations={"en": {"title": "[CORRECTION] Evacuation order", "body": "Leave now."}},
    )
    alert = drafts.build(settings, drafts.parse(data), "sato", Source.STAFF)
    assert (alert.title, alert.translations["en"].title) == ("避難指示【重要】", "Evacuation order")
    with pytest.raises(InputError) as refused:
        drafts.parse(dirty(title="【訂正】"))
    assert str(refused.value).startswith("title: ") and "added for you" in str(refused.value)


def outputs(settings: Settings, alert: Alert) -> dict[str, str]:
    """Everything every channel, page and feed makes of ``alert``, by where."""
    renderer = Renderer(settings)
    found = {}
    for name, channel in build_renderers(settings, renderer).items():
        for lang in alert.languages:
            m = channel.render(alert, lang)
            found[f"{name}.{lang}"] = "\n".join((m.subject, m.text, m.html, m.ticker, m.speech))
            found |= {f"{name}.{lang}:{file}": data.decode("utf-8", "replace") for file, data in m.attachments}
    now = time.time()
    snap = build_snapshot([Published(alert, now)], settings, now)
    found |= {f"website:{path}": page.decode() for path, page in render_site(snap, settings, renderer).items()}
    return found


def test_every_channel_page_and_feed_carries_the_clean_text(settings: Settings) -> None:
    alert = drafts.build(settings, drafts.parse(dirty()), "sato", Source.STAFF)
    found = outputs(settings, alert)
    assert {w.split(".")[0].split(":")[0] for w in found} >= {"email", "line", "sns", "website", "ticker", "fm"}
    assert [where for where, text in found.items() if "&#13;" in text] == []
    # a mail file's lines end in CR LF on the wire; its words are checked in the rendering beside it
    words = {where: text for where, text in found.items() if not where.endswith(".eml")}
    assert [where for where, text in words.items() if UNSAFE.search(text)] == []
    cap = found[f"website:cap/{alert.id}.xml"]
    assert "<headline>避難指示 思川周辺</headline>" in cap


def test_a_row_stored_before_intake_cleaned_it_shows_no_carriage_return(settings: Settings) -> None:
    # an alert written before this rule, straight into the store: CAP and Atom must not carry &#13;
    clean = drafts.build(settings, drafts.parse(dirty()), "sato", Source.STAFF)
    title = "題\r\n名\x0b\x0c\x1c\x85\u2028です"  # every line break a mail header refuses
    old = Alert(**{f: getattr(clean, f) for f in Alert.__slots__} | {"body": "一行目\r\n二行目", "title": title})
    found = outputs(settings, old)  # renders on every channel: a mail's subject is one line
    assert found["email.ja"].split("\n")[0].endswith("題 名 です")
    for path in (f"website:cap/{old.id}.xml", "website:alerts.atom", "website:cap.atom"):
        assert "&#13;" not in found[path] and "\r" not in found[path], path
