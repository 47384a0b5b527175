"""The scaled adapter, client side: request/reply over RabbitMQ to `orin detector` replicas.

Each `detect` call publishes one request to the durable queue ``orin.detect.<name>`` (default
exchange) with the frames in the body (see `orin.vision.transport.codec`), a fresh
``correlation_id``, ``reply_to`` = this client's exclusive auto-delete reply queue, and a
broker ``expiration`` of ``request_timeout_s`` so stale frames are dropped rather than run.
A request not answered in time is sent again under a new correlation id, up to
``request_attempts`` times, then `DetectionFailed` is raised. A reply is accepted only for a
correlation id still awaited, so a late or duplicate reply (a replica killed after replying
but before acking makes the broker redeliver the request) never reaches a caller twice. When
the connection comes back after a broker outage, requests still awaited are resent at once
(the reply queue, and any reply on its way, died with the old connection).

The replica side is `DetectorServer` (`orin.vision.transport.server`), re-exported here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel

from orin.bus.rabbitmq import redact_url
from orin.config import Settings
from orin.vision.detectors.base import Detection, Image
from orin.vision.transport.base import DetectionFailed, DetectionService, DetectionServiceClosed
from orin.vision.transport.broker import (
    FRAMES_CONTENT_TYPE,
    REPLY_QUEUE_PREFIX,
    amqp_url,
    clean_error,
    close_quietly,
    connect,
    deadline_header,
    request_queue,
)
from orin.vision.transport.codec import FrameError, ReplicaError, decode_reply, encode_images
from orin.vision.transport.server import DetectorServer

logger = structlog.get_logger(__name__)

Results = list[list[Detection]]


class AmqpDetectionService(DetectionService):
    """Detection by `orin detector` replicas, with timeouts and resends."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.vision.detectors)
        self.vision = settings.vision
        self.amqp = settings.amqp
        self._url = amqp_url(settings)
        self.reply_queue = f"{REPLY_QUEUE_PREFIX}{uuid.uuid4().hex}"
        self.ignored_replies = 0
        """Replies for no awaited request (late, duplicate or foreign); for tests and metrics."""
        self._connection: aio_pika.RobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._pending: dict[str, asyncio.Future[Results]] = {}
        self._reconnected: asyncio.Future[None] | None = None
        """Resolved (then replaced) each time the connection is restored."""

    async def start(self) -> None:
        if self._connection is not None:
            return
        connection = await connect(self.amqp, self._url, "orin-detect-client")
        try:
            channel: AbstractRobustChannel = await connection.channel(publisher_confirms=False)
            for name in self.detectors:
                await channel.declare_queue(request_queue(name), durable=True)
            replies = await channel.declare_queue(
                self.reply_queue, exclusive=True, auto_delete=True
            )
            await replies.consume(self._on_reply, no_ack=True, exclusive=True)
        except BaseException:
            await close_quietly(connection, self.amqp.confirm_timeout_s)
            raise
        self._connection, self._channel = connection, channel
        self._reconnected = asyncio.get_running_loop().create_future()
        connection.reconnect_callbacks.add(self._on_reconnect)
        logger.info(
            "detection.started",
            transport="amqp",
            url=redact_url(self._url),
            detectors=self.names,
            timeout_s=self.vision.request_timeout_s,
            attempts=self.vision.request_attempts,
        )

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            if not future.done():
                future.set_exception(DetectionServiceClosed("detection service closed"))
        if connection is not None:
            await close_quietly(connection, self.amqp.confirm_timeout_s)
            logger.info("detection.closed", transport="amqp")

    async def detect(self, detector: str, images: Sequence[Image]) -> Results:
        self.config(detector)
        if self._channel is None:
            raise DetectionServiceClosed("detection service is not started")
        if not images:
            return []
        body = encode_images(images)
        timeout = self.vision.request_timeout_s
        attempts = self.vision.request_attempts
        for attempt in range(1, attempts + 1):
            correlation_id = uuid.uuid4().hex
            future: asyncio.Future[Results] = asyncio.get_running_loop().create_future()
            self._pending[correlation_id] = future
            try:
                async with asyncio.timeout(timeout):
                    await self._publish(detector, body, correlation_id, timeout)
                    awaited: list[asyncio.Future[Any]] = [future]
                    if self._reconnected is not None:
                        awaited.append(self._reconnected)  # its reply would be lost: resend
                    await asyncio.wait(awaited, return_when=asyncio.FIRST_COMPLETED)
                if future.done():
                    return future.result()
                logger.info("detection.resent_after_reconnect", detector=detector)
            except TimeoutError:
                logger.info(
                    "detection.timed_out", detector=detector, attempt=attempt, timeout_s=timeout
                )
            finally:
                self._pending.pop(correlation_id, None)
        raise DetectionFailed(
            f"detector {detector!r}: no reply after {attempts} attempt(s) of {timeout:g}s"
        )

    async def _publish(self, detector: str, body: bytes, correlation_id: str, ttl: float) -> None:
        """Publish one request; while the broker is away, wait for the reconnection."""
        while True:
            channel, connection = self._channel, self._connection
            if channel is None or connection is None:
                raise DetectionServiceClosed("detection service closed")
            message = aio_pika.Message(
                body,
                content_type=FRAMES_CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                correlation_id=correlation_id,
                reply_to=self.reply_queue,
                expiration=ttl,
                headers=deadline_header(ttl),
            )
            try:
                await channel.default_exchange.publish(message, routing_key=request_queue(detector))
                return
            except Exception as exc:
                logger.warning(
                    "detection.publish_failed", detector=detector, error=clean_error(exc, self._url)
                )
                await asyncio.sleep(0.1)
                await connection.connected.wait()

    def _on_reconnect(self, *_: object) -> None:
        reconnected = self._reconnected
        self._reconnected = asyncio.get_running_loop().create_future()
        if reconnected is not None and not reconnected.done():
            reconnected.set_result(None)
        logger.info("detection.reconnected", waiting=len(self._pending))

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            self.ignored_replies += 1
            logger.debug("detection.reply_ignored", correlation_id=message.correlation_id)
            return
        try:
            future.set_result(decode_reply(message.body))
        except ReplicaError as exc:
            future.set_exception(DetectionFailed(f"a detector replica failed: {exc}"))
        except FrameError as exc:
            future.set_exception(DetectionFailed(f"unreadable reply from a replica: {exc}"))


__all__ = ["AmqpDetectionService", "DetectorServer"]
