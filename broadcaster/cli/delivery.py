"""Approved alerts from the command line: wake the running service, or deliver them in this process."""

from __future__ import annotations

import contextlib
import logging
import os
import time

from broadcaster import instance
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.models import AlertState
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from broadcaster.shutdown import close_channels_on_exit
from broadcaster.store.sqlite import SQLiteStore
from channels import build_channels

log = logging.getLogger("broadcaster")


async def hand_over(settings: Settings, store: SQLiteStore, alert_ids: list[str], no_wait: bool = False) -> None:
    """Wake the running service, or deliver the approved alerts in this process until they are done."""
    db = settings.path(settings.storage.path)
    if await instance.wake(db):
        log.info("the running service delivers it")
        return
    lock = None if no_wait else instance.try_lock(db)
    if lock is None:
        log.info("no service is running; `run.py serve` will deliver it")
        return
    with lock:
        await _deliver_here(settings, store, alert_ids)


async def _settled(store: SQLiteStore, alert_ids: list[str]) -> bool:
    """No alert of ``alert_ids`` has deliveries left to make."""
    for alert_id in alert_ids:
        alert = await store.get_alert(alert_id)
        if alert is not None and alert.state in (AlertState.APPROVED, AlertState.DISPATCHING):
            return False
    return True


async def _deliver_here(settings: Settings, store: SQLiteStore, alert_ids: list[str]) -> None:
    await store.recover(time.time(), all_leases=True)
    channels = build_channels(settings, Renderer(settings), os.environ, store)
    for notice in channels.notices:
        log.info(notice)
    async with contextlib.AsyncExitStack() as stack:
        close_channels_on_exit(stack, channels)  # each closed even when another's aclose raises
        tune_gc()  # a fan-out of its own: the same collector settings as the service
        async with Dispatcher(store, channels, settings) as dispatcher:
            await dispatcher.wait_until(lambda: _settled(store, alert_ids))
