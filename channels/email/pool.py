"""A small pool of SMTP connections for the email channel: opened lazily, checked with NOOP after idling,
and dropped without a word when broken or left in an unknown state."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiosmtplib

log = logging.getLogger("broadcaster.channels.email")

SmtpFactory = Callable[[], aiosmtplib.SMTP]  # a configured, not yet connected client


@dataclasses.dataclass(slots=True)
class Slot:
    """One of the pool's connections; ``client`` is None until first used or after it broke."""

    client: aiosmtplib.SMTP | None = None
    transport: asyncio.BaseTransport | None = None  # kept: after a timeout aiosmtplib forgets it, mid-close
    last_used: float = 0.0


class Pool:
    """N SMTP connections, opened lazily, checked with NOOP after idling, dropped when broken."""

    def __init__(self, factory: SmtpFactory, size: int, credentials: tuple[str, str] | None, idle_check: float) -> None:
        self.size = size
        self._factory = factory
        self._credentials = credentials
        self._idle_check = idle_check
        self._free: asyncio.LifoQueue[Slot] = asyncio.LifoQueue()
        for _ in range(size):
            self._free.put_nowait(Slot())

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold one connection; one left by an exception (a cancel too) is closed, as its state is unknown."""
        slot = await self._free.get()
        try:
            yield slot
        except BaseException:
            self.discard(slot)
            raise
        finally:
            slot.last_used = time.monotonic()
            self._free.put_nowait(slot)

    async def ready(self, slot: Slot) -> aiosmtplib.SMTP:
        """The slot's connected client: reused when it answers, else (re)connected."""
        client = slot.client
        if client is not None and client.is_connected:
            if time.monotonic() - slot.last_used < self._idle_check:
                return client
            try:
                await client.noop()
                return client
            except (aiosmtplib.SMTPException, OSError):
                log.info("an idle SMTP connection did not answer NOOP; reconnecting")
        self.discard(slot)
        client = self._factory()
        try:
            await client.connect()  # with STARTTLS configured, EHLO and STARTTLS too
            if client.is_ehlo_or_helo_needed:
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
            # logging in here rather than in connect() keeps a refused login's connection ours to close
            if self._credentials:
                await client.login(*self._credentials)
        except BaseException:
            abort_connection(client)
            raise
        slot.client, slot.transport = client, client.transport
        return client

    @staticmethod
    def discard(slot: Slot) -> None:
        """Close the slot's connection without a word to the server."""
        if slot.client is not None:
            abort_connection(slot.client, slot.transport)
            slot.client = slot.transport = None

    async def aclose(self) -> None:
        """QUIT the idle connections and close them (connections in use are closed when released)."""
        while not self._free.empty():
            slot = self._free.get_nowait()
            if slot.client is not None and slot.client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await slot.client.execute_command(b"QUIT", timeout=2.0)
            self.discard(slot)
        await asyncio.sleep(0)  # the aborted transports release their sockets on the loop's next turn


def abort_connection(client: aiosmtplib.SMTP, transport: asyncio.BaseTransport | None = None) -> None:
    """Drop a client's connection at once.

    aiosmtplib closes a TLS connection gracefully, waiting for the server's close_notify; from a
    server that hangs, that wait outlives the send and can outlive the event loop.
    """
    for t in (client.transport, transport):
        if isinstance(t, asyncio.WriteTransport):
            t.abort()
    client.close()
