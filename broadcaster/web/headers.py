"""The security headers of every response, and a Server header that names no versions.

This module owns them: the policies of each kind of page are here, and ``install`` adds them to every
response the service sends (pages, JSON, feeds, files, redirects, errors, 404s) just before it goes
out. A page that needs a looser Content-Security-Policy than ``NONE`` (the console's scripts, the
website's inline colours) sets one of the named policies below; everything else gets ``NONE``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web, web_response

SERVER = "city-alert-broadcaster"  # aiohttp's default names Python's and aiohttp's versions
CSP = "Content-Security-Policy"
REFERRER = "Referrer-Policy"

# JSON, feeds, audio, text, errors: nothing in them may load or run anything
NONE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# the public website: the level colours are a <style> made from config; nothing else inline, no scripts
WEBSITE: Mapping[str, str] = {
    CSP: "default-src 'none'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'",
    REFERRER: "no-referrer",
}
# the subscription pages: forms to themselves; their URLs may carry tokens, so no referrer at all
SUBSCRIPTION: Mapping[str, str] = {
    CSP: "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    REFERRER: "no-referrer",
}
# the console: its own scripts, the FM preview's audio and the live view's event stream
CONSOLE: Mapping[str, str] = {
    CSP: "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    REFERRER: "same-origin",
}
DEFAULTS: Mapping[str, str] = {CSP: NONE, REFERRER: "no-referrer", "X-Content-Type-Options": "nosniff"}


async def secure(request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers a response lacks, and name no versions in Server (on_response_prepare)."""
    for name, value in DEFAULTS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER


def install(app: web.Application) -> None:
    """Give every response of ``app`` the security headers."""
    app.on_response_prepare.append(secure)
    # a request aiohttp's parser refuses (a raw non-ASCII target) is answered before any app sees it,
    # with aiohttp's default Server header: this module constant is the only way to rename it
    web_response.SERVER_SOFTWARE = SERVER  # type: ignore[attr-defined]
