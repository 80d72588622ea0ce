"""The outbox records exactly what the channel it stands in for would send, attachments included."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from broadcaster.channel import RunsAs
from broadcaster.errors import TransientError
from broadcaster.models import Alert, Message, Mode, Recipient, Text
from broadcaster.rendering import Renderer
from broadcaster.settings import CHANNEL_NAMES, Settings
from channels import build_renderers
from channels.outbox import OutboxChannel, load
from tests.test_store import make_alert

TESTERS = [Recipient("12", "tester@example.jp", "ja"), Recipient("31", "U" + "a" * 32, "ja")]


def alert() -> Alert:
    """A live alert on every channel, in two languages, created at a fixed time."""
    en = Text("Evacuation order", "The river may flood.", "Go to the shelter.")
    base = make_alert("a1", CHANNEL_NAMES)
    return dataclasses.replace(base, translations={"en": en}, created_at=1_795_900_000.0, mode=Mode.EXERCISE)


def written(folder: Path) -> list[Path]:
    """The finished files of one channel's outbox folder."""
    return sorted(folder.glob("*.json"))


@pytest.mark.parametrize("name", CHANNEL_NAMES)
@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_the_file_holds_what_the_channels_renderer_produced(
    settings: Settings, tmp_path: Path, name: str, lang: str
) -> None:
    renderer = build_renderers(settings, Renderer(settings))[name]
    outbox = OutboxChannel(tmp_path, renderer)
    expected = renderer.render(alert(), lang)
    message = outbox.render(alert(), lang)
    assert message == expected  # the outbox renders as the channel: the same bytes, attachments included
    await outbox.send(message, TESTERS)
    [path] = written(tmp_path / name)
    assert load(path) == expected
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["recipients"] == ["12", "31"]  # subscriber ids, never their contacts
    assert "tester@example.jp" not in path.read_text(encoding="utf-8")
    assert [a["name"] for a in record["attachments"]] == [n for n, _ in expected.attachments]


async def test_attachments_read_as_text_in_the_file(settings: Settings, tmp_path: Path) -> None:
    renderer = build_renderers(settings, Renderer(settings))["line"]
    outbox = OutboxChannel(tmp_path, renderer)
    await outbox.send(outbox.render(alert(), "ja"), TESTERS)
    [path] = written(tmp_path / "line")
    [attachment] = json.loads(path.read_text(encoding="utf-8"))["attachments"]
    assert attachment["encoding"] == "utf-8"
    assert json.loads(attachment["data"])["messages"][0]["type"] == "flex"


async def test_bytes_that_are_not_text_are_kept_as_base64(settings: Settings, tmp_path: Path) -> None:
    outbox = OutboxChannel(tmp_path, build_renderers(settings, Renderer(settings))["fm"])
    message = dataclasses.replace(outbox.render(alert(), "ja"), attachments=(("chime.wav", b"RIFF\xff\x00\x80"),))
    await outbox.send(message, [Recipient("*")])
    [path] = written(tmp_path / "fm")
    assert load(path) == message
    [attachment] = json.loads(path.read_text(encoding="utf-8"))["attachments"]
    assert attachment["encoding"] == "base64"


async def test_one_file_per_send_and_nothing_else(settings: Settings, tmp_path: Path) -> None:
    outbox = OutboxChannel(tmp_path, build_renderers(settings, Renderer(settings))["ticker"])
    assert outbox.name == "ticker" and outbox.runs_as == RunsAs.OUTBOX
    message = outbox.render(alert(), "ja")
    for _ in range(3):
        await outbox.send(message, [Recipient("*")])
    files = list((tmp_path / "ticker").iterdir())
    assert len(files) == 3 and all(p.suffix == ".json" for p in files)  # no temporary file left behind


async def test_a_folder_that_cannot_be_written_is_transient(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "email").write_text("a file where the folder should be", encoding="utf-8")
    outbox = OutboxChannel(tmp_path, build_renderers(settings, Renderer(settings))["email"])
    message: Message = outbox.render(alert(), "ja")
    with pytest.raises(TransientError, match="outbox write failed"):
        await outbox.send(message, TESTERS)
