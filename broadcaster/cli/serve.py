"""`run.py serve`: the all-in-one service, until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import sys

from broadcaster import instance
from broadcaster.cli.listen import listen
from broadcaster.errors import ConfigError
from broadcaster.settings import Settings

log = logging.getLogger("broadcaster")
ALREADY_RUNNING = 1


def run(settings: Settings, host: str | None, port: int | None) -> int:
    """Run the service on host:port (default: [server]); 1 if another one already runs on the database."""
    db = settings.path(settings.storage.path)
    try:
        lock = instance.try_lock(db)
    except OSError as exc:
        raise ConfigError(f"cannot take the lock beside {db}: {exc.strerror}; check [storage] path") from None
    if lock is None:
        print(f"error: another broadcaster is already running on {db}", file=sys.stderr)
        return ALREADY_RUNNING
    host = settings.server.host if host is None else host
    port = port or settings.server.port
    try:
        sockets = listen(host, port)
    except BaseException:
        lock.close()
        raise
    # imported once the lock and the port are ours: a taken port is told at once, not after seconds of imports
    from aiohttp import web

    from broadcaster.web.service import make_app

    web.run_app(
        make_app(settings, lock),
        sock=sockets,
        # aiohttp prints once every site listens: this line is the readiness signal
        print=lambda _text: log.info("serving on http://%s:%d", host, port),
        shutdown_timeout=settings.dispatcher.shutdown_grace,
    )
    return 0
