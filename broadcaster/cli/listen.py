"""Listening sockets for run.py's servers, bound before anything else starts.

Binding first makes a port that is taken or out of reach one line naming it (exit 2), before the
service has opened its store or logged a word; the sockets are then handed to aiohttp.
"""

from __future__ import annotations

import errno
import socket

from broadcaster.errors import InputError

BACKLOG = 128  # aiohttp's own default


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on ``port`` at every address ``host`` resolves to ("" = all interfaces)."""
    where = host or "every address"
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"cannot listen on {host!r}: {exc.strerror}; give a local address or host name") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does: restart at once
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # IPv4 has its own socket
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {where} is in use; stop what listens there or choose another port"
            ) from None
        raise InputError(
            f"cannot listen on {where} port {port}: {exc.strerror}; choose another address or port"
        ) from None
    return sockets
