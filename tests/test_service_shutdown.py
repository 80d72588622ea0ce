"""Shutdown closes the store and releases the instance lock even when a channel's aclose raises."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest
from aiohttp.test_utils import TestServer

from broadcaster import instance
from broadcaster.channel import ChannelSet
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.store import Store
from broadcaster.web.service import make_app
from channels import build_channels
from tests.channels_for_tests import FakeChannel


async def test_a_channel_whose_aclose_raises_stops_nothing_else_closing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    db = settings.path(settings.storage.path)
    lock = instance.try_lock(db)
    assert lock is not None
    fakes: dict[str, FakeChannel] = {}

    def build(settings: Settings, renderer: Renderer, environ: Mapping[str, str], store: Store | None) -> ChannelSet:
        # the real set, with every channel one whose aclose raises (each its own object, closed once)
        channels = build_channels(settings, renderer, environ, store)
        for name in channels.live:
            fakes[name] = FakeChannel(name, close_error=RuntimeError(f"{name}: the connection hung"))
            channels.live[name] = channels.exercise[name] = fakes[name]
        return channels

    server = TestServer(make_app(settings, lock, build))
    await server.start_server()
    assert instance.try_lock(db) is None  # the running service holds the lock
    with caplog.at_level(logging.ERROR, logger="broadcaster.shutdown"):
        await server.close()

    assert fakes and all(fake.closed for fake in fakes.values()), "a raising aclose stopped the others"
    failed = [r.getMessage() for r in caplog.records if r.name == "broadcaster.shutdown"]
    assert sorted(failed) == sorted(f"closing live channel {name} failed; closing the rest" for name in fakes)
    # SQLite removes the write-ahead log when its last connection closes: the store is closed
    assert not db.with_name(db.name + "-wal").exists()
    second = instance.try_lock(db)
    assert second is not None, "the instance lock is still held"
    second.close()
