"""The dispatcher: one worker per channel claims delivery rows, renders, sends and records.

Channels are isolated from each other: each has its own worker, concurrency cap, token bucket and
timeout, so one channel's outage or slowness never delays another. Workers wake on an event when
work arrives and sleep on a timer only until the next scheduled retry; they never poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from broadcaster.channel import Channel, ChannelSet
from broadcaster.errors import DeliveryError, PartialDelivery, PermanentError, TransientError
from broadcaster.metrics import Metrics
from broadcaster.models import Alert, AlertId, ChannelName, Claim, DeliveryState, Message, Mode, Outcome, Recipient
from broadcaster.pacing import RetryPolicy, TokenBucket
from broadcaster.settings import ChannelSettings, Settings
from broadcaster.store import Store

log = logging.getLogger("broadcaster.dispatch")
STORE_RETRY_S = 1.0  # pause after a failed claim
RECHECK_S = 1.0  # wait_until looks again at least this often
CACHE_SIZE = 64  # alerts and renderings a worker keeps; a fan-out touches one or two at a time


@dataclass
class ChannelHealth:
    """How a channel's sends have gone since the service started, for the console."""

    last_success: float | None = None
    last_failure: float | None = None
    last_error: str = ""


class ChannelWorker:
    """Claims, sends and records the rows of one channel."""

    def __init__(
        self,
        name: ChannelName,
        live: Channel,
        exercise: Channel,
        store: Store,
        settings: Settings,
        policy: RetryPolicy,
        metrics: Metrics | None,
    ) -> None:
        self.name = name
        self.sinks = {Mode.LIVE: live, Mode.EXERCISE: exercise}
        self.store = store
        self.conf: ChannelSettings = settings.channels[name]
        self.claim_size = max(settings.dispatcher.claim_size, self.conf.batch_size)
        self.lease = settings.dispatcher.lease_seconds
        self.policy = policy
        self.metrics = metrics
        self.wakeup = asyncio.Event()
        self.stopping = False
        self._chunks = asyncio.Semaphore(settings.dispatcher.inflight_chunks)
        self._sends = asyncio.Semaphore(self.conf.concurrency)
        self._bucket = TokenBucket(self.conf.rate_per_s, self.conf.burst)
        self._alerts: dict[AlertId, Alert] = {}
        self._messages: dict[tuple[AlertId, str], Message] = {}
        self.settling: set[asyncio.Future[None]] = set()  # store writes that must outlive a cancel
        self._store_failed_at = 0.0
        self._retry_scheduled = False
        self.progress = asyncio.Event()  # set after every recorded chunk; watchers clear it
        self.health = ChannelHealth()

    def wake(self) -> None:
        """Tell the worker there may be new work."""
        self.wakeup.set()

    async def run(self) -> None:
        """Claim and deliver until stopped; in-flight chunks finish before this returns."""
        async with asyncio.TaskGroup() as tg:
            while not self.stopping:
                await self._chunks.acquire()
                self.wakeup.clear()  # before claiming, so a wake during the claim is not lost
                claims = [] if self.stopping else await self._claim()
                if claims:
                    tg.create_task(self._chunk(claims))
                    continue
                self._chunks.release()
                if not self.stopping:
                    await self._idle()

    async def _claim(self) -> list[Claim]:
        now = time.time()
        try:
            return await self.store.claim(self.name, self.claim_size, now + self.lease, now)
        except Exception:  # a full disk or a locked database must not end the worker for good
            log.exception("claim failed channel=%s; trying again in %g s", self.name, STORE_RETRY_S)
            self._store_failed_at = time.time()
            return []

    async def _idle(self) -> None:
        if time.time() - self._store_failed_at < STORE_RETRY_S:
            due: float | None = self._store_failed_at + STORE_RETRY_S
        else:
            due = await self.store.next_due(self.name)
        timeout = None if due is None else max(0.0, due - time.time())
        try:
            async with asyncio.timeout(timeout):
                await self.wakeup.wait()
        except TimeoutError:
            pass  # a scheduled retry is due

    async def _chunk(self, claims: list[Claim]) -> None:
        outcomes: dict[int, Outcome] = {}
        try:
            async with asyncio.TaskGroup() as tg:
                groups: dict[tuple[AlertId, str], list[Claim]] = defaultdict(list)
                for c in claims:
                    groups[c.alert_id, c.lang].append(c)
                for (alert_id, lang), rows in groups.items():
                    for start in range(0, len(rows), self.conf.batch_size):
                        batch = rows[start : start + self.conf.batch_size]
                        tg.create_task(self._deliver(alert_id, lang, batch, outcomes))
        finally:
            # also on cancellation: record what went out, hand back what did not
            unsent = [c.id for c in claims if c.id not in outcomes]
            settle = asyncio.ensure_future(self._settle(list(outcomes.values()), unsent))
            self.settling.add(settle)
            settle.add_done_callback(self.settling.discard)
            self._chunks.release()
            await asyncio.shield(settle)

    async def _settle(self, outcomes: list[Outcome], unsent: list[int]) -> None:
        try:
            for alert_id in await self.store.record(self.name, outcomes, time.time()):
                log.info("alert %s done: every delivery reached a final state", alert_id)
            await self.store.release(self.name, unsent)
        except Exception:  # the rows stay leased; recovery at the next start sends them again
            log.exception("recording failed channel=%s rows=%d", self.name, len(outcomes) + len(unsent))
        self.progress.set()
        if self._retry_scheduled:
            self._retry_scheduled = False
            self.wake()  # re-plan the idle timer around the new retry

    async def _alert(self, alert_id: AlertId) -> Alert | None:
        alert = self._alerts.get(alert_id)
        if alert is None:
            alert = await self.store.get_alert(alert_id)
            if alert is not None:
                if len(self._alerts) >= CACHE_SIZE:
                    self._alerts.clear()
                self._alerts[alert_id] = alert
        return alert

    def _message(self, sink: Channel, alert: Alert, lang: str) -> Message:
        key = (alert.id, lang)
        message = self._messages.get(key)
        if message is None:
            if len(self._messages) >= CACHE_SIZE:
                self._messages.clear()
            message = self._messages[key] = sink.render(alert, lang if lang in alert.languages else "ja")
        return message

    async def _deliver(self, alert_id: AlertId, lang: str, batch: list[Claim], out: dict[int, Outcome]) -> None:
        alert = await self._alert(alert_id)
        if alert is None:
            return self._fail(batch, "alert not found", out)
        if alert.expires is not None and alert.expires < time.time():
            return self._fail(batch, "expired before delivery", out)
        sink = self.sinks[alert.mode]
        try:
            message = self._message(sink, alert, lang)
        except Exception as exc:  # a template bug must not stop the other channels
            log.exception("render failed alert=%s channel=%s", alert_id, self.name)
            return self._fail(batch, f"render failed: {exc}", out)
        async with self._sends:
            await self._bucket.take()
            started = time.monotonic()
            error: BaseException | None = None
            try:
                async with asyncio.timeout(self.conf.timeout):
                    await sink.send(message, [Recipient(c.key, c.contact, c.lang) for c in batch])
            except (DeliveryError, TimeoutError) as exc:
                error = exc
            except Exception as exc:  # a bug in a channel: recorded, never retried, logged in full
                log.exception("send crashed alert=%s channel=%s", alert_id, self.name)
                error = PermanentError(f"internal error: {exc!r}")
            elapsed = time.monotonic() - started
        outcome = self._judge(batch, error, out)
        # health is the live sink's: an exercise written to the outbox says nothing of a failing service
        real = sink is self.sinks[Mode.LIVE]
        if real and error is None:
            self.health.last_success = time.time()
        elif real:
            self.health.last_failure, self.health.last_error = time.time(), f"{error!s:.200}"
        attempt = max(c.attempts for c in batch)
        log.info(
            "delivery alert=%s channel=%s mode=%s lang=%s recipients=%d attempt=%d elapsed_ms=%.1f outcome=%s%s",
            alert_id,
            self.name,
            alert.mode,
            lang,
            len(batch),
            attempt,
            elapsed * 1000,
            outcome,
            f" error={error!s:.200}" if error else "",
        )
        if self.metrics:
            self.metrics.observe_send(self.name, elapsed, outcome, real)

    def _judge(self, batch: list[Claim], error: BaseException | None, out: dict[int, Outcome]) -> str:
        """Turn a send's result into outcomes; returns a one-word summary for the log."""
        now = time.time()
        if error is None:
            for c in batch:
                out[c.id] = Outcome(c.id, c.alert_id, DeliveryState.SENT)
            return "sent"
        if not isinstance(error, PartialDelivery):
            # One verdict and one retry time for the whole batch, so it is retried as the same batch:
            # channels derive idempotency keys (LINE's retry key) from the batch's recipients.
            oldest = min(batch, key=lambda c: (c.queued_at, -c.attempts))
            whole = self._retry_or_fail(oldest._replace(attempts=max(c.attempts for c in batch)), error, now)
            for c in batch:
                out[c.id] = whole._replace(id=c.id, alert_id=c.alert_id)
            return type(error).__name__
        failures: Mapping[str, BaseException] = error.failures
        for c in batch:
            exc = failures.get(c.key)
            out[c.id] = (
                Outcome(c.id, c.alert_id, DeliveryState.SENT) if exc is None else self._retry_or_fail(c, exc, now)
            )
        return "partial"

    def _retry_or_fail(self, claim: Claim, exc: BaseException, now: float) -> Outcome:
        if isinstance(exc, TimeoutError):
            exc = TransientError(f"timed out after {self.conf.timeout:g} s")
        if isinstance(exc, TransientError):
            at = self.policy.next_attempt(claim.attempts, claim.queued_at, now, exc.retry_after)
            if at is not None:
                self._retry_scheduled = True
                return Outcome(claim.id, claim.alert_id, DeliveryState.PENDING, str(exc), at)
            return Outcome(
                claim.id, claim.alert_id, DeliveryState.FAILED, f"gave up after {claim.attempts} attempts: {exc}"
            )
        return Outcome(claim.id, claim.alert_id, DeliveryState.FAILED, str(exc) or type(exc).__name__)

    @staticmethod
    def _fail(batch: Iterable[Claim], reason: str, out: dict[int, Outcome]) -> None:
        for c in batch:
            out[c.id] = Outcome(c.id, c.alert_id, DeliveryState.FAILED, reason)


