"""What the fuzzers try: for each interface that meets untrusted input, a hypothesis strategy of inputs and
a check that raises on anything but a result or one of the project's own errors (broadcaster.errors).

The test suite (tests/fuzz/test_fuzz.py) runs each target with a bounded, derandomized example count;
bench/fuzz.py runs the same targets for longer and counts what failed. A check raises AssertionError
for a broken property (an unescaped tag, a CAP document the schema refuses) and lets any exception that
is not a BroadcasterError through: that is the bug the fuzzer looks for.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import io
import math
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import strategies as st
from lxml import etree

from broadcaster import intake
from broadcaster.errors import BroadcasterError
from broadcaster.models import Alert, Mode, MsgType, Severity, Source, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import DEFAULT_CONFIG, Settings, load_settings
from broadcaster.subscribers import COLUMNS, CsvReader, checked
from broadcaster.tokens import Signer
from broadcaster.web.csrf import COOKIE, Csrf
from channels import build_renderers
from channels.website.cap import cap_alert
from feeds.jma.parse import parse
from tests.paths import CAP_XSD, JMA_SAMPLES

# Pieces of text that have broken renderers elsewhere: markup and script, template syntax, entities,
# control characters, bidi overrides and isolates, line and paragraph separators, XML's non-characters,
# emoji sequences, astral and half-width kana, the brackets code adds as tags, and CSV/TOML syntax.
PIECES = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<a href='javascript:alert(1)'>x</a>",
    "</article></body>",
    "{{ 7*7 }}",
    "{% if %}",
    "&amp;",
    "&#13;",
    "&lt;b&gt;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\r\n",
    "\r",
    "\t",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200f",
    "\u200b",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\U0001f6a8",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1ef\U0001f1f5",
    "\U00020bb7",
    "ｱｲｳﾞ",
    "【訂正】",
    "【訓練】",
    "【",
    "】",
    "（警戒レベル４）",
    "避難指示",
    "http://example.com/?a=1&b=<2>",
    "@everyone #tag",
    '=HYPERLINK("http://x")',
    '"',
    "'",
    "\\",
    ",",
    ";",
    "%s%n",
    " " * 5,
    "\n\n\n",
)
PIECE = st.sampled_from(PIECES)


def hostile_text(max_pieces: int = 8, huge: int = 4000) -> st.SearchStrategy[str]:
    """Text made of hostile pieces and arbitrary characters, sometimes ``huge`` characters long."""
    mixed = st.lists(st.one_of(PIECE, st.text(max_size=24)), max_size=max_pieces).map("".join)
    long = st.tuples(st.one_of(PIECE, st.just("思"), st.just("a"), st.just("思。")), st.integers(huge // 8, huge)).map(
        lambda t: (t[0] * t[1])[: t[1]]
    )
    return st.one_of(mixed, mixed, mixed, long)


# what no cleaned text may hold: what XML cannot carry, line breaks other than LF, controls, bidi overrides
UNCLEAN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def check_intake(raw: str) -> None:
    """intake leaves nothing a channel cannot carry: a body keeps only TAB and LF, a title is one line."""
    body, title = intake.clean_text(raw), intake.clean_title(raw)
    assert not UNCLEAN.search(body), repr(body)
    assert not UNCLEAN.search(title) and len(title.splitlines()) <= 1 and "\t" not in title, repr(title)


# -- the JMA parser ---------------------------------------------------------------------


@functools.cache
def jma_documents() -> tuple[tuple[str, bytes], ...]:
    """JMA's real documents (the two Atom feeds left out): (file name, bytes)."""
    skip = {"eqvol.xml", "extra_l.xml"}
    return tuple((p.name, p.read_bytes()) for p in sorted(JMA_SAMPLES.glob("*.xml")) if p.name not in skip)


# what a JMA value may become: codes, numbers, dates and times, each a little wrong
JMA_VALUES = st.one_of(
    hostile_text(4),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            "９",
            "²",
            "1e999",
            "9" * 5000,
            "2025-13-45T25:61:00+09:00",
            "2025-06-30T10:00:00",
            "0000-00-00T00:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "2025-06-30T10:00:00+09:00",
            "震度７",
            "震度",
            "5+",
            "不明",
            "NaN",
            "取消",
            "訂正",
            "発表",
            "通常",
            "訓練",
            "試験",
        ]
    ),
)


