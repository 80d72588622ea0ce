"""Alert text built from a JMA document's structured data, never by pasting its headline alone.

Each wording also names the phrasebook pattern it corresponds to, with the structured fields as its
slots (config/phrasebook/patterns.toml, ``use = "jma"``): every other language is built from those,
with no officer in the loop (broadcaster/variants). The Japanese stays JMA's own words, which carry
its headline.

Titles say the place and the kind (「小山市に大雨警報（浸水害）」), bare: the tags (【警戒レベル３】, 【取消】,
【解除】 …) are added when rendered (broadcaster/tags), from the alert's level, badge, kind and message
type. A scale that is not a 警戒レベル goes in the badge: 「震度５弱」 for an earthquake,
「噴火警戒レベル３（浅間山）」 for a volcano. Bodies say what, where, since when and what to do, and end
with the credit JMA's terms ask for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from broadcaster import tags
from broadcaster.clock import JST
from feeds.jma.report import Kind, Report, Volcano

CREDIT = "出典：気象庁ホームページ（気象庁防災情報XML）"
LEVEL_DIGITS = str.maketrans("12345", "１２３４５")
_HALF_DIGITS = str.maketrans("１２３４５", "12345")
WATER_KIND, WEATHER_KIND = "water", "weather"  # template kinds: with and without a 警戒レベル (broadcaster/tags)
INTENSITY_NAMES = {
    "1": "１", "2": "２", "3": "３", "4": "４", "5-": "５弱", "5+": "５強", "6-": "６弱", "6+": "６強", "7": "７",
    "震度５弱以上未入電": "５弱以上（推定）",
}  # fmt: skip
# What the 避難情報に関するガイドライン asks of residents at each 警戒レベル.
ACTIONS = {
    5: "命の危険があります。直ちに身の安全を確保してください。",
    4: "危険な場所から全員避難してください。",
    3: "高齢者等は危険な場所から避難してください。その他の人も避難の準備をしてください。",
    2: "ハザードマップ等で避難行動を確認してください。",
}
# 警戒レベル belongs to the water hazards only; a 暴風警報 is ranked by policy but never tagged with one.
WATER_HAZARDS = ("大雨", "洪水", "土砂", "高潮", "氾濫")
STAY_IN = "不要不急の外出は控え、最新の気象情報に注意してください。"
QUAKE_ACTION = "強い揺れに警戒してください。倒れやすい物から離れ、身の安全を確保してください。"
LEVEL_PREFIX = re.compile(r"^レベル[１-５1-5]")
VOLCANO_LEVEL = re.compile(r"^レベル([１-５1-5])")


@dataclass(frozen=True, slots=True)
class Wording:
    """An alert's words in Japanese."""

    title: str
    body: str
    instruction: str
    badge: str = ""  # the scale when it is not a 警戒レベル: 「震度５弱」, 「噴火警戒レベル３（浅間山）」
    kind: str = ""  # the template kind the words call for when the policy names none; "" for the default
    phrase: str = ""  # the phrasebook pattern saying the same; "" for a kind the phrasebook lacks (a notice)
    slots: Mapping[str, object] = field(default_factory=dict)  # its slot values, from the structured data


# The phrasebook pattern of each kind handled by ``other`` (warnings and quakes have their own).
OTHER_PATTERNS = {
    "VXWW50": "jma_landslide", "VXKOii": "jma_river", "VXSUii": "jma_river", "VPOA50": "jma_heavy_rain_record",
    "VPHW50": "jma_tornado", "VPHW51": "jma_tornado", "VPFT50": "jma_heatstroke", "VFVO50": "jma_volcano",
    "VTSE41": "jma_tsunami", "VTSE51": "jma_tsunami", "VTSE52": "jma_tsunami",
}  # fmt: skip
TSUNAMI_KINDS = (
    ("大津波警報", "major_warning"),
    ("津波警報", "warning"),
    ("津波注意報", "advisory"),
    ("津波予報", "forecast"),
)


def iso(moment: datetime) -> str:
    """A slot's time: ISO 8601 in Japan time, to the minute."""
    return moment.astimezone(JST).strftime("%Y-%m-%dT%H:%M")


