"""Signed links: valid for their purpose and lifetime only, and unforgeable without the secret."""

from __future__ import annotations

import pytest

from broadcaster.errors import ConfigError, InputError
from broadcaster.tokens import Signer

SIGNER = Signer(b"0123456789abcdef-test-secret")


def test_a_token_round_trips_for_its_purpose() -> None:
    token = SIGNER.make("confirm", 42, ttl=3600, now=1000.0)
    assert SIGNER.check(token, "confirm", now=1000.0 + 3599) == 42


@pytest.mark.parametrize(
    ("token", "purpose", "now", "message"),
    [
        (SIGNER.make("confirm", 42, ttl=60, now=0.0), "confirm", 61.0, "expired"),
        (SIGNER.make("confirm", 42, ttl=60, now=0.0), "unsubscribe", 1.0, "not valid"),
        (Signer(b"another-secret-of-16b").make("confirm", 42, ttl=None), "confirm", 1.0, "not valid"),
        (SIGNER.make("confirm", 42, ttl=None)[:-2] + "xx", "confirm", 1.0, "not valid"),
        ("garbage", "confirm", 1.0, "not valid"),
        ("", "confirm", 1.0, "not valid"),
    ],
    ids=["expired", "other-purpose", "other-secret", "tampered", "garbage", "empty"],
)
def test_bad_tokens_are_refused(token: str, purpose: str, now: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        SIGNER.check(token, purpose, now=now)


def test_a_token_without_expiry_stays_valid() -> None:
    assert SIGNER.check(SIGNER.make("unsubscribe", 7, ttl=None), "unsubscribe", now=1e12) == 7


def test_the_secret_comes_from_the_environment() -> None:
    assert Signer.from_env({"BROADCASTER_SECRET_KEY": "x" * 32}) == Signer(b"x" * 32)
    with pytest.raises(ConfigError, match="BROADCASTER_SECRET_KEY"):
        Signer.from_env({"BROADCASTER_SECRET_KEY": "short"})
    assert Signer.from_env({}, required=False) is None
