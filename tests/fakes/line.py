"""A local fake of LINE's Messaging API that checks requests the way LINE does.

It serves the api.line.me paths the channel and the webhook use (multicast, broadcast, push, reply,
quota) and the api-data.line.me content path, since ``Configuration(host=...)`` sends both to one
host. It checks the bearer token (401), ``to`` ≤ 500 user ids, 1–5 messages and their shape (400,
with LINE's JSON error), and answers a repeated ``X-Line-Retry-Key`` with 409 and
``x-line-accepted-request-id``. Tests inject faults for the next N message requests (429 rate, 429
monthly quota, 500, or a hang), and a token bucket can limit multicast calls per second.

Run it alone for benchmarks: ``python -m tests.fakes.line --port 0 --multicast-rate 200`` prints one
JSON line ``{"url": ...}``; ``GET /_fake/stats`` reports what it accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from tests.fakes import serve as serve

TOKEN = "fake-line-channel-access-token"
USER_ID = re.compile(r"U[0-9a-f]{32}")
MAX_TO = 500
MAX_MESSAGES = 5
TEXT_LIMIT = 5000  # UTF-16 code units
ALT_TEXT_LIMIT = 400
MAX_QUICK_REPLIES = 13
QUICK_REPLY_LABEL = 20  # characters of a quick-reply button's label
ACTION_TEXT_LIMIT = 300  # characters of a postback's data or displayText, or a message action's text
QUICK_REPLY_ACTIONS = frozenset(
    {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location", "clipboard"}
)
QUOTA_MESSAGE = "You have reached your monthly limit."
RATE_MESSAGE = "The API rate limit has been exceeded. Try again later."
AUTH_MESSAGE = "Authentication failed. Confirm that the access token in the authorization header is valid."
HANG_LIMIT_S = 60.0  # a hung request gives up on its own after this, should nobody release it
Json = dict[str, Any]
RECIPIENTS = web.RequestKey("recipients", int)  # how many user ids an accepted request carried


class Fault(StrEnum):
    RATE = "rate"  # 429 with the rate-limit message
    QUOTA = "quota"  # 429 with the monthly-quota message
    ERROR = "error"  # 500
    HANG = "hang"  # no answer until released (the client times out)


@dataclass
class Call:
    """One request the fake answered."""

    path: str
    status: int
    retry_key: str | None
    recipients: int = 0


class Bucket:
    """``rate`` requests a second, ``burst`` at once; no waiting: a request finds a token or it does not."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        """Use a token if one is there."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def utf16_units(text: str) -> int:
    """LINE's character count."""
    return len(text.encode("utf-16-le")) // 2


