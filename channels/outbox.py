"""The outbox: writes each rendered message as a JSON file instead of sending it.

It stands in for any channel that has no credentials (or no implementation yet), and it is the
sink of every exercise alert on a public channel. Files are written atomically: a crash leaves
either the whole file or none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import ClassVar

from broadcaster.errors import TransientError
from broadcaster.files import write_atomic
from broadcaster.models import Alert, Message, Recipients
from broadcaster.rendering import NO_LIMITS, Limits, Renderer


class OutboxChannel:
    """Writes var/outbox/<channel>/<alert>.<lang>.<seq>.json, one file per send() call."""

    kind: ClassVar[str] = "outbox"

    def __init__(self, name: str, folder: Path, renderer: Renderer, limits: Limits = NO_LIMITS) -> None:
        self.name = name
        self.limits = limits
        self.folder = folder / name
        self._renderer = renderer
        self._seq = itertools.count()

    def render(self, alert: Alert, lang: str) -> Message:
        """Render as the channel this outbox stands in for would."""
        return self._renderer.render(self.name, alert, lang, self.limits)

    async def send(self, message: Message, to: Recipients) -> None:
        """Write the message and its recipients' keys (never their contacts) to one file."""
        record = dataclasses.asdict(message)
        record.pop("attachments")
        # subscriber ids only: the outbox folder must not become a copy of the contact list
        record["recipients"] = [r.key for r in to]
        record["written_at"] = time.time()
        name = f"{message.alert_id}.{message.lang}.{time.time_ns()}-{next(self._seq)}.json"
        data = json.dumps(record, ensure_ascii=False, indent=1).encode()
        try:
            # no fsync: the outbox is for people to read, and a lost file loses no delivery's record
            await asyncio.to_thread(write_atomic, self.folder / name, data)
        except OSError as exc:
            raise TransientError(f"outbox write failed: {exc.strerror}") from exc

    async def aclose(self) -> None:
        """Nothing to release."""