@st.composite
def mutated_jma(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real JMA document with one change: in its tree (a value, an element gone or doubled) or its bytes."""
    name, data = draw(st.sampled_from(jma_documents()))
    how = draw(st.sampled_from(["text", "attribute", "remove", "duplicate", "truncate", "splice"]))
    if how in ("truncate", "splice"):
        at = draw(st.integers(0, len(data)))
        if how == "truncate":
            return name, data[:at]
        end = draw(st.integers(at, min(len(data), at + 64)))
        return name, data[:at] + draw(st.binary(max_size=32)) + data[end:]
    root = etree.fromstring(data)
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 3))):
        el = draw(st.sampled_from(elements))
        if how == "text":
            el.text = draw(JMA_VALUES.map(xml_safe))
        elif how == "attribute":
            el.set(
                draw(st.sampled_from(["type", "refID", "condition", "unit", "description", "code"])),
                draw(JMA_VALUES.map(xml_safe)),
            )
        elif how == "remove" and el.getparent() is not None:
            el.getparent().remove(el)  # type: ignore[union-attr]
        elif how == "duplicate" and el.getparent() is not None:
            el.addnext(etree.fromstring(etree.tostring(el)))
    return name, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def xml_safe(text: str) -> str:
    """What lxml lets a tree hold (a document cannot carry the rest as text)."""
    return "".join(
        c for c in text if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) >= 0x10000
    )


JMA_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=512).map(lambda b: b'<?xml version="1.0" encoding="UTF-8"?>\n' + b),
    st.binary(max_size=512).map(lambda b: b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">' + b),
    st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"<?xml version='1.0' encoding='UTF-16'?>"]).flatmap(
        lambda head: st.binary(max_size=256).map(lambda b: head + b)
    ),
)


def check_jma(example: tuple[str, bytes]) -> None:
    """Parsing gives a Report or the project's own error."""
    source, data = example
    with contextlib.suppress(BroadcasterError):
        parse(data, source=source)


# -- alerts with hostile text ------------------------------------------------------------


@st.composite
def hostile_alerts(draw: st.DrawFn, settings: Settings, huge: int = 4000) -> Alert:
    """An alert whose every text an officer, another system or a JMA document could have written.

    Texts are up to ``huge`` characters (a draft's body may hold drafts.MAX_BODY = 4000), cleaned as every
    entrance cleans them (broadcaster.intake: the drafts, the JMA parser); the "intake" target checks that.
    """
    hostile = hostile_text(8, huge).map(intake.clean_text)
    line = hostile_text(8, huge).map(intake.clean_title)
    category = draw(st.sampled_from(sorted(settings.categories)))
    level = draw(st.integers(1, 5)) if settings.categories[category].levels else 0
    title = draw(line.filter(bool))
    translations = {}
    if draw(st.booleans()):
        translations["en"] = Text(draw(line), draw(hostile), draw(hostile))
    msg_type = draw(st.sampled_from(MsgType))
    return Alert(
        id=draw(st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True)),
        source=draw(st.sampled_from(Source)),
        category=category,
        level=level,
        title=title,
        body=draw(hostile),
        instruction=draw(hostile),
        kind=draw(st.sampled_from(["", "earthquake", "tsunami", "volcano", "river", "weather", "heat"])),
        severity=draw(st.sampled_from(Severity)),
        areas=tuple(
            draw(
                st.lists(
                    st.sampled_from([settings.areas.city, settings.areas.forecast_area, "0000000", "x"]),
                    max_size=3,
                    unique=True,
                )
            )
        ),
        translations=translations,
        event_key=draw(st.one_of(st.just(""), hostile_text(3, huge).map(intake.clean_title))),
        version=draw(st.integers(1, 50)),
        msg_type=msg_type,
        mode=draw(st.sampled_from(Mode)),
        expires=draw(st.one_of(st.none(), st.floats(1e9, 4e9))),
        channels=tuple(settings.enabled_channels),
        created_at=draw(st.floats(1e9, 4e9)),
        created_by=draw(st.sampled_from(["sato", "api:river", "jma"])),
        references=None if msg_type == MsgType.ALERT else "a0",
        badge=draw(st.one_of(st.just(""), st.just("震度５弱"), hostile_text(3, huge).map(intake.clean_title))),
    )


