"""Settings: config/default.toml, an optional site file over it, validated once at start-up.

config/default.toml is the one home of every default: the classes below give each key its type and
its limits, never a value, so the file and the code cannot disagree. Only JMA policy rules, rows
of a table a site writes itself, have defaults here. Secrets never live in these files; channels
read them from the environment (see README).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from broadcaster import geometry, names, phrasebook, towns
from broadcaster.errors import ConfigError
from broadcaster.geometry import Ring

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "default.toml"
CHANNEL_NAMES = ("email", "line", "sns", "website", "ticker", "fm")

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Level = Annotated[int, Field(ge=1, le=5)]
Port = Annotated[int, Field(ge=1, le=65535)]
ACCOUNT_NAME = r"^[a-z0-9._-]{2,32}$"  # a console account's name (broadcaster/accounts.check_name)
AccountName = Annotated[str, Field(pattern=ACCOUNT_NAME)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class City(_Section):
    name: str = Field(min_length=1)
    name_kana: str  # the name's reading, for FM; empty: [fm.readings] alone
    name_en: str = Field(min_length=1)  # the name in every language other than Japanese
    public_url: str = Field(pattern=r"^https?://")
    languages: tuple[str, ...] = Field(min_length=1)  # offered, Japanese first; each one of the phrasebook's
    _names: dict[str, str] = PrivateAttr(default_factory=dict)  # language -> name (Settings._languages_known)

    def name_in(self, lang: str) -> str:
        """The city's name for text in ``lang`` ("Oyama City", "Cidade de Oyama", "오야마시")."""
        if lang.startswith("ja"):
            return self.name
        return self._names.get(lang) or self.name_en


class Areas(_Section):
    """JMA area codes, kept as strings: leading zeros matter."""

    city: str = Field(pattern=r"^[0-9]{7}$")  # 市町村等 (気象・地震・火山)
    forecast_area: str = Field(pattern=r"^[0-9]{6}$")  # 府県予報区
    forecast_area_name: str = Field(min_length=1)  # its name in Japanese: places are named in words
    forecast_area_name_en: str = Field(min_length=1)  # in every other language
    earthquake_region: str = Field(pattern=r"^[0-9]{3}$")  # 地震 細分区域
    prefecture: str = Field(pattern=r"^[0-9]{2}$")  # 都道府県


class District(_Section):
    """One 地区 of the city: what alerts target and residents choose (broadcaster/districts.py)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")  # stable: subscriber files, the API and URLs use it
    name: str = Field(min_length=1)  # 間々田地区
    reading: str = Field(pattern=r"^[ぁ-ゖー]+$")  # its reading in hiragana, for FM: ままだちく
    name_en: str = Field(min_length=1)  # in every language other than Japanese: Mamada district
    towns: tuple[str, ...]  # the 町・大字 it contains, as Japan Post's data writes them; empty: not yet known
    geometry: str  # a GeoJSON file with its outline (Polygon or MultiPolygon); "": none
    _rings: tuple[Ring, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _outline(self) -> District:
        if self.geometry:
            path = Path(self.geometry) if Path(self.geometry).is_absolute() else ROOT / self.geometry
            try:
                self._rings = geometry.load(path)
            except geometry.GeometryError as exc:
                raise ValueError(f"{self.name} ({self.id}): geometry: {exc}") from None
        return self

    @property
    def rings(self) -> tuple[Ring, ...]:
        """The outline's outer rings, (longitude, latitude) points; () without geometry."""
        return self._rings

    _names: dict[str, str] = PrivateAttr(default_factory=dict)  # language -> name (Settings._languages_known)

    def name_in(self, lang: str) -> str:
        """The district's name for text in ``lang`` ("Mamada district", "distrito de Mamada")."""
        if lang.startswith("ja"):
            return self.name
        return self._names.get(lang) or self.name_en


class Server(_Section):
    host: str
    port: Port


class Storage(_Section):
    backend: Literal["sqlite"]
    path: str = Field(min_length=1)
    outbox_dir: str = Field(min_length=1)


class Category(_Section):
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    channels: tuple[str, ...]
    levels: bool  # its alerts carry a JMA 警戒レベル 1-5 (required); false: never one (level 0)


