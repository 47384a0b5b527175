"""The scaled bus: RabbitMQ through aio-pika, durable and confirmed end to end.

Topology, for exchange ``E`` and a subscribed queue ``q``:

- ``E``: durable topic exchange every message is published to, routing key = topic;
- ``E.q``: durable queue bound to each topic subscribed on ``q``; it dead-letters through
  ``E.dlx`` (direct) with routing key ``E.q`` into ``E.q.dlq`` (durable);
- ``E.q.delay.<ms>``: declared on demand for retries; its messages wait ``ms`` (per-queue TTL),
  then dead-letter through the default exchange back into ``E.q``; it expires when idle.

Publishes use publisher confirms and persistent delivery, bounded by ``confirm_timeout_s``; a
publish while the broker is unreachable raises `AdapterUnavailable` instead of waiting for the
reconnection. A failing handler's message is re-published (confirmed) to a delay queue with
``attempt + 1`` before the original is acked, so a crash in between duplicates it rather than
losing it; after ``max_retries`` retries it is re-published to the DLQ with the error in the
``x-orin-error`` header. A body that is not a `Message` is rejected straight into the DLQ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustExchange,
    AbstractRobustQueue,
)
from pydantic import ValidationError
from yarl import URL

from orin.bus.base import (
    Bus,
    DeadLetter,
    Handler,
    Message,
    log_dead_letter,
    log_retry,
    retry_delay,
)
from orin.bus.inprocess import Subscription, error_text, pick_handler
from orin.config import AmqpSettings
from orin.errors import AdapterUnavailable

logger = structlog.get_logger(__name__)

ERROR_HEADER = "x-orin-error"
QUEUE_HEADER = "x-orin-queue"
RECONNECT_INTERVAL_S = 1.0
# An idle delay queue is deleted after twice its TTL plus this margin; declaring it again
# before each retry publish resets the timer, so a queue holding messages never expires early.
DELAY_QUEUE_EXPIRY_MARGIN_MS = 60_000
MAX_ERROR_HEADER_CHARS = 4_000


def redact_url(url: str) -> str:
    """``url`` without user name and password, safe for messages and logs."""
    return str(URL(url).with_user(None))


@dataclass(slots=True)
class _Queue:
    name: str
    subscriptions: list[Subscription] = field(default_factory=list)


@dataclass(slots=True)
class _Consumer:
    queue: AbstractRobustQueue
    tag: str


class RabbitMqBus(Bus):
    """RabbitMQ adapter: durable queues, DLQs, delayed retries and publisher confirms."""

    def __init__(self, settings: AmqpSettings, *, drain_timeout_s: float = 30.0) -> None:
        if not settings.url:
            raise ValueError("RabbitMqBus needs settings.url (amqp://user:pass@host:5672/vhost)")
        self.settings = settings
        self.drain_timeout_s = drain_timeout_s
        self._url = settings.url
        self.safe_url = redact_url(settings.url)
        self._queues: dict[str, _Queue] = {}
        self._connection: aio_pika.RobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._dlx: AbstractRobustExchange | None = None
        self._consumers: list[_Consumer] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- names -------------------------------------------------------------------------------

    def queue_name(self, queue: str) -> str:
        """Broker name of the main queue for ``queue``."""
        return f"{self.settings.exchange}.{queue}"

    def dlq_name(self, queue: str) -> str:
        """Broker name of ``queue``'s dead-letter queue."""
        return f"{self.queue_name(queue)}.dlq"

    def delay_queue_name(self, queue: str, delay_ms: int) -> str:
        """Broker name of the queue holding ``queue``'s retries for ``delay_ms``."""
        return f"{self.queue_name(queue)}.delay.{delay_ms}"

    def _main_queue_arguments(self, queue: str) -> dict[str, Any]:
        return {
            "x-dead-letter-exchange": f"{self.settings.exchange}.dlx",
            "x-dead-letter-routing-key": self.queue_name(queue),
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def subscribe(self, topic: str, queue: str, handler: Handler) -> None:
        """Register ``handler`` for ``topic`` on ``queue``; call before `start`."""
        if self._connection is not None:
            raise RuntimeError("subscribe() must be called before start()")
        self._queues.setdefault(queue, _Queue(queue)).subscriptions.append(
            Subscription(topic, handler)
        )

    async def start(self) -> None:
        """Connect, declare the topology and start one consumer per subscription.

        Raises `AdapterUnavailable` (one line, no password) when the broker cannot be reached.
        """
        if self._connection is not None:
            return
        self._closing = False
        connection = await self._connect()
        # Set before consuming starts: handlers may already need it to publish retries.
        self._connection = connection
        try:
            await self._declare_and_consume(connection)
        except BaseException as exc:
            await self._close_connection(connection)
            self._connection = None
            self._channel = self._exchange = self._dlx = None
            self._consumers.clear()
            if isinstance(exc, Exception):
                raise AdapterUnavailable(
                    f"RabbitMQ at {self.safe_url}: setting up queues failed: {self._clean(exc)}"
                ) from exc
            raise
        logger.info(
            "bus.started",
            adapter="rabbitmq",
            url=self.safe_url,
            exchange=self.settings.exchange,
            queues=sorted(self._queues),
            consumers=len(self._consumers),
        )

    async def close(self) -> None:
        """Stop consuming, wait for in-flight handlers (bounded), then disconnect."""
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        for consumer in self._consumers:
            try:
                async with asyncio.timeout(self.settings.confirm_timeout_s):
                    await consumer.queue.cancel(consumer.tag)
            except Exception as exc:
                logger.warning(
                    "bus.cancel_failed", queue=consumer.queue.name, error=self._clean(exc)
                )
        inflight = set(self._inflight)
        if inflight:
            _, pending = await asyncio.wait(inflight, timeout=self.drain_timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                # Their messages are not acked, so the broker redelivers them elsewhere.
                await asyncio.wait(pending, timeout=1.0)
                logger.warning("bus.handlers_cancelled", adapter="rabbitmq", count=len(pending))
        await self._close_connection(connection)
        self._connection = None
        self._channel = self._exchange = self._dlx = None
        self._consumers.clear()
        logger.info("bus.closed", adapter="rabbitmq")

    async def ping(self) -> None:
        """Raise `AdapterUnavailable` unless the broker answers (opens and closes a channel)."""
        connection = self._connection
        if connection is None:
            connection = await self._connect()
            try:
                await self._round_trip(connection)
            finally:
                await self._close_connection(connection)
            return
        self._require_connected()
        await self._round_trip(connection)

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, message: Message) -> None:
        """Publish to the topic exchange and wait for the broker's confirm.

        Raises `AdapterUnavailable` when not connected or not confirmed in time.
        """
        exchange = self._exchange
        if exchange is None:
            raise AdapterUnavailable(f"RabbitMQ bus for {self.safe_url} is not started")
        await self._confirmed_publish(exchange, self._amqp_message(message), message.topic)

    def _amqp_message(
        self, message: Message, headers: dict[str, Any] | None = None
    ) -> aio_pika.Message:
        return aio_pika.Message(
            body=message.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.id,
            type=message.topic,
            timestamp=message.created_at,
            headers=headers,
        )

    async def _confirmed_publish(
        self, exchange: AbstractExchange, amqp_message: aio_pika.Message, routing_key: str
    ) -> None:
        self._require_connected()
        timeout = self.settings.confirm_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await exchange.publish(amqp_message, routing_key=routing_key, mandatory=False)
        except TimeoutError:
            raise AdapterUnavailable(
                f"RabbitMQ at {self.safe_url}: publish not confirmed within {timeout:g}s"
            ) from None
        except Exception as exc:
            raise AdapterUnavailable(
                f"RabbitMQ at {self.safe_url}: publish failed: {self._clean(exc)}"
            ) from exc

    def _require_connected(self) -> None:
        connection = self._connection
        if connection is None:
            raise AdapterUnavailable(f"RabbitMQ bus for {self.safe_url} is not started")
        if connection.is_closed or not connection.connected.is_set():
            raise AdapterUnavailable(
                f"RabbitMQ at {self.safe_url} unreachable: connection lost, reconnecting"
            )

    # -- consuming ---------------------------------------------------------------------------

    def _callback(
        self, entry: _Queue, own: Subscription
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(incoming: AbstractIncomingMessage) -> None:
            if self._closing:
                # Prefetched after close began: hand it back at once for another consumer.
                await self._settle(incoming.nack(requeue=True), entry, "nack")
                return
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            try:
                await self._process(entry, own, incoming)
            finally:
                if task is not None:
                    self._inflight.discard(task)

        return on_message

    async def _process(
        self, entry: _Queue, own: Subscription, incoming: AbstractIncomingMessage
    ) -> None:
        try:
            message = Message.model_validate_json(incoming.body)
        except ValidationError as exc:
            logger.error(
                "bus.unparseable_message",
                queue=entry.name,
                message_id=incoming.message_id,
                error=self._clean(exc),
            )
            await self._settle(incoming.reject(requeue=False), entry, "reject")
            return
        handler = pick_handler(entry.subscriptions, own, message.topic)
        if handler is None:
            await self._dead_letter(
                entry, incoming, message, f"no handler for topic {message.topic!r}"
            )
            return
        try:
            await handler(message)
        except Exception as exc:
            await self._failed(entry, incoming, message, exc)
            return
        await self._settle(incoming.ack(), entry, "ack")

    async def _failed(
        self, entry: _Queue, incoming: AbstractIncomingMessage, message: Message, exc: Exception
    ) -> None:
        error = error_text(exc)
        if message.attempt >= self.settings.max_retries:
            await self._dead_letter(entry, incoming, message, error, exc)
            return
        attempt = message.attempt + 1
        delay_s = retry_delay(
            attempt, self.settings.retry_base_delay_s, self.settings.retry_max_delay_s
        )
        retry = message.model_copy(update={"attempt": attempt})
        try:
            await self._publish_delayed(entry.name, retry, delay_s)
        except Exception as publish_exc:
            logger.error(
                "bus.retry_publish_failed",
                queue=entry.name,
                message_id=message.id,
                error=self._clean(publish_exc),
            )
            await self._settle(incoming.nack(requeue=True), entry, "nack")
            return
        log_retry("rabbitmq", entry.name, message, delay_s, error)
        await self._settle(incoming.ack(), entry, "ack")

    async def _publish_delayed(self, queue: str, message: Message, delay_s: float) -> None:
        channel = self._channel
        if channel is None:
            raise AdapterUnavailable(f"RabbitMQ bus for {self.safe_url} is not started")
        delay_ms = max(1, round(delay_s * 1000))
        name = self.delay_queue_name(queue, delay_ms)
        self._require_connected()
        async with asyncio.timeout(self.settings.confirm_timeout_s):
            await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": delay_ms,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.queue_name(queue),
                    "x-expires": 2 * delay_ms + DELAY_QUEUE_EXPIRY_MARGIN_MS,
                },
                robust=False,
            )
        await self._confirmed_publish(channel.default_exchange, self._amqp_message(message), name)

    async def _dead_letter(
        self,
        entry: _Queue,
        incoming: AbstractIncomingMessage,
        message: Message,
        error: str,
        exc: Exception | None = None,
    ) -> None:
        dlx = self._dlx
        headers = {ERROR_HEADER: error[:MAX_ERROR_HEADER_CHARS], QUEUE_HEADER: entry.name}
        try:
            if dlx is None:
                raise AdapterUnavailable(f"RabbitMQ bus for {self.safe_url} is not started")
            await self._confirmed_publish(
                dlx, self._amqp_message(message, headers), self.queue_name(entry.name)
            )
        except Exception as publish_exc:
            logger.error(
                "bus.dead_letter_publish_failed",
                queue=entry.name,
                message_id=message.id,
                error=self._clean(publish_exc),
            )
            await self._settle(incoming.nack(requeue=True), entry, "nack")
            return
        log_dead_letter("rabbitmq", entry.name, message, error, exc)
        await self._settle(incoming.ack(), entry, "ack")

    async def _settle(self, outcome: Awaitable[None], entry: _Queue, action: str) -> None:
        try:
            await outcome
        except Exception as exc:
            # The channel is gone: the broker requeues the unacked message by itself.
            logger.warning("bus.settle_failed", queue=entry.name, action=action, error=str(exc))

    # -- inspection --------------------------------------------------------------------------

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Read up to ``limit`` messages of ``queue``'s DLQ and put them back (nack + requeue)."""
        connection = self._require_started()
        letters: list[DeadLetter] = []
        channel = await self._plain_channel(connection)
        try:
            try:
                dlq = await channel.declare_queue(self.dlq_name(queue), passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return []
            taken: list[AbstractIncomingMessage] = []
            while len(taken) < limit:
                incoming = await dlq.get(no_ack=False, fail=False, timeout=5)
                if incoming is None:
                    break
                taken.append(incoming)
            letters = [self._to_dead_letter(queue, incoming) for incoming in taken]
            if taken:
                await taken[-1].nack(multiple=True, requeue=True)
        finally:
            await self._close_channel(channel)
        return letters

    def _to_dead_letter(self, queue: str, incoming: AbstractIncomingMessage) -> DeadLetter:
        headers = incoming.headers or {}
        try:
            message = Message.model_validate_json(incoming.body)
        except ValidationError as exc:
            raw = incoming.body[:1000].decode("utf-8", errors="replace")
            message = Message(
                id=incoming.message_id or "unknown",
                topic=incoming.type or "unknown",
                payload={"raw": raw},
            )
            error = f"unparseable message body: {exc.error_count()} validation error(s)"
        else:
            stored = headers.get(ERROR_HEADER)
            if isinstance(stored, bytes):
                stored = stored.decode("utf-8", errors="replace")
            error = str(stored) if stored is not None else "rejected by the consumer"
        return DeadLetter(message=message, queue=queue, error=error)

    async def queue_depths(self, queues: Iterable[str] = ()) -> dict[str, int]:
        """Ready messages per queue and its DLQ (``<queue>.dlq``), by passive declare."""
        connection = self._require_started()
        depths: dict[str, int] = {}
        channel = await self._plain_channel(connection)
        try:
            for name in sorted({*self._queues, *queues}):
                pairs = ((name, self.queue_name(name)), (f"{name}.dlq", self.dlq_name(name)))
                for key, broker_name in pairs:
                    try:
                        declared = await channel.declare_queue(broker_name, passive=True)
                    except aio_pika.exceptions.ChannelClosed:
                        # Not declared yet (no consumer has started): nothing waits in it. The
                        # broker closed the channel over the miss; carry on with a new one.
                        depths[key] = 0
                        channel = await self._plain_channel(connection)
                        continue
                    depths[key] = int(declared.declaration_result.message_count or 0)
        finally:
            await self._close_channel(channel)
        return depths

    # -- plumbing ----------------------------------------------------------------------------

    async def _connect(self) -> aio_pika.RobustConnection:
        url = URL(self._url)
        extra: dict[str, Any] = {"client_properties": {"connection_name": "orin"}}
        if "reconnect_interval" not in url.query:
            extra["reconnect_interval"] = RECONNECT_INTERVAL_S
        connection = aio_pika.RobustConnection(url, **extra)
        try:
            async with asyncio.timeout(self.settings.confirm_timeout_s):
                await connection.connect(timeout=self.settings.confirm_timeout_s)
        except Exception as exc:
            await self._close_connection(connection)
            reason = (
                f"no answer within {self.settings.confirm_timeout_s:g}s"
                if isinstance(exc, TimeoutError)
                else self._clean(exc)
            )
            raise AdapterUnavailable(f"RabbitMQ at {self.safe_url} unreachable: {reason}") from exc
        return connection

    async def _declare_and_consume(self, connection: aio_pika.RobustConnection) -> None:
        exchange_name = self.settings.exchange
        channel: AbstractRobustChannel = await connection.channel(publisher_confirms=True)
        self._channel = channel
        self._exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._dlx = await channel.declare_exchange(
            f"{exchange_name}.dlx", aio_pika.ExchangeType.DIRECT, durable=True
        )
        for entry in self._queues.values():
            dlq = await channel.declare_queue(self.dlq_name(entry.name), durable=True)
            await dlq.bind(self._dlx, routing_key=self.queue_name(entry.name))
            main = await channel.declare_queue(
                self.queue_name(entry.name),
                durable=True,
                arguments=self._main_queue_arguments(entry.name),
            )
            for topic in dict.fromkeys(sub.topic for sub in entry.subscriptions):
                await main.bind(self._exchange, routing_key=topic)
        for entry in self._queues.values():
            for subscription in entry.subscriptions:
                consumer_channel: AbstractRobustChannel = await connection.channel(
                    publisher_confirms=False
                )
                await consumer_channel.set_qos(prefetch_count=self.settings.prefetch)
                queue = await consumer_channel.declare_queue(
                    self.queue_name(entry.name),
                    durable=True,
                    arguments=self._main_queue_arguments(entry.name),
                )
                tag = await queue.consume(self._callback(entry, subscription))
                self._consumers.append(_Consumer(queue, tag))

    def _require_started(self) -> aio_pika.RobustConnection:
        self._require_connected()
        assert self._connection is not None
        return self._connection

    async def _plain_channel(self, connection: aio_pika.RobustConnection) -> AbstractChannel:
        # A plain (not robust) channel: a failed passive declare closes it for good instead of
        # the robust machinery reopening it in the background.
        channel = aio_pika.Channel(connection, publisher_confirms=False)
        async with asyncio.timeout(self.settings.confirm_timeout_s):
            await channel.initialize()
        return channel

    async def _round_trip(self, connection: aio_pika.RobustConnection) -> None:
        try:
            channel = await self._plain_channel(connection)
            await self._close_channel(channel)
        except Exception as exc:
            raise AdapterUnavailable(
                f"RabbitMQ at {self.safe_url} unreachable: {self._clean(exc)}"
            ) from exc

    @staticmethod
    async def _close_channel(channel: AbstractChannel) -> None:
        if not channel.is_closed:
            try:
                await channel.close()
            except Exception as exc:
                logger.debug("bus.channel_close_failed", error=str(exc))

    async def _close_connection(self, connection: aio_pika.RobustConnection) -> None:
        try:
            async with asyncio.timeout(self.settings.confirm_timeout_s):
                await connection.close()
        except Exception as exc:
            logger.warning("bus.disconnect_failed", url=self.safe_url, error=self._clean(exc))

    def _clean(self, exc: BaseException) -> str:
        """One line describing ``exc``, with the password masked should it appear."""
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
        password = URL(self._url).password
        if password:
            text = text.replace(password, "***")
        return text[:500]


__all__ = ["RabbitMqBus", "redact_url"]