# what HTML gives a meaning to: replaced by letters, the markup of a page must stay exactly the same
MARKUP = str.maketrans({c: "x" for c in "<>&\"'"})


def neutral(alert: Alert) -> Alert:
    """The same alert with every character HTML gives a meaning to replaced by a letter."""
    tr = {
        k: Text(*(s.translate(MARKUP) for s in (t.title, t.body, t.instruction))) for k, t in alert.translations.items()
    }
    fields = ("title", "body", "instruction", "event_key", "badge")
    return dataclasses.replace(alert, translations=tr, **{f: getattr(alert, f).translate(MARKUP) for f in fields})


def markup(html: str) -> tuple[int, int, int]:
    """What makes HTML's structure: its tags and its attribute quotes."""
    return html.count("<"), html.count(">"), html.count('"')


@dataclass
class Rendering:
    """Every channel's renderer for one Settings."""

    renderers: dict[str, Any]

    def __call__(self, alert: Alert) -> None:
        """Each renderer renders each language and measures its fits; HTML parts escape every text."""
        calm = neutral(alert)
        for name, renderer in self.renderers.items():
            renderer.fits(alert)
            for lang in alert.languages:
                message = renderer.render(alert, lang)
                if message.html:
                    expected = markup(renderer.render(calm, lang).html)
                    assert markup(message.html) == expected, f"{name}/{lang}: text changed the HTML's markup"


def check_cap(settings: Settings) -> Callable[[Alert], None]:
    """cap_alert makes a document the OASIS CAP 1.2 schema accepts, whatever the alert says."""
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))

    def check(alert: Alert) -> None:
        earlier = [dataclasses.replace(alert, id="a0", msg_type=MsgType.ALERT)] if alert.references else []
        document = cap_alert(alert, settings, earlier)
        root = etree.fromstring(document)
        assert schema.validate(root), str(schema.error_log)

    return check


# -- configuration -------------------------------------------------------------------------


@functools.cache
def default_keys() -> tuple[tuple[str, ...], ...]:
    """Every key path in config/default.toml (tables walked, arrays of tables left whole)."""
    found: list[tuple[str, ...]] = []

    def walk(table: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in table.items():
            found.append((*path, key))
            if isinstance(value, dict):
                walk(value, (*path, key))

    with DEFAULT_CONFIG.open("rb") as f:
        walk(tomllib.load(f), ())
    return tuple(found)


def toml_value(value: Any) -> str:
    """A value written as TOML (inline tables and arrays included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return (
            '"'
            + "".join(
                c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                for c in value
                if ord(c) < 0xD800 or ord(c) > 0xDFFF
            )
            + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_key(key: str) -> str:
    """A key, quoted."""
    return toml_value(key)


SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    hostile_text(4),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "email",
            "ja",
            "disaster",
            "VXSE53",
            "/dev/null",
            "/nonexistent/x.pem",
            "http://127.0.0.1:1",
            "https://example.jp",
            "../../etc/passwd",
        ]
    ),
)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def site_files(draw: st.DrawFn) -> bytes:
    """A site config: arbitrary bytes, or TOML that changes known keys (and adds unknown ones) to any value."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(st.binary(max_size=512), hostile_text().map(lambda t: t.encode("utf-8", "replace"))))
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(
            st.one_of(
                st.sampled_from(default_keys()),
                st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3).map(tuple),
            )
        )
        *table, key = path
        if table:
            lines.append("[" + ".".join(toml_key(t) for t in table) + "]")
        lines.append(f"{toml_key(key)} = {toml_value(draw(TOML_VALUES))}")
    return "\n".join(lines).encode()


