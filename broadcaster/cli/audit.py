"""`run.py audit verify`: check the audit log's hash chain (broadcaster/store/sql_journal.py).

Exit 0 with "audit log intact: N entries" and the newest entry's hash (worth keeping somewhere else:
the chain alone cannot show that someone rewrote every line after the one they changed); exit 1
naming the first entry whose hash does not follow, the one changed or the one after a removed line.
It needs no data key: the audit log never holds a contact.
"""

from __future__ import annotations

import argparse
import asyncio

from broadcaster.cli.db import opened_store
from broadcaster.settings import Settings

BROKEN = 1


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py audit …`."""
    return asyncio.run(cmd_verify(settings))


async def cmd_verify(settings: Settings) -> int:
    """Verify the chain from the first entry; 0 if it holds, 1 naming the first broken entry."""
    async with opened_store(settings) as store:
        check = await store.audit_verify()
    if check.broken is not None:
        print(
            f"audit log broken at entry {check.broken}: its hash does not follow from the entries before it "
            f"(entry {check.broken} was changed, or an entry just before it removed or inserted); "
            f"the {check.entries - 1} entries before it are intact"
        )
        return BROKEN
    print(f"audit log intact: {check.entries} entries")
    if check.last_hash:
        print(f"newest hash: {check.last_hash}")
    return 0
