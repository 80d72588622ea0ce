"""The policy table: what to do with a JMA document that concerns the city.

The table lives in config ([[jma.policy]]); the first rule whose kinds, level and intensity fit
decides. Nothing here knows XML: it sees only what the parser and the area matcher found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from broadcaster.settings import PolicyRule

Decision = Literal["auto", "approve", "ignore"]
INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")  # 震度 in increasing order


UNREPORTED_5_MINUS = "震度５弱以上未入電"  # estimated at 5- or more, station not yet reported


def intensity_rank(value: str) -> int:
    """Position of a JMA intensity string in INTENSITIES; -1 for anything unknown."""
    if value == UNREPORTED_5_MINUS:
        return INTENSITIES.index("5-")  # a strong quake with no report yet must not be taken for a weak one
    return INTENSITIES.index(value) if value in INTENSITIES else -1


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one document, with the rule that made it and why."""

    decision: Decision
    reason: str
    rule: PolicyRule | None = None


def _fits(rule: PolicyRule, kind: str, level: int | None, intensity: str | None) -> bool:
    if kind not in rule.kinds:
        return False
    if rule.min_level is not None and (level is None or level < rule.min_level):
        return False
    if rule.max_level is not None and (level is None or level > rule.max_level):
        return False
    rank = intensity_rank(intensity) if intensity is not None else -1
    if rule.min_intensity is not None and rank < intensity_rank(rule.min_intensity):
        return False
    return rule.max_intensity is None or 0 <= rank <= intensity_rank(rule.max_intensity)


def decide(
    rules: Sequence[PolicyRule], kind: str | None, concerns_area: bool, level: int | None, intensity: str | None
) -> Verdict:
    """Apply the first fitting rule; documents that do not concern the city are ignored."""
    if kind is None:
        return Verdict("ignore", "unknown document type")
    if not concerns_area:
        return Verdict("ignore", "does not concern the configured areas")
    for rule in rules:
        if _fits(rule, kind, level, intensity):
            return Verdict(rule.decision, f"policy: {rule.name}", rule)
    seen = [f"level {level}"] if level else []
    seen += [f"震度{intensity}"] if intensity else []
    return Verdict("ignore", f"no policy rule fits {kind}" + (f" at {', '.join(seen)}" if seen else ""))
