"""`run.py send` end to end: real subprocesses, a real SQLite file, the outbox channel as the sink.

Each test writes a site config into its own temporary folder, imports a handful of subscribers
through `run.py subscribers import`, and then drives `send`, `status` and `serve` as an operator
would. Services are awaited through their log lines, never through sleeps.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcaster.cli.main import main
from broadcaster.data_key import DataKey
from broadcaster.settings import load_settings
from broadcaster.store.sqlite import SQLiteStore
from tests.conftest import TEST_DATA_KEY
from tests.processes import Result, query, run_cli, serving

SiteFactory = Callable[..., Path]  # the `site` fixture of conftest.py

ALERT_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
PUBLIC_CHANNELS = ("sns", "website", "ticker", "fm")  # the disaster category's channels beyond email and LINE
OUTBOX_CHANNELS = ("email", "line", "sns")  # those that run as the outbox without credentials
EXERCISE_PREFIX = "【訓練】"
BODY = "川の水位が上がっています。"
CLI_TIMEOUT = 60.0

# (channel, contact, categories, language, tester); the disaster audience is 3 email + 2 LINE, 1 + 1 testers
SUBSCRIBERS = (
    ("email", "a1@example.jp", "disaster", "ja", "true"),
    ("email", "a2@example.jp", "disaster crime", "en", "false"),
    ("email", "a3@example.jp", "crime", "ja", "false"),
    ("email", "a4@example.jp", "disaster health", "ja", "false"),
    ("line", "U" + "0123456789abcdef" * 2, "disaster", "ja", "false"),
    ("line", "U" + "fedcba9876543210" * 2, "disaster health", "ja", "true"),
    ("line", "U" + "00ff" * 8, "childcare", "ja", "true"),
)


@dataclass
class Site:
    """A configured site with subscribers imported: where things live and who subscribed."""

    config: Path
    db: Path
    outbox: Path
    ids: dict[str, str] = field(default_factory=dict)  # contact -> subscriber id (as the outbox writes it)

    def audience(self, channel: str, *, testers_only: bool = False) -> set[str]:
        """Subscriber ids of ``channel`` subscribed to disaster (testers only when asked)."""
        return {
            self.ids[contact]
            for ch, contact, cats, _, tester in SUBSCRIBERS
            if ch == channel and "disaster" in cats.split() and (tester == "true" or not testers_only)
        }

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the database file directly, read-only."""
        return query(self.db, sql, *args)


