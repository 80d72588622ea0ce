"""Subscriber contacts at rest: AES-256-GCM under BROADCASTER_DATA_KEY, found again by a keyed hash.

The key is 32 random bytes, base64url in the environment (``run.py keys new`` prints one). Three
values are derived from it with HMAC-SHA256 under fixed labels: the AES key, the lookup key and a
short key id. A contact is stored as a random 12-byte nonce and its ciphertext, sealed with its
contact channel as associated data (a ciphertext copied onto another channel's row does not open);
it is found by HMAC-SHA256(lookup key, channel NUL contact), which is also what makes a contact
unique, and which says nothing without the key. The key id is stored beside every contact, so a
database opened with another key is refused at once instead of failing row by row.

Rotation: the new key in BROADCASTER_DATA_KEY, the one the contacts are under in
BROADCASTER_DATA_KEY_OLD, then ``run.py keys rotate`` with the service stopped.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broadcaster.errors import ConfigError

DATA_KEY_ENV = "BROADCASTER_DATA_KEY"
OLD_KEY_ENV = "BROADCASTER_DATA_KEY_OLD"
KEY_BYTES = 32
NONCE_BYTES = 12
NO_KEY = (
    f"subscriber contacts are stored encrypted: set {DATA_KEY_ENV} to the key they were encrypted with "
    "(`run.py keys new` makes a key for a new database)"
)


def new_key() -> str:
    """A fresh key as the environment holds it: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class DataKey:
    """One key: seals and opens contacts, and hashes them for lookups."""

    key_id: str  # stored beside each contact; says which key, not the key
    lookup_key: bytes = field(repr=False)
    aead: AESGCM = field(repr=False)

    @classmethod
    def parse(cls, text: str, name: str = DATA_KEY_ENV) -> DataKey:
        """The key in ``text`` (base64url of 32 bytes); ConfigError naming ``name`` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise ConfigError(f"{name} is not a key: give 32 bytes in base64url (`run.py keys new` prints one)")
        return cls(
            key_id=_derive(raw, b"key id")[:6].hex(),
            lookup_key=_derive(raw, b"contact lookup"),
            aead=AESGCM(_derive(raw, b"contact encryption")),
        )

    def seal(self, channel: str, contact: str) -> bytes:
        """``contact`` encrypted: nonce then ciphertext with its tag."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, contact.encode(), channel.encode())

    def open(self, channel: str, sealed: bytes) -> str:
        """The contact ``seal`` made; ConfigError if this key did not seal it (or the bytes were altered)."""
        try:
            return self.aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], channel.encode()).decode()
        except InvalidTag:
            raise ConfigError(f"a stored contact does not open with {DATA_KEY_ENV} (key id {self.key_id})") from None

    def lookup(self, channel: str, contact: str) -> bytes:
        """The keyed hash a contact is found by (and is unique by, per channel)."""
        return hmac.digest(self.lookup_key, f"{channel}\0{contact}".encode(), "sha256")


@dataclass(frozen=True, slots=True)
class DataKeys:
    """The keys from the environment: the current one (None: not set), and the one rotated from."""

    current: DataKey | None
    old: DataKey | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DataKeys:
        """BROADCASTER_DATA_KEY and BROADCASTER_DATA_KEY_OLD; ConfigError if one is set but not a key."""
        env = os.environ if environ is None else environ
        current, old = (env.get(name, "").strip() for name in (DATA_KEY_ENV, OLD_KEY_ENV))
        if old and not current:
            raise ConfigError(f"{OLD_KEY_ENV} is set without {DATA_KEY_ENV}: rotation needs the new key too")
        return cls(
            current=DataKey.parse(current) if current else None,
            old=DataKey.parse(old, OLD_KEY_ENV) if old else None,
        )

    def require(self) -> DataKey:
        """The current key; ConfigError (one line naming BROADCASTER_DATA_KEY) without one."""
        if self.current is None:
            raise ConfigError(NO_KEY)
        return self.current


def _derive(master: bytes, label: bytes) -> bytes:
    return hmac.digest(master, label, "sha256")
