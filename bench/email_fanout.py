"""Fan one alert out to N email subscribers through the dispatcher and the EmailChannel, over real SMTP.

Tracking is on (SQLite in a temporary folder, as in the embedded default). Prints one JSON line:
{"recipients": N, "seconds": s, "messages_per_s": r}
`seconds` runs from approval (which writes the N delivery rows) to the alert being done.

With --with-sink the benchmark starts postfix's smtp-sink (Debian package postfix) on a free port,
sends to it, and then times postfix's own C client, smtp-source, sending N copies of one of our
messages in as many parallel sessions as our pool has connections, into the same sink. It adds
"smtp_source_messages_per_s" and "vs_smtp_source" (our rate / smtp-source's) for smtp-source as
it runs by default (`-s 20 -m N -c`: a new connection per message), and "smtp_source_d_messages_per_s"
and "vs_smtp_source_d" for `-d` (connections kept open, as our pool keeps them). The ratios are the
figures to compare between runs on this shared, noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from broadcaster.channel import ChannelContext, ChannelSet
from broadcaster.data_key import DATA_KEY_ENV, new_key
from broadcaster.dispatcher import Dispatcher
from broadcaster.gc_tuning import tune_gc
from broadcaster.models import Alert, AlertState, ContactKind, Mode, Recipient, Source, Subscriber
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings, load_settings
from broadcaster.store.sqlite import SQLiteStore
from channels.email.channel import EmailChannel, create
from channels.email.render import BODY

SENDER = "anshin@city.example.jp"
SINK_BACKLOG = 1000


def subscribers(n: int) -> Iterator[Subscriber]:
    """N active email subscribers of the disaster category, streamed."""
    for i in range(n):
        yield Subscriber(0, ContactKind.EMAIL, f"resident{i}@example.jp", frozenset({"disaster"}), "ja")


def bench_settings(folder: Path, host: str, port: int, pool: int, batch: int, concurrency: int) -> Settings:
    """Default settings, storage in ``folder``, [email] at the sink, the email channel opened wide."""
    site = folder / "bench.toml"
    site.write_text(
        f'[storage]\npath = "{folder / "bench.db"}"\noutbox_dir = "{folder / "outbox"}"\n'
        f'[email]\nhost = "{host}"\nport = {port}\ntls = "none"\npool = {pool}\ntimeout = 30.0\n'
        f'sender = "小山市 安全安心メール <{SENDER}>"\nunsubscribe_mailto = "unsubscribe@city.example.jp"\n'
        f"[channels.email]\nbatch_size = {batch}\nconcurrency = {concurrency}\nrate_per_s = 1000000.0\n"
        f"burst = 1000\ntimeout = 600.0\n"
        "[dispatcher]\nclaim_size = 4000\ninflight_chunks = 2\n",
        encoding="utf-8",
    )
    return load_settings(site)


def bench_alert() -> Alert:
    """A typical evacuation order."""
    return Alert(
        id="bench-email-1",
        source=Source.STAFF,
        category="disaster",
        level=4,
        title="思川の氾濫危険情報　小山市に避難指示",
        body="思川の水位が氾濫危険水位に達しました。\n間々田地区、乙女地区の指定避難所を開設しました。",
        instruction="危険な場所から全員避難してください。",
        mode=Mode.LIVE,
        channels=("email",),
        created_at=time.time(),
    )


async def _done(store: SQLiteStore, alert_id: str) -> bool:
    alert = await store.get_alert(alert_id)
    return alert is not None and alert.state == AlertState.DONE


async def run(n: int, folder: Path, settings: Settings) -> tuple[dict[str, float | int | str], bytes]:
    """Set up N subscribers, time one alert's fan-out; also returns one message as sent, for smtp-source."""
    store = await SQLiteStore.open(settings.path(settings.storage.path))
    await store.import_subscribers(subscribers(n))
    environ = {"BROADCASTER_SECRET_KEY": secrets.token_urlsafe(32)}
    channel: EmailChannel = create(ChannelContext("email", settings, Renderer(settings), environ))
    channels = ChannelSet(live={"email": channel}, exercise={"email": channel}, notices=[])
    alert = bench_alert()
    await store.create_alert(alert, "bench", "bench")
    try:
        tune_gc()  # as the service does once it has started
        async with Dispatcher(store, channels, settings) as dispatcher:
            started = time.perf_counter()
            await dispatcher.approve(alert.id, "bench", "bench")
            await dispatcher.wait_until(lambda: _done(store, alert.id))
            seconds = time.perf_counter() - started
        report = await store.report(alert.id)
    finally:
        await channel.aclose()
        await store.aclose()
    sent = report[0].counts.get("sent", 0)
    if sent != n:
        raise SystemExit(f"expected {n} deliveries sent, the store says {sent}: {report[0].last_error}")
    message = channel.render(alert, "ja")
    sample = channel.headers(message, Recipient("1", "resident1@example.jp"), "Thu, 26 Nov 2026 03:15:00 +0900")
    sample += dict(message.attachments)[BODY]
    return {"recipients": n, "seconds": round(seconds, 3), "messages_per_s": round(n / seconds)}, sample


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, within: float = 10.0) -> None:
    """Return once something accepts connections on host:port."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def smtp_sink(port: int) -> Iterator[None]:
    """postfix's smtp-sink on 127.0.0.1:port, throwing every message away."""
    exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(exe).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix")
    user = ["-u", "root"] if os.geteuid() == 0 else []  # it refuses to keep root privileges otherwise
    sink = subprocess.Popen(
        [exe, *user, f"127.0.0.1:{port}", str(SINK_BACKLOG)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield
    finally:
        sink.terminate()
        sink.wait(10)


def smtp_source_rate(n: int, port: int, sessions: int, sample: bytes, folder: Path, persistent: bool) -> float:
    """Messages/s of postfix's smtp-source sending N copies of ``sample`` in ``sessions`` parallel sessions.

    By default smtp-source opens a connection per message; ``persistent`` (-d) keeps each session's
    connection for all its messages, as our pool does.
    """
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    message = folder / "sample.eml"
    message.write_bytes(sample.replace(b"\r\n", b"\n"))  # -F adds CRLF to each line itself
    command = [exe, "-s", str(sessions), "-m", str(n), "-c", "-f", SENDER, "-t", "resident@example.jp"]
    if persistent:
        command.append("-d")
    started = time.perf_counter()
    subprocess.run([*command, "-F", str(message), f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    return n / (time.perf_counter() - started)


def loop_factory(enabled: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when asked for and installed, else asyncio's own."""
    if not enabled:
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main() -> None:
    """Parse arguments and print the JSON line."""
    os.environ.setdefault(DATA_KEY_ENV, new_key())  # seals the throwaway database's contacts
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--smtp", metavar="HOST:PORT", help="the SMTP server to send to (plain SMTP, no auth)")
    p.add_argument("--with-sink", action="store_true", help="start smtp-sink, and compare with smtp-source")
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--pool", type=int, default=20, help="SMTP connections ([email] pool)")
    p.add_argument("--batch-size", type=int, default=500, help="recipients per send() ([channels.email])")
    p.add_argument("--concurrency", type=int, default=4, help="send() calls at once ([channels.email])")
    p.add_argument("--no-uvloop", dest="uvloop", action="store_false", help="use asyncio's own event loop")
    args = p.parse_args()
    if bool(args.smtp) == args.with_sink:
        p.error("give either --smtp HOST:PORT or --with-sink")
    with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        if args.with_sink:
            host, port = "127.0.0.1", free_port()
            stack.enter_context(smtp_sink(port))
        else:
            host, _, port_text = args.smtp.rpartition(":")
            port = int(port_text)
        settings = bench_settings(folder, host, port, args.pool, args.batch_size, args.concurrency)
        factory = loop_factory(args.uvloop)
        with asyncio.Runner(loop_factory=factory) as runner:
            result, sample = runner.run(run(args.recipients, folder, settings))
        result["event_loop"] = "uvloop" if factory else "asyncio"
        if args.with_sink:
            rate = float(result["messages_per_s"])
            source = smtp_source_rate(args.recipients, port, args.pool, sample, folder, persistent=False)
            result["smtp_source_messages_per_s"] = round(source)
            result["vs_smtp_source"] = round(rate / source, 2)
            kept = smtp_source_rate(args.recipients, port, args.pool, sample, folder, persistent=True)
            result["smtp_source_d_messages_per_s"] = round(kept)
            result["vs_smtp_source_d"] = round(rate / kept, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