async def http_get(port: int, path: str, token: str = "") -> tuple[int, str]:
    """GET a path of the service; call after its "serving on" line, which it logs once it listens."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        asyncio.timeout(20),
        session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as resp,
    ):
        return resp.status, await resp.text()


@pytest.fixture
async def city(tmp_path: Path, site: SiteFactory, run_py: list[str]) -> Site:
    """A site with the SUBSCRIBERS imported through the command line; live alerts below 5 need no approver."""
    # the city's own address (From: in the mail the outbox records) on another domain than the
    # subscribers': any "@example.jp" in the outbox is a contact that leaked
    sender = {"sender": "小山市 安全安心メール <anshin@city.example>"}
    config = site({"approval": {"live_min_level": 5, "categories": []}, "email": sender})
    settings = load_settings(config)
    csv = tmp_path / "subscribers.csv"
    rows = ["channel,contact,categories,language,tester", *(",".join(row) for row in SUBSCRIBERS)]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = await run_cli(run_py, config, "subscribers", "import", str(csv), cwd=tmp_path)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"imported {len(SUBSCRIBERS)} subscriber(s)"
    city = Site(config, settings.path(settings.storage.path), settings.path(settings.storage.outbox_dir))
    key = DataKey.parse(TEST_DATA_KEY)  # contacts are stored sealed
    rows = city.query("SELECT id, channel, contact FROM subscribers")
    city.ids = {key.open(channel, sealed): str(sid) for sid, channel, sealed in rows}
    assert len(city.ids) == len(SUBSCRIBERS)
    return city


async def send(run_py: list[str], city: Site, *extra: str, title: str = "避難指示", level: str = "4") -> Result:
    """`run.py send` of a disaster alert with ``extra`` options."""
    args = ["send", "--category", "disaster", "--level", level, "--title", title, "--body", BODY]
    return await run_cli(run_py, city.config, *args, *extra, cwd=city.config.parent)


def sent_id(result: Result) -> str:
    """The alert id `send` printed: exactly one line on stdout, nothing else."""
    assert result.rc == 0, result.stderr
    assert ALERT_ID.fullmatch(result.stdout.rstrip("\n")), result.stdout
    assert result.stdout.count("\n") == 1
    return result.stdout.strip()


async def status(run_py: list[str], city: Site, alert_id: str) -> dict[str, Any]:
    """`run.py status ID --json`, parsed; channels keyed by name."""
    result = await run_cli(run_py, city.config, "status", alert_id, "--json", cwd=city.config.parent)
    assert result.rc == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["channels"] = {c["channel"]: c for c in report["channels"]}
    return report


def outbox_files(city: Site, channel: str) -> list[dict[str, Any]]:
    """Every finished outbox file of ``channel`` (``*.tmp`` leftovers are not messages)."""
    folder = city.outbox / channel
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def all_outbox_bytes(city: Site) -> Iterator[tuple[Path, str]]:
    """Every file under the outbox, as text."""
    if city.outbox.exists():
        for path in city.outbox.rglob("*"):
            if path.is_file():
                yield path, path.read_text(encoding="utf-8", errors="replace")


def assert_recipients(files: list[dict[str, Any]], expected: set[str]) -> None:
    """The files together reach exactly ``expected``, each recipient once."""
    seen = [r for f in files for r in f["recipients"]]
    assert sorted(seen) == sorted(expected)


def assert_all_sent(report: dict[str, Any], expected: dict[str, int]) -> None:
    """Every channel of the report sent exactly its expected count and left nothing open or failed."""
    assert report["state"] == "done"
    assert set(report["channels"]) == set(expected)
    for channel, n in expected.items():
        r = report["channels"][channel]
        assert r["counts"] == {"pending": 0, "sending": 0, "sent": n, "failed": 0, "superseded": 0}, channel
        assert r["first_sent"] and r["last_sent"], channel
        assert r["latency_p50_s"] is not None and r["latency_p50_s"] >= 0, channel
        assert r["latency_p95_s"] is not None and r["latency_p95_s"] >= r["latency_p50_s"], channel
        assert r["last_error"] == "", channel


def assert_nothing_stored(city: Site) -> None:
    """No alert, no delivery row, no outbox file."""
    assert city.query("SELECT count(*) FROM alerts") == [(0,)]
    assert city.query("SELECT count(*) FROM deliveries") == [(0,)]
    assert city.query("SELECT count(*) FROM audit WHERE action IN ('create', 'approve')") == [(0,)]
    assert list(all_outbox_bytes(city)) == []


def expected_live(city: Site) -> dict[str, int]:
    """What a live disaster alert sends per channel."""
    public = dict.fromkeys(PUBLIC_CHANNELS, 1)
    return {"email": len(city.audience("email")), "line": len(city.audience("line")), **public}


async def test_send_writes_the_outbox_and_status_reports_it_sent(run_py: list[str], city: Site) -> None:
    result = await send(run_py, city, "--yes")
    alert_id = sent_id(result)
    contacts = [c for _, c, *_ in SUBSCRIBERS]
    assert not [c for c in contacts if c in result.stderr], "personal data in the log"

    for channel in OUTBOX_CHANNELS:
        files = outbox_files(city, channel)
        assert files, f"no outbox file for {channel}"
        for f in files:
            assert f["alert_id"] == alert_id
            assert f["channel"] == channel
            assert f["mode"] == "live"
            assert f["lang"] in load_settings(city.config).city.languages
            assert {"subject", "text", "html", "ticker", "speech", "recipients"} <= f.keys()
            assert not any(f[part].startswith(EXERCISE_PREFIX) for part in ("subject", "text", "ticker"))
        # one file per send() call, and the service logs one line per call
        call = rf"delivery alert={alert_id} channel={channel} .*recipients=(\d+) .*outcome=sent"
        calls = re.findall(call, result.stderr)
        assert sorted(int(n) for n in calls) == sorted(len(f["recipients"]) for f in files), channel
        if channel in ("email", "line"):
            assert_recipients(files, city.audience(channel))
        else:
            assert len(files) == 1 and files[0]["recipients"] == ["*"], channel
    email = next(f for f in outbox_files(city, "email") if f["lang"] == "ja")
    assert "避難指示" in email["subject"] and BODY in email["text"]
    # fm, ticker and website need no credentials: they ran for real
    drop = city.config.parent / "var" / "fm"
    assert BODY in (drop / f"{alert_id}.txt").read_text(encoding="utf-8")
    assert (drop / f"{alert_id}.wav").read_bytes()[:4] == b"RIFF"

    # the outbox holds subscriber ids, never a copy of the contact list
    for path, text in all_outbox_bytes(city):
        assert path.name.startswith(alert_id)
        assert not [c for c in contacts if c in text], f"a contact leaked into {path.name}"
        assert "@example.jp" not in text

    report = await status(run_py, city, alert_id)
    assert report["alert"] == alert_id and report["mode"] == "live" and report["title"] == "避難指示"
    assert_all_sent(report, expected_live(city))


async def test_unknown_category_exits_2_naming_the_valid_ones(run_py: list[str], city: Site) -> None:
    args = ["send", "--category", "tsunami", "--level", "4", "--title", "t", "--body", "b", "--yes"]
    result = await run_cli(run_py, city.config, *args, cwd=city.config.parent)
    assert result.rc == 2
    assert result.stdout == ""
    assert "category: unknown 'tsunami'" in result.stderr
    for name in load_settings(city.config).categories:
        assert name in result.stderr
    assert_nothing_stored(city)


async def test_unknown_channel_exits_2_naming_the_valid_ones(run_py: list[str], city: Site) -> None:
    result = await send(run_py, city, "--yes", "--channels", "email,pager")
    assert result.rc == 2
    assert result.stdout == ""
    assert "pager" in result.stderr
    valid = result.stderr.split("valid:", 1)[1]
    for name in load_settings(city.config).enabled_channels:
        assert name in valid
    assert_nothing_stored(city)


async def test_live_alert_without_yes_and_without_a_terminal_is_refused(run_py: list[str], city: Site) -> None:
    result = await send(run_py, city)
    assert result.rc == 2
    assert result.stdout == ""
    assert "--yes" in result.stderr
    # the confirmation shows what would have gone out, counts but not contacts
    assert "email (3 recipients)" in result.stderr and "line (2 recipients)" in result.stderr
    assert "@example.jp" not in result.stderr
    assert_nothing_stored(city)


async def test_exercise_reaches_testers_and_marks_every_public_message(run_py: list[str], city: Site) -> None:
    result = await send(run_py, city, "--exercise", title="訓練用の避難指示")  # no --yes: an exercise needs none
    alert_id = sent_id(result)

    assert_recipients(outbox_files(city, "email"), city.audience("email", testers_only=True))
    assert_recipients(outbox_files(city, "line"), city.audience("line", testers_only=True))
    for channel in (*OUTBOX_CHANNELS, "website", "ticker", "fm"):  # exercises: public channels write the outbox
        files = outbox_files(city, channel)
        assert files, channel
        for f in files:
            assert f["alert_id"] == alert_id and f["mode"] == "exercise", channel
            for part in ("subject", "text", "ticker"):
                assert f[part] == "" or f[part].startswith(EXERCISE_PREFIX), (channel, part, f[part])
            if f["speech"]:
                assert "訓練" in f["speech"], channel
    for channel in ("sns", "website", "ticker"):
        (f,) = outbox_files(city, channel)
        assert f["recipients"] == ["*"]
        assert f["text"].startswith(EXERCISE_PREFIX) or f["ticker"].startswith(EXERCISE_PREFIX), channel
    (email_file,) = outbox_files(city, "email")
    assert email_file["subject"].startswith(EXERCISE_PREFIX) and email_file["text"].startswith(EXERCISE_PREFIX)

    report = await status(run_py, city, alert_id)
    assert report["mode"] == "exercise"
    assert_all_sent(report, {"email": 1, "line": 1, **dict.fromkeys(PUBLIC_CHANNELS, 1)})


async def test_status_of_an_unknown_alert_exits_2(run_py: list[str], city: Site) -> None:
    result = await run_cli(run_py, city.config, "status", "20990101-000000-abcdef", "--json", cwd=city.config.parent)
    assert result.rc == 2
    assert result.stdout == ""
    assert "no alert '20990101-000000-abcdef'" in result.stderr


async def test_no_wait_leaves_rows_pending_until_serve_delivers_them(run_py: list[str], city: Site) -> None:
    result = await send(run_py, city, "--yes", "--no-wait")
    alert_id = sent_id(result)
    assert "no service is running" in result.stderr
    expected = expected_live(city)

    before = await status(run_py, city, alert_id)
    assert before["state"] == "approved"
    for channel, n in expected.items():
        assert before["channels"][channel]["counts"]["pending"] == n, channel
        assert before["channels"][channel]["counts"]["sent"] == 0, channel
    assert list(all_outbox_bytes(city)) == []

    async with serving(run_py, city.config) as service:
        await service.wait_for(f"alert {alert_id} done")
        assert await service.stop() == 0, service.tail()
    assert any("shutting down" in line for line in service.lines)

    assert_all_sent(await status(run_py, city, alert_id), expected)
    assert_recipients(outbox_files(city, "email"), city.audience("email"))
    assert_recipients(outbox_files(city, "line"), city.audience("line"))


async def test_send_wakes_the_running_service_which_delivers(run_py: list[str], city: Site) -> None:
    async with serving(run_py, city.config) as service:
        await service.wait_for("serving on")
        result = await send(run_py, city, "--yes")
        alert_id = sent_id(result)
        assert "the running service delivers it" in result.stderr
        await service.wait_for(f"alert {alert_id} done")

        code, body = await http_get(service.port, "/healthz")
        assert code == 200
        health = json.loads(body)
        assert health["status"] == "ok"
        assert set(health["channels"]) == set(expected_live(city))

        assert (await http_get(service.port, "/metrics"))[0] == 401  # Prometheus scrapes with a token
        made = await run_cli(run_py, city.config, "tokens", "add", "prometheus", "--scope", "metrics:read")
        assert made.rc == 0, made.stderr
        code, metrics = await http_get(service.port, "/metrics", made.stdout.strip())
        assert code == 200
        value = re.search(r'^broadcaster_deliveries\{channel="email",state="sent"\} (\S+)$', metrics, re.MULTILINE)
        assert value is not None, metrics[:2000]
        assert float(value[1]) == len(city.audience("email"))
        pending = re.search(r'^broadcaster_queue_depth\{channel="email"\} (\S+)$', metrics, re.MULTILINE)
        assert pending is not None and float(pending[1]) == 0

        assert await service.stop() == 0, service.tail()

    assert_all_sent(await status(run_py, city, alert_id), expected_live(city))
    assert_recipients(outbox_files(city, "email"), city.audience("email"))
    log = "\n".join(service.lines)
    assert not [c for _, c, *_ in SUBSCRIBERS if c in log], "personal data in the service log"


async def test_serve_logs_the_address_it_listens_on(run_py: list[str], city: Site) -> None:
    """An operator who starts `serve --port P` must read P in the log, not the config file's port."""
    async with serving(run_py, city.config) as service:
        line = await service.wait_for("serving on")
        assert f"http://127.0.0.1:{service.port}" in line, line
        code, body = await http_get(service.port, "/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        assert await service.stop() == 0


async def test_a_live_alert_the_policy_names_waits_for_an_approver_instead_of_going_out(
    run_py: list[str], site: SiteFactory
) -> None:
    config = site()  # the default policy: live 防災 alerts, and any at level 3 or above, need a second person
    args = ["send", "--category", "disaster", "--level", "4", "--title", "避難指示", "--body", BODY, "--yes"]
    result = await run_cli(run_py, config, *args)
    assert result.rc == 0, result.stderr
    alert_id = result.stdout.strip()
    assert "waits for a second person's approval" in result.stderr and f"/console/alerts/{alert_id}" in result.stderr
    db = load_settings(config).path(load_settings(config).storage.path)
    rows = query(db, "SELECT state, requested_by = created_by FROM alerts WHERE id = ?", alert_id)
    assert rows == [("pending_approval", 1)]  # asked for by whoever ran it, who may not approve it
    assert query(db, "SELECT count(*) FROM deliveries WHERE alert_id = ?", alert_id) == [(0,)]


# -- send --districts, in process (broadcaster.cli.main.main) -----------------------------------

# (channel, contact, districts chosen); all subscribe to disaster, none is a tester
RESIDENTS = (
    ("email", "east@example.jp", "east"),
    ("email", "both@example.jp", "east west"),
    ("email", "south@example.jp", "south"),
    ("email", "city@example.jp", ""),
    ("line", "U" + "0123456789abcdef" * 2, "west"),
    ("line", "U" + "fedcba9876543210" * 2, "north"),
    ("line", "U" + "00ff" * 8, ""),
)


@dataclass
class DistrictSite:
    """A site with the example districts, RESIDENTS imported, and live alerts free of the second person."""

    config: Path
    db: Path
    ids: dict[str, int]  # contact -> subscriber id

    def send(self, *args: str) -> int:
        """`run.py send` of a live disaster alert on email and LINE, in this process."""
        fields = ["--category", "disaster", "--level", "4", "--title", "避難指示", "--body", BODY]
        return main(["--config", str(self.config), "send", *fields, "--channels", "email,line", "--no-wait", *args])

    def reached(self, alert_id: str) -> dict[str, set[int]]:
        """The recipients of the alert's delivery rows, by channel."""
        found: dict[str, set[int]] = {"email": set(), "line": set()}
        for channel, recipient in query(
            self.db, "SELECT channel, recipient FROM deliveries WHERE alert_id = ?", alert_id
        ):
            found[channel].add(recipient)
        return found

    def chose(self, *wanted: str) -> dict[str, set[int]]:
        """Subscriber ids by channel of those who chose the whole city or one of ``wanted``."""
        found: dict[str, set[int]] = {"email": set(), "line": set()}
        for channel, contact, chosen in RESIDENTS:
            if not chosen or set(chosen.split()) & set(wanted):
                found[channel].add(self.ids[contact])
        return found


async def _ids(db: Path) -> dict[str, int]:
    store = await SQLiteStore.open(db)
    try:
        found: dict[str, int] = {}
        await store.export_subscribers(lambda batch: found.update((s.contact, s.id) for s in batch))
        return found
    finally:
        await store.aclose()


@pytest.fixture
def district_site(site: SiteFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> DistrictSite:
    config = site({"approval": {"live_min_level": 5, "categories": []}}, districts=True)
    csv = tmp_path / "residents.csv"
    rows = [f"{channel},{contact},disaster,ja,active,false,{chosen}" for channel, contact, chosen in RESIDENTS]
    csv.write_text("\n".join(["channel,contact,categories,language,state,tester,districts", *rows]) + "\n", "utf-8")
    assert main(["--config", str(config), "subscribers", "import", str(csv)]) == 0
    capsys.readouterr()
    settings = load_settings(config)
    db = settings.path(settings.storage.path)
    return DistrictSite(config, db, asyncio.run(_ids(db)))


def test_send_to_districts_plans_only_their_residents_and_the_whole_citys(
    district_site: DistrictSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert district_site.send("--districts", "west, east", "--yes") == 0
    alert_id = capsys.readouterr().out.strip()
    assert ALERT_ID.fullmatch(alert_id)
    assert district_site.reached(alert_id) == district_site.chose("east", "west")
    # stored in config order, whatever order the flag gave
    assert query(district_site.db, "SELECT districts FROM alerts WHERE id = ?", alert_id) == [('["east", "west"]',)]

    assert district_site.send("--yes") == 0  # no --districts: the whole city, everyone
    everyone = capsys.readouterr().out.strip()
    assert district_site.reached(everyone) == district_site.chose("east", "west", "south", "north")


def test_an_unknown_district_exits_2_naming_the_valid_ones_and_stores_nothing(
    district_site: DistrictSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert district_site.send("--districts", "east,nowhere", "--yes") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: districts: unknown district nowhere; valid: east, west, south, north\n"
    assert query(district_site.db, "SELECT count(*) FROM alerts") == [(0,)]
    assert query(district_site.db, "SELECT count(*) FROM audit WHERE action IN ('create', 'approve')") == [(0,)]


class Terminal(io.StringIO):
    """Standard input as a terminal where the officer types ``text``."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flag", "where", "reach"),
    [
        (["--districts", "south,east"], "東部地区、南部地区", "email (4 recipients), line (1 recipients)"),
        ([], "市内全域 (the whole city)", "email (4 recipients), line (3 recipients)"),
    ],
    ids=["districts", "whole-city"],
)
def test_the_live_confirmation_names_the_places_in_words(
    district_site: DistrictSite,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    where: str,
    reach: str,
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    assert district_site.send(*flag) == 2  # not confirmed: nothing stored
    err = capsys.readouterr().err
    assert err.splitlines()[1:3] == [f"  where: {where}", f"  channels: {reach}"]  # reach: the districts' residents
    assert "east" not in err and "south" not in err  # ids are for the flag; the officer reads names
    assert err.splitlines()[-1] == "error: not confirmed; nothing was stored"
    assert query(district_site.db, "SELECT count(*) FROM alerts") == [(0,)]
