"""ふりがな for やさしい日本語: the phrasebook marks each word with kanji as {漢字|かんじ}.

The markup never reaches a resident as it is: a web page or an HTML mail shows it as <ruby>, plain
text (a text mail, LINE, a post) as 漢字（かんじ）, speech reads the reading alone, and ``bare`` keeps
the kanji alone (a line short of room). Text without markup passes through every one unchanged.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

RUBY = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")


def has(text: str) -> bool:
    """Whether ``text`` holds furigana markup."""
    return RUBY.search(text) is not None


def plain(text: str) -> str:
    """{避難|ひなん}して → 避難（ひなん）して."""
    return RUBY.sub(r"\1（\2）", text)


def bare(text: str) -> str:
    """{避難|ひなん}して → 避難して."""
    return RUBY.sub(r"\1", text)


def spoken(text: str) -> str:
    """{避難|ひなん}して → ひなんして: what FM reads."""
    return RUBY.sub(r"\2", text)


def html(text: str) -> Markup:
    """{避難|ひなん}して → <ruby>避難<rt>ひなん</rt></ruby>して, everything else escaped."""
    out: list[str] = []
    last = 0
    for m in RUBY.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<ruby>{escape(m.group(1))}<rp>（</rp><rt>{escape(m.group(2))}</rt><rp>）</rp></ruby>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
