"""`run.py jma …`: inspect a document, replay documents as if the feed had sent them, serve samples."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from broadcaster import districts
from broadcaster.cli.db import opened_store
from broadcaster.cli.delivery import hand_over
from broadcaster.cli.listen import listen
from broadcaster.errors import InputError
from broadcaster.lifecycle import Lifecycle
from broadcaster.settings import Settings
from feeds.jma.areas import AreaCodes, Match, concerning, highest_intensity
from feeds.jma.atom import AtomError, parse_feed
from feeds.jma.freshness import is_stale
from feeds.jma.ingest import JmaIngest
from feeds.jma.parse import ignored_reason, parse
from feeds.jma.policy import decide
from feeds.jma.report import Report
from feeds.jma.targets import target
from feeds.jma.xmlsafe import RefusedDocument, is_atom_feed
from feeds.replay import serve_samples

NOTHING = ("なし", "発表警報・注意報はなし")  # placeholders saying no kind applies: not items
# --area CODE: which configured code it replaces, by its length
AREA_BY_LENGTH = {7: "city", 6: "forecast_area", 3: "earthquake_region", 2: "prefecture"}


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py jma …`."""
    if args.action == "inspect":
        return cmd_inspect(settings, args)
    if args.action == "serve-samples":
        return cmd_serve_samples(settings, args)
    return asyncio.run(cmd_replay(settings, [_read(name, settings.jma.max_bytes) for name in args.files]))


def _read(name: str, max_bytes: int) -> tuple[str, bytes]:
    """A document's name and bytes, read no further than ``max_bytes`` + 1 ([jma] max_bytes): /dev/zero ends too."""
    try:
        with Path(name).open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}; give readable JMA XML files") from None
    if len(data) > max_bytes:
        raise InputError(f"{name} is larger than [jma] max_bytes ({max_bytes} bytes); give a JMA XML document")
    return Path(name).name, data


def area_codes(settings: Settings, given: list[str] | None) -> list[AreaCodes]:
    """The configured codes, or each --area code on its own (it sets the level of its length; the rest match nothing).

    ``given`` is every --area value: the flag may be repeated, take several codes, or codes separated by commas.
    """
    if not given:
        return [AreaCodes.of(settings.areas)]
    found: list[AreaCodes] = []
    for code in dict.fromkeys(c.strip() for value in given for c in value.split(",") if c.strip()):
        if not (code.isascii() and code.isdigit()) or len(code) not in AREA_BY_LENGTH:
            raise InputError(
                f"--area {code!r}: give 7 (市町村), 6 (府県予報区), 3 (地震細分区域) or 2 (都道府県) digits"
            )
        codes = dict.fromkeys(AREA_BY_LENGTH.values(), "")
        codes[AREA_BY_LENGTH[len(code)]] = code
        found.append(AreaCodes(**codes))
    if not found:
        raise InputError("--area: give at least one code")
    return found


def matching(report: Report, codes: list[AreaCodes]) -> Match:
    """The document against each set of codes, joined: it concerns them if it concerns any."""
    matches = [concerning(report, c) for c in codes]
    hits = [m for m in matches if m.concerns_area]
    if not hits:
        return (
            matches[0]
            if len(matches) == 1
            else dataclasses.replace(matches[0], reason="; ".join(dict.fromkeys(m.reason for m in matches)))
        )
    levels = [m.level for m in hits if m.level is not None]
    return Match(
        concerns_area=True,
        items=tuple(dict.fromkeys(item for m in hits for item in m.items)),
        level=max(levels, default=None),
        max_intensity=highest_intensity(m.max_intensity for m in hits),
        reason="; ".join(m.reason for m in hits),
    )


