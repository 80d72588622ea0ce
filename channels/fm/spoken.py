"""Japanese text in spoken form: numbers, dates, times and units as they are read aloud, and place-name readings.

Everything here is pure string work, so the speech script (the text beside each FM file) and what the
engine reads can be checked without audio. Numbers become kanji numerals (``11月29日 14:30`` →
``十一月二十九日 十四時三十分``), which Open JTalk reads correctly, and a human reads at a glance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def apply_readings(text: str, readings: Mapping[str, str]) -> str:
    """Replace each place name by its reading, longest names first (小山市役所 before 小山市)."""
    if not readings:
        return text
    table = dict(readings)
    # the script may already be in spoken form, so a name written with digits matches both ways
    table.update({spoken_numbers(name): reading for name, reading in readings.items()})
    names = sorted((name for name in table if name), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(name) for name in names))
    return pattern.sub(lambda m: table[m.group(0)], text)


def for_synthesis(script: str, readings: Mapping[str, str]) -> str:
    """What the Japanese engine reads: no cues, readings applied, then everything in spoken form."""
    return spoken_form(apply_readings(without_cues(script), readings))
