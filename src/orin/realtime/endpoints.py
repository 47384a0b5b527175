"""`GET /api/v1/ws`: the WebSocket of live updates (events, camera status, guards).

The protocol, close codes and fan-out design are in ``docs/realtime.md``.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, WebSocket

from orin.realtime.handler import serve
from orin.realtime.hub import RealtimeHub

router = APIRouter(tags=["realtime"])


@router.websocket("/api/v1/ws", name="realtime")
async def realtime_socket(websocket: WebSocket) -> None:
    """Authenticate with an access token (first ``auth`` message, or the ``bearer.<token>``
    subprotocol beside ``orin.v1``), subscribe to spaces and cameras, and receive
    ``event.created``, ``event.updated``, ``camera.status`` and ``guard.updated``."""
    hub = cast(RealtimeHub, websocket.state.realtime_hub)
    await serve(hub, websocket)