def _error(
    status: int, message: str, details: list[Json] | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: Json = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


def check_messages(messages: object) -> list[Json]:
    """LINE-style error details for a ``messages`` array; empty when it is acceptable."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"}]
    details: list[Json] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            details.append({"message": "Must be an object", "property": where})
            continue
        kind = m.get("type")
        if kind == "text":
            text = m.get("text")
            if not isinstance(text, str) or not 1 <= utf16_units(text) <= TEXT_LIMIT:
                details.append({"message": f"Length must be between 1 and {TEXT_LIMIT}", "property": f"{where}.text"})
        elif kind == "flex":
            alt = m.get("altText")
            if not isinstance(alt, str) or not 1 <= utf16_units(alt) <= ALT_TEXT_LIMIT:
                details.append(
                    {"message": f"Length must be between 1 and {ALT_TEXT_LIMIT}", "property": f"{where}.altText"}
                )
            contents = m.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                details.append({"message": "Must be a bubble or a carousel", "property": f"{where}.contents"})
        else:
            details.append(
                {"message": "Must be one of the following values: [text, flex]", "property": f"{where}.type"}
            )
        details.extend(_check_quick_reply(m.get("quickReply"), where))
    return details


def _check_quick_reply(quick: object, where: str) -> list[Json]:
    """LINE's checks of a quickReply: 1–13 items, each an action item whose action is one a quick reply takes,
    with a label of 1–20 characters; a postback's data 1–300 and displayText ≤ 300, a message's text 1–300."""
    if quick is None:
        return []
    items = quick.get("items") if isinstance(quick, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLIES:
        return [{"message": f"Size must be between 1 and {MAX_QUICK_REPLIES}", "property": f"{where}.quickReply.items"}]
    details = []
    for j, item in enumerate(items):
        here = f"{where}.quickReply.items[{j}]"
        action = item.get("action") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("type") != "action" or not isinstance(action, dict):
            details.append({"message": "Must be an action item", "property": here})
            continue
        kind, label = action.get("type"), action.get("label")
        if kind not in QUICK_REPLY_ACTIONS:
            details.append({"message": "Invalid action type", "property": f"{here}.action.type"})
        if not isinstance(label, str) or not 1 <= len(label) <= QUICK_REPLY_LABEL:
            details.append({"message": f"Length must be between 1 and {QUICK_REPLY_LABEL}", "property": here})
        required = {"postback": ("data",), "message": ("text",)}.get(str(kind), ())
        optional = ("displayText",) if kind == "postback" else ()
        for name in (*required, *(n for n in optional if n in action)):
            value = action.get(name)
            if not isinstance(value, str) or not 1 <= len(value) <= ACTION_TEXT_LIMIT:
                message = f"Length must be between 1 and {ACTION_TEXT_LIMIT}"
                details.append({"message": message, "property": f"{here}.action.{name}"})
    return details


class FakeLine:
    """The fake's state: what it accepted, what it refused, and the faults still to come."""

    def __init__(self, token: str = TOKEN, *, multicast_rate: float | None = None, multicast_burst: int = 20) -> None:
        self.token = token
        self.accepted: dict[str, list[list[Json]]] = defaultdict(list)  # user id -> messages of each accepted call
        self.broadcasts: list[list[Json]] = []
        self.replies: dict[str, list[Json]] = {}  # reply token -> messages
        self.calls: list[Call] = []
        self.retry_keys: dict[str, str] = {}  # accepted retry key -> its request id
        self.statuses: Counter[int] = Counter()
        self.bucket = Bucket(multicast_rate, multicast_burst) if multicast_rate else None
        self.keep_calls = True  # a benchmark turns this off: a million Call records cost memory
        self._faults: deque[Fault] = deque()
        self._release = asyncio.Event()

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` message requests fail this way."""
        self._faults.extend([fault] * times)

    def release(self) -> None:
        """Let hung requests finish (with a 500 nobody waits for any more)."""
        self._release.set()

    def multicast_calls(self) -> list[Call]:
        """The multicast requests answered so far."""
        return [c for c in self.calls if c.path.endswith("/multicast")]

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._record])
        for path, handler in (
            ("/v2/bot/message/multicast", self.multicast),
            ("/v2/bot/message/broadcast", self.broadcast),
            ("/v2/bot/message/push", self.push),
            ("/v2/bot/message/reply", self.reply),
        ):
            app.router.add_post(path, handler)
        app.router.add_get("/v2/bot/message/quota", self.quota)
        app.router.add_get("/v2/bot/message/quota/consumption", self.consumption)
        app.router.add_get("/v2/bot/message/{message_id}/content", self.content)  # api-data.line.me
        app.router.add_get("/_fake/stats", self.stats)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if not request.path.startswith("/v2/"):
            return response
        self.statuses[response.status] += 1
        if self.keep_calls:
            count = request.get(RECIPIENTS, 0)
            self.calls.append(Call(request.path, response.status, request.headers.get("X-Line-Retry-Key"), count))
        return response

    # -- checks shared by the message endpoints ----------------------------------------

    async def _admit(self, request: web.Request, *, rate_limited: bool = False) -> web.Response | Json:
        """Auth, injected faults, rate limit and JSON: an error response, or the request body."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, AUTH_MESSAGE)
        if self._faults:
            fault = self._faults.popleft()
            if fault == Fault.HANG:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HANG_LIMIT_S):
                        await self._release.wait()
                return _error(500, "Internal server error")
            if fault == Fault.ERROR:
                return _error(500, "Internal server error")
            return _error(429, QUOTA_MESSAGE if fault == Fault.QUOTA else RATE_MESSAGE)
        if rate_limited and self.bucket is not None and not self.bucket.take():
            return _error(429, RATE_MESSAGE)
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The request body could not be parsed as JSON")
        if not isinstance(body, dict):
            return _error(400, "The request body must be an object")
        return body

    def _conflict(self, request: web.Request) -> web.Response | None:
        """409 for a retry key already accepted; 400 for one that is not a UUID."""
        key = request.headers.get("X-Line-Retry-Key")
        if key is None:
            return None
        try:
            uuid.UUID(key)
        except ValueError:
            return _error(400, "The value of the X-Line-Retry-Key header is invalid")
        accepted = self.retry_keys.get(key)
        if accepted is not None:
            return _error(409, "The retry key is already accepted", headers={"x-line-accepted-request-id": accepted})
        return None

    def _accept(self, request: web.Request) -> str:
        request_id = uuid.uuid4().hex
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            self.retry_keys[key] = request_id
        return request_id

    # -- endpoints ----------------------------------------------------------------------

    async def multicast(self, request: web.Request) -> web.Response:
        """POST /v2/bot/message/multicast: ≤ 500 user ids, 1–5 messages."""
        body = await self._admit(request, rate_limited=True)
        if isinstance(body, web.Response):
            return body
        to = body.get("to")
        details = check_messages(body.get("messages"))
        if not isinstance(to, list) or not 1 <= len(to) <= MAX_TO:
            details.append({"message": f"Size must be between 1 and {MAX_TO}", "property": "to"})
        else:
            details.extend(
                {"message": "Invalid user ID", "property": f"to[{i}]"}
                for i, uid in enumerate(to)
                if not (isinstance(uid, str) and USER_ID.fullmatch(uid))
            )
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        conflict = self._conflict(request)
        if conflict is not None:
            return conflict
        assert isinstance(to, list)
        request[RECIPIENTS] = len(to)
        for uid in to:
            self.accepted[uid].append(body["messages"])
        return web.json_response({}, headers={"x-line-request-id": self._accept(request)})

    async def broadcast(self, request: web.Request) -> web.Response:
        """POST /v2/bot/message/broadcast: every friend, 1–5 messages."""
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        details = check_messages(body.get("messages"))
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        conflict = self._conflict(request)
        if conflict is not None:
            return conflict
        self.broadcasts.append(body["messages"])
        return web.json_response({}, headers={"x-line-request-id": self._accept(request)})

    async def push(self, request: web.Request) -> web.Response:
        """POST /v2/bot/message/push: one user id."""
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        details = check_messages(body.get("messages"))
        to = body.get("to")
        if not (isinstance(to, str) and USER_ID.fullmatch(to)):
            details.append({"message": "Invalid user ID", "property": "to"})
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        conflict = self._conflict(request)
        if conflict is not None:
            return conflict
        assert isinstance(to, str)
        self.accepted[to].append(body["messages"])
        sent = [{"id": uuid.uuid4().hex, "quoteToken": uuid.uuid4().hex} for _ in body["messages"]]
        return web.json_response({"sentMessages": sent}, headers={"x-line-request-id": self._accept(request)})

    async def reply(self, request: web.Request) -> web.Response:
        """POST /v2/bot/message/reply: a reply token can be used once."""
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        token = body.get("replyToken")
        details = check_messages(body.get("messages"))
        if not isinstance(token, str) or not token:
            details.append({"message": "May not be empty", "property": "replyToken"})
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        assert isinstance(token, str)
        if token in self.replies:
            return _error(400, "Invalid reply token")
        self.replies[token] = body["messages"]
        sent = [{"id": uuid.uuid4().hex, "quoteToken": uuid.uuid4().hex} for _ in body["messages"]]
        return web.json_response({"sentMessages": sent}, headers={"x-line-request-id": uuid.uuid4().hex})

    async def quota(self, request: web.Request) -> web.Response:
        """GET /v2/bot/message/quota: the 地方公共団体プラン has no limit."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, AUTH_MESSAGE)
        return web.json_response({"type": "none"})

    async def consumption(self, request: web.Request) -> web.Response:
        """GET /v2/bot/message/quota/consumption: messages sent this month."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, AUTH_MESSAGE)
        return web.json_response({"totalUsage": sum(len(v) for v in self.accepted.values())})

    async def content(self, request: web.Request) -> web.Response:
        """GET /v2/bot/message/{id}/content (api-data.line.me): the fake keeps no content."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, AUTH_MESSAGE)
        return _error(404, "Not found")

    async def stats(self, request: web.Request) -> web.Response:
        """GET /_fake/stats (the fake's own): what it accepted and refused."""
        per_user = Counter(len(v) for v in self.accepted.values())
        return web.json_response(
            {
                "users": len(self.accepted),
                "deliveries": sum(n * c for n, c in per_user.items()),
                "max_per_user": max(per_user, default=0),
                "broadcasts": len(self.broadcasts),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "cpu_s": round(time.process_time(), 3),
            }
        )


async def _main(args: argparse.Namespace) -> None:
    fake = FakeLine(args.token, multicast_rate=args.multicast_rate, multicast_burst=args.multicast_burst)
    fake.keep_calls = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(fake, args.host, args.port) as url:
        print(json.dumps({"url": url}), flush=True)
        await stop.wait()


def main() -> None:
    """Run the fake until SIGTERM."""
    p = argparse.ArgumentParser(description="A fake LINE Messaging API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=TOKEN)
    p.add_argument("--multicast-rate", type=float, default=None, help="multicast requests per second")
    p.add_argument("--multicast-burst", type=int, default=20)
    args = p.parse_args()
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
