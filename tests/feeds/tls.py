"""A local certificate authority for the feed tests: JMA is read over https only, so the local feeds are too.

One CA per test run (trustme), a server certificate for 127.0.0.1 and localhost, and the CA written as
a PEM file that ``[jma] ca_file`` names.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer

HOSTS = ("127.0.0.1", "localhost")  # what the server certificate names; [jma] allowed_hosts in the tests


@functools.cache
def authority() -> trustme.CA:
    """The test run's CA."""
    return trustme.CA()


@functools.cache
def server_context() -> ssl.SSLContext:
    """A server TLS context with a certificate from ``authority()`` for HOSTS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority().issue_cert(*HOSTS).configure_cert(context)
    return context


def write_ca(path: Path) -> Path:
    """The CA certificate as a PEM file at ``path`` (for ``[jma] ca_file``)."""
    authority().cert_pem.write_to_path(str(path))
    return path


def write_server_pem(folder: Path) -> tuple[Path, Path]:
    """The server certificate chain and its key as PEM files in ``folder`` (for `jma serve-samples`)."""
    cert = authority().issue_cert(*HOSTS)
    chain, key = folder / "server-chain.pem", folder / "server-key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return chain, key


@asynccontextmanager
async def serve_https(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run ``app`` over https on a free port; yields its base URL (https://host:port, no trailing slash)."""
    server = TestServer(app, host=host)
    await server.start_server(ssl=server_context())
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