def inspect_document(
    settings: Settings, data: bytes, source: str, codes: list[AreaCodes], now: float | None = None
) -> dict[str, Any]:
    """The `jma inspect` object for one document (or feed); raises RefusedDocument for bad input.

    ``stale`` says whether the document is older than its family's [jma.max_age] now (or at ``now``).
    ``districts`` are the configured city's (whatever --area says): those an alert from it would target,
    [] for the whole city, with ``districts_reason`` saying why.
    """
    if is_atom_feed(data, max_bytes=settings.jma.max_bytes):
        try:
            return {"feed": True, "entries": len(parse_feed(data))}
        except AtomError as exc:
            raise RefusedDocument(str(exc)) from None
    report = parse(data, source=source, max_bytes=settings.jma.max_bytes)
    match = matching(report, codes)
    ignored = ignored_reason(report)
    verdict = decide(settings.jma.policy, report.kind, match.concerns_area, match.level, match.max_intensity)
    if ignored:
        decision, reason = "ignore", ignored
    elif not match.concerns_area:
        decision, reason = "ignore", match.reason
    else:
        decision, reason = verdict.decision, verdict.reason
    if report.is_exercise and decision != "ignore":
        reason += f" (exercise only: {report.status}{'、' + report.notice if report.notice else ''})"
    places = target(report, AreaCodes.of(settings.areas), settings)
    return {
        "kind": report.kind,
        "title": report.title,
        "status": report.status,
        "info_type": report.info_type,
        "event_id": report.event_id,
        "serial": report.serial,
        "reported_at": report.reported_at.isoformat(),
        "concerns_area": match.concerns_area,
        "items": [{"code": k.code, "name": k.name, "status": k.status} for k in match.kinds if k.name not in NOTHING],
        "level": match.level,
        "max_intensity": match.max_intensity,
        "decision": decision,
        "stale": is_stale(report, settings.jma.max_age, time.time() if now is None else now),
        "reason": reason,
        "districts": [{"id": d.id, "name": d.name} for d in districts.chosen(places.districts, settings)],
        "districts_reason": places.reason,
    }


def cmd_inspect(settings: Settings, args: argparse.Namespace) -> int:
    """Print one JSON object; a document that is not JMA XML prints an error object and exits 1.

    A file that cannot be read is the user's mistake, not the document's: InputError (exit 2).
    """
    codes = area_codes(settings, args.area)
    _, data = _read(args.file, settings.jma.max_bytes)
    try:
        out = inspect_document(settings, data, args.file, codes)
    except RefusedDocument as exc:
        out, code = {"error": str(exc)}, 1
    else:
        code = 0
    print(json.dumps(out, ensure_ascii=False, indent=None if not sys.stdout.isatty() else 2))
    return code


async def cmd_replay(settings: Settings, documents: list[tuple[str, bytes]]) -> int:
    """Hand documents to the JMA pipeline as if the feed had delivered them; prints one line each."""
    async with opened_store(settings) as store:
        await store.check_data_key()  # delivering here opens contacts: refused before anything is stored
        ingest = JmaIngest(Lifecycle(store, settings))
        handled = [await ingest.handle(name, data) for name, data in documents]
        for h in handled:
            print(json.dumps({"file": h.source, "kind": h.kind, "decision": h.decision, "reason": h.reason,
                              "alert": h.alert_id}, ensure_ascii=False))  # fmt: skip
        auto = [h.alert_id for h in handled if h.alert_id and h.decision == "auto"]
        if auto:
            await hand_over(settings, store, auto)
    return 1 if any(h.decision == "refused" for h in handled) else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve_samples(settings: Settings, args: argparse.Namespace) -> int:
    """Serve a folder as a local JMA feed until interrupted."""
    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder of JMA XML files to serve")
    context = _tls(args.cert, args.key)
    sockets = listen(args.host, args.port)
    signal.signal(signal.SIGTERM, _interrupt)  # stop on SIGTERM as cleanly as on Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_samples(folder, sockets=sockets, ssl_context=context))
    return 0


def _tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The server context for --cert/--key, or None (plain http) without --cert."""
    if cert is None:
        if key is not None:
            raise InputError("--key needs --cert; give the certificate too")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except OSError as exc:
        raise InputError(f"cannot read {exc.filename or cert}: {exc.strerror}; give readable PEM files") from None
    except ssl.SSLError as exc:
        raise InputError(f"--cert/--key: not a certificate and its key ({exc.reason}); give PEM files") from None
    return context
