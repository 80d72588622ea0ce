"""Honest health: /healthz, the start-up log's line per channel, and the dashboard's JMA feeds.

The rule (``broadcaster.health``) is tried with controllable time; the service is the whole service in
process (``make_site``): a LINE channel fails for real against the local LINE fake answering 500, and a
JMA feed fails for real (https to a port nobody listens on).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest

from broadcaster import drafts
from broadcaster.channel import RunsAs
from broadcaster.health import ChannelFacts, Status, judge
from broadcaster.metrics import Metrics
from broadcaster.models import Alert, ContactKind, Source, Subscriber
from broadcaster.settings import Health
from broadcaster.web.health import HEALTH
from tests.console import conftest as console
from tests.console.conftest import ConsoleSite, SiteMaker
from tests.fakes.line import TOKEN, FakeLine, Fault, serve
from tests.processes import free_port

CONF = Health(feed_failing_after=300.0, channel_failures=3)
T0 = 1_800_000_000.0
SECRET_VALUES = ("smtp-user-must-not-leak", "smtp-password-must-not-leak")
LINE_TESTER = "U" + "0123456789abcdef" * 2
ENABLED = ("email", "line", "sns", "website", "ticker", "fm")
# the whole service in process, as the console's tests start it
console_settings, make_site, console_site = console.console_settings, console.make_site, console.console_site


@dataclass(frozen=True)
class Feed:
    """A feed's state as a source reports it."""

    url: str = "https://www.data.jma.go.jp/developer/xml/feed/extra.xml"
    last_success: float | None = T0 - 3600
    last_failure: float | None = None
    failing_since: float | None = None
    failures: int = 0


def channel(
    name: str = "email", runs_as: RunsAs = RunsAs.REAL, configured: tuple[str, ...] = (), failed: int = 0
) -> ChannelFacts:
    reason = "no [email] host configured" if runs_as == RunsAs.OUTBOX else ""
    return ChannelFacts(name, runs_as, "somewhere", configured, reason, failed)


# -- the rule ------------------------------------------------------------------------------------


def test_an_outbox_nobody_configured_is_healthy_and_a_configured_one_is_not() -> None:
    unconfigured = judge([channel(runs_as=RunsAs.OUTBOX)], [], T0, CONF)
    assert (unconfigured.status, unconfigured.reasons) == (Status.OK, ())
    configured = judge([channel(runs_as=RunsAs.OUTBOX, configured=("[email] host",))], [], T0, CONF)
    assert configured.status == Status.DEGRADED
    (reason,) = configured.reasons
    assert reason == "channel email runs as the outbox although [email] host is set: no [email] host configured"
    assert not configured.channels["email"][1].ok


def test_a_channel_fails_after_channel_failures_sends_in_a_row_and_recovers_with_one_good_send() -> None:
    assert judge([channel(failed=2)], [], T0, CONF).status == Status.OK
    failing = judge([channel(failed=3)], [], T0, CONF)
    assert failing.status == Status.DEGRADED
    assert failing.reasons == ("channel email is failing: its last 3 sends failed",)
    assert judge([channel(failed=0)], [], T0, CONF).status == Status.OK


def test_only_the_live_sinks_sends_say_whether_a_channel_is_failing() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_send("sns", 0.1, "retry", True)  # the real X refuses
    metrics.observe_send("sns", 0.0, "sent", False)  # an exercise written to the outbox meanwhile
    assert metrics.failed("sns") == 3
    metrics.observe_send("sns", 0.1, "sent", True)
    assert metrics.failed("sns") == 0


def test_a_feed_is_unhealthy_only_once_it_has_failed_for_longer_than_feed_failing_after() -> None:
    failing = Feed(last_failure=T0, failing_since=T0 - 300, failures=4)
    assert judge([], [failing], T0, CONF).status == Status.OK  # exactly 5 minutes: not yet
    later = judge([], [failing], T0 + 1, CONF)
    assert later.status == Status.DEGRADED
    (reason,) = later.reasons
    assert reason.startswith(f"JMA feed {failing.url} has failed for 5 min") and "4 reads in a row" in reason
    recovered = Feed(last_success=T0 + 60, last_failure=T0, failing_since=None, failures=0)
    assert judge([], [recovered], T0 + 3600, CONF).status == Status.OK


# -- the service ---------------------------------------------------------------------------------


async def healthz(site: ConsoleSite) -> dict[str, Any]:
    """GET /healthz, which must answer 200 while the service serves."""
    client = (await site.anonymous()).client
    async with client.get("/healthz") as response:
        text = await response.text()
        assert response.status == 200, text
    assert not any(value in text for value in SECRET_VALUES)
    body: dict[str, Any] = json.loads(text)
    return body