class Dispatcher:
    """Owns one worker per channel. Use as ``async with``: leaving drains, then cancels."""

    def __init__(
        self,
        store: Store,
        channels: ChannelSet,
        settings: Settings,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.grace = settings.dispatcher.shutdown_grace
        policy = policy or RetryPolicy.from_settings(settings.retry)
        self.workers = {
            name: ChannelWorker(name, live, channels.exercise[name], store, settings, policy, metrics)
            for name, live in channels.live.items()
        }
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True while the workers run."""
        return self._task is not None and not self._task.done()

    async def wait_until(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Return once ``check()`` holds, looking again after every recorded chunk (no polling)."""
        events = [w.progress for w in self.workers.values()]
        while True:
            for event in events:
                event.clear()  # before looking, so progress made while we look is not missed
            if await check():
                return
            waiters = [asyncio.ensure_future(e.wait()) for e in events]
            try:
                # the events are shared: another watcher may clear one between our check and our wait,
                # so look again after a while even without a wake-up
                await asyncio.wait(waiters, timeout=RECHECK_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def approve(self, alert_id: AlertId, actor: str, origin: str) -> dict[ChannelName, int]:
        """Plan an alert as it stands, with no policy check, and wake workers: for tests and benchmarks.

        The service, the console and the CLI send through ``broadcaster.lifecycle``, which applies the
        approval policy and wakes the workers through ``wake``.
        """
        planned = await self.store.approve(alert_id, actor, origin)
        self.wake(planned)
        return planned

    def wake(self, channels: Iterable[ChannelName] | None = None) -> None:
        """Wake the workers of ``channels`` (all when None)."""
        for name in self.workers if channels is None else channels:
            if name in self.workers:
                self.workers[name].wake()

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for worker in self.workers.values():
                tg.create_task(worker.run(), name=f"worker-{worker.name}")

    async def __aenter__(self) -> Dispatcher:
        self._task = asyncio.create_task(self._run(), name="dispatcher")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop claiming, let in-flight sends finish within the grace period, then cancel them."""
        if self._task is None:
            return
        for worker in self.workers.values():
            worker.stopping = True
            worker.wake()
        try:
            async with asyncio.timeout(self.grace):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        settling = [f for w in self.workers.values() for f in w.settling]
        await asyncio.gather(*settling)  # the store must outlive these writes
        self._task = None
