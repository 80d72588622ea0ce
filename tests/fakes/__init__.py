"""Local fakes of third-party APIs (LINE, X, Mastodon, Bluesky), and the one way to run them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web


class Fake(Protocol):
    """What every fake offers: its aiohttp app, and a way to let hung requests finish."""

    def app(self) -> web.Application: ...

    def release(self) -> None: ...


@contextlib.asynccontextmanager
async def serve(fake: Fake, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``fake`` on ``host:port`` (0: a free port) and yield its base URL."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        fake.release()
        await runner.cleanup()
