"""`run.py jma inspect / replay / serve-samples` and the service's JMA polling, end to end.

Everything runs as real subprocesses of run.py, on a real SQLite file, with the outbox channels as
the sinks and `jma serve-samples` as the local JMA server. Input is the real JMA documents in
tests/data/jma (never edited) plus the hostile fixtures beside these tests. Processes are
awaited through their log lines and HTTP answers, never through sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import pytest

from broadcaster.settings import load_settings, municipality_code
from feeds.jma.freshness import max_age_of
from tests.feeds.test_ingest import AGELESS
from tests.feeds.tls import authority, write_server_pem
from tests.paths import JMA_SAMPLES
from tests.processes import Result, Service, child_env, free_port, query, run_cli, serving

SiteFactory = Callable[..., Path]  # the `site` fixture of conftest.py


SAMPLES = JMA_SAMPLES
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ATOM = "{http://www.w3.org/2005/Atom}"

CONTRACT_KEYS = {
    "kind", "title", "status", "info_type", "event_id", "serial", "reported_at",
    "concerns_area", "items", "level", "max_intensity", "decision", "stale", "reason", "districts", "districts_reason",
}  # fmt: skip

QUAKE = "32-35_06_03_240613_VXSE53.xml"  # 岩手・宮城内陸地震 2008: 奥州市 震度６強, 小山市 震度３
QUAKE_CANCEL = "32-35_06_06_100915_VXSE53.xml"  # the 取消 of the same EventID
QUAKE_AS_FED = "20080614084700_0_VXSE53_010000.xml"  # QUAKE under JMA's data file name (気象庁本庁)
HOSTILE_AS_FED = "20080614084600_0_VPWW53_010000.xml"  # an HTML error page under a JMA data file name

# 奥州市 (岩手県): the areas where QUAKE is 震度６強, so the default policy sends it at once on every channel
OSHU = {"city": "0321500", "forecast_area": "030000", "earthquake_region": "213", "prefecture": "03"}
DISASTER_CHANNELS = {"email", "line", "sns", "website", "ticker", "fm"}
OUTBOX_CHANNELS = {"email", "line", "sns"}  # without credentials; website, ticker and fm run for real
# one email and one LINE subscriber, so that every channel of a disaster alert delivers something
SUBSCRIBERS = (
    ("email", "resident@example.jp", "disaster", "ja", "false"),
    ("line", "U" + "0123456789abcdef" * 2, "disaster", "ja", "false"),
)
JMA_ALERT_ID = re.compile(r"alert=(jma-\d{14}-[0-9a-f]{6})")


# -- helpers -------------------------------------------------------------------------------------------


def sample(name: str) -> Path:
    """A real JMA document (or feed) from the shared samples; the tests cannot run without them."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.fail(f"the real JMA samples are missing: expected {path} (tests/data/jma is part of the repository)")
    return path


def one_json(result: Result) -> dict[str, Any]:
    """The single JSON object a command printed on one line of stdout."""
    assert result.stdout.count("\n") == 1, result.stdout
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def json_lines(result: Result) -> list[dict[str, Any]]:
    """Every stdout line, each one JSON object."""
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_no_traceback(result: Result) -> None:
    """Nothing crashed: no Python traceback in the log."""
    assert "Traceback" not in result.stderr, result.stderr


async def inspect(run_py: list[str], config: Path, file: Path, *areas: str) -> Result:
    """`run.py jma inspect FILE [--area CODE ...]`."""
    args = ["jma", "inspect", str(file), *(("--area", *areas) if areas else ())]
    return await run_cli(run_py, config, *args)


async def replay(run_py: list[str], config: Path, *files: Path) -> Result:
    """`run.py jma replay FILE...`."""
    return await run_cli(run_py, config, "jma", "replay", *map(str, files))


async def import_subscribers(run_py: list[str], config: Path) -> None:
    """Import SUBSCRIBERS through the command line."""
    csv = config.parent / "subscribers.csv"
    rows = ["channel,contact,categories,language,tester", *(",".join(row) for row in SUBSCRIBERS)]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = await run_cli(run_py, config, "subscribers", "import", str(csv))
    assert result.rc == 0, result.stderr


