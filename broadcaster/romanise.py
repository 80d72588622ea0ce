"""A Japanese reading (hiragana) written in another script: how a proper noun with no listed name is written.

Latin-script languages get Hepburn as Japan's road signs and the national government write place
names: no macrons (おおや → Oya, こうのす → Konosu), ん as n everywhere, っ doubling the next consonant
(っち → tchi). The result is capitalised like a name.
"""

from __future__ import annotations

import unicodedata

_BASE = {
    "あ": "a", "い": "i", "う": "u", "え": "e", "お": "o",
    "か": "ka", "き": "ki", "く": "ku", "け": "ke", "こ": "ko",
    "さ": "sa", "し": "shi", "す": "su", "せ": "se", "そ": "so",
    "た": "ta", "ち": "chi", "つ": "tsu", "て": "te", "と": "to",
    "な": "na", "に": "ni", "ぬ": "nu", "ね": "ne", "の": "no",
    "は": "ha", "ひ": "hi", "ふ": "fu", "へ": "he", "ほ": "ho",
    "ま": "ma", "み": "mi", "む": "mu", "め": "me", "も": "mo",
    "や": "ya", "ゆ": "yu", "よ": "yo",
    "ら": "ra", "り": "ri", "る": "ru", "れ": "re", "ろ": "ro",
    "わ": "wa", "ゐ": "i", "ゑ": "e", "を": "o", "ん": "n",
    "が": "ga", "ぎ": "gi", "ぐ": "gu", "げ": "ge", "ご": "go",
    "ざ": "za", "じ": "ji", "ず": "zu", "ぜ": "ze", "ぞ": "zo",
    "だ": "da", "ぢ": "ji", "づ": "zu", "で": "de", "ど": "do",
    "ば": "ba", "び": "bi", "ぶ": "bu", "べ": "be", "ぼ": "bo",
    "ぱ": "pa", "ぴ": "pi", "ぷ": "pu", "ぺ": "pe", "ぽ": "po",
    "ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o", "ゔ": "vu",
}  # fmt: skip
_YOON = {"ゃ": "a", "ゅ": "u", "ょ": "o"}
_LONG = (("ou", "o"), ("oo", "o"), ("uu", "u"))  # signs drop the long mark: Ōyama is written Oyama


def hiragana(text: str) -> str:
    """Katakana folded to hiragana, NFKC first (a reading may come from the postal data in katakana)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def syllables(reading: str) -> list[str]:
    """The reading cut into morae: contracted sounds (きょ) stay one, っ and ー are their own."""
    kana = hiragana(reading)
    out: list[str] = []
    for c in kana:
        if c in _YOON and out and out[-1] not in ("っ", "ー"):
            out[-1] += c
        else:
            out.append(c)
    return out


def _mora(m: str) -> str:
    if len(m) == 2 and m[1] in _YOON:
        head = _BASE.get(m[0], m[0])
        if head in ("shi", "chi", "ji"):
            return head[:-1] + _YOON[m[1]]
        return head[:-1] + "y" + _YOON[m[1]]
    return _BASE.get(m, m)


def hepburn(reading: str) -> str:
    """おやま → Oyama, まだ → Mada, にっこう → Nikko: Hepburn without macrons, capitalised."""
    romaji = ""
    double = False
    for m in syllables(reading):
        if m == "っ":
            double = True
            continue
        if m == "ー":
            continue
        part = _mora(m)
        if double and part:
            part = ("t" if part.startswith("ch") else part[0]) + part
            double = False
        romaji += part
    for long, short in _LONG:
        romaji = romaji.replace(long, short)
    return romaji[:1].upper() + romaji[1:]


def transliterate(reading: str, script: str) -> str:
    """The reading in ``script`` (latin, hangul, devanagari); "" when the script is not one of those."""
    if script == "latin":
        return hepburn(reading)
    return ""


def hanzi(ja: str) -> str:
    """A Japanese name in simplified Chinese characters, as Chinese text writes Japanese places."""
    return ja