def action_key(level: int | None) -> str:
    """The phrasebook's action for a 警戒レベル (terms.action): level4 …; "none" below 2."""
    return f"level{level}" if level in ACTIONS else "none"


def tsunami_key(comment: str) -> str:
    """The phrasebook's tsunami note for JMA's comment (terms.tsunami)."""
    if "心配はありません" in comment:
        return "none"
    if "海面変動" in comment:
        return "slight"
    return "unknown"


def jst(moment: datetime) -> str:
    """「11月2日 11時19分」 in Japan time."""
    t = moment.astimezone(JST)
    return f"{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分"


def kind_name(kind: Kind) -> str:
    """The kind without the level already in the tag, with its condition: 大雨警報（浸水害）."""
    name = LEVEL_PREFIX.sub("", kind.name)
    condition = kind.condition if kind.condition and "（" not in kind.condition else ""
    return f"{name}（{condition}）" if condition else name


def intensity_name(value: str) -> str:
    """「５弱」 for "5-"."""
    return INTENSITY_NAMES.get(value, value)


def warnings(report: Report, city: str, active: Sequence[Kind], lifted: Sequence[Kind]) -> Wording:
    """Warnings and advisories in force in the city now, and those just lifted."""
    when = jst(report.reported_at)
    if not active:
        names = "・".join(kind_name(k) for k in lifted) or "警報・注意報"
        body = f"{when}、{city}の{names}は解除されました。\n\n{report.headline}".rstrip()
        slots = {"hazards": [kind_name(k) for k in lifted] or ["警報・注意報"], "time": iso(report.reported_at)}
        return Wording(f"{city}の{names}", f"{body}\n\n{CREDIT}", "", kind=WEATHER_KIND,
                       phrase="jma_warning_lifted", slots=slots)  # fmt: skip
    level = max((k.level for k in active if k.level), default=None)
    water = max((k.level for k in active if k.level and any(w in k.name for w in WATER_HAZARDS)), default=None)
    top = [k for k in active if k.level == level] if level else list(active)
    lines = [f"・{k.name}（{k.status}）" if k.status else f"・{k.name}" for k in active]
    lines += [f"・{k.name}（解除）" for k in lifted]
    body = f"{when}、{report.publishing_office}が{city}に次の警報・注意報を発表しています。\n" + "\n".join(lines)
    if report.headline:
        body += f"\n\n{report.headline}"
    title = f"{city}に{'・'.join(kind_name(k) for k in top)}"
    action = ACTIONS.get(water or 0) or (STAY_IN if (level or 0) >= 3 else "")
    # the alert's level ranks every hazard; it is a 警戒レベル only when a water hazard sets it
    kind = WATER_KIND if water and water == level else WEATHER_KIND
    emergency = any("特別警報" in k.name for k in top)
    slots = {
        "hazards": [kind_name(k) for k in active],
        "time": iso(report.reported_at),
        "action": action_key(water) if water in ACTIONS else ("stay_in" if (level or 0) >= 3 else "none"),
    }
    phrase = "jma_emergency_warning" if emergency else "jma_warning"
    return Wording(title, f"{body}\n\n{CREDIT}", action, kind=kind, phrase=phrase, slots=slots)


def earthquake(report: Report, city: str, intensity: str | None) -> Wording:
    """震度 in the city, epicentre, magnitude, time and the tsunami note."""
    quake = report.quake
    strong = intensity is not None and intensity_name(intensity).startswith(("５", "６", "７"))
    # the 震度 is the badge (【震度５弱】小山市で地震): the title does not say it again
    title = f"{city}で地震" if intensity else report.title
    parts = []
    if quake and quake.origin_time:
        parts.append(f"{jst(quake.origin_time)}ころ、地震がありました。")
    if quake and quake.hypocentre:
        size = f"、地震の規模（マグニチュード）は{quake.magnitude_text}と推定されます" if quake.magnitude_text else ""
        parts.append(f"震源地は{quake.hypocentre}{size}。")
    if intensity:
        parts.append(f"{city}の震度は{intensity_name(intensity)}です。")
    if quake and quake.tsunami_comment:
        parts.append(quake.tsunami_comment.splitlines()[0])
    body = "\n".join(parts) or report.headline
    action = QUAKE_ACTION if strong else "今後の情報に注意してください。"
    slots: dict[str, object] = {
        "time": iso(quake.origin_time if quake and quake.origin_time else report.reported_at),
        "region": quake.hypocentre if quake else "",
        "magnitude": quake.magnitude if quake and quake.magnitude not in ("", "NaN") else "—",
        "tsunami": tsunami_key(quake.tsunami_comment) if quake else "unknown",
    }
    if intensity:
        slots.update(intensity=intensity, action="quake_strong" if strong else "quake_watch")
    badge = f"震度{intensity_name(intensity)}" if intensity else ""
    phrase = "jma_earthquake" if intensity else "jma_earthquake_info"
    return Wording(title, f"{body}\n\n{CREDIT}", action, badge=badge, phrase=phrase, slots=slots)


