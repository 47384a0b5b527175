"""Request ids: taken from the client's header when sane, else generated; echoed and logged."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
current_request_id: ContextVar[str | None] = ContextVar("orin_request_id", default=None)


class RequestIdMiddleware:
    """Bind a request id to the log context and answer it in the response header."""

    def __init__(self, app: ASGIApp, header: str) -> None:
        self.app = app
        self.header = header
        self._header_bytes = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == self._header_bytes:
                given = value.decode("latin-1")
                break
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        token = current_request_id.set(request_id)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[self.header] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                current_request_id.reset(token)
