"""Settings: config/default.toml, an optional site file over it, validated once at start-up.

Secrets never live in these files; channels read them from the environment (see README).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from broadcaster.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "default.toml"
CHANNEL_NAMES = ("email", "line", "sns", "website", "ticker", "fm")

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Level = Annotated[int, Field(ge=1, le=5)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class City(_Section):
    name: str = Field(min_length=1)
    name_kana: str = ""
    public_url: str = Field(pattern=r"^https?://")
    languages: tuple[str, ...] = ("ja",)


class Areas(_Section):
    """JMA area codes, kept as strings: leading zeros matter."""

    city: str = Field(pattern=r"^[0-9]{7}$")  # 市町村等 (気象・地震・火山)
    forecast_area: str = Field(pattern=r"^[0-9]{6}$")  # 府県予報区
    earthquake_region: str = Field(pattern=r"^[0-9]{3}$")  # 地震 細分区域
    prefecture: str = Field(pattern=r"^[0-9]{2}$")  # 都道府県


class Server(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


class Storage(_Section):
    backend: Literal["sqlite"] = "sqlite"
    path: str = Field(default="var/broadcaster.db", min_length=1)
    outbox_dir: str = Field(default="var/outbox", min_length=1)


class Category(_Section):
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    channels: tuple[str, ...]


class LevelInfo(_Section):
    level: Level
    name: str = Field(min_length=1)
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Retry(_Section):
    """The one retry policy: bounded attempts, a deadline, backoff with jitter."""

    max_attempts: PositiveInt = 8
    base_delay: Annotated[float, Field(ge=0)] = 1.0
    max_delay: Annotated[float, Field(ge=0)] = 300.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5
    deadline: Positive = 3600.0


class Dispatcher(_Section):
    claim_size: Annotated[int, Field(ge=1, le=10_000)] = 1000
    inflight_chunks: Annotated[int, Field(ge=1, le=16)] = 2
    lease_seconds: Positive = 120.0
    shutdown_grace: Annotated[float, Field(ge=0)] = 10.0


class ChannelSettings(_Section):
    enabled: bool = True
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 1
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 4
    rate_per_s: Positive = 10.0  # calls to send() per second, a token bucket
    burst: PositiveInt = 10
    timeout: Positive = 30.0


JMA_FEED = "https://www.data.jma.go.jp/developer/xml/feed/"
JMA_TYPES = (
    "VPWW53", "VPWW54", "VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61",
    "VXWW50", "VPOA50", "VXKOii", "VXSUii", "VPHW50", "VPHW51", "VXSE51", "VXSE52", "VXSE53",
    "VXSE61", "VXSE62", "VTSE41", "VTSE51", "VTSE52", "VFVO50", "VPFT50",
)  # fmt: skip


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

    enabled: bool = True
    feeds: tuple[Annotated[str, Field(pattern=r"^https?://.+\.xml$")], ...] = (
        JMA_FEED + "extra.xml",
        JMA_FEED + "eqvol.xml",
    )
    interval: Annotated[float, Field(ge=10)] = 60.0  # JMA updates the feeds once a minute
    second: Annotated[float, Field(ge=0, lt=60)] = 20.0  # poll at about this second past the minute
    offices: tuple[Annotated[str, Field(pattern=r"^[0-9]{6}$")], ...] = ("090000", "010000")
    types: tuple[JmaType, ...] = JMA_TYPES
    timeout: Positive = 20.0
    max_bytes: Annotated[int, Field(ge=1024)] = 10_000_000
    backfill_after: Positive = 600.0  # an outage longer than this is backfilled from the long feeds
    policy: tuple[PolicyRule, ...] = ()


class Email(_Section):
    """The safety-mail relay. With no host the email channel runs as the outbox."""

    host: str = ""  # SMTP relay; SMTP_USERNAME / SMTP_PASSWORD come from the environment when it needs auth
    port: int = Field(default=587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    sender: str = Field(default="小山市 安全安心メール <anshin@example.jp>", min_length=3)
    pool: Annotated[int, Field(ge=1, le=64)] = 4  # SMTP connections kept open
    timeout: Positive = 30.0
    refusal_threshold: Annotated[int, Field(ge=1)] = 3  # refusals before a subscriber is marked bounced
    unsubscribe_mailto: str = ""  # address for mailto: List-Unsubscribe; empty leaves it out


class Line(_Section):
    """The LINE official account. With no LINE_CHANNEL_ACCESS_TOKEN the line channel runs as the outbox."""

    api_host: str = ""  # empty: LINE's own hosts; tests point it at a local fake
    broadcast_categories: tuple[str, ...] = ()  # categories sent to every friend (broadcast), not by subscription
    request_timeout: Positive = 10.0


class Website(_Section):
    """The public pages and feeds (/, /alerts/<id>, Atom, JSON, CAP) and their static export."""

    export_dir: str = ""  # where the static copy goes for the city CMS; empty: no export
    show_exercises: bool = False  # exercise alerts on the public pages (with their banner), e.g. on a drill day
    history_days: Annotated[int, Field(ge=1)] = 90  # how far back /alerts/history goes
    cap_sender: str = "anshin@city.oyama.tochigi.jp"  # CAP <sender>: the city's identifier
    # 全国地方公共団体コード (JIS X 0402 and its check digit): the CAP area's geocode
    municipality_code: str = Field(default="092088", pattern=r"^[0-9]{6}$")


class Sns(_Section):
    """Posting to X, and optionally Mastodon and Bluesky. Credentials come from the environment."""

    targets: tuple[Literal["x", "mastodon", "bluesky"], ...] = ("x",)
    daily_quota: Annotated[int, Field(ge=1)] = 100  # posts per 24 h on X (the account's tier)
    reserve: Annotated[int, Field(ge=0)] = 20  # of the quota, kept for level ≥ 4 and earthquake alerts
    hashtags: tuple[str, ...] = ("#小山市",)
    x_api_base: str = "https://api.twitter.com"  # tests point it at a local fake
    mastodon_url: str = ""  # the instance, e.g. https://mastodon.example.jp; empty: no Mastodon
    bluesky_url: str = "https://bsky.social"


class Ticker(_Section):
    """The cable-TV ticker (L字 / 文字スーパー): one line per alert."""

    max_length: Annotated[int, Field(ge=10, le=400)] = 60  # full-width characters
    station_email: str = ""  # the station's ingest address; empty: no mail
    tcp_host: str = ""  # optional line push; empty: none
    tcp_port: int = Field(default=0, ge=0, le=65535)


class Fm(_Section):
    """Community-FM speech: a WAV per alert for the station's drop folder."""

    drop_dir: str = Field(default="var/fm", min_length=1)
    sample_rate: Annotated[int, Field(ge=8000, le=96000)] = 48_000
    chime: str = ""  # a WAV to put first; empty: a generated two-tone chime
    # Open JTalk processes: 0 is one per CPU (up to 4); 1 synthesises in a thread of the service instead
    workers: Annotated[int, Field(ge=0, le=16)] = 0
    # place names and their readings, applied before synthesis
    readings: dict[str, str] = {"小山市": "おやまし", "思川": "おもいがわ", "間々田": "ままだ"}


