"""broadcaster/totp.py against RFC 6238's test vectors (Appendix B) and RFC 4226's (Appendix D)."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from broadcaster import totp

SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = b"1234567890123456789012345678901234567890123456789012345678901234"

# (Unix time, SHA-1, SHA-256, SHA-512): RFC 6238 Appendix B, 8 digits, 30-second steps
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc_6238_test_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    step = totp.step(at)
    assert totp.hotp(SHA1_KEY, step, 8, "sha1") == sha1
    assert totp.hotp(SHA256_KEY, step, 8, "sha256") == sha256
    assert totp.hotp(SHA512_KEY, step, 8, "sha512") == sha512


def test_rfc_4226_hotp_values() -> None:
    assert [totp.hotp(SHA1_KEY, counter) for counter in range(10)] == RFC4226


def test_the_code_of_a_base32_secret_is_the_last_six_digits_of_the_rfc_vector() -> None:
    secret = base64.b32encode(SHA1_KEY).decode()
    assert totp.code(secret, 1111111109) == "081804"  # the 6-digit form of 07081804
    assert totp.code(secret.lower().rstrip("="), 1111111109) == "081804"  # as apps show secrets: no padding


def test_a_code_is_accepted_one_step_either_side_and_only_after_the_last_used_step() -> None:
    secret = totp.new_secret()
    now = 1_700_000_000.0
    for offset in (-30, 0, 30):
        given = totp.code(secret, now + offset)
        assert totp.verify(secret, given, now) == totp.step(now + offset)
    assert totp.verify(secret, totp.code(secret, now - 60), now) is None  # two steps old
    assert totp.verify(secret, totp.code(secret, now + 60), now) is None
    given = totp.code(secret, now)
    assert totp.verify(secret, given, now, after=totp.step(now)) is None  # the same code twice: refused
    assert totp.verify(secret, given[:3] + " " + given[3:], now) == totp.step(now)  # spaces as typed


@pytest.mark.parametrize("given", ["", "12345", "1234567", "abcdef", "１２３４５６", "12345\x00", "123 45"])
def test_anything_but_six_digits_is_simply_wrong(given: str) -> None:
    assert totp.verify(totp.new_secret(), given, 1_700_000_000.0) is None


def test_a_new_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    assert secret != totp.new_secret()
    assert totp.spaced("ABCDEFGHIJ") == "ABCD EFGH IJ"


def test_the_otpauth_uri_names_the_issuer_the_account_and_the_parameters() -> None:
    uri = totp.uri("JBSWY3DPEHPK3PXP", "sato", "Oyama City")
    parsed = urllib.parse.urlsplit(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(parsed.path) == "/Oyama City:sato"
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert query == {"secret": "JBSWY3DPEHPK3PXP", "issuer": "Oyama City", "algorithm": "SHA1", "digits": "6",
                     "period": "30"}  # fmt: skip
