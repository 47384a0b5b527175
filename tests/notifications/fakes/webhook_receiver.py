"""A local webhook receiver that behaves like a careful integration, for the webhook tests.

`WebhookReceiver` accepts ``POST /hook`` on a free port of 127.0.0.1 (starlette under uvicorn,
in its own thread). It checks ``X-ORIN-Signature`` with ORIN's own `verify_signature` (401 when
it does not verify, counted in `WebhookReceiver.bad_signatures`), then dedupes on
``X-ORIN-Event-Id``: the first delivery of an id is kept in `WebhookReceiver.deliveries`, a
repeat is answered 200 again and counted in `WebhookReceiver.duplicates`. Every request, good
or bad, is recorded raw in `WebhookReceiver.requests`.

Scripts: `respond_next` answers the next requests with a status (and headers, e.g.
``Retry-After`` or ``Location``) before any checking, `stall_next` holds them longer than a
client waits.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orin.notifications.channels.webhook import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from tests.notifications.fakes.twilio_server import ThreadedApp


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Scripted:
    status: int
    headers: dict[str, str]
    delay_s: float


class WebhookReceiver:
    """The receiver for one shared secret (`start` / `stop`); deliver to `url`."""

    def __init__(self, *, secret: str | None = None) -> None:
        self.secret = secret or secrets.token_urlsafe(24)
        self.requests: list[ReceivedRequest] = []
        self.deliveries: dict[str, Any] = {}
        """First delivery of each event id: the parsed JSON body."""
        self.duplicates: Counter[str] = Counter()
        """How many times each event id arrived again after it was accepted."""
        self.bad_signatures = 0
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._http = ThreadedApp(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]))
        self.url = f"{self._http.base_url}/hook"

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def respond_next(
        self, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``headers``), unchecked."""
        with self._lock:
            self._script.extend(_Scripted(status, headers or {}, 0.0) for _ in range(times))

    def stall_next(self, delay_s: float, *, times: int = 1) -> None:
        """Hold the next ``times`` requests ``delay_s`` seconds before handling them."""
        with self._lock:
            self._script.extend(_Scripted(0, {}, delay_s) for _ in range(times))

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.requests.append(ReceivedRequest(dict(request.headers), body))
            scripted = self._script.popleft() if self._script else None
        if scripted is not None and scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        elif scripted is not None:
            return Response(
                f"scripted {scripted.status}", status_code=scripted.status, headers=scripted.headers
            )
        if not verify_signature(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
        ):
            with self._lock:
                self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event_id = request.headers.get(EVENT_ID_HEADER, "")
        if not event_id:
            return JSONResponse({"error": "no event id"}, status_code=400)
        with self._lock:
            if event_id in self.deliveries:
                self.duplicates[event_id] += 1
                return JSONResponse({"status": "duplicate"})
            self.deliveries[event_id] = json.loads(body)
        return JSONResponse({"status": "accepted"})
