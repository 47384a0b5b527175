"""A local stand-in for Twilio's Messages resource, for the SMS channel's tests.

`TwilioServer` serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` on a free port
of 127.0.0.1 (starlette under uvicorn, in its own thread) and checks what Twilio checks: the
account SID in the path (404, error 20404), HTTP basic authentication with that SID and the
auth token (401, error 20003), an ``application/x-www-form-urlencoded`` body, ``To`` present
(21604) and in E.164 (21211), ``From`` or ``MessagingServiceSid`` present (21603) and a ``Body``
(21602) of at most 1,600 characters (21617). Accepted messages answer 201 with the message
resource (``sid`` ``SM…``, ``status`` ``queued``) and are kept in `TwilioServer.messages`.
Errors use Twilio's shape ``{"code", "message", "more_info", "status"}``.

Scripts: `fail_next` answers the next requests with a status (500, 503, 429 with
``Retry-After`` …) or a Twilio error code, `stall_next` holds them longer than a client waits;
numbers in `TwilioServer.unreachable` are refused with 21614 and those in
`TwilioServer.unsubscribed` with 21610.

`ThreadedApp` (running any ASGI app in a thread) is shared with the webhook receiver.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.fixtures.services import free_port

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY_CHARS = 1600
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    20500: "Internal Server Error",
}


class ThreadedApp:
    """Runs an ASGI app under uvicorn on 127.0.0.1 in a daemon thread (`start` / `stop`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            loop="asyncio",
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="fake-http")

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class TwilioMessage:
    """One accepted message."""

    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str


@dataclass(frozen=True)
class _Scripted:
    status: int
    code: int | None
    retry_after: str | None
    delay_s: float


def twilio_error(status: int, code: int, message: str | None = None) -> JSONResponse:
    """An error answer in Twilio's shape."""
    return JSONResponse(
        {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


class TwilioServer:
    """The fake Messages resource for one account (`start` / `stop`)."""

    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.messages: list[TwilioMessage] = []
        """Accepted messages, oldest first."""
        self.requests = 0
        """Every request to the Messages resource, answered or not."""
        self.refusals: list[tuple[int, int]] = []
        """(HTTP status, Twilio code) of every refused request, oldest first."""
        self.unreachable: set[str] = set()
        self.unsubscribed: set[str] = set()
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create, methods=["POST"])
            ]
        )
        self._http = ThreadedApp(app)
        self.base_url = self._http.base_url

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        code: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (a Twilio error body with
        ``code``, and a ``Retry-After`` header when given)."""
        with self._lock:
            self._script.extend(_Scripted(status, code, retry_after, 0.0) for _ in range(times))

    def stall_next(self, delay_s: float, *, times: int = 1) -> None:
        """Hold the next ``times`` requests ``delay_s`` seconds before answering normally."""
        with self._lock:
            self._script.extend(_Scripted(0, None, None, delay_s) for _ in range(times))

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    async def _create(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
            scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        elif scripted is not None:
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            code = scripted.code or (20429 if scripted.status == 429 else 20500)
            response = twilio_error(scripted.status, code)
            response.headers.update(headers)
            return self._refused(response, scripted.status, code)
        if request.path_params["sid"] != self.account_sid:
            return self._refused(twilio_error(404, 20404), 404, 20404)
        if not self._authorized(request):
            response = twilio_error(401, 20003)
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return self._refused(response, 401, 20003)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            return self._refused(twilio_error(400, 20001, "Unsupported content type"), 400, 20001)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        refusal = self._validate(form)
        if refusal is not None:
            return self._refused(twilio_error(400, refusal), 400, refusal)
        message = TwilioMessage(
            sid="SM" + secrets.token_hex(16),
            to=form["To"],
            from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            body=form["Body"],
        )
        with self._lock:
            self.messages.append(message)
        return JSONResponse(self._resource(message), status_code=201)

    def _validate(self, form: dict[str, str]) -> int | None:
        to = form.get("To", "")
        if not to:
            return 21604
        if not E164.match(to):
            return 21211
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 21603
        if not form.get("Body"):
            return 21602
        if len(form["Body"]) > MAX_BODY_CHARS:
            return 21617
        if to in self.unreachable:
            return 21614
        if to in self.unsubscribed:
            return 21610
        return None

    def _refused(self, response: Response, status: int, code: int) -> Response:
        with self._lock:
            self.refusals.append((status, code))
        return response

    def _resource(self, message: TwilioMessage) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC))
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": message.messaging_service_sid,
            "to": message.to,
            "from": message.from_,
            "body": message.body,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": str(max(1, -(-len(message.body) // 153))),
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
        }
