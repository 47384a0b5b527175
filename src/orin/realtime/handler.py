"""The life of one socket: authenticate, then read client messages while writing updates.

Authentication takes the access token from the ``bearer.<token>`` subprotocol offered beside
``orin.v1`` (echoing only ``orin.v1``), or else from a first ``auth`` message within
`RealtimeSettings.auth_timeout_s`; never from the URL, which proxies and access logs record.
A refusal accepts the socket and closes it with 4401 and a reason, which browsers can read
(a refused handshake would only show as a failed connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from orin.auth import session_cache
from orin.auth.tokens import AccessClaims, InvalidToken, verify_access_token
from orin.errors import AdapterUnavailable
from orin.models.base import utcnow
from orin.realtime import protocol
from orin.realtime.connection import Connection, text_frame
from orin.realtime.hub import RealtimeHub
from orin.realtime.protocol import (
    BEARER_PREFIX,
    MAX_CLIENT_MESSAGE_CHARS,
    REQUEST_LIMIT,
    REQUEST_WINDOW_S,
    SUBPROTOCOL,
    AuthIn,
    CloseCode,
    PingIn,
    PongIn,
    SubscribeIn,
    UnsubscribeIn,
    client_message,
)
from orin.realtime.repository import reading

logger = structlog.get_logger(__name__)

_MAX_REASON_BYTES: Final = 123  # a close frame's reason must fit in 125 bytes with the code


class Refused(Exception):
    """Close the socket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def authenticate(hub: RealtimeHub, token: str) -> AccessClaims:
    """The token's claims if it is valid and its session live; raises `InvalidToken` saying
    what is wrong. (A deleted account's sockets close at their first subscription or the
    next access refresh, whichever comes first.)"""
    if hub.keyring is None:
        raise InvalidToken("this process does not serve the API")
    claims = await verify_access_token(hub.keyring, hub.settings.auth, token)
    ttl = hub.settings.auth.session_cache_ttl_s
    async with reading(hub.database) as db:
        if not await session_cache.is_active(hub.cache, db, claims.session_id, ttl):
            raise InvalidToken("this session was signed out; sign in again")
    return claims


