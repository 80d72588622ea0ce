"""What an API token may do: its scopes, chosen when it is made, and the token as the store keeps it.

A token carries only the scopes it was given; each API route, and /metrics, names the one scope it
needs, and a token without it gets 403. Tokens made before scopes existed were given every scope of
that time by the schema migration that added them (``BEFORE_SCOPES``), so none stopped working.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from broadcaster.errors import InputError
from broadcaster.models import Timestamp


class Scope(StrEnum):
    """One thing a token may do; the value is what the store, the CLI and the OpenAPI document say."""

    METRICS_READ = "metrics:read"  # GET /metrics
    ALERTS_READ = "alerts:read"  # GET /api/v1/alerts, /api/v1/alerts/{id}
    DRAFTS_WRITE = "drafts:write"  # POST /api/v1/drafts
    FOLLOWUPS_WRITE = "followups:write"  # POST /api/v1/alerts/{id}/correct and /lift (as drafts)


# what each scope allows, in words: the CLI's help, the OpenAPI document and the admin page say this
MEANING: dict[Scope, str] = {
    Scope.METRICS_READ: "read /metrics (Prometheus)",
    Scope.ALERTS_READ: "read alerts and their delivery status",
    Scope.DRAFTS_WRITE: "post new drafts (an officer sends them from the console)",
    Scope.FOLLOWUPS_WRITE: "post corrections (訂正) and lifts (解除) of a sent alert as drafts",
}
VALID = tuple(s.value for s in Scope)
# every scope that existed when migration 10 added them; never change it (the migration is written out)
BEFORE_SCOPES = "alerts:read drafts:write followups:write metrics:read"


def parse(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes by name, at least one; InputError naming the valid ones for an unknown name or none."""
    given = list(names)
    unknown = [name for name in given if name not in VALID]
    if unknown:
        raise InputError(f"unknown scope {unknown[0]!r}; valid scopes: {', '.join(VALID)}")
    if not given:
        raise InputError(f"a token needs at least one scope: {', '.join(VALID)}")
    return frozenset(Scope(name) for name in given)


def encode(scopes: Iterable[Scope]) -> str:
    """Scopes as stored: names in order, separated by spaces (as OAuth writes them)."""
    return " ".join(sorted(str(s) for s in scopes))


def decode(text: str) -> frozenset[Scope]:
    """Stored scopes back; a name this version does not know is dropped (it grants nothing)."""
    return frozenset(Scope(name) for name in text.split() if name in VALID)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the store keeps it: never the token itself, only its name, scopes and dates."""

    name: str
    scopes: frozenset[Scope]
    created_at: Timestamp
    revoked_at: Timestamp | None

    def allows(self, scope: str) -> bool:
        """Whether the token carries the scope named ``scope``."""
        return scope in self.scopes  # a Scope is its name: StrEnum members hash and compare as str