def startup_lines(caplog: pytest.LogCaptureFixture) -> dict[str, logging.LogRecord]:
    """Channel name -> its start-up line."""
    found = {}
    for record in caplog.records:
        match = re.match(r"channel (\w+) runs as ", record.getMessage())
        if record.name == "broadcaster.service" and match:
            assert match[1] not in found, f"two start-up lines for {match[1]}"
            found[match[1]] = record
    return found


async def test_healthz_is_ok_when_every_channel_nobody_configured_runs_as_the_outbox(
    make_site: SiteMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.service")
    site = await make_site()
    health = await healthz(site)
    assert (health["status"], health["reasons"]) == ("ok", [])
    assert {name: c["runs_as"] for name, c in health["channels"].items()} == {
        "email": "outbox",  # no [email] host
        "line": "outbox",  # no LINE_CHANNEL_ACCESS_TOKEN
        "sns": "outbox",  # no X credentials
        "website": "real",
        "ticker": "real",
        "fm": "real",
    }
    assert all(c["ok"] and c["reason"] is None for c in health["channels"].values())
    assert health["feeds"] == {}  # [jma] enabled = false

    lines = startup_lines(caplog)
    assert set(lines) == set(ENABLED)
    outbox = site.settings.path(site.settings.storage.outbox_dir)
    assert (
        lines["email"].getMessage() == f"channel email runs as outbox {outbox / 'email'} (no [email] host configured)"
    )
    assert lines["line"].getMessage().endswith("(LINE_CHANNEL_ACCESS_TOKEN is not set)")
    assert lines["website"].getMessage() == f"channel website runs as public pages at {site.settings.city.public_url}"
    drop = site.settings.path(site.settings.fm.drop_dir)
    assert lines["fm"].getMessage() == f"channel fm runs as WAV files in {drop}"
    assert lines["fm"].levelno == logging.INFO and lines["email"].levelno == logging.WARNING


async def test_healthz_is_degraded_when_email_has_a_relay_but_no_signing_key_and_runs_as_the_outbox(
    make_site: SiteMaker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.service")
    monkeypatch.setenv("SMTP_USERNAME", SECRET_VALUES[0])
    monkeypatch.setenv("SMTP_PASSWORD", SECRET_VALUES[1])
    site = await make_site({"email": {"host": "127.0.0.1", "port": free_port()}})  # no BROADCASTER_SECRET_KEY
    health = await healthz(site)
    assert health["status"] == "degraded"
    (reason,) = health["reasons"]
    assert reason.startswith("channel email runs as the outbox although [email] host, SMTP_USERNAME and")
    assert "BROADCASTER_SECRET_KEY is not set" in reason
    email = health["channels"]["email"]
    assert (email["runs_as"], email["ok"], email["reason"]) == ("outbox", False, reason)
    assert health["channels"]["line"]["ok"]  # LINE is not configured: its outbox is what the site asked for

    line = startup_lines(caplog)["email"]
    assert line.levelno == logging.WARNING and "BROADCASTER_SECRET_KEY is not set" in line.getMessage()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(value in logged for value in SECRET_VALUES)


async def test_the_start_up_log_names_the_relay_a_configured_email_channel_sends_through(
    make_site: SiteMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.service")
    port = free_port()
    site = await make_site({"email": {"host": "127.0.0.1", "port": port, "tls": "none"}}, secret=True)
    line = startup_lines(caplog)["email"]
    assert (line.getMessage(), line.levelno) == (f"channel email runs as smtp relay 127.0.0.1:{port}", logging.INFO)
    health = await healthz(site)
    assert health["status"] == "ok" and health["channels"]["email"]["runs_as"] == "real"  # no send has failed yet


async def exercise(site: ConsoleSite, title: str) -> Alert:
    """An exercise alert on every disaster channel, delivered (LINE reaches its tester for real)."""
    draft = drafts.parse({"category": "disaster", "level": 3, "title": title, "body": "訓練です。", "mode": "exercise"})
    alert = drafts.build(site.settings, draft, "sato", Source.STAFF)
    await site.store.create_alert(alert, "sato", "test")
    assert await site.core.dispatcher.approve(alert.id, "sato", "test")
    return await site.settled(alert.id)


async def test_healthz_is_degraded_while_a_channel_fails_and_ok_again_after_it_recovers(
    make_site: SiteMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLine()
    async with serve(fake) as url:
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", TOKEN)
        site = await make_site({"line": {"api_host": url}, "retry": {"max_attempts": 3}})
        await site.store.save_subscriber(
            Subscriber(0, ContactKind.LINE, LINE_TESTER, frozenset({"disaster"}), tester=True)
        )
        health = await healthz(site)
        assert health["status"] == "ok" and health["channels"]["line"]["runs_as"] == "real"

        fake.inject(Fault.ERROR, times=3)  # every attempt of the first alert: LINE answers 500
        await exercise(site, "訓練 LINE 障害中")
        health = await healthz(site)
        assert health["status"] == "degraded"
        assert health["reasons"] == ["channel line is failing: its last 3 sends failed"]
        line = health["channels"]["line"]
        assert (line["ok"], line["failed_in_a_row"]) == (False, 3)
        assert LINE_TESTER not in json.dumps(health)

        await exercise(site, "訓練 LINE 復旧後")  # LINE answers again
        health = await healthz(site)
        assert (health["status"], health["reasons"]) == ("ok", [])
        assert health["channels"]["line"]["failed_in_a_row"] == 0


def jma_site(threshold: float | None = None) -> dict[str, dict[str, Any]]:
    """Sections for a service polling one JMA feed that cannot be read: nothing listens on its port."""
    feed = f"https://127.0.0.1:{free_port()}/developer/xml/feed/extra.xml"
    sections: dict[str, dict[str, Any]] = {
        "jma": {"enabled": True, "feeds": [feed], "allowed_hosts": ["127.0.0.1"], "timeout": 5.0}
    }
    if threshold is not None:
        sections["health"] = {"feed_failing_after": threshold}
    return sections


async def failed_once(site: ConsoleSite) -> Any:
    """The feed's state once the poller has failed to read it at least once."""
    poller = site.core.poller
    assert poller is not None
    await poller.poll_once()  # waits for a round already running; a feed in backoff is not read again
    (feed,) = poller.health().feeds
    assert feed.failures >= 1 and feed.failing_since is not None and feed.last_failure is not None
    return feed


async def test_a_jma_feed_failing_for_less_than_feed_failing_after_is_shown_but_not_yet_degraded(
    make_site: SiteMaker,
) -> None:
    site = await make_site(jma_site())
    feed = await failed_once(site)
    health = await healthz(site)
    assert health["status"] == "ok"
    shown = health["feeds"][feed.url]
    assert shown["ok"] and shown["failures"] >= 1 and shown["failing_since"] == feed.failing_since

    # the same feed, the same poller, judged 5 minutes on
    watch = site.app[HEALTH]
    assert watch.report(now=feed.failing_since + 300.0).status == Status.OK
    later = watch.report(now=feed.failing_since + 301.0)
    assert later.status == Status.DEGRADED
    assert later.reasons[0].startswith(f"JMA feed {feed.url} has failed for 5 min")

    browser = await site.browser("sato")
    page = (await browser.get("/console/dashboard")).text
    row = re.search(rf'<tr class="feed" data-feed="{re.escape(feed.url)}">(.*?)</tr>', page, re.DOTALL)
    assert row, "the feed is not on the dashboard"
    assert "随時（警報・注意報など）" in row[1] and "失敗（再試行待ち）" in row[1]
    assert time.strftime("%Y-%m-%d", time.gmtime(feed.failing_since + 9 * 3600)) in row[1]  # its times, in JST


async def test_a_jma_feed_failing_for_longer_than_feed_failing_after_degrades_the_service(
    make_site: SiteMaker,
) -> None:
    threshold = 0.05
    site = await make_site(jma_site(threshold))
    feed = await failed_once(site)
    await asyncio.sleep(feed.failing_since + 2 * threshold - time.time())  # let the threshold pass
    health = await healthz(site)
    assert health["status"] == "degraded"
    (reason,) = health["reasons"]
    assert reason.startswith(f"JMA feed {feed.url} has failed for") and not health["feeds"][feed.url]["ok"]

    browser = await site.browser("sato")
    page = (await browser.get("/console/dashboard")).text
    row = re.search(rf'<tr class="feed failing" data-feed="{re.escape(feed.url)}">(.*?)</tr>', page, re.DOTALL)
    assert row and "失敗中" in row[1], "the failing feed is not shown failing on the dashboard"
    assert "気象庁防災情報XMLの受信状態" in page


async def test_the_dashboard_says_when_jma_is_not_polled(console_site: ConsoleSite) -> None:
    browser = await console_site.browser("sato")
    page = (await browser.get("/console/dashboard")).text
    assert "気象庁の情報は受信していません" in page
