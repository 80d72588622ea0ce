"""LINE: multicast to subscribers (≤ 500 user ids a call), or broadcast to every friend.

Rendering is channels/line/render.py's (no SDK there): the LINE message objects and the delivery
mode travel in the Message as the attachment ``line.json``, so ``send`` only does I/O.

Delivery is at least once, made idempotent with ``X-Line-Retry-Key``:

- multicast: one key per chunk, a UUID derived from the alert id and the chunk's sorted subscriber
  keys, so a retry or a restart that resends the same rows sends the same key. LINE answers a key it
  already accepted with 409, which counts as delivered.
- broadcast: one key per alert. Broadcast alerts (a live alert whose category is in
  ``[line] broadcast_categories``) still have one delivery row per subscriber, planned as usual: the
  first batch sends the one broadcast and every later batch of that alert is recorded as delivered
  without another call (concurrent batches wait for the same call). After a restart the next batch
  calls again with the same key and gets 409. A planner that writes one ``*`` row for such alerts
  works too: a batch holding the ``*`` recipient is sent as the broadcast.
  Exercise alerts are never broadcast: they reach only the testers' rows, by multicast.

Errors: 409 is success; 5xx, timeouts and connection errors are transient (same key next time); a 429
is transient (retry after 1 s) unless its body says the monthly quota is used up, which is permanent
and sets ``quota_exhausted``; every other 4xx is permanent. User ids never appear in errors or logs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from linebot.v3.messaging import (  # type: ignore[import-untyped]
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    BroadcastRequest,
    Configuration,
    MulticastRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging import Message as SdkMessage

from broadcaster.channel import ChannelContext, RunsAs
from broadcaster.errors import DeliveryError, PartialDelivery, PermanentError, TransientError
from broadcaster.models import BROADCAST_KEY, Alert, AlertId, Message, Mode, Recipient, Recipients
from broadcaster.rendering import Renderer
from broadcaster.settings import Settings
from channels.line import TOKEN_ENV
from channels.line.render import MAX_MESSAGES, NAME, PAYLOAD, LineJson, LineRenderer, decode_payload

log = logging.getLogger("broadcaster.channels.line")

MAX_RECIPIENTS = 500  # user ids per multicast call
RATE_LIMIT_RETRY_S = 1.0  # LINE sends no Retry-After; its limits are per second
QUOTA_MESSAGE = "monthly limit"  # in the body of the 429 that means the month's messages are used up
USER_ID = re.compile(r"U[0-9a-f]{32}")
USER_IDS = re.compile(r"(?:U[0-9a-f]{32},)*")  # comma-terminated ids, checked in one call
HASH_PIECE = 2000  # bytes hashed per call, below hashlib's GIL-release threshold
RETRY_KEYS = uuid.UUID("4f2b9696-bc14-4eac-b69a-43e5333697ac")  # uuid5 namespace; never change it


def retry_key(alert_id: AlertId, keys: Sequence[str]) -> str:
    """The X-Line-Retry-Key of one multicast chunk: the same rows of the same alert give the same key.

    A UUID version 5 (SHA-1 in the RETRY_KEYS namespace) of the alert id and the sorted keys.
    """
    digest = hashlib.sha1(RETRY_KEYS.bytes + f"multicast\n{alert_id}\n".encode(), usedforsecurity=False)
    data = ",".join(sorted(keys)).encode()
    # fed in pieces: hashlib lets go of the GIL for 2 KiB or more, and getting it back from the
    # store's thread under load costs more than the hashing (measured: ~1 ms a call)
    for i in range(0, len(data), HASH_PIECE):
        digest.update(data[i : i + HASH_PIECE])
    return str(uuid.UUID(bytes=digest.digest()[:16], version=5))


def broadcast_key(alert_id: AlertId) -> str:
    """The X-Line-Retry-Key of an alert's one broadcast."""
    return str(uuid.uuid5(RETRY_KEYS, f"broadcast\n{alert_id}"))


@dataclasses.dataclass(frozen=True, slots=True)
class _Outgoing:
    """One rendering's LINE messages: as plain JSON (what is sent) and as SDK objects (what the SDK takes)."""

    broadcast: bool
    plain: list[LineJson]
    sdk: list[Any]


class _Multicast(MulticastRequest):  # type: ignore[misc]
    """A MulticastRequest built with ``construct`` and serialised from the plain JSON it was made from.

    The SDK validates 500 ids on construction, then serialises with pydantic's dict() and walks the
    result again: about 2 ms a call, more than the rest of the call and 40 % of a core at LINE's
    200 calls/s. Here the ids were checked in send(), the chunk holds ≤ 500 and the messages were
    checked once when parsed, so both steps are skipped; the SDK still sends, authenticates and raises.
    """

    def to_dict(self) -> dict[str, Any]:
        """The request body."""
        return {"to": self.to, "messages": self.plain}


