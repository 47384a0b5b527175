"""The wire format of `/api/v1/ws`: what clients send, what the server sends, close codes.

Every message is one JSON object in a text frame with a ``type``. Clients send `AuthIn`,
`SubscribeIn`, `UnsubscribeIn`, `PongIn` and `PingIn`; the server answers with ``ready``,
``subscribed``, ``unsubscribed``, ``error``, ``ping``, ``pong`` and ``resync``, and pushes the
live updates named in `UPDATE_TYPES`, each shaped
``{"type", "space_id", "camera_id", "data", "at"}`` (see `orin.realtime.publisher`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

SUBPROTOCOL: Final = "orin.v1"
"""The subprotocol the server echoes when a client offers it."""
BEARER_PREFIX: Final = "bearer."
"""A client may offer ``bearer.<access token>`` beside `SUBPROTOCOL` to authenticate at once
(browsers cannot set headers on a WebSocket); it is never echoed."""

UpdateType = Literal["event.created", "event.updated", "camera.status", "guard.updated"]
UPDATE_TYPES: Final[frozenset[str]] = frozenset(
    {"event.created", "event.updated", "camera.status", "guard.updated"}
)
"""Live updates pushed to subscribers."""

ACCESS_CHANGED: Final = "_access.changed"
"""A control message between API processes (never sent to clients): re-read these users'
access now rather than at the next refresh."""

MAX_CLIENT_MESSAGE_CHARS: Final = 65_536
MAX_IDS: Final = 1000
REQUEST_LIMIT: Final = 20
REQUEST_WINDOW_S: Final = 10.0
"""A socket may send `REQUEST_LIMIT` ``subscribe`` and ``auth`` messages (which cost database
or crypto work) per `REQUEST_WINDOW_S`; more get an ``error`` (``rate_limited``)."""


class CloseCode(IntEnum):
    """Why the server closed a socket (the close frame's code; its reason says more)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    """The server is shutting down; reconnect (another replica will take it)."""
    INTERNAL_ERROR = 1011
    """The server failed handling the socket; reconnect."""
    TRY_AGAIN_LATER = 1013
    """The client read too slowly and its outgoing queue filled up, or realtime is not
    running in this process; reconnect and refetch what you show."""
    UNAUTHORIZED = 4401
    """No, a bad or an expired token; the session was signed out; or no ``auth`` in time.
    Refresh the access token, then reconnect."""
    PONG_TIMEOUT = 4408
    """The client left `missed_pongs` pings in a row unanswered."""


Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
"""An id as the API writes them (letters, digits, `-` and `_`); anything else cannot name a
thing, and a NUL would not even reach PostgreSQL."""


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthIn(_ClientMessage):
    """Authenticate (the first message), or hand over a fresh access token before the current
    one expires so the socket stays open."""

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=8192, description="An access token.")


class SubscribeIn(_ClientMessage):
    """Receive updates of these spaces (every camera in them) and cameras."""

    type: Literal["subscribe"]
    spaces: list[Id] = Field(default_factory=list, max_length=MAX_IDS)
    cameras: list[Id] = Field(default_factory=list, max_length=MAX_IDS)


class UnsubscribeIn(_ClientMessage):
    """Stop receiving updates of these spaces and cameras."""

    type: Literal["unsubscribe"]
    spaces: list[Id] = Field(default_factory=list, max_length=MAX_IDS)
    cameras: list[Id] = Field(default_factory=list, max_length=MAX_IDS)


class PongIn(_ClientMessage):
    """The answer to the server's ``ping``."""

    type: Literal["pong"]


class PingIn(_ClientMessage):
    """Ask the server for a ``pong`` (clients measuring the round trip)."""

    type: Literal["ping"]


ClientMessage = Annotated[
    AuthIn | SubscribeIn | UnsubscribeIn | PongIn | PingIn, Field(discriminator="type")
]
client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def encode(message: dict[str, Any]) -> str:
    """One server message as the text of a frame."""
    return orjson.dumps(message).decode()


def ready(user_id: str, expires_at: datetime, ping_interval_s: float) -> str:
    return encode(
        {
            "type": "ready",
            "user_id": user_id,
            "expires_at": expires_at,
            "ping_interval_s": ping_interval_s,
        }
    )


def subscribed(spaces: Iterable[str], cameras: Iterable[str]) -> str:
    return encode({"type": "subscribed", "spaces": sorted(spaces), "cameras": sorted(cameras)})


def unsubscribed(spaces: Iterable[str], cameras: Iterable[str], reason: str) -> str:
    return encode(
        {
            "type": "unsubscribed",
            "spaces": sorted(spaces),
            "cameras": sorted(cameras),
            "reason": reason,
        }
    )


def error(code: str, message: str, **extra: Any) -> str:
    return encode({"type": "error", "code": code, "message": message, **extra})


def ping(at: datetime) -> str:
    return encode({"type": "ping", "at": at})


def pong(at: datetime) -> str:
    return encode({"type": "pong", "at": at})


def resync(reason: str) -> str:
    return encode({"type": "resync", "reason": reason})
