"""Crash safety: SIGKILL the service in the middle of a 10,000-recipient fan-out, restart it, lose nothing.

The durable outbox promises at-least-once delivery: rows claimed by the killed process are claimed
again after the restart, so a recipient may get the message twice, but only recipients whose rows
were in flight (claimed, not yet recorded) when the process died. With `claim_size` rows per claim
and `inflight_chunks` claims at once, that window is at most claim_size × inflight_chunks rows.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.settings import load_settings
from tests.processes import query, run_cli, serving

SiteFactory = Callable[..., Path]  # the `site` fixture of conftest.py

SUBSCRIBERS = 10_000
KILL_AFTER = 1_050  # recipients reported sent before the SIGKILL; not a multiple of CLAIM_SIZE: mid-chunk
CLAIM_SIZE, INFLIGHT_CHUNKS = 100, 2
WINDOW = CLAIM_SIZE * INFLIGHT_CHUNKS  # rows a worker holds unrecorded at any moment
# 10 recipients per send(), 200 send() calls/s: ~2,000 recipients/s, so the fan-out takes about 5 s
SITE = {
    "channels.email": {"batch_size": 10, "concurrency": 4, "rate_per_s": 200.0, "burst": 10},
    "dispatcher": {"claim_size": CLAIM_SIZE, "inflight_chunks": INFLIGHT_CHUNKS},
    "approval": {"live_min_level": 5, "categories": []},  # the level-4 alert goes out without a second person
    "fm": {"workers": 2},  # Open JTalk's worker processes must die with the SIGKILLed service, not linger
}
SENT_LINE = re.compile(r"channel=email .*recipients=(\d+) .*outcome=sent")
RECOVERED_LINE = re.compile(r"recovered (\d+) deliveries")


def delivery_states(db: Path, alert_id: str) -> tuple[Counter[str], Counter[str]]:
    """(rows by state, the delivery_counts table's view of the same) for the alert."""
    by_state = "SELECT state, count(*) FROM deliveries WHERE alert_id = ? GROUP BY state"
    rows = Counter(dict(query(db, by_state, alert_id)))
    counted = Counter(dict(query(db, "SELECT state, n FROM delivery_counts WHERE alert_id = ?", alert_id)))
    return rows, +counted  # + drops the zero counts


def recipients(db: Path, alert_id: str, *states: str) -> set[str]:
    """Recipient keys of the alert's delivery rows (in ``states``, or all)."""
    sql = "SELECT recipient, state FROM deliveries WHERE alert_id = ?"
    return {str(r) for r, state in query(db, sql, alert_id) if not states or state in states}


def outbox_recipients(folder: Path) -> Counter[str]:
    """How often each recipient key appears across the finished outbox files (``*.tmp`` are not)."""
    seen: Counter[str] = Counter()
    for path in folder.glob("*.json"):
        seen.update(json.loads(path.read_text(encoding="utf-8"))["recipients"])
    return seen


@pytest.fixture
def crowd(tmp_path: Path) -> Path:
    """A CSV of SUBSCRIBERS email subscribers of the disaster category."""
    csv = tmp_path / "crowd.csv"
    rows = (f"email,r{i:05d}@example.jp,disaster,ja,false" for i in range(SUBSCRIBERS))
    csv.write_text("channel,contact,categories,language,tester\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return csv


async def test_sigkill_mid_fanout_loses_nothing_and_resends_only_the_inflight_window(
    site: SiteFactory, run_py: list[str], crowd: Path, record_property: Callable[[str, object], None]
) -> None:
    config = site(SITE)
    settings = load_settings(config)
    db = settings.path(settings.storage.path)
    outbox = settings.path(settings.storage.outbox_dir) / "email"

    result = await run_cli(run_py, config, "subscribers", "import", str(crowd))
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"imported {SUBSCRIBERS} subscriber(s)"
    subscriber_ids = {str(r[0]) for r in query(db, "SELECT id FROM subscribers")}
    assert len(subscriber_ids) == SUBSCRIBERS

    send = ["send", "--category", "disaster", "--level", "4", "--title", "避難指示", "--body", "直ちに避難を。"]
    result = await run_cli(run_py, config, *send, "--channels", "email", "--yes", "--no-wait")
    assert result.rc == 0, result.stderr
    alert_id = result.stdout.strip()
    assert query(db, "SELECT count(*) FROM deliveries WHERE alert_id = ? AND state = 'pending'", alert_id) == [
        (SUBSCRIBERS,)
    ]

    # 1. the first service gets about a tenth of the way and dies without warning
    async with serving(run_py, config) as first:
        reported = 0
        async with asyncio.timeout(60):
            while reported < KILL_AFTER:
                if m := SENT_LINE.search(await first.next_line()):
                    reported += int(m[1])
        assert await first.kill() == -signal.SIGKILL
    assert not any(f"alert {alert_id} done" in line for line in first.lines)

    (state,) = query(db, "SELECT state FROM alerts WHERE id = ?", alert_id)[0]
    assert state == "dispatching", "the fan-out was meant to be cut short"
    rows, counted = delivery_states(db, alert_id)
    assert rows == counted, "delivery_counts disagrees with the rows after the crash"
    assert KILL_AFTER - WINDOW <= rows["sent"] < SUBSCRIBERS
    in_flight = recipients(db, alert_id, "sending")
    assert len(in_flight) == rows["sending"] <= WINDOW
    assert rows["pending"] + rows["sending"] + rows["sent"] == SUBSCRIBERS

    # 2. the restarted service takes the dead one's claims back and finishes the fan-out
    async with serving(run_py, config) as second:
        async with asyncio.timeout(90):
            while f"alert {alert_id} done" not in await second.next_line():
                pass
        assert await second.stop() == 0, second.tail()
    recovered = [int(m[1]) for line in second.lines if (m := RECOVERED_LINE.search(line))]
    assert recovered == ([len(in_flight)] if in_flight else [])

    # 3. everyone got it, every row is accounted for, and only the in-flight window was sent twice
    seen = outbox_recipients(outbox)
    assert set(seen) == subscriber_ids, f"{len(subscriber_ids - set(seen))} subscribers never got the alert"
    duplicates = sum(seen.values()) - SUBSCRIBERS
    print(f"\ncrash test: {duplicates} recipient(s) sent twice; {len(in_flight)} row(s) were in flight at SIGKILL")
    record_property("duplicates", duplicates)
    record_property("in_flight_at_kill", len(in_flight))
    twice = {key for key, n in seen.items() if n > 1}
    assert max(seen.values()) <= 2
    assert twice <= in_flight, "a recipient recorded as sent before the crash was sent again"
    assert duplicates <= WINDOW

    assert query(db, "SELECT state, count(*) FROM deliveries WHERE alert_id = ? GROUP BY state", alert_id) == [
        ("sent", SUBSCRIBERS)
    ]
    rows, counted = delivery_states(db, alert_id)
    assert rows == counted == Counter(sent=SUBSCRIBERS)
    assert recipients(db, alert_id) == subscriber_ids

    result = await run_cli(run_py, config, "status", alert_id, "--json")
    assert result.rc == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state"] == "done"
    (email,) = report["channels"]
    assert email["channel"] == "email"
    assert email["counts"] == {"pending": 0, "sending": 0, "sent": SUBSCRIBERS, "failed": 0, "superseded": 0}