def other(report: Report, city: str, level: int | None, kinds: Sequence[Kind]) -> Wording:
    """Rivers, 土砂災害警戒情報, 記録的短時間大雨, 竜巻, 噴火, 熱中症: the kind, the place, the text."""
    named = "・".join(dict.fromkeys(kind_name(k) for k in kinds if k.active)) or LEVEL_PREFIX.sub("", report.title)
    subject = f"{report.river.name}{named}" if report.river and report.river.name not in named else named
    when = jst(report.reported_at)
    texts = report.river.texts[:1] if report.river else ()
    body = "\n\n".join(t for t in (f"{when}、{report.publishing_office}が発表しました。", report.headline, *texts) if t)
    badge = volcano_badge(report.volcano) if report.volcano else ""
    phrase, slots = _other_slots(report, level, kinds)
    return Wording(f"{city}に{subject}", f"{body}\n\n{CREDIT}", ACTIONS.get(level or 0, ""), badge=badge,
                   phrase=phrase, slots=slots)  # fmt: skip


def _other_slots(report: Report, level: int | None, kinds: Sequence[Kind]) -> tuple[str, dict[str, object]]:
    """The pattern and slots of a kind ``other`` words; ("", {}) for a kind the phrasebook lacks."""
    phrase = OTHER_PATTERNS.get(report.kind or "", "")
    slots: dict[str, object] = {"time": iso(report.reported_at), "action": action_key(level)}
    if phrase == "jma_river":
        if report.river is None or level is None:
            return "", {}
        slots.update(river=report.river.name, river_level=str(level))
    elif phrase == "jma_volcano":
        match = VOLCANO_LEVEL.match(report.volcano.alert) if report.volcano else None
        if report.volcano is None or match is None:
            return "", {}
        slots.update(volcano=report.volcano.name, volcano_level=match.group(1).translate(_HALF_DIGITS))
    elif phrase == "jma_tsunami":
        names = " ".join(k.name for k in kinds if k.active) or report.title
        key = next((key for word, key in TSUNAMI_KINDS if word in names), "")
        if not key:
            return "", {}
        slots["tsunami"] = key
    return phrase, slots


def volcano_badge(volcano: Volcano) -> str:
    """「噴火警戒レベル３（浅間山）」; "" for a volcano without 噴火警戒レベル."""
    level = VOLCANO_LEVEL.match(volcano.alert)
    if not level:
        return ""
    name = f"（{volcano.name}）" if volcano.name else ""
    return f"噴火警戒レベル{level.group(1).translate(LEVEL_DIGITS)}{name}"


def cancellation(
    report: Report, city: str, original_title: str, original_badge: str = "", titles: Mapping[str, str] | None = None
) -> Wording:
    """A 取消: says what is withdrawn. The title is the original's, bare; 【取消】 is added when rendered.

    ``titles``: the original's title in each of its languages, which the other languages' 取消 names.
    """
    title = tags.bare(original_title)
    named = f"{title}（{original_badge}）" if original_badge else title
    body = f"{jst(report.reported_at)}、次の情報は取り消されました：{named}"
    if report.body_text:
        body += f"\n\n{report.body_text}"
    slots = {"what": dict(titles or {"ja": title}), "time": iso(report.reported_at)}
    return Wording(title, f"{body}\n\n{CREDIT}", "", badge=original_badge, phrase="jma_cancel", slots=slots)