class _ApiClient(AsyncApiClient):  # type: ignore[misc]
    """The SDK's client, taking a _Multicast body as the plain JSON it already is.

    Its serialiser otherwise walks every one of the 500 ids again (about 0.4 ms a call).
    """

    def sanitize_for_serialization(self, obj: Any) -> Any:
        """Plain JSON as it is; everything else the SDK's way."""
        if isinstance(obj, _Multicast):
            return obj.to_dict()
        return super().sanitize_for_serialization(obj)


# -- the channel -----------------------------------------------------------------


class LineChannel:
    """The LINE official account, through line-bot-sdk v3's async client."""

    name: str = NAME
    runs_as = RunsAs.REAL

    def __init__(self, token: str, settings: Settings, renderer: Renderer, *, flex: bool = True) -> None:
        self.settings = settings
        self.renderer = LineRenderer(settings, renderer, flex=flex)
        self.quota_exhausted = False  # the last send was refused for the monthly quota
        self.quota_refusals = 0  # sends refused for the quota since start
        self._token = token
        self._timeout = settings.line.request_timeout
        conf = settings.channels.get(self.name)
        self._pool = max(10, conf.concurrency if conf else 0)
        self._client: Any = None  # the SDK's AsyncApiClient, made on first use: it needs the running loop
        self._api: Any = None
        self._prepared: dict[bytes, _Outgoing] = {}
        self._broadcast_sent: set[AlertId] = set()
        self._broadcasting: dict[AlertId, asyncio.Task[None]] = {}

    def render(self, alert: Alert, lang: str) -> Message:
        """The LINE messages to send, in the ``line.json`` attachment (see render.py)."""
        return self.renderer.render(alert, lang)

    # -- sending --------------------------------------------------------------------

    async def send(self, message: Message, to: Recipients) -> None:
        """Multicast in chunks of ≤ 500 user ids, or broadcast once per alert; raises DeliveryError."""
        out = self._prepare(message)
        keys = [r.key for r in to]
        if message.mode == Mode.LIVE and (out.broadcast or BROADCAST_KEY in keys):
            await self._broadcast_once(message.alert_id, out)
            return
        failures: dict[str, DeliveryError] = {}
        valid = to
        if not USER_IDS.fullmatch(",".join(r.contact for r in to) + ","):  # one regex call for the usual case
            # one malformed id would make LINE refuse the whole chunk: it fails alone
            valid = [r for r in to if USER_ID.fullmatch(r.contact)]
            malformed = PermanentError("not a LINE user id")
            failures.update((r.key, malformed) for r in to if not USER_ID.fullmatch(r.contact))
        stop: DeliveryError | None = None  # after a 429 or a timeout, the rest of the batch is not tried
        for start in range(0, len(valid), MAX_RECIPIENTS):
            chunk = valid[start : start + MAX_RECIPIENTS]
            error = stop
            if error is None:
                try:
                    await self._multicast(message.alert_id, chunk, out)
                    continue
                except DeliveryError as exc:
                    error = exc
                    if isinstance(exc, TransientError) or self.quota_exhausted:
                        stop = exc
            failures.update((r.key, error) for r in chunk)
        if not failures:
            return
        errors = set(failures.values())
        if len(failures) == len(to) and len(errors) == 1:
            raise errors.pop()
        raise PartialDelivery(failures)

    def _prepare(self, message: Message) -> _Outgoing:
        """The message's LINE payload, decoded and checked by the SDK once per rendering, not once per call."""
        key = next((data for name, data in message.attachments if name == PAYLOAD), None)
        out = self._prepared.get(key) if key is not None else None
        if out is None:
            broadcast, plain = decode_payload(message)
            plain = plain[:MAX_MESSAGES]
            try:
                sdk = [SdkMessage.from_dict(m) for m in plain]
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise PermanentError(f"LINE message refused before sending: {exc}") from exc
            out = _Outgoing(broadcast, plain, sdk)
            if key is not None:
                if len(self._prepared) >= 64:
                    self._prepared.clear()
                self._prepared[key] = out
        return out

    async def _multicast(self, alert_id: AlertId, chunk: Sequence[Recipient], out: _Outgoing) -> None:
        key = retry_key(alert_id, [r.key for r in chunk])
        request = _Multicast.construct(to=[r.contact for r in chunk], messages=out.sdk, plain=out.plain)
        await self._call(
            "multicast",
            lambda api: api.multicast_with_http_info(request, x_line_retry_key=key, _request_timeout=self._timeout),
        )

    async def _broadcast_once(self, alert_id: AlertId, out: _Outgoing) -> None:
        """Broadcast at most once per alert in this process; concurrent batches share the one call."""
        if alert_id in self._broadcast_sent:
            return
        task = self._broadcasting.get(alert_id)
        if task is None:
            task = asyncio.create_task(self._broadcast(alert_id, out), name=f"line-broadcast-{alert_id}")
            self._broadcasting[alert_id] = task
            task.add_done_callback(functools.partial(self._broadcast_finished, alert_id))
        # shielded: a batch cancelled by its timeout must not cancel the call the other batches wait on
        await asyncio.shield(task)

    async def _broadcast(self, alert_id: AlertId, out: _Outgoing) -> None:
        request = BroadcastRequest.construct(messages=out.sdk)
        key = broadcast_key(alert_id)
        await self._call(
            "broadcast",
            lambda api: api.broadcast_with_http_info(request, x_line_retry_key=key, _request_timeout=self._timeout),
        )
        self._broadcast_sent.add(alert_id)

    def _broadcast_finished(self, alert_id: AlertId, task: asyncio.Task[None]) -> None:
        self._broadcasting.pop(alert_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited any more is not reported as lost

    async def reply(self, reply_token: str, messages: Sequence[Mapping[str, Any]]) -> None:
        """Answer a webhook event with up to five LINE messages (the webhook's reply function)."""
        try:
            request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": list(messages)})
        except ValueError as exc:
            raise PermanentError(f"LINE reply refused before sending: {exc}") from exc
        await self._call("reply", lambda api: api.reply_message_with_http_info(request, _request_timeout=self._timeout))

    async def _call(self, what: str, call: Callable[[Any], Awaitable[Any]]) -> None:
        """Make one API call, translating the SDK's and aiohttp's errors once, here."""
        if self._api is None:
            self._connect()
        try:
            await call(self._api)
        except ApiException as exc:
            if exc.status == 409:  # this retry key was accepted before: delivered, do not resend
                return
            raise self._translate(what, exc) from exc
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
            raise TransientError(f"LINE {what}: no answer within {self._timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"LINE {what}: {type(exc).__name__}") from exc
        except ValueError as exc:  # the SDK's argument checks
            raise PermanentError(f"LINE {what} refused before sending: {exc}") from exc
        if what != "reply" and self.quota_exhausted:
            self.quota_exhausted = False
            log.warning("LINE accepts messages again: the monthly quota is no longer exhausted")

    def _connect(self) -> None:
        conf = Configuration(access_token=self._token, host=self.settings.line.api_host or None)
        conf.connection_pool_maxsize = self._pool
        self._client = _ApiClient(conf)  # opens an aiohttp session, so only inside the running loop
        self._api = AsyncMessagingApi(self._client)

    def _translate(self, what: str, exc: Any) -> DeliveryError:
        status = int(exc.status or 0)
        detail = _error_message(exc.body)
        if status == 429 and QUOTA_MESSAGE in detail.lower():
            self.quota_refusals += 1
            if not self.quota_exhausted:
                self.quota_exhausted = True
                log.error("LINE refuses messages: the monthly quota is exhausted; sends fail until it resets")
            return PermanentError("monthly quota exhausted")
        if status == 429:
            return TransientError(f"LINE {what}: 429 rate limited: {detail}", retry_after=RATE_LIMIT_RETRY_S)
        if status >= 500:
            return TransientError(f"LINE {what}: {status} {detail}")
        return PermanentError(f"LINE {what}: {status} {detail}")

    def health(self) -> dict[str, object]:
        """What the console and /healthz show about this channel."""
        return {"quota_exhausted": self.quota_exhausted, "quota_refusals": self.quota_refusals}

    async def aclose(self) -> None:
        """Cancel a broadcast still in flight and close the SDK's session."""
        for task in list(self._broadcasting.values()):
            task.cancel()
        if self._broadcasting:
            await asyncio.wait(list(self._broadcasting.values()))
        if self._client is not None:
            client, self._client, self._api = self._client, None, None
            await client.close()


def _error_message(body: object) -> str:
    """LINE's error ``message`` (plus its details' properties), cut short; never the request's user ids."""
    if not isinstance(body, str | bytes) or not body:
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return str(body)[:200]
    if not isinstance(data, dict):
        return ""
    text = str(data.get("message", ""))
    details = data.get("details")
    if isinstance(details, list) and details:
        parts = [f"{d.get('property', '')}: {d.get('message', '')}" for d in details[:3] if isinstance(d, dict)]
        text += " (" + "; ".join(parts) + ")"
    return text[:200]


def create(ctx: ChannelContext) -> LineChannel:
    """The LINE channel, or MissingCredentials when the access token is not in the environment."""
    from broadcaster.errors import MissingCredentials

    token = ctx.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise MissingCredentials(f"{TOKEN_ENV} is not set")
    return LineChannel(token, ctx.settings, ctx.renderer)
