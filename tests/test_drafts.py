"""Alert ids read in Japan's time, whatever the machine's time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from broadcaster.drafts import new_id


@pytest.mark.parametrize(
    ("utc", "prefix"),
    [
        pytest.param(datetime(2026, 11, 29, 5, 30, tzinfo=UTC), "20261129-143000-", id="afternoon-in-japan"),
        pytest.param(datetime(2026, 11, 29, 20, 0, 5, tzinfo=UTC), "20261130-050005-", id="already-tomorrow-in-japan"),
        pytest.param(datetime(2026, 12, 31, 15, 0, tzinfo=UTC), "20270101-000000-", id="new-year-in-japan"),
    ],
)
def test_a_new_id_starts_with_its_time_in_jst(utc: datetime, prefix: str) -> None:
    alert_id = new_id(utc.timestamp())
    assert alert_id.startswith(prefix) and re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", alert_id)
    assert new_id(utc.timestamp()) != alert_id  # unguessable: a random tail