def _offered(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The subprotocol to echo and the token offered as ``bearer.<token>``, if any."""
    offered = [str(name) for name in websocket.scope.get("subprotocols", [])]
    token = next(
        (name[len(BEARER_PREFIX) :] for name in offered if name.startswith(BEARER_PREFIX)), None
    )
    return (SUBPROTOCOL if SUBPROTOCOL in offered else None), (token or None)


async def _first_auth(websocket: WebSocket, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            message = await websocket.receive()
    except TimeoutError:
        raise Refused(CloseCode.UNAUTHORIZED, "authentication timed out") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(int(message.get("code", 1000)))
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_CLIENT_MESSAGE_CHARS:
        raise Refused(CloseCode.UNAUTHORIZED, 'send {"type": "auth", "token": "..."} first')
    try:
        parsed = client_message.validate_json(text)
    except ValidationError:
        parsed = None
    if not isinstance(parsed, AuthIn):
        raise Refused(CloseCode.UNAUTHORIZED, 'send {"type": "auth", "token": "..."} first')
    return parsed.token


async def close_socket(
    hub: RealtimeHub, websocket: WebSocket, code: int, reason: str, timeout_s: float
) -> None:
    """Send the close frame, giving up after ``timeout_s`` (a client that does not read)."""
    hub.metrics.closes.labels(str(code)).inc()
    encoded = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
        async with asyncio.timeout(timeout_s):
            await websocket.close(code, encoded)


async def serve(hub: RealtimeHub, websocket: WebSocket) -> None:
    """Run one socket to its end (see the module docstring)."""
    config = hub.config
    subprotocol, token = _offered(websocket)
    await websocket.accept(subprotocol=subprotocol)
    if not hub.running:
        await close_socket(
            hub,
            websocket,
            CloseCode.TRY_AGAIN_LATER,
            "realtime updates are not served by this process",
            config.close_timeout_s,
        )
        return
    try:
        if token is None:
            token = await _first_auth(websocket, config.auth_timeout_s)
        claims = await authenticate(hub, token)
    except InvalidToken as exc:
        await close_socket(
            hub, websocket, CloseCode.UNAUTHORIZED, exc.message, config.close_timeout_s
        )
        return
    except Refused as exc:
        await close_socket(hub, websocket, exc.code, exc.reason, config.close_timeout_s)
        return
    except WebSocketDisconnect:
        return
    except (SQLAlchemyError, AdapterUnavailable) as exc:
        logger.warning("realtime.auth_unavailable", error=str(exc))
        await close_socket(
            hub,
            websocket,
            CloseCode.TRY_AGAIN_LATER,
            "could not check the session just now; reconnect",
            config.close_timeout_s,
        )
        return
    loop = asyncio.get_running_loop()
    connection = Connection(
        websocket,
        user_id=claims.user_id,
        session_id=claims.session_id,
        expires_at=claims.expires_at.timestamp(),
        queue_size=config.queue_size,
        next_ping_at=loop.time() + config.ping_interval_s,
    )
    hub.register(connection)
    connection.push(
        text_frame(protocol.ready(claims.user_id, claims.expires_at, config.ping_interval_s))
    )
    try:
        await _read(hub, connection)
    finally:
        hub.unregister(connection)
        await connection.stop_writing()
    if connection.close_code is not None and not connection.client_gone:
        await close_socket(
            hub,
            websocket,
            connection.close_code,
            connection.close_reason,
            config.close_timeout_s,
        )


async def _read(hub: RealtimeHub, connection: Connection) -> None:
    """Handle client messages until the socket closes (either side)."""
    try:
        while not connection.closing:
            message = await connection.receive()
            if message is None:
                return
            if message["type"] == "websocket.disconnect":
                connection.client_gone = True
                connection.close(None, "client closed")
                return
            text = message.get("text")
            if not isinstance(text, str):
                hub.reply(connection, protocol.error("bad_message", "send JSON text frames"))
                continue
            await _handle(hub, connection, text)
    except (WebSocketDisconnect, RuntimeError):
        connection.client_gone = True
        connection.close(None, "client gone")
    except Exception:
        logger.exception("realtime.read_failed", user=connection.user_id)
        connection.close(CloseCode.INTERNAL_ERROR, "internal error")


async def _handle(hub: RealtimeHub, connection: Connection, text: str) -> None:
    if len(text) > MAX_CLIENT_MESSAGE_CHARS:
        hub.reply(connection, protocol.error("too_large", "messages are 64 KiB at most"))
        return
    try:
        message = client_message.validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'message'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        hub.reply(connection, protocol.error("bad_message", problems))
        return
    if isinstance(message, SubscribeIn | AuthIn) and not connection.allow_request(
        asyncio.get_running_loop().time(), REQUEST_LIMIT, REQUEST_WINDOW_S
    ):
        hub.reply(
            connection,
            protocol.error(
                "rate_limited",
                f"at most {REQUEST_LIMIT} subscribe and auth messages per "
                f"{REQUEST_WINDOW_S:.0f} s; this one was ignored",
            ),
        )
        return
    if isinstance(message, PongIn):
        connection.unanswered = 0
    elif isinstance(message, SubscribeIn):
        try:
            await hub.subscribe(connection, message.spaces, message.cameras)
        except (SQLAlchemyError, AdapterUnavailable, OSError) as exc:
            logger.warning("realtime.subscribe_failed", error=str(exc))
            hub.reply(
                connection,
                protocol.error("unavailable", "could not check access just now; try again"),
            )
    elif isinstance(message, UnsubscribeIn):
        hub.unsubscribe(connection, message.spaces, message.cameras)
    elif isinstance(message, PingIn):
        hub.reply(connection, protocol.pong(utcnow()))
    elif isinstance(message, AuthIn):
        await _reauthenticate(hub, connection, message.token)


async def _reauthenticate(hub: RealtimeHub, connection: Connection, token: str) -> None:
    """Take a fresh token for this socket (same account) so it outlives the first one."""
    try:
        claims = await authenticate(hub, token)
    except InvalidToken as exc:
        hub.reply(connection, protocol.error("unauthorized", exc.message))
        return
    if claims.user_id != connection.user_id:
        hub.reply(
            connection,
            protocol.error("unauthorized", "the token belongs to another account; reconnect"),
        )
        return
    connection.session_id = claims.session_id
    connection.expires_at = claims.expires_at.timestamp()
    hub.renewed(connection)
    hub.reply(
        connection, protocol.ready(claims.user_id, claims.expires_at, hub.config.ping_interval_s)
    )
