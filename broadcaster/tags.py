"""The tags code puts in front of an alert's own words, in one fixed order, and the badge of its scale.

Titles are stored bare; tags are added here only, so none can show twice. A headline is the title after
at most three tags, always in this order (``headline``)::

    【訓練】 【更新】|【訂正】|【解除】|【取消】 【警戒レベル４】|【震度５弱】|【噴火警戒レベル３（那須岳）】 title

1. 【訓練】 when the alert is an exercise;
2. what this message does to its event: 【更新】 a source's newer report (MsgType.UPDATE), 【訂正】 an
   officer's new wording (CORRECTION), 【解除】 the order or warning is over (LIFT), 【取消】 the alert was
   a mistake (CANCEL); nothing for the first message;
3. the badge, when the alert has one and the message still stands: a lift or a cancel carries none,
   since a level shown on either would read as a level in force.

Other languages get their own words from the phrasebook (``tag_*``, ``badge_*``, ``lead_*`` and the
brackets ``tag_open``/``tag_close`` of config/phrasebook/<lang>.toml): ``[EXERCISE] [CORRECTION]
[Alert Level 4] title`` in English, 「【演习】…」 in Chinese. A title that already says its badge (a
phrasebook notice: "Evacuation order (Alert Level 4) for …") does not get it again as a tag.

The badge (``badge``) means what it says:

- a category whose alerts carry no level (``[categories.X] levels = false``: crime, health, childcare,
  elderly, general — daily life) shows none, whatever level an alert of it has stored;
- a badge the source set (``Alert.badge``) names its own scale and wins: 震度５弱 for an earthquake,
  噴火警戒レベル３（那須岳） for a volcano;
- 警戒レベルＮ (the name ``[[levels]]`` gives it) only for the water and landslide hazards and evacuation
  information: template kinds in LEVEL_KINDS ("" is the disaster category's default, which is an
  officer's evacuation information or JMA's water and landslide warnings), from level 2 (注意報) up.
  Level 1 is no call to act and is what a JMA alert without a level gets; level 0 is "none";
- nothing otherwise (an earthquake without its 震度, wind and snow warnings, 竜巻, …).

``bare`` strips the tags code adds (and their English forms) from either end of a title, wherever
they stand among other bracketed words, so an officer who types 【訂正】 does not get it twice.
"""

from __future__ import annotations

import re

from broadcaster import furigana, names
from broadcaster.models import Alert, Lang, Mode, MsgType
from broadcaster.settings import Settings

# Template kinds whose level is a 警戒レベル: the category default (evacuation information and JMA's
# water and landslide warnings) and the water and landslide hazards by name.
LEVEL_KINDS = frozenset({"", "evacuation", "water", "rain", "flood", "river", "storm_surge", "landslide"})
MIN_LEVEL_BADGE = 2  # 警戒レベル１ is no call to act, and the level a JMA alert without one gets
STANDING = (MsgType.ALERT, MsgType.UPDATE, MsgType.CORRECTION)  # messages whose badge still holds

MSG_TAG_WORDS = {  # the phrasebook's word for what each message does to its event
    MsgType.UPDATE: "tag_update",
    MsgType.CORRECTION: "tag_correction",
    MsgType.LIFT: "tag_lifted",
    MsgType.CANCEL: "tag_cancelled",
}
EXERCISE_TAG = "【訓練】"  # the Japanese exercise tag, which the renderer makes sure every exercise part starts with
# The line a text body starts with, saying what this message does to the earlier one.
LEAD_WORDS = {MsgType.UPDATE: "lead_update", MsgType.CORRECTION: "lead_correction", MsgType.CANCEL: "lead_cancel"}

