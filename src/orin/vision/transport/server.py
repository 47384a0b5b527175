"""The scaled adapter, replica side: what `orin detector` runs.

A `DetectorServer` consumes ``orin.detect.<name>`` for each of its detectors, with a prefetch
of ``2 * max_batch * local_workers`` so the next batch is on hand while one runs. Requests
that arrive together are batched by an in-process `LocalDetectionService` (``max_batch``
images, ``batch_window_ms``), which runs inference in worker threads. Each reply goes to the
request's ``reply_to`` with its ``correlation_id``, and only then is the request acked: a
replica killed mid-inference leaves its requests unacked, and the broker hands them to
another replica. A request past its deadline is acked and dropped without running.
The connection is robust: after a broker restart it reconnects and consumes again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from orin.bus.rabbitmq import redact_url
from orin.config import Settings
from orin.vision.transport.base import (
    DetectionServiceClosed,
    DetectorFactory,
    UnknownDetector,
    build_registered,
)
from orin.vision.transport.broker import (
    amqp_url,
    clean_error,
    close_quietly,
    connect,
    expired,
    request_queue,
)
from orin.vision.transport.codec import decode_images, encode_detections, encode_error
from orin.vision.transport.local import LocalDetectionService

logger = structlog.get_logger(__name__)

OnMessage = Callable[[AbstractIncomingMessage], Awaitable[None]]


class DetectorServer:
    """One detector replica serving the named detectors (all configured ones by default)."""

    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] | None = None,
        factory: DetectorFactory = build_registered,
    ) -> None:
        configured = settings.vision.detectors
        self.names = list(dict.fromkeys(names)) if names else list(configured)
        for name in self.names:
            if name not in configured:
                raise UnknownDetector(name, list(configured))
        self.settings = settings
        self._url = amqp_url(settings)
        vision = settings.vision.model_copy(
            update={"detectors": {name: configured[name] for name in self.names}}
        )
        self._local = LocalDetectionService(vision, factory)
        self.prefetch = 2 * vision.max_batch * vision.local_workers
        self.served = 0
        """Requests answered (detections or an error reply)."""
        self.dropped = 0
        """Requests dropped because their deadline had passed."""
        self._connection: aio_pika.RobustConnection | None = None
        self._consumers: list[tuple[AbstractRobustQueue, str]] = []
        self._inflight: set[asyncio.Task[object]] = set()
        self._closing = False

    async def start(self) -> None:
        """Start the inference pool, connect and consume; `AdapterUnavailable` if no broker."""
        if self._connection is not None:
            return
        self._closing = False
        await self._local.start()
        try:
            connection = await connect(self.settings.amqp, self._url, "orin-detector")
        except BaseException:
            await self._local.close()
            raise
        self._connection = connection
        try:
            for name in self.names:
                channel: AbstractRobustChannel = await connection.channel(publisher_confirms=False)
                await channel.set_qos(prefetch_count=self.prefetch)
                queue = await channel.declare_queue(request_queue(name), durable=True)
                tag = await queue.consume(self._callback(name, channel))
                self._consumers.append((queue, tag))
        except BaseException:
            await self.close()
            raise
        logger.info(
            "detector.serving",
            url=redact_url(self._url),
            detectors=self.names,
            prefetch=self.prefetch,
            max_batch=self.settings.vision.max_batch,
            workers=self.settings.vision.local_workers,
        )

    async def close(self) -> None:
        """Stop consuming, let requests in flight finish (bounded), then disconnect.

        Requests not answered by then are handed back to the broker for another replica.
        """
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        timeout = self.settings.amqp.confirm_timeout_s
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await queue.cancel(tag)
        self._consumers.clear()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.settings.vision.request_timeout_s)
        await self._local.close()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)
        await close_quietly(connection, timeout)
        self._connection = None
        logger.info("detector.closed", served=self.served, dropped=self.dropped)

    def _callback(self, name: str, channel: AbstractRobustChannel) -> OnMessage:
        async def on_message(message: AbstractIncomingMessage) -> None:
            if self._closing:
                # Delivered after close began: hand it back at once for another replica.
                await self._settle(message.nack(requeue=True), "nack")
                return
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            try:
                await self._handle(name, channel, message)
            finally:
                if task is not None:
                    self._inflight.discard(task)

        return on_message

    async def _handle(
        self, name: str, channel: AbstractRobustChannel, message: AbstractIncomingMessage
    ) -> None:
        if expired(message):
            self.dropped += 1
            logger.debug("detector.request_expired", detector=name)
            await self._settle(message.ack(), "ack")
            return
        if not message.reply_to or not message.correlation_id:
            logger.warning("detector.request_without_reply_to", detector=name)
            await self._settle(message.reject(requeue=False), "reject")
            return
        try:
            results = await self._local.detect(name, decode_images(message.body))
            body = encode_detections(results)
        except DetectionServiceClosed:
            await self._settle(message.nack(requeue=True), "nack")
            return
        except Exception as exc:
            logger.warning("detector.request_failed", detector=name, error=str(exc))
            body = encode_error(f"{type(exc).__name__}: {exc}")
        reply = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
            correlation_id=message.correlation_id,
        )
        try:
            await channel.default_exchange.publish(reply, routing_key=message.reply_to)
        except Exception as exc:
            logger.warning(
                "detector.reply_failed", detector=name, error=clean_error(exc, self._url)
            )
            await self._settle(message.nack(requeue=True), "nack")
            return
        self.served += 1
        await self._settle(message.ack(), "ack")

    @staticmethod
    async def _settle(outcome: Awaitable[None], action: str) -> None:
        try:
            await outcome
        except Exception as exc:
            # The channel is gone: the broker requeues the unacked request by itself.
            logger.debug("detector.settle_failed", action=action, error=str(exc))
