"""A Japanese reading (hiragana) written in another script: how a proper noun with no listed name is written.

Latin-script languages get Hepburn as Japan's road signs and the national government write place
names: no macrons (おおや → Oya, こうのす → Konosu), ん as n everywhere, っ doubling the next consonant
(っち → tchi). The result is capitalised like a name.

Korean writes a Japanese name in Hangul by the National Institute of Korean Language's rule for
Japanese (외래어 표기법, 일본어 표기): か・た・ち unaspirated at the start of a word and aspirated
elsewhere (とちぎ → 도치기), つ as 쓰, ん and っ as the finals ㄴ and ㅅ, long vowels not written
(にっこう → 닛코). Nepali writes it in Devanagari from one syllable table (おやま → ओयामा): long vowels
not doubled, ん as न्, っ as the next consonant with a virama. Chinese writes the name in characters:
the Japanese forms become simplified ones (間々田 → 间间田), the word itself never changes (駅 stays a
station's name, 驿, not 站).
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


_VOWELS = "aiueo"


def _parts(romaji: str) -> tuple[str, str, str]:
    """A mora's Hepburn cut into consonant, glide and vowel: "kyo" → (k, y, o), "shi" → (sh, "", i)."""
    vowel = romaji[-1:]
    rest = romaji[:-1]
    glide = ""
    if rest.endswith("y"):
        rest, glide = rest[:-1], "y"
    return rest, glide, vowel


def _morae(reading: str) -> list[str]:
    """The reading as Hepburn morae ("っ" and "ん" kept as marks), long vowels left out.

    A bare vowel after a mora ending in the same vowel, or う after an o, lengthens it: Korean and
    Nepali, like the road signs, do not write the length (おおや → o ya, とうきょう → to kyo).
    """
    out: list[str] = []
    for m in syllables(reading):
        if m == "ー":
            continue
        if m in ("っ", "ん"):
            out.append(m)
            continue
        part = _mora(m)
        if not part or part[-1] not in _VOWELS:
            continue
        last = out[-1] if out else ""
        if part in _VOWELS and last and last[-1] in _VOWELS and (part == last[-1] or (last[-1], part) == ("o", "u")):
            continue
        out.append(part)
    return out


# Hangul: the initial consonant (jamo index) of each Hepburn consonant, word-initially and elsewhere.
_L = {
    "": (11, 11), "k": (0, 15), "g": (0, 0), "s": (9, 9), "sh": (9, 9), "z": (12, 12), "j": (12, 12),
    "t": (3, 16), "ch": (12, 14), "ts": (10, 10), "d": (3, 3), "n": (2, 2), "h": (18, 18), "f": (18, 18),
    "m": (6, 6), "r": (5, 5), "w": (11, 11), "b": (7, 7), "p": (17, 17), "v": (7, 7),
}  # fmt: skip
_V = {"a": 0, "i": 20, "u": 13, "e": 5, "o": 8}  # ㅏ ㅣ ㅜ ㅔ ㅗ
_VY = {"a": 2, "i": 20, "u": 17, "e": 7, "o": 12}  # ㅑ ㅣ ㅠ ㅖ ㅛ
_FINAL = {"ん": 4, "っ": 19}  # ㄴ, ㅅ


def hangul(reading: str) -> str:
    """おやま → 오야마, とちぎ → 도치기, にっこう → 닛코: the Korean standard for Japanese names."""
    out: list[int] = []
    for m in _morae(reading):
        if m in _FINAL:
            if out and (out[-1] - 0xAC00) % 28 == 0:  # a syllable without a final takes it
                out[-1] += _FINAL[m]
            continue
        cons, glide, vowel = _parts(m)
        initial = _L.get(cons, (11, 11))[0 if not out else 1]
        if cons == "w":
            v = 9 if vowel == "a" else _V[vowel]  # わ → 와
        elif cons in ("s", "ts", "z") and vowel == "u":
            v = 18  # す 스, つ 쓰, ず 즈
        elif glide or (cons == "sh" and vowel != "i"):
            v = _VY[vowel]  # きょ 쿄, しゃ 샤
        else:
            v = _V[vowel]  # じゃ 자, ちょ 초: no glide after ㅈ/ㅊ
        out.append(0xAC00 + (initial * 21 + v) * 28)
    return "".join(map(chr, out))


