"""Test-only channels: they stand in for third-party services at the channel seam (channels/base.py).

A FakeChannel renders a tiny Message and hands each send() to a *behaviour*, an async function the
test writes: deliver, raise a DeliveryError, or wait on an asyncio.Event the test controls. Every
call is recorded, with its outcome, so tests assert on what the dispatcher asked the channel to do.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from broadcaster.channel import RunsAs
from broadcaster.errors import PartialDelivery
from broadcaster.models import BROADCAST_KEY, Alert, Message, Recipient, Recipients
from broadcaster.rendering import NO_LIMITS, Limits


@dataclass
class Call:
    """One send() the dispatcher made."""

    channel: str
    alert_id: str
    msg_type: str  # the alert's msg_type: alert | update | cancel
    mode: str
    to: tuple[Recipient, ...]
    outcome: str = "in flight"  # then "sent", the raised error's class name, or "cancelled"
    failed: frozenset[str] = frozenset()  # recipient keys a PartialDelivery named

    @property
    def contacts(self) -> tuple[str, ...]:
        """Who the call went to: contacts, or ``*`` for the public."""
        return tuple(r.contact or r.key for r in self.to)

    @property
    def reached(self) -> tuple[str, ...]:
        """Who the call delivered to: everyone if it succeeded, those not named if it partly failed."""
        if self.outcome == "sent":
            return self.contacts
        if self.outcome == PartialDelivery.__name__:
            return tuple(r.contact or r.key for r in self.to if r.key not in self.failed)
        return ()


Behaviour = Callable[[Call], Awaitable[None]]
Step = BaseException | Behaviour | None


async def deliver(call: Call) -> None:
    """Accept every message."""


class Gate:
    """A behaviour that waits until the test opens the gate; ``entered`` tells the test it waits."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def __call__(self, call: Call) -> None:
        self.entered.set()
        await self.opened.wait()

    def open(self) -> None:
        """Let every waiting and later send through."""
        self.opened.set()


def script(*steps: Step) -> Behaviour:
    """Call n does steps[n], the last step repeating: None delivers, an exception is raised, a behaviour awaited."""
    numbers = itertools.count()

    async def behave(call: Call) -> None:
        step = steps[min(next(numbers), len(steps) - 1)]
        if isinstance(step, BaseException):
            raise step
        if step is not None:
            await step(call)

    return behave


class FakeChannel:
    """A channel whose send() runs a behaviour; records calls, their outcomes and the concurrency reached."""

    limits: Limits = NO_LIMITS
    runs_as: RunsAs = RunsAs.REAL  # it stands in for the real service, not for the outbox

    def __init__(
        self,
        name: str,
        behave: Behaviour = deliver,
        events: list[str] | None = None,
        close_error: BaseException | None = None,
    ) -> None:
        self.name = name
        self.behave = behave
        self.events: list[str] = [] if events is None else events  # shared between channels for ordering
        self.close_error = close_error  # what aclose() raises, as a library's close may
        self.closed = False
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def render(self, alert: Alert, lang: str) -> Message:
        """A message that carries what the tests check: the alert, its type and mode."""
        return Message(alert.id, self.name, lang, alert.mode, subject=alert.msg_type, text=alert.title)

    async def send(self, message: Message, to: Recipients) -> None:
        """Record the call and run the behaviour."""
        call = Call(self.name, message.alert_id, message.subject, message.mode, tuple(to))
        self.calls.append(call)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.events.append(f"{self.name}:{message.alert_id}:start")
        try:
            await self.behave(call)
        except asyncio.CancelledError:
            call.outcome = "cancelled"
            raise
        except BaseException as exc:
            call.outcome = type(exc).__name__
            if isinstance(exc, PartialDelivery):
                call.failed = frozenset(exc.failures)
            raise
        else:
            call.outcome = "sent"
        finally:
            self.in_flight -= 1
            self.events.append(f"{self.name}:{message.alert_id}:{call.outcome}")

    async def aclose(self) -> None:
        """Note that it was asked to close; raise ``close_error`` if the test gave one."""
        self.closed = True
        if self.close_error is not None:
            raise self.close_error

    def calls_for(self, alert_id: str) -> list[Call]:
        """The calls made for one alert, in order."""
        return [c for c in self.calls if c.alert_id == alert_id]

    def delivered(self, alert_id: str) -> list[str]:
        """Contacts (``*`` for the public) that one alert reached, one entry per successful delivery."""
        return sorted(who for c in self.calls_for(alert_id) for who in c.reached)


PUBLIC = [BROADCAST_KEY]  # what delivered() returns for a public channel's one delivery
