"""A WebSocket client that talks ASGI to the app in this process (httpx has no WebSocket).

It feeds the app the messages a server would (``websocket.connect``, ``websocket.receive``,
``websocket.disconnect``) and collects what the app sends. `stall` makes the app's writes of
data frames wait, like a client that stopped reading whose TCP window is full; close frames
still get through so tests can read the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from starlette.types import ASGIApp, Message

PATH = "/api/v1/ws"


class Closed(Exception):
    """The server closed the socket (or refused the handshake)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class AsgiSocket:
    """One socket on ``app`` (use as ``async with``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        subprotocols: Sequence[str] = (),
        path: str = PATH,
    ) -> None:
        self.app = app
        self.subprotocols = list(subprotocols)
        self.path = path
        self.subprotocol: str | None = None
        self.closed: Closed | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._stalled = False
        self._released = asyncio.Event()
        self._task: asyncio.Future[None] | None = None

    async def __aenter__(self) -> AsgiSocket:
        path, _, query = self.path.partition("?")
        headers = [(b"host", b"orin.test"), (b"sec-websocket-version", b"13")]
        if self.subprotocols:
            headers.append((b"sec-websocket-protocol", ", ".join(self.subprotocols).encode()))
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss",
            "server": ("orin.test", 443),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "subprotocols": self.subprotocols,
        }
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.ensure_future(self.app(scope, self._receive, self._send))
        first = await self._next(5.0)
        if first["type"] == "websocket.accept":
            self.subprotocol = first.get("subprotocol")
            return self
        await self._finish()
        raise Closed(int(first.get("code", 1000)), str(first.get("reason", "")))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._finish()

    async def _finish(self) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        self._released.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5.0)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                raise AssertionError("the socket's handler did not end") from None

    @property
    def handler_done(self) -> bool:
        """Whether the app's handler for this socket has returned."""
        return self._task is not None and self._task.done()

    async def _receive(self) -> Message:
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        if message["type"] == "websocket.send" and self._stalled:
            await self._released.wait()
        if message["type"] == "websocket.close":
            self.closed = Closed(int(message.get("code", 1000)), str(message.get("reason", "")))
        await self._from_app.put(message)

    async def _next(self, within_s: float) -> Message:
        return await asyncio.wait_for(self._from_app.get(), within_s)

    def stall(self) -> None:
        """Stop reading: the app's data writes wait from now on."""
        self._stalled = True
        self._released.clear()

    def resume(self) -> None:
        """Read again: waiting writes complete, in order."""
        self._stalled = False
        self._released.set()

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def receive(self, within_s: float = 5.0) -> dict[str, Any]:
        """The next message; raises `Closed` when the server closed the socket."""
        message = await self._next(within_s)
        if message["type"] == "websocket.close":
            raise Closed(int(message.get("code", 1000)), str(message.get("reason", "")))
        body: dict[str, Any] = json.loads(message["text"])
        return body

    async def receive_type(self, kind: str, within_s: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind``, skipping pings."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            message = await self.receive(max(0.01, deadline - loop.time()))
            if message["type"] == kind:
                return message
            if message["type"] != "ping":
                raise AssertionError(f"expected {kind}, got {message}")

    async def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Messages (pings aside) that arrive within ``seconds``; the caller asserts none."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        seen: list[dict[str, Any]] = []
        while (left := deadline - loop.time()) > 0:
            try:
                message = await self.receive(left)
            except TimeoutError:
                break
            if message["type"] != "ping":
                seen.append(message)
        return seen

    async def expect_close(self, within_s: float = 5.0) -> Closed:
        """Read until the server closes the socket; returns the close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            try:
                await self.receive(max(0.01, deadline - loop.time()))
            except Closed as closed:
                return closed
