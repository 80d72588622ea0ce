"""Where JMA documents may come from: https only, from the hosts in ``[jma] allowed_hosts``.

A feed entry is only a link; a feed could name any server (a mistake, a tampered mirror, a
TLS-inspecting proxy gone wrong). So every URL the poller fetches, each redirect included, is checked
here first, and the connection trusts the system's CAs plus ``[jma] ca_file`` when one is given.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection
from urllib.parse import urlsplit


def refusal(url: str, allowed_hosts: Collection[str]) -> str | None:
    """Why ``url`` may not be fetched (not https, or not an allowed host); None if it may."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme.lower() != "https":
        return f"{url} is not https: documents are fetched over https only"
    if host not in allowed_hosts:
        return f"{url} is not on an allowed host ({host or 'no host'}; allowed: {', '.join(sorted(allowed_hosts))})"
    return None


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Certificate checks as the system does them, trusting ``ca_file``'s CAs as well when given."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
