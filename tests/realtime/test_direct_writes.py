"""Frames written straight to uvicorn's transport (the fan-out's fast path) are valid WebSocket
frames that arrive in order with those sent through ASGI; other servers keep the ASGI path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from orin.realtime.connection import Connection, ServerSendMiddleware, text_frame
from tests.fixtures.services import free_port

seen: dict[str, bool] = {}


async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    connection = Connection(
        websocket, user_id="u", session_id="s", expires_at=0, queue_size=1000, next_ping_at=0
    )
    seen["direct"] = connection._direct is not None
    for n in range(200):
        assert connection.push(text_frame(json.dumps({"n": n, "pad": "x" * (n * 7)})))
    await websocket.send_text(json.dumps({"n": "asgi"}))
    await websocket.receive_text()  # until the client is done


@pytest.fixture(params=["websockets-sansio", "websockets"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, int]]:
    """(uvicorn's WebSocket implementation, port) of a server running ``endpoint``."""
    app = ServerSendMiddleware(Starlette(routes=[WebSocketRoute("/ws", endpoint)]))
    port = free_port()
    config = uvicorn.Config(
        app, port=port, ws=request.param, ws_per_message_deflate=False, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield request.param, port
    finally:
        server.should_exit = True
        await task


async def test_frames_arrive_whole_and_in_order(server: tuple[str, int]) -> None:
    implementation, port = server
    url = f"ws://127.0.0.1:{port}/ws"
    async with connect(url) as ws:
        received = [json.loads(await ws.recv())["n"] for _ in range(201)]
        await ws.send("done")
    assert received == [*range(200), "asgi"]
    assert seen["direct"] is (implementation == "websockets-sansio")
