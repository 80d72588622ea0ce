"""Japanese text in spoken form: numbers, dates, times and units as they are read aloud, and place-name readings.

Everything here is pure string work, so the speech script (the text beside each FM file) and what the
engine reads can be checked without audio. Numbers become kanji numerals (``11月29日 14:30`` →
``十一月二十九日 十四時三十分``), which Open JTalk reads correctly, and a human reads at a glance.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DIGITS = "〇一二三四五六七八九"
SMALL_UNITS = ((1000, "千"), (100, "百"), (10, "十"))
LARGE_UNITS = ("", "万", "億", "兆", "京")
ZERO = "ゼロ"  # Open JTalk reads 〇 alone as nothing at all, and ゼロ is what announcers say
POINT = "点"
LONGEST_NUMBER = 20  # digits; anything longer is read digit by digit (it is a code, not an amount)

WIDE = str.maketrans("０１２３４５６７８９，．：／", "0123456789,.:/")
# a 3+ digit run with a leading zero is a code or a telephone number: read digit by digit
PHONE = re.compile(r"(?<![\d-])0\d{1,4}-\d{1,4}-\d{3,4}(?![\d-])")
CODE = re.compile(r"(?<![\d.,])0\d{2,}(?![\d.,])")
NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?")
DATE = re.compile(r"(?<!\d)(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)")
TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-4]):([0-5]\d)(?![\d:])")
INTENSITY = re.compile(r"震度\s*([5-6])\s*([+\-])")  # JMA's codes 5-, 5+, 6-, 6+
MAGNITUDE = re.compile(r"(?<![A-Za-z])M\s*(?=\d)")
UNITS = {"mm": "ミリ", "cm": "センチ", "km": "キロ", "m": "メートル", "%": "パーセント", "℃": "度", "km/h": "キロ"}
UNIT = re.compile(r"(\d)\s*(km/h|mm|cm|km|m|%|℃)(?![A-Za-z])")
BRACKETS = re.compile(r"【([^】]*)】")
# where a name that is also a word (平和, 梁) is read as a place: an address before it, a place word after it
ADDRESS_PREFIXES = ("大字", "字")
PLACE_WORDS = "地区|地内|地先|付近|周辺|方面|一帯|丁目|番地|自治会|公民館|集会所|駅"
PLACE_AFTER = re.compile(
    rf"(?:{PLACE_WORDS}|[0-9０-９]|[一二三四五六七八九十]+(?:丁目|番)|[のにへで]?(?:避難|住民|皆さん|皆様|方々))"
)
LIST_MARKS = "・、"
ASIDE = " \u3000。、"  # what may stand beside a name alone on its line
CUE = re.compile(r"^\s*[（(][^（）()]*[）)]\s*$")  # a line that is only a stage direction, e.g. （チャイム）


def kanji_number(n: int) -> str:
    """A non-negative integer in kanji numerals as it is read: 1234 → 千二百三十四, 20000 → 二万."""
    if n < 0:
        raise ValueError(f"negative number: {n}")
    if n == 0:
        return ZERO
    groups: list[str] = []
    for unit in LARGE_UNITS:
        n, group = divmod(n, 10_000)
        if group:
            groups.append(_below_10000(group) + unit)
        if not n:
            break
    else:
        raise ValueError("number too large to read")
    return "".join(reversed(groups))


def _below_10000(n: int) -> str:
    out = []
    for value, name in SMALL_UNITS:
        count, n = divmod(n, value)
        if count:
            # 十, 百, 千 alone (not 一十); 一千 only in 一千万 and above, which reads the same
            out.append(("" if count == 1 else DIGITS[count]) + name)
    if n:
        out.append(DIGITS[n])
    return "".join(out)


def digit_by_digit(digits: str) -> str:
    """Digits read one at a time: 0285 → ゼロ二八五."""
    return "".join(ZERO if d == "0" else DIGITS[int(d)] for d in digits)


def _number(match: re.Match[str]) -> str:
    whole, fraction = match.group(1).replace(",", ""), match.group(2)
    spoken = digit_by_digit(whole) if len(whole) > LONGEST_NUMBER else kanji_number(int(whole))
    if fraction:
        spoken += POINT + digit_by_digit(fraction)
    return spoken


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    return f"{kanji_number(hour)}時" + (f"{kanji_number(minute)}分" if minute else "")


def spoken_numbers(text: str) -> str:
    """Dates, times, seismic intensities, units and numbers (Western digits, commas, decimals) in spoken form."""
    text = text.translate(WIDE)
    text = DATE.sub(lambda m: f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日", text)
    text = TIME.sub(_time, text)
    text = INTENSITY.sub(lambda m: f"震度{m.group(1)}{'強' if m.group(2) == '+' else '弱'}", text)
    text = MAGNITUDE.sub("マグニチュード", text)
    text = UNIT.sub(lambda m: m.group(1) + UNITS[m.group(2)], text)
    text = PHONE.sub(lambda m: "、".join(digit_by_digit(part) for part in m.group(0).split("-")), text)
    text = CODE.sub(lambda m: digit_by_digit(m.group(0)), text)
    return NUMBER.sub(_number, text)


def spoken_form(text: str) -> str:
    """The text as an announcer reads it: numbers spoken, 【tags】 as plain words, no doubled full stops."""
    text = spoken_numbers(text)
    text = BRACKETS.sub(lambda m: m.group(1) + "、", text)
    text = text.replace("▶", "").replace("。。", "。").replace("、。", "。")
    return text


def without_cues(script: str) -> str:
    """The script without its stage-direction lines (（チャイム）): the chime is sound, not words."""
    return "\n".join(line for line in script.splitlines() if not CUE.match(line))


@dataclass(frozen=True)
class Readings:
    """Place names and how FM says them.

    ``everywhere`` is replaced wherever the name occurs. ``as_places`` holds names that are also ordinary
    words (平和, 梁): one is replaced only where the text names a place with it (see ``names_a_place``).
    ``places`` is every place name the city has, to recognise a list of places (網戸・平和・梁);
    ``prefixes`` are what an address puts before a town (the city's name, 大字, 字).
    """

    everywhere: Mapping[str, str]
    as_places: Mapping[str, str] = field(default_factory=dict)
    places: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ADDRESS_PREFIXES

    @functools.cached_property
    def _table(self) -> dict[str, str]:
        table = {**self.as_places, **self.everywhere}
        # the script may already be in spoken form, so a name written with digits matches both ways
        table.update({spoken_numbers(name): reading for name, reading in table.items()})
        return {name: reading for name, reading in table.items() if name}

    @functools.cached_property
    def _guarded(self) -> frozenset[str]:
        everywhere = set(self.everywhere) | {spoken_numbers(name) for name in self.everywhere}
        return frozenset({*self.as_places, *map(spoken_numbers, self.as_places)} - everywhere)

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        names = sorted(self._table, key=len, reverse=True)  # longest first: 小山市役所 before 小山市
        return re.compile("|".join(re.escape(name) for name in names)) if names else None

    def apply(self, text: str) -> str:
        """The text with each place name replaced by its reading, longest names first."""
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        name = match.group(0)
        if name in self._guarded and not names_a_place(match.string, match.start(), match.end(), self):
            return name
        return self._table[name]


def names_a_place(text: str, start: int, end: int, readings: Readings) -> bool:
    """Whether ``text[start:end]``, a name that is also a word, is used there as the name of a place.

    It is when it follows an address prefix (小山市平和, 大字梁), is followed by a word that only a place
    takes (平和地区, 梁付近, 平和一丁目, 梁の皆さん, 網戸に避難), stands beside another place in a list
    (生井・網戸), or stands alone on its line (a label, or an officer checking the name). It is not when
    it ends a longer word (橋梁): the character before it is then a kanji.
    """
    before, after = text[:start], text[end:]
    if before.endswith(readings.prefixes):
        return True
    if before and is_kanji(before[-1]):
        return False
    if PLACE_AFTER.match(after):
        return True
    line_before, line_after = before.rpartition("\n")[2], after.partition("\n")[0]
    if not line_before.strip(ASIDE) and not line_after.strip(ASIDE):
        return True
    listed_before = before[-1:] in LIST_MARKS and before[:-1].endswith(tuple(readings.places))
    listed_after = after[:1] in LIST_MARKS and after[1:].startswith(tuple(readings.places))
    return listed_before or listed_after


def is_kanji(ch: str) -> bool:
    """True for a CJK ideograph or 々."""
    return ch == "々" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def apply_readings(text: str, readings: Mapping[str, str] | Readings) -> str:
    """Replace each place name by its reading, longest names first (小山市役所 before 小山市)."""
    return as_readings(readings).apply(text)


def as_readings(readings: Mapping[str, str] | Readings) -> Readings:
    """A plain table (name → reading) as Readings that apply everywhere; Readings as they are."""
    return readings if isinstance(readings, Readings) else Readings(dict(readings))


def for_synthesis(script: str, readings: Mapping[str, str] | Readings) -> str:
    """What the Japanese engine reads: no cues, readings applied, then everything in spoken form."""
    return spoken_form(apply_readings(without_cues(script), readings))
