"""What a request carries, read so that no byte sequence becomes a 500: a bad input is a 4xx here.

aiohttp decodes the request line and the headers as UTF-8 with ``surrogateescape``, so bytes that are
not UTF-8 arrive as lone surrogates, which SQLite, ``str.encode`` and templates refuse far from the
request. ``refuse_undecodable`` answers 400 at the door instead. Forms and JSON are read here with
every decoding error (a bad charset, bytes that are not UTF-8, a broken multipart body, nesting too
deep for the parser) turned into 400 where they are read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]  # what request.post() holds

NOT_UTF8 = "the request is not UTF-8: its address, a header or a cookie holds bytes that are not\n"
BAD_FORM = "the form could not be read: send it as UTF-8 (application/x-www-form-urlencoded)\n"


def as_bytes(text: str) -> bytes:
    """``text`` as UTF-8 bytes for a comparison or a digest, whatever it holds (lone surrogates included)."""
    return text.encode("utf-8", "surrogatepass")


def is_utf8(text: str) -> bool:
    """Whether ``text`` is proper Unicode (no lone surrogates, which stand for bytes that were not UTF-8)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@web.middleware
async def refuse_undecodable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a request whose address or headers (cookies included) are not UTF-8, before any handler."""
    if not is_utf8(request.raw_path) or not all(is_utf8(v) for v in request.headers.values()):
        raise web.HTTPBadRequest(text=NOT_UTF8)
    return await handler(request)


async def read_form(request: web.Request) -> Form:
    """The posted form (``request.post()``, which caches it); 400 when it cannot be decoded, 413 when too large."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError):
        # ValueError: bytes not in the charset (UnicodeDecodeError), a wrong multipart boundary;
        # LookupError: a charset Python does not know; HttpProcessingError: a part's headers are broken
        raise web.HTTPBadRequest(text=BAD_FORM) from None


def nesting(raw: bytes | bytearray, limit: int) -> bool:
    """Whether JSON text nests arrays and objects at most ``limit`` deep (strings skipped; no parsing).

    Checked before ``json.loads``, whose recursion a few thousand brackets exhaust.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True  # the common case, at C speed
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True