_DIGITS = "0-9０-９"
_HALF = str.maketrans("０１２３４５６７８９", "0123456789")
# The tags code adds, in either language, once the brackets are gone (matched whole, case-insensitive).
_CODE_TAGS = re.compile(
    rf"""\s*(?:
        訓練|更新|訂正|取消|取り消し|解除
      | 警戒レベル\s*[{_DIGITS}](?:相当)?
      | 震度\s*[{_DIGITS}](?:弱|強|[+-])?(?:以上)?[^】\]]*
      | 噴火警戒レベル.*
      | exercise|update|updated|correction|corrected|cancell?ed|cancel|lifted|lift
      | (?:alert\s+)?level\s*[{_DIGITS}]
      | (?:seismic\s+)?intensity\s*[{_DIGITS}].*
      | volcanic\s+alert\s+level.*
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_LEADING = re.compile(r"^[\s\u3000]*(【[^【】]*】|\[[^\[\]]*\])")
_TRAILING = re.compile(r"(【[^【】]*】|\[[^\[\]]*\])[\s\u3000]*$")
_INTENSITY = re.compile(rf"^震度([{_DIGITS}])(弱|強)?(.*)$")
_VOLCANO = re.compile(rf"^噴火警戒レベル([{_DIGITS}])(?:（(.+)）)?$")
_LEVEL = re.compile(rf"^警戒レベル([{_DIGITS}])$")
# 「中央地区に避難指示を発令」 → 「中央地区の避難指示」: what a lift says is over
_ISSUED = re.compile(r"(?:を発令しました|を発令|が発令されました|を発表|が発表されました|発令|発表)$")
_PLACED = re.compile(r"^(?P<place>[^に、。]+?)に(?P<what>[^に]*(?:避難|指示|確保|警報|注意報|情報)[^に]*)$")


def lang_of(lang: Lang, settings: Settings) -> Lang:
    """The phrasebook language whose words tag text in ``lang``: itself, or Japanese for one it lacks."""
    return settings.phrasebook.own(lang)


def _word(settings: Settings, lang: Lang, key: str, **values: object) -> str:
    return settings.phrasebook.word(lang_of(lang, settings), key, **values)


def _is_code_tag(bracketed: str) -> bool:
    return _CODE_TAGS.fullmatch(bracketed[1:-1]) is not None


def bare(title: str) -> str:
    """``title`` without the tags code adds, at either end, wherever they stand among bracketed words.

    「【重要】【訂正】【警戒レベル４】避難指示【訂正】」 → 「【重要】避難指示」. Other bracketed words (a 定型文's
    【地区名】, 【重要】) stay where they are.
    """
    kept: list[str] = []
    rest = title
    while match := _LEADING.match(rest):
        if not _is_code_tag(match.group(1)):
            kept.append(match.group(1))
        rest = rest[match.end() :]
    tail: list[str] = []
    while match := _TRAILING.search(rest):  # rest starts with words: the leading run is judged
        if not _is_code_tag(match.group(1)):
            tail.insert(0, match.group(1))
        rest = rest[: match.start()]
    return ("".join(kept) + rest.strip(" \u3000") + "".join(tail)).strip()


def badge(alert: Alert, settings: Settings, lang: Lang = "ja") -> str:
    """The words of the alert's scale (「警戒レベル４」, 「震度５弱」, "Alert Level 4"), or "" for none."""
    category = settings.categories.get(alert.category)
    if category is None or not category.levels or alert.msg_type not in STANDING:
        return ""
    words = alert.badge.strip()
    if not words and alert.kind in LEVEL_KINDS and MIN_LEVEL_BADGE <= alert.level <= len(settings.levels):
        words = settings.levels[alert.level - 1].name
    return words if lang == "ja" else translated_badge(words, settings, lang)


def translated_badge(words: str, settings: Settings, lang: Lang) -> str:
    """A Japanese badge in ``lang``: "Alert Level 4", "Seismic intensity 5 Lower", "Volcanic Alert Level 3 (…)".

    The scale is read from the Japanese words and written with the language's own words for it.
    """
    if not words:
        return ""
    book = settings.phrasebook
    lg = lang_of(lang, settings)
    plain = words.translate(_HALF).strip()
    if level := _LEVEL.match(plain):
        return _word(settings, lang, "badge_level", n=level.group(1))
    if quake := _INTENSITY.match(plain):
        code = quake.group(1) + {"弱": "-", "強": "+"}.get(quake.group(2) or "", "")
        intensity = book.term(lg, "intensity", code) or code
        more = " ≥" if "以上" in quake.group(3) else ""
        return _word(settings, lang, "badge_intensity", intensity=intensity) + more
    if volcano := _VOLCANO.match(plain):
        badge_words = _word(settings, lang, "badge_volcano", n=volcano.group(1))
        if volcano.group(2):
            name = slots_place(settings, lg, volcano.group(2))
            badge_words = _word(settings, lang, "qualified", name=badge_words, detail=name)
        return badge_words
    return words


def slots_place(settings: Settings, lang: Lang, volcano: str) -> str:
    """A volcano's name in ``lang`` (plain: a badge is one line)."""
    return names.written(settings.phrasebook, "volcano", volcano, lang)


def tags(
    alert: Alert, settings: Settings, lang: Lang = "ja", *, exercise: bool = True, badged: bool = True
) -> list[str]:
    """The tags' words in their fixed order: exercise, what the message does, the badge.

    ``exercise=False`` leaves the exercise tag out, for a body that already says it is an exercise;
    ``badged=False`` the badge, for a page that shows it beside the title.
    """
    out = []
    if exercise and alert.mode == Mode.EXERCISE:
        out.append(_word(settings, lang, "tag_exercise"))
    if alert.msg_type in MSG_TAG_WORDS:
        out.append(_word(settings, lang, MSG_TAG_WORDS[alert.msg_type]))
    # a title that already says its scale (a notice: "Evacuation order (Alert Level 4) for …") is not told twice
    if badged and (words := badge(alert, settings, lang)) and words not in bare(_title(alert, lang)):
        out.append(words)
    return out


def bracket(words: list[str], lang: Lang, settings: Settings) -> str:
    """「【訓練】【訂正】」, or "[EXERCISE] [CORRECTION] " in English: the language's brackets around each tag."""
    return "".join(_word(settings, lang, "tag_open") + w + _word(settings, lang, "tag_close") for w in words)


def exercise_tag(lang: Lang, settings: Settings) -> str:
    """「【訓練】」, or "[EXERCISE] " in English: what every written part of an exercise starts with."""
    return bracket([_word(settings, lang, "tag_exercise")], lang, settings)


def headline(alert: Alert, settings: Settings, lang: Lang = "ja", *, exercise: bool = True, badged: bool = True) -> str:
    """The alert's title in ``lang`` after its tags in the fixed order: 「【訓練】【訂正】【警戒レベル４】…」."""
    words = bracket(tags(alert, settings, lang, exercise=exercise, badged=badged), lang, settings)
    return words + bare(_title(alert, lang))


def _title(alert: Alert, lang: Lang) -> str:
    """The title as plain text: a headline is one line of text everywhere (furigana as 漢字（かんじ）)."""
    return furigana.plain(alert.text(lang).title)


def lifted(title: str) -> str:
    """What a lift says is over, from its title: 「中央地区に避難指示を発令」 → 「中央地区の避難指示」."""
    subject = _ISSUED.sub("", bare(title).rstrip("。.！!"))
    placed = _PLACED.match(subject)
    return f"{placed['place']}の{placed['what']}" if placed else subject


def lead(alert: Alert, settings: Settings, lang: Lang = "ja") -> str:
    """The line a text body starts with, saying what this message does to the earlier one; "" for the first.

    A lift says what is over: 「中央地区の避難指示を解除しました。」 (JMA: 「…は解除されました。」),
    "… has been lifted."
    """
    if alert.msg_type == MsgType.LIFT:
        title = bare(_title(alert, lang))
        if lang != "ja":
            return _word(settings, lang, "lead_lift", what=title.rstrip("."))
        verb = "は解除されました。" if alert.source == "jma" else "を解除しました。"
        return lifted(title) + verb
    key = LEAD_WORDS.get(alert.msg_type)
    return _word(settings, lang, key) if key else ""
