"""One exact version of an alert's content, as a fingerprint an approval or a confirmation is bound to.

An approver approves what they read. The page shows the fingerprint and the POST carries it back;
the lifecycle refuses the approval when the stored alert no longer has it (someone edited the
draft in between). Everything a resident would see or that decides who sees it is in it; who wrote
it and its state are not.
"""

from __future__ import annotations

import hashlib
import json

from broadcaster.models import Alert


def fingerprint(alert: Alert) -> str:
    """sha256 (hex) of the alert's content: words in every language, reach, level and mode."""
    content = {
        "title": alert.title,
        "body": alert.body,
        "instruction": alert.instruction,
        # a notice links to the alert's own page, whose id is no content: the same correction built twice
        # (reviewed, then sent) has two ids and must have one fingerprint
        "translations": {
            k: [part.replace(alert.id, "") for part in (t.title, t.body, t.instruction)]
            for k, t in sorted(alert.translations.items())
        },
        "areas": list(alert.areas),
        "channels": list(alert.channels),
        "category": alert.category,
        "level": alert.level,
        "badge": alert.badge,
        "kind": alert.kind,
        "mode": str(alert.mode),
        "msg_type": str(alert.msg_type),
        "expires": alert.expires,
        "references": alert.references,
    }
    if alert.districts:  # only then: a whole-city alert keeps the fingerprint it had before districts existed
        content["districts"] = list(alert.districts)
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def short(full: str) -> str:
    """The first 12 hex digits in groups of four, for people to compare by eye (3F2A-91C0-77DE)."""
    head = full[:12].upper()
    return "-".join(head[i : i + 4] for i in range(0, 12, 4))