async def oshu_site(site: SiteFactory, run_py: list[str], jma: dict[str, Any] | None = None) -> Path:
    """A site for 奥州市 with SUBSCRIBERS imported; ``jma`` adds to its [jma] section."""
    website = {"municipality_code": municipality_code(OSHU["city"])}
    config = site({"city": {"name": "奥州市"}, "areas": OSHU, "website": website, "jma": jma or {}, **AGELESS})
    await import_subscribers(run_py, config)
    return config


def db_path(config: Path) -> Path:
    """The site's SQLite file."""
    settings = load_settings(config)
    return settings.path(settings.storage.path)


def outbox_files(config: Path, alert_id: str) -> dict[str, list[dict[str, Any]]]:
    """The finished outbox files of one alert, by channel."""
    settings = load_settings(config)
    outbox = settings.path(settings.storage.outbox_dir)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(outbox.glob(f"*/{alert_id}.*.json")):
        found.setdefault(path.parent.name, []).append(json.loads(path.read_text(encoding="utf-8")))
    return found


def stored_alert(config: Path, alert_id: str) -> dict[str, Any]:
    """One alert row: msg_type, refs, state, channels (decoded), title."""
    [(msg_type, refs, state, channels, title)] = query(
        db_path(config), "SELECT msg_type, refs, state, channels, title FROM alerts WHERE id = ?", alert_id
    )
    return {"msg_type": msg_type, "refs": refs, "state": state, "channels": set(json.loads(channels)), "title": title}


async def status(run_py: list[str], config: Path, alert_id: str) -> dict[str, Any]:
    """`run.py status ID --json`, channels keyed by name."""
    result = await run_cli(run_py, config, "status", alert_id, "--json")
    assert result.rc == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["channels"] = {c["channel"]: c for c in report["channels"]}
    return report


def assert_delivered(report: dict[str, Any], channels: set[str]) -> None:
    """Each channel sent its one delivery (one recipient or one broadcast); nothing open or failed."""
    assert set(report["channels"]) == channels
    for channel in channels:
        r = report["channels"][channel]
        assert r["counts"] == {"pending": 0, "sending": 0, "sent": 1, "failed": 0, "superseded": 0}, channel
        assert r["first_sent"] and r["last_error"] == "", channel


