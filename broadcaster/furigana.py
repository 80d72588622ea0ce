"""ふりがな for やさしい日本語: the phrasebook marks each word with kanji as {漢字|かんじ}.

The markup never reaches a resident as it is: a web page or an HTML mail shows it as <ruby>, plain
text (a text mail, LINE, a post) as 漢字（かんじ）, speech reads the reading alone (a counter after a
number excepted), and ``bare`` keeps the kanji alone (a line short of room). Text without markup
passes through every one unchanged.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

RUBY = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
_DIGITS = frozenset("0123456789０１２３４５６７８９")


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
    """{避難|ひなん}して → ひなんして: what FM reads.

    A counter right after a number keeps its kanji: 30{分|ふん} → 30分, 1{日|にち} → 1日. Its reading
    changes with the number (さんじゅっぷん, ついたち), which one reading over the counter cannot say and
    the speech engine reads right from the kanji.
    """
    return RUBY.sub(lambda m: m.group(1) if _after_number(text, m.start()) else m.group(2), text)


def _after_number(text: str, at: int) -> bool:
    return at > 0 and text[at - 1] in _DIGITS


def html(text: str) -> Markup:
    """{避難|ひなん}して → <ruby>避難<rp>（</rp><rt>ひなん</rt><rp>）</rp></ruby>して, everything else escaped.

    <rp> shows the reading in parentheses where ruby is not supported (some mail clients).
    """
    out: list[str] = []
    last = 0
    for m in RUBY.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<ruby>{escape(m.group(1))}<rp>（</rp><rt>{escape(m.group(2))}</rt><rp>）</rp></ruby>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