class LevelInfo(_Section):
    level: Level
    name: str = Field(min_length=1)
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Retry(_Section):
    """The one retry policy: bounded attempts, a deadline, backoff with jitter."""

    max_attempts: PositiveInt
    base_delay: NonNegative
    max_delay: NonNegative
    jitter: Annotated[float, Field(ge=0, le=1)]
    deadline: Positive


class Dispatcher(_Section):
    claim_size: Annotated[int, Field(ge=1, le=10_000)]
    inflight_chunks: Annotated[int, Field(ge=1, le=16)]
    lease_seconds: Positive
    shutdown_grace: NonNegative


class ChannelSettings(_Section):
    enabled: bool
    batch_size: Annotated[int, Field(ge=1, le=10_000)]
    concurrency: Annotated[int, Field(ge=1, le=1000)]
    rate_per_s: Positive  # calls to send() per second, a token bucket
    burst: PositiveInt
    timeout: Positive


JmaFamily = Literal["warnings", "rivers", "earthquakes", "tsunami", "volcano"]
JmaType = Annotated[str, Field(pattern=r"^[A-Z]{4}([0-9]{2}|ii)$")]
Intensity = Literal["1", "2", "3", "4", "5-", "5+", "6-", "6+", "7"]


class PolicyRule(_Section):
    """One row of the JMA policy table: the first rule that fits a document decides what happens."""

    name: str = Field(min_length=1)  # shown to officers as the reason for the decision
    kinds: tuple[JmaType, ...] = Field(min_length=1)
    min_level: Level | None = None  # JMA 警戒レベル of the matched areas
    max_level: Level | None = None
    min_intensity: Intensity | None = None  # 震度 observed in the matched areas
    max_intensity: Intensity | None = None
    decision: Literal["auto", "approve", "ignore"]
    category: str = "disaster"
    channels: tuple[str, ...] = ()  # empty: the category's channels
    template: str = ""  # template kind, e.g. "earthquake"; empty: the category's default