# Devanagari as Nepali writes Japanese names: a consonant letter per Hepburn consonant, vowel signs.
_DC = {
    "k": "क", "g": "ग", "s": "स", "sh": "श", "z": "ज", "j": "ज", "t": "ट", "ch": "च", "ts": "त्स",
    "d": "ड", "n": "न", "h": "ह", "f": "फ", "m": "म", "y": "य", "r": "र", "w": "व", "b": "ब", "p": "प", "v": "भ",
}  # fmt: skip
_DV = {"a": "आ", "i": "इ", "u": "उ", "e": "ए", "o": "ओ"}  # a vowel on its own
_DS = {"a": "ा", "i": "ि", "u": "ु", "e": "े", "o": "ो"}  # a vowel after a consonant
_VIRAMA = "्"


def devanagari(reading: str) -> str:
    """おやま → ओयामा, にっこう → निक्को, とちぎ → टोचिगि: Nepali's writing of a Japanese name, from one table."""
    morae = _morae(reading)
    out = ""
    for i, m in enumerate(morae):
        after = morae[i + 1] if i + 1 < len(morae) else ""
        if m == "ん":
            out += "न" + (_VIRAMA if after and after not in ("っ", "ん") and after[0] not in _VOWELS else "")
            continue
        if m == "っ":
            cons = _parts(after)[0] if after not in ("", "っ", "ん") else ""
            out += _DC[cons][0] + _VIRAMA if cons in _DC else ""
            continue
        cons, glide, vowel = _parts(m)
        if not cons and not glide:
            out += _DV[vowel]
            continue
        letters = _DC[cons] if cons else ""
        if glide:
            letters = letters + _VIRAMA + _DC["y"] if letters else _DC["y"]
        out += letters + _DS[vowel]
    return out


def transliterate(reading: str, script: str) -> str:
    """The reading in ``script`` (latin, hangul, devanagari); "" when the script is not one of those."""
    if script == "latin":
        return hepburn(reading)
    if script == "hangul":
        return hangul(reading)
    if script == "devanagari":
        return devanagari(reading)
    return ""


# Japanese character forms (新字体) that simplified Chinese writes otherwise, as pairs: OpenCC's
# JPVariants (Japanese → traditional) then TSCharacters (traditional → simplified), checked by hand
# (駄 → 驮 added: OpenCC's variants lack it).
# It covers every kanji of the city's 地区 (config/default.toml), of its 町・大字 in Japan Post's data,
# of config/phrasebook/names.toml and of the prefectures' names; a character Chinese writes the same
# way (小, 山, 田 …) has no entry.
_JA = "間駅東豊穂絹倉塚塩宮岡峯島戸拝暁橋沖沢浜渋瀬県稲積網葉薬連郷鉢鏡須飯馬駒鳥黒駄"  # 地区, 町, names.toml
_JA += "長愛賀庫広徳児縄灘陸関園竜龍鶴亀銀鉄楽"  # prefectures, JMA regions, common in names
_ZH = "间驿东丰穗绢仓冢盐宫冈峰岛户拜晓桥冲泽滨涩濑县稻积网叶药连乡钵镜须饭马驹鸟黑驮"
_ZH += "长爱贺库广德儿绳滩陆关园龙龙鹤龟银铁乐"
SIMPLIFIED = dict(zip(_JA, _ZH, strict=True))
_REPEAT = "々"


def hanzi(ja: str) -> str:
    """A Japanese name in simplified Chinese characters: 間々田 → 间间田, 駅東通り → 驿东通り (kana kept)."""
    out = ""
    for c in ja:
        if c == _REPEAT and out:
            c = out[-1]
        out += SIMPLIFIED.get(c, c)
    return out
