"""The outbox: writes what a channel would send as a JSON file, instead of sending it.

It stands in for any channel that has no credentials, and it is the sink of every exercise alert on
a public channel. It renders with the stood-in channel's own renderer, so a file holds exactly the
Message that channel would have sent: every text part and every attachment (LINE's messages and
delivery mode, the mail's MIME body, each SNS target's thread, the ticker stations' order). An
attachment that is UTF-8 text is stored as text, so the file reads as it is; anything else as base64.
``load`` reads a file back into the Message it records. Files are written atomically: a crash
leaves either the whole file or none.

What the outbox cannot keep is what a channel makes only when it sends: for FM that is the WAV (the
speech engine runs at send time), so the FM outbox holds the script the audio would be read from; for
email the per-recipient header lines (To, Message-ID, the signed unsubscribe link), since the outbox
keeps subscriber ids, never addresses.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from pathlib import Path
from typing import Any

from broadcaster.channel import ChannelRenderer, RunsAs
from broadcaster.errors import TransientError
from broadcaster.files import write_atomic
from broadcaster.models import Alert, Message, Mode, Recipients

TEXT_PARTS = ("subject", "text", "html", "ticker", "speech")


def encode(message: Message, to: Recipients, written_at: float) -> bytes:
    """The outbox file of ``message``: its parts, its attachments, and its recipients' keys (never contacts)."""
    record: dict[str, Any] = {
        "alert_id": message.alert_id,
        "channel": message.channel,
        "lang": message.lang,
        "mode": message.mode.value,
        **{part: getattr(message, part) for part in TEXT_PARTS},
        "attachments": [_attachment(name, data) for name, data in message.attachments],
        # subscriber ids only: the outbox folder must not become a copy of the contact list
        "recipients": [r.key for r in to],
        "written_at": written_at,
    }
    return json.dumps(record, ensure_ascii=False, indent=1).encode()


def _attachment(name: str, data: bytes) -> dict[str, str]:
    try:
        return {"name": name, "encoding": "utf-8", "data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"name": name, "encoding": "base64", "data": base64.b64encode(data).decode("ascii")}


def load(path: Path) -> Message:
    """The Message an outbox file records."""
    record = json.loads(path.read_text(encoding="utf-8"))
    attachments = tuple(
        (a["name"], a["data"].encode("utf-8") if a["encoding"] == "utf-8" else base64.b64decode(a["data"]))
        for a in record["attachments"]
    )
    parts = {part: record[part] for part in TEXT_PARTS}
    return Message(
        record["alert_id"], record["channel"], record["lang"], Mode(record["mode"]), **parts, attachments=attachments
    )


class OutboxChannel:
    """Writes var/outbox/<channel>/<alert>.<lang>.<seq>.json, one file per send() call."""

    runs_as = RunsAs.OUTBOX

    def __init__(self, folder: Path, renderer: ChannelRenderer) -> None:
        self.name = renderer.name
        self.renderer = renderer  # the stood-in channel's
        self.folder = folder / renderer.name
        self._seq = itertools.count()

    def render(self, alert: Alert, lang: str) -> Message:
        """Render exactly as the channel this outbox stands in for."""
        return self.renderer.render(alert, lang)

    async def send(self, message: Message, to: Recipients) -> None:
        """Write the message, attachments included, and its recipients' keys to one file."""
        now = time.time()
        name = f"{message.alert_id}.{message.lang}.{time.time_ns()}-{next(self._seq)}.json"
        try:
            # no fsync: the outbox is for people to read, and the store keeps the delivery's record
            await asyncio.to_thread(write_atomic, self.folder / name, encode(message, to, now))
        except OSError as exc:
            raise TransientError(f"outbox write failed: {exc.strerror}") from exc

    async def aclose(self) -> None:
        """Nothing to release."""