class ConfigLoading:
    """load_settings on a site file: Settings or ConfigError."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="fuzz-config-")
        self.path = Path(self._folder.name) / "site.toml"

    def __call__(self, data: bytes) -> None:
        self.path.write_bytes(data)
        with contextlib.suppress(BroadcasterError):
            load_settings(self.path)

    def close(self) -> None:
        """Remove the temporary folder."""
        self._folder.cleanup()


# -- the subscriber CSV ----------------------------------------------------------------------


@st.composite
def csv_files(draw: st.DrawFn, settings: Settings) -> str:
    """A subscriber CSV: arbitrary text, or rows of plausible and hostile fields under a plausible header."""
    if draw(st.integers(0, 3)) == 0:
        return draw(hostile_text(12))
    header = draw(st.one_of(st.just(list(COLUMNS)), st.lists(st.sampled_from([*COLUMNS, "", "x", "contact"]))))
    plausible = st.sampled_from(
        [
            "email",
            "line",
            "a@example.jp",
            "U" + "0" * 32,
            " ".join(settings.categories),
            "disaster",
            "ja",
            "en",
            "active",
            "paused",
            "gone",
            "true",
            "false",
            "yes",
            "",
            "\ufeff",
        ]
    )
    field = st.one_of(plausible, plausible, hostile_text(4))
    rows = draw(st.lists(st.lists(field, max_size=len(header) + 2), max_size=8))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):  # and a few bytes off: an unclosed quote, a stray NUL
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\x00", "\r", ',"', '""'])) + text[at:]
    return text


def check_csv(settings: Settings) -> Callable[[str], None]:
    """Reading a subscriber CSV gives subscribers or an InputError naming the bad rows."""

    def check(text: str) -> None:
        with contextlib.suppress(BroadcasterError):
            list(checked(CsvReader(settings), io.StringIO(text, newline="")))

    return check


# -- link tokens and CSRF ----------------------------------------------------------------------

SIGNER = Signer(b"a fuzzing secret that is long enough")
PURPOSES = ("confirm", "manage", "unsubscribe")
TOKEN_TEXT = st.one_of(
    st.text(max_size=120),
    hostile_text(4),
    st.builds(lambda n, p: SIGNER.make(p, n, 3600.0), st.integers(0, 2**63), st.sampled_from(PURPOSES)),
    st.builds(
        lambda t, s: t[: len(t) // 2] + s,
        st.builds(lambda p: SIGNER.make(p, 1, None), st.sampled_from(PURPOSES)),
        st.text(max_size=20),
    ),
)
TOKENS = st.tuples(TOKEN_TEXT, st.sampled_from(PURPOSES))


def check_token(example: tuple[str, str]) -> None:
    """Signer.check gives a subscriber id or InputError, for any text at all."""
    token, purpose = example
    try:
        result = SIGNER.check(token, purpose)
    except BroadcasterError:
        return
    assert isinstance(result, int)


COOKIE_TEXT = st.text(st.characters(exclude_characters="\r\n\x00;", exclude_categories=["Cs"]), max_size=60)
CSRF_CASES = st.tuples(COOKIE_TEXT, st.one_of(st.text(max_size=80), hostile_text(4)))
CSRF = Csrf(b"a fuzzing secret that is long enough", secure=False)


def check_csrf(example: tuple[str, str]) -> None:
    """Csrf.check says True or False for any cookie and field; token()'s field passes unless it set a new cookie."""
    cookie, field = example
    request = make_mocked_request("POST", "/subscribe", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert CSRF.check(request, field) in (True, False)
    response = web.Response()
    issued = CSRF.token(request, response)
    assert CSRF.check(request, issued) == (COOKIE not in response.cookies)


# -- every target ------------------------------------------------------------------------------


@dataclass
class Target:
    """One fuzzed interface: its inputs and the check each must pass."""

    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]
    examples: int  # the test suite's bounded count; bench/fuzz.py scales it


def targets(settings: Settings, huge: int = 400) -> dict[str, Target]:
    """Every target, keyed by name, for ``settings``; close the config target's folder after use.

    ``huge`` bounds the longest alert text: the SNS renderer needs seconds for a 4000-character body,
    so the test suite keeps it short and bench/fuzz.py goes to the drafts' limits.
    """
    alerts = hostile_alerts(settings, huge=huge)
    return {
        "intake": Target(st.one_of(hostile_text(), st.text()), check_intake, 200),
        "jma_bytes": Target(JMA_BYTES.map(lambda b: ("fuzz.xml", b)), check_jma, 100),
        "jma_mutated": Target(mutated_jma(), check_jma, 60),
        "cap": Target(alerts, check_cap(settings), 60),
        "config": Target(site_files(), ConfigLoading(), 100),
        "csv": Target(csv_files(settings), check_csv(settings), 100),
        "render": Target(alerts, Rendering(build_renderers(settings, Renderer(settings))), 40),
        "token": Target(TOKENS, check_token, 150),
        "csrf": Target(CSRF_CASES, check_csrf, 150),
    }