class Subscriptions(_Section):
    """The residents' subscription pages (subscribe, confirm, manage, unsubscribe)."""

    confirm_ttl: Positive = 86_400.0  # a confirmation link works this long (seconds)
    manage_ttl: Positive = 86_400.0  # a link to change one's settings works this long
    ip_limit: PositiveInt = 20  # form posts one client address may make per ip_period
    ip_period: Positive = 3600.0
    address_limit: PositiveInt = 3  # mails one address may be sent per address_period
    address_period: Positive = 3600.0
    # behind the city's reverse proxy the client is the last X-Forwarded-For hop; elsewhere a client could forge it
    trust_forwarded: bool = False


class Approval(_Section):
    live_min_level: Level = 3
    categories: tuple[str, ...] = ("disaster",)


class Console(_Section):
    """The duty officers' console (/console) and the API for other city systems (/api/v1)."""

    idle_timeout: Positive = 1800.0  # a session unused this long (seconds) needs a new login
    session_lifetime: Positive = 43_200.0  # and any session ends after this long: one night shift
    login_failures: PositiveInt = 5  # wrong passwords in a row before the account is locked
    lockout: Positive = 900.0  # seconds an account stays locked
    ip_login_limit: PositiveInt = 30  # login attempts one client address may make per ip_login_period
    ip_login_period: Positive = 900.0
    password_min_length: Annotated[int, Field(ge=8, le=128)] = 12
    # Secure cookies: "auto" when [city] public_url is https; set "always" behind a TLS proxy on http
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    trust_forwarded: bool = False  # take the client address from X-Forwarded-For (our own proxy only)


class Settings(_Section):
    city: City
    areas: Areas
    server: Server = Server()
    storage: Storage = Storage()
    categories: dict[str, Category]
    levels: tuple[LevelInfo, ...]
    retry: Retry = Retry()
    dispatcher: Dispatcher = Dispatcher()
    channels: dict[str, ChannelSettings]
    approval: Approval = Approval()
    console: Console = Console()
    jma: Jma = Jma()
    email: Email = Email()
    line: Line = Line()
    subscriptions: Subscriptions = Subscriptions()
    website: Website = Website()
    sns: Sns = Sns()
    ticker: Ticker = Ticker()
    fm: Fm = Fm()

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, value: tuple[LevelInfo, ...]) -> tuple[LevelInfo, ...]:
        if sorted(info.level for info in value) != [1, 2, 3, 4, 5]:
            raise ValueError("must describe each level 1 to 5 exactly once")
        return tuple(sorted(value, key=lambda info: info.level))

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        for name in self.channels:
            if name not in CHANNEL_NAMES:
                raise ValueError(f"channels.{name}: unknown channel {name!r}; valid: {', '.join(CHANNEL_NAMES)}")
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
        return self

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        """Names of the channels switched on, in config order."""
        return tuple(name for name, ch in self.channels.items() if ch.enabled)

    def path(self, configured: str) -> Path:
        """A configured path, relative ones taken from the project root."""
        p = Path(configured)
        return p if p.is_absolute() else ROOT / p


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


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


def load_settings(site: str | Path | None = None) -> Settings:
    """Load default.toml, overlay the site file (argument or BROADCASTER_CONFIG), validate."""
    data = _read_toml(DEFAULT_CONFIG)
    site = site or os.environ.get("BROADCASTER_CONFIG") or None
    if site:
        data = _merge(data, _read_toml(Path(site)))
    try:
        # JSON mode keeps strict typing (no "8080" for a port) while taking TOML arrays as tuples.
        return Settings.model_validate_json(json.dumps(data, default=str))
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
