"""The password rule for console accounts, one function for every place a password is chosen.

A password is refused if it is shorter than ``[console] password_min_length`` (12 at least), is on
the list of common passwords (``[console] common_passwords``, compared without case, also once digits
and symbols around it are taken off), is made only of the account's name or the city's names
(``[city] name``, ``name_en``, ``name_kana``) with digits, symbols or repeats, or is one character
repeated. ``PasswordRefused.reason`` names the rule broken, so a page can say it in its own language.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from broadcaster.errors import ConfigError, InputError

REASONS = {
    "short": "the password must be at least {min_length} characters",
    "common": "the password is on the list of common or leaked passwords",
    "name": "the password must not be made of the account name",
    "city": "the password must not be made of the city's name",
    "repeated": "the password must not be one character repeated",
    "same": "the new password must differ from the current one",
    "current": "the current password is wrong",
    "differ": "the two new passwords differ",
}
MUNICIPALITY = ("市", "町", "村", "区")
FILLER = "0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # what may pad a weak word without making it strong


class PasswordRefused(InputError):
    """A new password that breaks the rule; ``reason`` is a key of REASONS, its code ``password_<reason>``."""

    def __init__(self, reason: str, min_length: int = 0) -> None:
        super().__init__(
            REASONS[reason].format(min_length=min_length), code=f"password_{reason}", min_length=min_length
        )
        self.reason = reason
        self.min_length = min_length


@functools.cache
def common_passwords(path: Path) -> frozenset[str]:
    """The refused passwords in the file at ``path`` (lowercase; lines starting with # are comments)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"[console] common_passwords: cannot read {path}: {exc}") from None
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _plain(text: str) -> str:
    """Text as compared: NFKC (full-width letters and digits become ASCII), lowercase."""
    return unicodedata.normalize("NFKC", text).lower()


def _made_of(password: str, words: Iterable[str]) -> bool:
    """Whether ``password`` is nothing but ``words`` (each possibly repeated), digits and symbols."""
    rest = password
    found = False
    for word in sorted({w for w in words if w}, key=len, reverse=True):
        if word in rest:
            found = True
            rest = rest.replace(word, "")
    return found and not rest.strip(FILLER)


def _variants(name: str) -> set[str]:
    """A name as it may be typed: as is, without spaces or hyphens, and its words of three letters or more."""
    plain = _plain(name)
    words = {w for w in plain.replace("-", " ").split() if len(w) >= 3}
    if len(plain) > 1 and plain.endswith(MUNICIPALITY):
        words.add(plain[:-1])  # 小山市 is typed as 小山 too
    return {plain, plain.replace(" ", ""), plain.replace(" ", "").replace("-", ""), *words}


def check(password: str, account: str, city_names: Iterable[str], min_length: int, common: frozenset[str]) -> None:
    """PasswordRefused naming the first rule ``password`` breaks; nothing if it keeps them all."""
    if len(password) < min_length:
        raise PasswordRefused("short", min_length)
    plain = _plain(password)
    if len(set(plain)) == 1:
        raise PasswordRefused("repeated")
    if plain in common or plain.strip(FILLER) in common:
        raise PasswordRefused("common")
    if _made_of(plain, _variants(account)):
        raise PasswordRefused("name")
    city = set().union(*(_variants(name) for name in city_names))
    if _made_of(plain, city) or _made_of(plain, city | _variants(account)):
        raise PasswordRefused("city")
