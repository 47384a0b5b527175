"""RabbitMQ plumbing shared by the detection client and the `orin detector` replicas."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, HeadersType
from yarl import URL

from orin.bus.rabbitmq import RECONNECT_INTERVAL_S, redact_url
from orin.config import AmqpSettings, Settings, SettingsError
from orin.errors import AdapterUnavailable

QUEUE_PREFIX = "orin.detect."
DEADLINE_HEADER = "x-orin-deadline-ms"
"""Unix time in milliseconds (an integer: AMQP tables carry floats as float32, far too coarse
for epoch seconds) after which a request is stale: replicas drop it instead of running it."""
FRAMES_CONTENT_TYPE = "application/x-orin-frames"
REPLY_QUEUE_PREFIX = "orin.detect-reply."
"""Reply queues: one per client, exclusive to its connection and deleted with it."""


def request_queue(detector: str) -> str:
    """The durable queue carrying requests for the detector named ``detector``."""
    return f"{QUEUE_PREFIX}{detector}"


def amqp_url(settings: Settings) -> str:
    """``ORIN_AMQP_URL``, which the amqp transport cannot do without."""
    if not settings.amqp.url:
        raise SettingsError(
            "ORIN_AMQP_URL: must be set when ORIN_VISION_TRANSPORT=amqp "
            "(or for `orin detector`), e.g. amqp://user:pass@host:5672/vhost"
        )
    return settings.amqp.url


def deadline_header(ttl_s: float) -> HeadersType:
    """Headers of a request that goes stale ``ttl_s`` from now."""
    return {DEADLINE_HEADER: round((time.time() + ttl_s) * 1000)}


def expired(message: AbstractIncomingMessage) -> bool:
    """True when the request's deadline has passed (it carries none: never)."""
    deadline_ms = (message.headers or {}).get(DEADLINE_HEADER)
    if not isinstance(deadline_ms, int):
        return False
    return time.time() * 1000 > deadline_ms


def clean_error(exc: BaseException, url: str) -> str:
    """One line describing ``exc``, the URL's password masked."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    password = URL(url).password
    if password:
        text = text.replace(password, "***")
    return text[:500]


async def connect(settings: AmqpSettings, url: str, name: str) -> aio_pika.RobustConnection:
    """A robust connection (it reconnects and restores channels, queues and consumers).

    Raises `AdapterUnavailable` (one line, no password) when the broker cannot be reached.
    """
    parsed = URL(url)
    extra: dict[str, Any] = {"client_properties": {"connection_name": name}}
    if "reconnect_interval" not in parsed.query:
        extra["reconnect_interval"] = RECONNECT_INTERVAL_S
    connection = aio_pika.RobustConnection(parsed, **extra)
    timeout = settings.confirm_timeout_s
    try:
        async with asyncio.timeout(timeout):
            await connection.connect(timeout=timeout)
    except Exception as exc:
        await close_quietly(connection, timeout)
        reason = (
            f"no answer within {timeout:g}s"
            if isinstance(exc, TimeoutError)
            else clean_error(exc, url)
        )
        raise AdapterUnavailable(f"RabbitMQ at {redact_url(url)} unreachable: {reason}") from exc
    return connection


async def close_quietly(connection: aio_pika.RobustConnection, timeout_s: float) -> None:
    """Close ``connection``, ignoring a broker that is already gone."""
    # A dead connection: nothing left to do.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await connection.close()