def assert_in_outbox(config: Path, alert_id: str, channels: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Every one of ``channels`` that has no credentials here wrote the alert to its outbox, and no other did."""
    files = outbox_files(config, alert_id)
    assert set(files) == channels & OUTBOX_CHANNELS, files.keys()
    for channel, messages in files.items():
        assert all(m["alert_id"] == alert_id and m["mode"] == "live" for m in messages), channel
    return files


def copy_as(folder: Path, source: Path, name: str, age: float) -> Path:
    """Copy ``source`` into ``folder`` as ``name``, last modified ``age`` seconds ago."""
    target = folder / name
    shutil.copyfile(source, target)
    stamp = time.time() - age
    os.utime(target, (stamp, stamp))
    return target


async def line_with(service: Service, needle: str, within: float = 60.0) -> str:
    """The first log line containing ``needle``, whether already read or still to come."""
    seen = next((line for line in service.lines if needle in line), None)
    return seen or await service.wait_for(needle, within)


@contextlib.asynccontextmanager
async def sample_server(run_py: list[str], config: Path, folder: Path) -> AsyncIterator[Service]:
    """`run.py jma serve-samples FOLDER --port P --cert … --key …` (https, the test CA's) as a subprocess, ready."""
    port = free_port()
    cert, key = write_server_pem(config.parent)
    proc = await asyncio.create_subprocess_exec(
        *run_py,
        "--config",
        str(config),
        "jma",
        "serve-samples",
        str(folder),
        "--port",
        str(port),
        "--cert",
        str(cert),
        "--key",
        str(key),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=config.parent,
        env=child_env(),
    )
    server = Service(proc, port)
    try:
        await server.wait_for(f"as JMA feeds at https://127.0.0.1:{port}/", within=30)
        yield server
    finally:
        if proc.returncode is None:
            await server.kill()


async def interrupt(server: Service) -> int:
    """SIGINT (Ctrl-C); returns the exit code once the process is gone."""
    server.proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        _, rest = await server.proc.communicate()
    server.lines.extend(rest.decode().splitlines())
    assert server.proc.returncode is not None
    return server.proc.returncode


async def http_get(url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of one GET (https trusting the test CA)."""
    tls = ssl.create_default_context()
    authority().configure_trust(tls)
    async with (
        aiohttp.ClientSession() as session,
        asyncio.timeout(20),
        session.get(url, headers=headers, ssl=tls) as resp,
    ):
        return resp.status, await resp.read(), dict(resp.headers)


def feed_links(body: bytes) -> list[str]:
    """The entry links of an Atom feed, in feed order (the feed is our own server's output)."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    links: list[str] = []
    for entry in root.iter(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        entry_id = entry.findtext(f"{ATOM}id")
        assert entry_id and link is not None and link.get("href") == entry_id  # id == link, as on JMA's feeds
        links.append(entry_id)
    return links


# -- jma inspect ---------------------------------------------------------------------------------------

# (file, --area codes or () for the configured Oyama ones, the expected values of the contract's keys)
GOLDEN: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    (
        "15_17_01_250630_VPWW55.xml",  # 2026 per-hazard document, 島根県 松江市
        ("3220100", "320000"),
        {
            "kind": "VPWW55",
            "title": "島根県大雨警報・注意報",
            "status": "通常",
            "info_type": "発表",
            "event_id": "",
            "serial": "",
            "reported_at": "2024-11-02T11:19:00+09:00",
            "concerns_area": True,
            "items": [{"code": "03", "name": "レベル３大雨警報", "status": "継続"}],
            "level": 3,
            "max_intensity": None,
            "decision": "auto",
        },
    ),
    (
        "15_17_01_250630_VPWW56.xml",
        ("3220100", "320000"),
        {"kind": "VPWW56", "items": [{"code": "29", "name": "レベル２土砂災害注意報", "status": "継続"}], "level": 2},
    ),
    (
        "15_16_02_250630_VPWW57.xml",
        ("2646500",),
        {
            "kind": "VPWW57",
            "items": [{"code": "48", "name": "レベル４高潮危険警報", "status": "発表"}],
            "level": 4,
            "decision": "auto",
        },
    ),
    (
        "17_04_01_250630_VXWW50.xml",
        ("1438400",),
        {"kind": "VXWW50", "title": "神奈川県レベル４土砂災害危険警報", "level": 4, "decision": "auto"},
    ),
    (
        "45_01_01_200522_VFVO50.xml",
        ("2032300",),
        {"kind": "VFVO50", "concerns_area": True, "decision": "approve", "level": None},
    ),
    (
        QUAKE,
        ("0321500", "213", "03"),  # 奥州市
        {
            "kind": "VXSE53",
            "title": "震源・震度情報",
            "status": "通常",
            "info_type": "発表",
            "event_id": "20080614084350",
            "serial": "1",
            "reported_at": "2008-06-14T08:47:00+09:00",
            "concerns_area": True,
            "items": [{"code": "6+", "name": "震度６強", "status": ""}],
            "level": None,
            "max_intensity": "6+",
            "decision": "auto",
        },
    ),
    (
        QUAKE,
        (),  # the configured 小山市 / 栃木県南部 / 栃木県: 小山市 felt 震度３
        {"kind": "VXSE53", "concerns_area": True, "max_intensity": "3", "level": None, "decision": "auto"},
    ),
    (
        "32-35_01_02_240613_VXSE52.xml",  # a training document
        (),
        {"kind": "VXSE52", "status": "訓練", "info_type": "発表", "concerns_area": False, "decision": "ignore"},
    ),
    (
        "32-39_12_02_250206_VTSE41.xml",  # a training tsunami warning; inland Oyama has no 津波予報区
        (),
        {"kind": "VTSE41", "status": "訓練", "concerns_area": False, "items": [], "decision": "ignore"},
    ),
    (
        QUAKE_CANCEL,  # 取消: almost no Body, so no areas
        ("0321500", "213", "03"),
        {
            "kind": "VXSE53",
            "info_type": "取消",
            "event_id": "20080614084350",
            "serial": "3",
            "reported_at": "2008-06-14T09:06:00+09:00",
            "items": [],
            "max_intensity": None,
        },
    ),
    (
        "24_09_01_100806_VPFD50.xml",  # 府県天気予報 (a 訂正): a type recognised and ignored
        (),
        {"kind": "VPFD50", "info_type": "訂正", "concerns_area": False, "items": [], "decision": "ignore"},
    ),
]


@pytest.mark.parametrize(("name", "areas", "expected"), GOLDEN, ids=[f"{g[0]}{list(g[1])}" for g in GOLDEN])
async def test_inspect_golden_table(
    site: SiteFactory, run_py: list[str], name: str, areas: tuple[str, ...], expected: dict[str, Any]
) -> None:
    result = await inspect(run_py, site(), sample(name), *areas)
    assert result.rc == 0, result.stderr
    assert_no_traceback(result)
    out = one_json(result)
    assert set(out) == CONTRACT_KEYS
    assert {key: out[key] for key in expected} == expected
    # the samples are years old: relative to now, every one of a family with a [jma.max_age] is stale
    assert out["stale"] is (max_age_of(out["kind"], load_settings().jma.max_age) is not None)
    assert isinstance(out["reason"], str) and out["reason"], out
    # no real document names a 町 of 小山市, and Oyama's districts list no towns yet: the whole city
    assert out["districts"] == [] and isinstance(out["districts_reason"], str), out
    reported = datetime.fromisoformat(out["reported_at"])
    assert reported.utcoffset() == timedelta(hours=9), out["reported_at"]
    assert out["reported_at"].endswith("+09:00")


@pytest.mark.parametrize(("name", "entries"), [("extra_l.xml", 3647), ("eqvol.xml", 25)])
async def test_inspect_an_atom_feed_counts_its_entries(
    site: SiteFactory, run_py: list[str], name: str, entries: int
) -> None:
    result = await inspect(run_py, site(), sample(name))
    assert result.rc == 0, result.stderr
    assert one_json(result) == {"feed": True, "entries": entries}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("hostile-html.xml", "HTML"),
        ("hostile-truncated.xml", "truncated"),
        ("hostile-xxe.xml", "DOCTYPE"),
        ("hostile-billion-laughs.xml", "DOCTYPE"),
        ("hostile-external-dtd.xml", "DOCTYPE"),
        ("hostile-wrong-namespace.xml", "namespace"),
    ],
)
async def test_inspect_refuses_hostile_input_with_a_json_error(
    site: SiteFactory, run_py: list[str], name: str, why: str
) -> None:
    result = await inspect(run_py, site(), FIXTURES / name)
    assert result.rc == 1, result.stderr
    assert_no_traceback(result)
    out = one_json(result)
    assert "error" in out and "kind" not in out, out
    assert why in out["error"], out


async def test_inspect_a_missing_file_is_a_usage_error(site: SiteFactory, run_py: list[str], tmp_path: Path) -> None:
    result = await inspect(run_py, site(), tmp_path / "nowhere.xml")
    assert result.rc == 2, result.stdout
    assert result.stdout == ""
    assert_no_traceback(result)
    [line] = result.stderr.splitlines()
    assert f"cannot read {tmp_path / 'nowhere.xml'}" in line


@pytest.mark.parametrize("bad", ["12345", "09208OO", "-311", "０９"])  # wrong length, letters, sign, full-width
async def test_inspect_a_bad_area_code_is_a_usage_error(site: SiteFactory, run_py: list[str], bad: str) -> None:
    result = await inspect(run_py, site(), sample(QUAKE), "0920800", bad)
    assert result.rc == 2, result.stdout
    assert result.stdout == ""
    assert "--area" in result.stderr
    assert_no_traceback(result)


# -- jma replay ----------------------------------------------------------------------------------------


async def replay_quake(site: SiteFactory, run_py: list[str]) -> tuple[Path, str]:
    """Replay QUAKE on the 奥州市 site; returns the config and the alert it made."""
    config = await oshu_site(site, run_py)
    result = await replay(run_py, config, sample(QUAKE))
    assert result.rc == 0, result.stderr
    assert_no_traceback(result)
    [line] = json_lines(result)
    assert line["file"] == QUAKE
    assert (line["kind"], line["decision"]) == ("VXSE53", "auto"), line
    assert isinstance(line["alert"], str) and line["alert"].startswith("jma-"), line
    return config, line["alert"]


async def test_replay_delivers_the_alert_to_every_channel(site: SiteFactory, run_py: list[str]) -> None:
    config, alert_id = await replay_quake(site, run_py)
    alert = stored_alert(config, alert_id)
    assert alert["msg_type"] == "alert"
    assert alert["channels"] == DISASTER_CHANNELS  # 震度5弱以上: every channel
    assert alert["title"] == "奥州市で地震"  # bare: the 震度 is the badge, added when rendered
    report = await status(run_py, config, alert_id)
    assert report["state"] == "done" and report["mode"] == "live"
    assert_delivered(report, DISASTER_CHANNELS)
    files = assert_in_outbox(config, alert_id, DISASTER_CHANNELS)
    assert "出典：気象庁" in files["sns"][0]["text"]
    assert files["sns"][0]["text"].startswith("【震度６強】奥州市で地震\n"), files["sns"][0]["text"]


async def test_replay_of_a_cancellation_cancels_the_alert(site: SiteFactory, run_py: list[str]) -> None:
    config, first = await replay_quake(site, run_py)
    result = await replay(run_py, config, sample(QUAKE_CANCEL))
    assert result.rc == 0, result.stderr
    [line] = json_lines(result)
    assert (line["file"], line["kind"], line["decision"]) == (QUAKE_CANCEL, "VXSE53", "auto"), line
    cancel = line["alert"]
    assert cancel and cancel != first
    stored = stored_alert(config, cancel)
    assert (stored["msg_type"], stored["refs"]) == ("cancel", first)
    assert stored["channels"] == DISASTER_CHANNELS  # everyone who heard the alert hears it withdrawn
    assert_delivered(await status(run_py, config, cancel), DISASTER_CHANNELS)
    assert_in_outbox(config, cancel, DISASTER_CHANNELS)
    earlier = await status(run_py, config, first)
    assert earlier["state"] == "cancelled"
    assert_delivered(earlier, DISASTER_CHANNELS)  # what went out stays on record


async def test_replayed_cancellation_says_cancelled_once(site: SiteFactory, run_py: list[str]) -> None:
    config, _ = await replay_quake(site, run_py)
    [line] = json_lines(await replay(run_py, config, sample(QUAKE_CANCEL)))
    files = outbox_files(config, line["alert"])
    assert set(files) == OUTBOX_CHANNELS
    for channel, messages in files.items():
        for message in messages:
            for field in ("subject", "text", "ticker", "speech"):
                assert "【取消】【取消】" not in message[field], (channel, field, message[field])
    # the residents' first words say it is withdrawn, once
    # a cancel carries no badge (a 震度 shown on it would read as in force); its words name the quake
    assert files["sns"][0]["text"].startswith("【取消】奥州市で地震\n"), files["sns"][0]["text"]
    assert "奥州市で地震（震度６強）" in files["sns"][0]["text"]


async def test_replay_reports_a_hostile_file_refused_and_sends_the_good_one(
    site: SiteFactory, run_py: list[str]
) -> None:
    config = await oshu_site(site, run_py)
    result = await replay(run_py, config, FIXTURES / "hostile-html.xml", sample(QUAKE))
    assert result.rc == 1, result.stderr  # one was refused
    assert_no_traceback(result)
    refused, good = json_lines(result)
    assert refused["file"] == "hostile-html.xml"
    assert (refused["kind"], refused["decision"], refused["alert"]) == (None, "refused", None)
    assert "HTML" in refused["reason"]
    assert (good["file"], good["decision"]) == (QUAKE, "auto"), good
    assert_delivered(await status(run_py, config, good["alert"]), DISASTER_CHANNELS)
    assert_in_outbox(config, good["alert"], DISASTER_CHANNELS)


# -- jma serve-samples ---------------------------------------------------------------------------------


def sample_folder(tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    """Three real documents in a folder, oldest first by mtime; returns it, extra's and eqvol's names (newest first)."""
    folder = tmp_path / "samples"
    folder.mkdir()
    copy_as(folder, sample("15_17_01_250630_VPWW55.xml"), "15_17_01_250630_VPWW55.xml", age=300)
    copy_as(folder, sample(QUAKE), QUAKE_AS_FED, age=200)
    copy_as(folder, sample("17_04_01_250630_VXWW50.xml"), "17_04_01_250630_VXWW50.xml", age=100)
    return folder, ["17_04_01_250630_VXWW50.xml", "15_17_01_250630_VPWW55.xml"], [QUAKE_AS_FED]


async def test_serve_samples_serves_feeds_with_304_and_documents_byte_identical(
    site: SiteFactory, run_py: list[str], tmp_path: Path
) -> None:
    folder, extra, eqvol = sample_folder(tmp_path)
    async with sample_server(run_py, site(), folder) as server:
        base = f"https://127.0.0.1:{server.port}"
        for feed, names in (("extra", extra), ("eqvol", eqvol)):
            status_, body, headers = await http_get(f"{base}/{feed}.xml")
            assert status_ == 200, feed
            assert headers["Content-Type"].startswith("application/atom+xml")
            assert feed_links(body) == [f"{base}/data/{name}" for name in names]  # newest first
            last_modified = headers["Last-Modified"]
            status_, body, _ = await http_get(f"{base}/{feed}.xml", **{"If-Modified-Since": last_modified})
            assert (status_, body) == (304, b""), feed
        for name in (*extra, *eqvol):
            status_, data, headers = await http_get(f"{base}/data/{name}")
            assert status_ == 200 and headers["Content-Type"].startswith("application/xml")
            assert data == (folder / name).read_bytes(), name
        status_, _, _ = await http_get(f"{base}/data/missing.xml")
        assert status_ == 404
        assert await interrupt(server) == 0  # Ctrl-C, its documented way to stop


async def test_serve_samples_stops_cleanly_on_sigterm(site: SiteFactory, run_py: list[str], tmp_path: Path) -> None:
    folder, extra, _ = sample_folder(tmp_path)
    async with sample_server(run_py, site(), folder) as server:
        status_, _, _ = await http_get(f"https://127.0.0.1:{server.port}/data/{extra[0]}")
        assert status_ == 200
        assert await server.stop() == 0, server.tail()  # SIGTERM, as a supervisor or a test harness stops it
        assert not any("Traceback" in line for line in server.lines), server.tail(40)


# -- the service polls serve-samples -------------------------------------------------------------------


async def test_service_polls_the_feeds_refuses_the_hostile_document_and_sends_the_good_one(
    site: SiteFactory, run_py: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    copy_as(folder, FIXTURES / "hostile-html.xml", HOSTILE_AS_FED, age=120)  # listed in extra.xml, fetched first
    copy_as(folder, sample(QUAKE), QUAKE_AS_FED, age=60)  # listed in eqvol.xml
    samples_config = site(name="samples.toml")
    async with sample_server(run_py, samples_config, folder) as feeds:
        base = f"https://127.0.0.1:{feeds.port}"
        config = await oshu_site(
            site, run_py, {"enabled": True, "feeds": [f"{base}/extra.xml", f"{base}/eqvol.xml"], "offices": ["010000"]}
        )
        async with serving(run_py, config) as service:
            await line_with(service, "serving on")
            refused = await line_with(service, f"jma document={base}/data/{HOSTILE_AS_FED} kind=None decision=refused")
            assert "HTML" in refused
            accepted = await line_with(service, f"jma document={base}/data/{QUAKE_AS_FED} kind=VXSE53 decision=auto")
            match = JMA_ALERT_ID.search(accepted)
            assert match, accepted
            alert_id = match.group(1)
            await line_with(service, f"alert {alert_id} done")

            status_, body, _ = await http_get(f"http://127.0.0.1:{service.port}/healthz")
            assert status_ == 200, body
            health = json.loads(body)
            assert health["status"] == "ok"
            jma = health["jma"]
            assert jma["fetched"] == 2, jma  # each document once, the hostile one included
            assert jma["last_success"] is not None, jma
            token = (
                await run_cli(run_py, config, "tokens", "add", "prometheus", "--scope", "metrics:read")
            ).stdout.strip()
            metrics_url = f"http://127.0.0.1:{service.port}/metrics"
            status_, body, _ = await http_get(metrics_url, Authorization=f"Bearer {token}")
            assert status_ == 200
            assert re.search(rb"^broadcaster_jma_fetched 2(\.0)?$", body, re.MULTILINE), body.decode()

            alert = stored_alert(config, alert_id)
            assert alert["channels"] == DISASTER_CHANNELS
            assert_in_outbox(config, alert_id, DISASTER_CHANNELS)
            assert await service.stop() == 0, service.tail()
        assert not any("Traceback" in line for line in service.lines), service.tail(40)
        assert_delivered(await status(run_py, config, alert_id), DISASTER_CHANNELS)