class Jma(_Section):
    """Polling JMA's Atom feeds (PULL): politely, and each document once."""

    enabled: bool
    feeds: tuple[Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://.+\.xml$")], ...]  # https, see below
    interval: Annotated[float, Field(ge=10)]
    second: Annotated[float, Field(ge=0, lt=60)]
    offices: tuple[Annotated[str, Field(pattern=r"^[0-9]{6}$")], ...]
    types: tuple[JmaType, ...]
    timeout: Positive
    max_bytes: Annotated[int, Field(ge=1024)]
    backfill_after: Positive
    allowed_hosts: tuple[str, ...] = Field(min_length=1)  # host names; feeds and documents come only from these
    ca_file: str  # extra CA bundle to trust (a test's or a proxy's); "": the system's
    max_age: dict[JmaFamily, Positive]  # seconds after its report time a document is still sent
    policy: tuple[PolicyRule, ...]

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            if not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", host):
                raise ValueError(
                    f"{host!r} is not a host name; give names such as www.data.jma.go.jp, without scheme, port or path"
                )
        return tuple(host.lower().strip("[]") for host in value)

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not value:
            return value
        path = Path(value) if Path(value).is_absolute() else ROOT / value
        if not path.is_file():
            raise ValueError(f'no such file: {path}; give a PEM bundle of CA certificates, or "" for none')
        return str(path)

    @model_validator(mode="after")
    def _feeds_over_https_from_allowed_hosts(self) -> Jma:
        for i, url in enumerate(self.feeds):
            parts = urlsplit(url)
            if parts.scheme != "https":
                raise ValueError(f"feeds.{i}: {url!r} is not https; JMA feeds are read over https only")
            if (parts.hostname or "") not in self.allowed_hosts:
                raise ValueError(
                    f"feeds.{i}: the host of {url!r} is not in allowed_hosts ({', '.join(self.allowed_hosts)}); "
                    "add it there or correct the feed"
                )
        return self


class Email(_Section):
    """The safety-mail relay. With no host the email channel runs as the outbox."""

    host: str
    port: Port
    tls: Literal["starttls", "implicit", "none"]
    sender: str = Field(min_length=3)
    pool: Annotated[int, Field(ge=1, le=64)]
    timeout: Positive
    refusal_threshold: Annotated[int, Field(ge=1)]
    unsubscribe_mailto: str


class Line(_Section):
    """The LINE official account. With no LINE_CHANNEL_ACCESS_TOKEN the line channel runs as the outbox."""

    api_host: str
    broadcast_categories: tuple[str, ...]
    request_timeout: Positive
    event_max_age: Positive  # seconds: webhook events older than this are ignored


class Website(_Section):
    """The public pages and feeds (/, /alerts/<id>, Atom, JSON, CAP) and their static export."""

    export_dir: str
    show_exercises: bool
    history_days: Annotated[int, Field(ge=1)]
    cap_sender: str = Field(min_length=1)
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")  # checked against [areas] city


class Languages(_Section):
    """The phrasebook every language comes from, and whether its patterns must be reviewed to be sent."""

    phrasebook: str = Field(min_length=1)  # a folder like config/phrasebook/
    require_review: bool  # true: a pattern the city's translators have not reviewed is not sent


class Sns(_Section):
    """Posting to X, and optionally Mastodon and Bluesky. Credentials come from the environment."""

    targets: tuple[Literal["x", "mastodon", "bluesky"], ...]
    languages: tuple[str, ...] = Field(min_length=1)  # a post in the first, a thread reply in each other
    daily_quota: Annotated[int, Field(ge=1)]
    reserve: Annotated[int, Field(ge=0)]
    hashtags: tuple[str, ...]
    x_api_base: str
    mastodon_url: str
    bluesky_url: str


class Ticker(_Section):
    """The cable-TV ticker (L字 / 文字スーパー): one line per alert."""

    max_length: Annotated[int, Field(ge=10, le=400)]
    station_email: str
    tcp_host: str
    tcp_port: int = Field(ge=0, le=65535)
    english: bool  # a second line in English after the station's Japanese line


class Fm(_Section):
    """Community-FM speech: a WAV per alert for the station's drop folder."""

    drop_dir: str = Field(min_length=1)
    sample_rate: Annotated[int, Field(ge=8000, le=96000)]
    chime: str
    workers: Annotated[int, Field(ge=0, le=16)]
    dictionary: str = Field(min_length=1)  # Open JTalk's dictionary folder
    readings: dict[str, str]  # place name -> reading; a site's table replaces this one (see _merge)
    languages: tuple[str, ...]  # read after Japanese and やさしい日本語, each in its own voice


class Subscriptions(_Section):
    """The residents' subscription pages (subscribe, confirm, manage, unsubscribe)."""

    confirm_ttl: Positive
    manage_ttl: Positive
    ip_limit: PositiveInt
    ip_period: Positive
    address_limit: PositiveInt
    address_period: Positive
    trust_forwarded: bool


class Approval(_Section):
    """Which live alerts wait for a second person, and who is told that one waits."""

    live_min_level: Level
    categories: tuple[str, ...]
    escalate_after: Positive  # seconds a live alert may wait before the escalation list is told
    escalate_to: tuple[AccountName, ...]  # account names told after escalate_after

    @field_validator("escalate_to")
    @classmethod
    def _each_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names an account more than once")
        return value


class PasswordHash(_Section):
    """argon2id's cost for console passwords; the limits keep a typo from costing minutes or gigabytes."""

    time_cost: Annotated[int, Field(ge=1, le=100)]  # passes over the memory
    memory_cost: Annotated[int, Field(ge=8, le=4 * 1024 * 1024)]  # KiB; argon2 needs 8 per lane
    parallelism: Annotated[int, Field(ge=1, le=64)]  # lanes


class Console(_Section):
    """The duty officers' console (/console) and the API for other city systems (/api/v1)."""

    idle_timeout: Positive
    session_lifetime: Positive
    idempotency_ttl: Positive  # seconds the API remembers an Idempotency-Key
    login_delay: Positive  # seconds to wait after the second failed login in a row, doubling with each after
    login_delay_max: Positive
    login_lock_after: PositiveInt  # failures in a row that lock an account until an admin or its second factor
    login_forget: Positive  # seconds after which the failures of a client or an unlocked name are forgotten
    ip_login_limit: PositiveInt
    ip_login_period: Positive
    password_min_length: Annotated[int, Field(ge=12, le=128)]
    common_passwords: str = Field(min_length=1)  # the list of refused passwords, one a line
    require_totp: bool
    second_factor_timeout: Positive  # seconds between the password and the code at login
    secure_cookies: Literal["auto", "always", "never"]
    trust_forwarded: bool
    password_hash: PasswordHash


class Health(_Section):
    """What /healthz and the console's dashboard count as unhealthy."""

    feed_failing_after: Positive  # seconds a JMA feed may fail in a row before the service is degraded
    channel_failures: PositiveInt  # sends in a row a channel may fail before it counts as failing


class Settings(_Section):
    city: City
    languages: Languages
    areas: Areas
    districts: tuple[District, ...]
    server: Server
    storage: Storage
    categories: dict[str, Category]
    levels: tuple[LevelInfo, ...]
    retry: Retry
    dispatcher: Dispatcher
    channels: dict[str, ChannelSettings]
    approval: Approval
    console: Console
    jma: Jma
    email: Email
    line: Line
    subscriptions: Subscriptions
    website: Website
    sns: Sns
    ticker: Ticker
    fm: Fm
    health: Health
    _book: phrasebook.Phrasebook | None = PrivateAttr(default=None)
    _district_ids: frozenset[str] | None = PrivateAttr(default=None)

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, value: tuple[LevelInfo, ...]) -> tuple[LevelInfo, ...]:
        if sorted(info.level for info in value) != [1, 2, 3, 4, 5]:
            raise ValueError("must describe each level 1 to 5 exactly once")
        return tuple(sorted(value, key=lambda info: info.level))

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        for cat_id, cat in self.categories.items():
            for ch in cat.channels:
                if ch not in self.channels:
                    raise ValueError(
                        f"categories.{cat_id}.channels: {ch!r} is not a configured channel; "
                        f"configured: {', '.join(self.channels)}"
                    )
        for i, rule in enumerate(self.jma.policy):
            where = f"jma.policy.{i} ({rule.name})"
            if rule.category not in self.categories:
                raise ValueError(f"{where}.category: unknown category {rule.category!r}")
            unknown = [ch for ch in rule.channels if ch not in self.channels]
            if unknown:
                raise ValueError(f"{where}.channels: {unknown} are not configured channels")
        for cat_id in self.approval.categories:
            if cat_id not in self.categories:
                raise ValueError(f"approval.categories: unknown category {cat_id!r}")
        expected = municipality_code(self.areas.city)
        if self.website.municipality_code != expected:
            # a site file for another town that forgot this key would publish CAP for the wrong city
            raise ValueError(
                f"website.municipality_code: {self.website.municipality_code!r} is not the code of "
                f"areas.city {self.areas.city!r}; expected {expected!r}"
            )
        self._districts_apart()
        self._languages_known()
        cost = self.console.password_hash
        if cost.memory_cost < 8 * cost.parallelism:
            raise ValueError(
                f"console.password_hash.memory_cost: argon2 needs at least 8 KiB per lane, "
                f"{8 * cost.parallelism} for parallelism = {cost.parallelism} (got {cost.memory_cost})"
            )
        return self

    def _districts_apart(self) -> None:
        """Each district once, each town in one district at most, and every town one the postal data knows."""
        seen: dict[str, str] = {}
        owner: dict[str, str] = {}
        place = towns.index(self.areas.city[:5]) if any(d.towns for d in self.districts) else None
        for i, d in enumerate(self.districts):
            where = f"districts.{i} ({d.name})"
            if d.id in seen:
                raise ValueError(f"{where}: id {d.id!r} is already the id of {seen[d.id]}; give each district its own")
            seen[d.id] = d.name
            for name in d.towns:
                assert place is not None
                town = place.get(name)
                if town is None:
                    raise ValueError(
                        f"{where}.towns: {name!r} is no 町・大字 of {self.city.name} in Japan Post's data; "
                        "write it as the postal data does (run.py districts check lists them)"
                    )
                if town.name != name:  # 雨ヶ谷 for 雨ケ谷: every lookup compares the postal spelling
                    raise ValueError(f"{where}.towns: write {name!r} as Japan Post's data does: {town.name!r}")
                if town.name in owner and owner[town.name] != d.name:
                    raise ValueError(
                        f"{where}.towns: {town.name} is already in {owner[town.name]}; a town is in one district"
                    )
                owner[town.name] = d.name

    def _languages_known(self) -> None:
        """Every language a channel is asked to use is one the phrasebook has, and offered; names in each."""
        if self.city.languages[0] != "ja" or len(set(self.city.languages)) != len(self.city.languages):
            raise ValueError("city.languages: Japanese (ja) first, and each language once")
        book = self.phrasebook
        have = ", ".join(book.books)
        for key, wanted in (("city.languages", self.city.languages), ("fm.languages", self.fm.languages),
                            ("sns.languages", self.sns.languages)):  # fmt: skip
            for lang in wanted:
                if lang not in book.books:
                    raise ValueError(f"{key}: {lang!r} is not a language of the phrasebook; it has {have}")
                if key != "city.languages" and lang not in self.city.languages:
                    raise ValueError(f"{key}: {lang!r} is not offered; add it to city.languages first")
        for lang in self.city.languages:
            if book.language(lang).japanese:
                continue
            own = lang == "en"
            self.city._names[lang] = (
                self.city.name_en if own else names.written(book, "city", self.city.name, lang, self.city.name_kana)
            )
            for d in self.districts:
                d._names[lang] = d.name_en if own else names.written(book, "district", d.name, lang, d.reading)

    @property
    def phrasebook(self) -> phrasebook.Phrasebook:
        """The phrasebook of [languages] phrasebook, read once per process (asked for on every word rendered)."""
        if self._book is None:
            self._book = phrasebook.load(self.path(self.languages.phrasebook))
        return self._book

    @property
    def district_ids(self) -> frozenset[str]:
        """The configured districts' ids (a page asks, per alert and district, whether an alert is city-wide)."""
        if self._district_ids is None:
            self._district_ids = frozenset(d.id for d in self.districts)
        return self._district_ids

    def district(self, district_id: str) -> District | None:
        """The configured district of this id, or None."""
        return next((d for d in self.districts if d.id == district_id), None)

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        """Names of the channels switched on, in config order."""
        return tuple(name for name, ch in self.channels.items() if ch.enabled)

    @property
    def readings(self) -> dict[str, str]:
        """Place names and their readings for speech: the city's own name, then [fm.readings]."""
        own = {self.city.name: self.city.name_kana} if self.city.name_kana else {}
        return own | self.fm.readings

    def path(self, configured: str) -> Path:
        """A configured path, relative ones taken from the project root."""
        p = Path(configured)
        return p if p.is_absolute() else ROOT / p


