"""One authenticated socket: its subscriptions, its bounded outgoing queue and its liveness.

The hub pushes ready-made ASGI ``websocket.send`` messages (built once per update and shared by
every recipient) without ever waiting. A socket whose previous write finished is written to at
once, inside the push: the ASGI ``send`` coroutine is started eagerly and, when the transport
accepts the bytes without blocking (the common case), it completes right there, so an idle
socket costs neither a task nor a wake-up per update. Only when ``send`` has to wait (the
client's TCP window is full) does the rest of it move to a writer task, and later updates queue
behind it, up to `RealtimeSettings.queue_size`; a client that falls that far behind is closed
rather than buffered without bound, and the stuck write is cancelled.

Under uvicorn's sans-I/O WebSocket protocol (what `orin api` runs, without permessage-deflate),
a frame goes straight to the socket's transport instead: a server frame is unmasked, so an
update's wire bytes are the same for every recipient and are encoded once (`text_frame`), which
halves the CPU of a fan-out to thousands of sockets (docs/benchmarks.md). That path is taken only
while the transport accepts writes and nothing is queued, so frame order is kept; anything else
(another server, a paused transport) goes through ASGI as above.

The socket's own ASGI task reads client messages; `close` interrupts it when it is waiting for
one, so a close decided elsewhere (hub, ticker, refresher) takes effect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn without the sans-I/O protocol
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

from orin.realtime.protocol import CloseCode

logger = structlog.get_logger(__name__)

Frame = dict[str, Any]
"""An ASGI ``websocket.send`` message."""

GONE = (WebSocketDisconnect, OSError, RuntimeError)
"""What Starlette and the server raise on a write to a socket whose client went away."""


WIRE = "orin.wire"
"""Key of a frame's encoded bytes (servers do not mask frames, so they suit every socket);
ASGI servers ignore keys they do not know."""


def text_frame(text: str) -> Frame:
    """An ASGI text message, with its WebSocket frame bytes for direct writes."""
    data = text.encode()
    wire = WireFrame(Opcode.TEXT, data).serialize(mask=False)
    return {"type": "websocket.send", "text": text, WIRE: wire}


SERVER_SEND = "orin.server_send"
"""Scope key of the server's own ASGI ``send`` (before any middleware wrapped it)."""


