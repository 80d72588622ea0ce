"""The one backoff computation, shared by the dispatcher, the JMA poller and the subscription mailer."""

from __future__ import annotations

import pytest

from broadcaster.pacing import Backoff, RetryPolicy
from channels.email.mailer import MAX_ATTEMPTS, RETRY

MINUTE = Backoff(base=60.0, cap=600.0, jitter=0.5)  # the poller's, at the default 60 s interval


@pytest.mark.parametrize(
    ("backoff", "failures", "rand", "retry_after", "expected"),
    [
        pytest.param(MINUTE, 1, 0.0, None, 60.0, id="first-wait-is-base"),
        pytest.param(MINUTE, 2, 0.0, None, 120.0, id="doubles"),
        pytest.param(MINUTE, 4, 0.0, None, 480.0, id="doubles-again"),
        pytest.param(MINUTE, 5, 0.0, None, 600.0, id="capped"),
        pytest.param(MINUTE, 5000, 0.0, None, 600.0, id="a-very-long-outage-stays-capped"),
        pytest.param(MINUTE, 2, 0.5, None, 90.0, id="jitter-takes-off-a-share"),
        pytest.param(MINUTE, 2, 0.999, None, pytest.approx(60.06), id="at-most-half-off"),
        pytest.param(MINUTE, 1, 0.0, 300.0, 300.0, id="retry-after-above-is-the-wait"),
        pytest.param(MINUTE, 3, 0.0, 10.0, 240.0, id="retry-after-is-a-floor-not-a-ceiling"),
        pytest.param(MINUTE, 1, 0.9, 50.0, 50.0, id="jitter-never-below-retry-after"),
        pytest.param(Backoff(0.0, 0.0), 3, 0.7, None, 0.0, id="zero-waits-for-tests"),
        pytest.param(Backoff(2.0, 60.0, jitter=0.0), 3, 0.7, None, 8.0, id="no-jitter"),
    ],
)
def test_backoff_delay(
    backoff: Backoff, failures: int, rand: float, retry_after: float | None, expected: float
) -> None:
    assert backoff.delay(failures, rand, retry_after) == expected


def test_the_dispatchers_policy_waits_by_the_same_backoff() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=2.0, max_delay=300.0, jitter=0.0)
    assert policy.backoff == Backoff(2.0, 300.0, 0.0)
    assert policy.next_attempt(3, 0.0, 100.0, None) == 100.0 + policy.backoff.delay(3, 0.0)


def test_the_mailer_waits_two_seconds_doubling_five_times() -> None:
    waits = [RETRY.delay(failures, 0.0) for failures in range(1, MAX_ATTEMPTS)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0]