def municipality_code(jma_city: str) -> str:
    """The 全国地方公共団体コード of a JMA 市町村等 code: its first five digits and their check digit."""
    five = jma_city[:5]
    remainder = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True)) % 11
    return five + str((11 - remainder) % 10)


# Tables a site file replaces whole instead of key by key: another town's place names are not ours.
REPLACED_TABLES = frozenset({("fm", "readings")})


def _merge(base: dict[str, Any], over: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        where = (*path, key)
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict) and where not in REPLACED_TABLES:
            merged[key] = _merge(merged[key], value, where)
        else:
            merged[key] = value
    return merged


# a config file is a few kilobytes: anything near this is the wrong file (or /dev/zero), refused before it fills memory
MAX_CONFIG_BYTES = 1024 * 1024


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; give the path of a TOML config file")
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; give the path of a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}; give a readable TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8; save the config file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}; correct the file") from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            what = "unknown key"
        else:
            what = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], dict):
                what += f" (got {err['input']!r})"
        lines.append(f"{key}: {what}" if key else what)
    return "; ".join(lines)


def _unknown_channels(data: Mapping[str, Any]) -> str:
    channels = data.get("channels")
    unknown = [name for name in channels if name not in CHANNEL_NAMES] if isinstance(channels, dict) else []
    valid = ", ".join(CHANNEL_NAMES)
    return "; ".join(f"channels.{name}: unknown channel {name!r}; valid: {valid}" for name in unknown)


def load_settings(site: str | Path | None = None) -> Settings:
    """Load default.toml, overlay the site file (argument or BROADCASTER_CONFIG), validate."""
    data = _read_toml(DEFAULT_CONFIG)
    site = site or os.environ.get("BROADCASTER_CONFIG") or None
    if site:
        data = _merge(data, _read_toml(Path(site)))
    unknown = _unknown_channels(data)
    if unknown:  # said first: the keys such a channel lacks would hide the real mistake
        raise ConfigError(f"invalid configuration: {unknown}")
    try:
        # JSON mode keeps strict typing (no "8080" for a port) while taking TOML arrays as tuples.
        return Settings.model_validate_json(json.dumps(data, default=str))
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