class ServerSendMiddleware:
    """Outermost middleware: keeps the server's ``send`` of WebSocket scopes in the scope, so
    `direct_protocol` can find the protocol behind a socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)


def direct_protocol(websocket: WebSocket) -> Any | None:
    """uvicorn's sans-I/O protocol behind ``websocket`` when frames may be written to its
    transport directly (no extension negotiated), else None."""
    if WebSocketsSansIOProtocol is None:
        return None
    protocol = getattr(websocket.scope.get(SERVER_SEND), "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    if getattr(protocol.conn, "extensions", None) != []:
        return None
    needed = ("transport", "writable", "close_sent")
    return protocol if all(hasattr(protocol, name) for name in needed) else None


async def _finish(coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
    """Drive ``coro`` to its end: it was started by hand (``coro.send(None)``) and suspended
    on ``waiting``, the future it yielded (what a task would do with it, step by step)."""
    task = asyncio.current_task()
    try:
        while True:
            if not asyncio.isfuture(waiting):
                await asyncio.sleep(0)  # a bare yield: just let others run
            else:
                # Take the future over as a task does: clear the flag its ``await`` raised
                # (asyncio refuses to await a future whose flag is still set).
                waiting._asyncio_future_blocking = False
                try:
                    await waiting
                except BaseException:
                    # The future's own failure reaches the coroutine when it resumes; only a
                    # cancellation of this task ends the drive here.
                    if task is not None and task.cancelling():
                        raise
            waiting = coro.send(None)
    except StopIteration:
        return
    finally:
        coro.close()


class Connection:
    """A socket registered with the hub (see the module docstring)."""

    __slots__ = (
        "_direct",
        "_handler",
        "_interrupted",
        "_receiving",
        "_requests",
        "_send",
        "_window_start",
        "_writer",
        "cameras",
        "client_gone",
        "close_code",
        "close_reason",
        "closing",
        "expires_at",
        "next_ping_at",
        "queue",
        "queue_size",
        "session_id",
        "spaces",
        "unanswered",
        "user_id",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        *,
        user_id: str,
        session_id: str,
        expires_at: float,
        queue_size: int,
        next_ping_at: float,
    ) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.session_id = session_id
        self.expires_at = expires_at
        """When the access token expires (POSIX seconds)."""
        self.spaces: set[str] = set()
        self.cameras: dict[str, str] = {}
        """Subscribed camera id → its space id."""
        self.queue: deque[Frame] = deque()
        """Frames waiting behind a write that could not complete at once."""
        self.queue_size = queue_size
        self.next_ping_at = next_ping_at
        """When the next ping is due (the event loop's clock)."""
        self.unanswered = 0
        """Pings sent since the last pong."""
        self.closing = False
        self.close_code: int | None = None
        """The code the server closes with; None when the client went away by itself."""
        self.close_reason = ""
        self.client_gone = False
        self._send = websocket.send
        self._direct = direct_protocol(websocket)
        self._writer: asyncio.Task[None] | None = None
        self._handler: asyncio.Task[Any] | None = None
        self._receiving = False
        self._interrupted = False
        self._window_start = 0.0
        self._requests = 0

    def allow_request(self, clock: float, limit: int, window_s: float) -> bool:
        """Count one costly request (subscribe, auth: database or crypto work); False once
        ``limit`` were made in the current ``window_s``."""
        if clock - self._window_start >= window_s:
            self._window_start = clock
            self._requests = 0
        self._requests += 1
        return self._requests <= limit

    # -- writing -----------------------------------------------------------------------------

    def push(self, frame: Frame) -> bool:
        """Write ``frame`` now if the socket is idle, else queue it; False when the queue is
        full (the caller decides what happens to a slow client). Frames for a closing socket
        are dropped silently."""
        if self.closing:
            return True
        if self._writer is not None:
            if len(self.queue) >= self.queue_size:
                return False
            self.queue.append(frame)
            return True
        direct = self._direct
        if direct is not None and WIRE in frame:
            if direct.close_sent or direct.transport.is_closing():
                self.client_gone = True
                self.close(None, "client gone")
                return True
            if direct.writable.is_set():
                direct.transport.write(frame[WIRE])
                return True
            # The transport is paused (the client reads slowly): ASGI's send waits for it.
        coro = self._send(frame)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return True
        except GONE:
            coro.close()
            self.client_gone = True
            self.close(None, "client gone")
            return True
        except Exception:
            coro.close()
            logger.exception("realtime.write_failed", user=self.user_id)
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
            return True
        self._writer = asyncio.get_running_loop().create_task(
            self._drain(coro, waiting), name="realtime-write"
        )
        return True

    async def _drain(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        try:
            await _finish(coro, waiting)
            while self.queue and not self.closing:
                await self._send(self.queue.popleft())
        except GONE:
            self.client_gone = True
            self.close(None, "client gone")
        except Exception:
            logger.exception("realtime.write_failed", user=self.user_id)
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._writer = None

    async def stop_writing(self) -> None:
        """Cancel a write still waiting for the client, and wait for it to end."""
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    # -- reading and closing -----------------------------------------------------------------

    async def receive(self) -> Message | None:
        """The client's next ASGI message, or None when `close` interrupted the wait."""
        task = asyncio.current_task()
        self._handler = task
        self._receiving = True
        try:
            message = await self.websocket.receive()
        except asyncio.CancelledError:
            if task is None or not self._interrupted or task.uncancel() > 0:
                raise
            return None
        finally:
            self._receiving = False
        return message

    def close(self, code: int | None, reason: str) -> None:
        """Stop writing and end the socket with ``code`` (None: the client is already gone).
        Idempotent: the first reason wins."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self.close_reason = reason
        self.queue.clear()
        if self._writer is not None:
            # The write waits for a client that does not read: stop waiting.
            self._writer.cancel()
        if self._receiving and self._handler is not None:
            self._interrupted = True
            self._handler.cancel()
