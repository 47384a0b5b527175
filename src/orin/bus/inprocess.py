"""The embedded bus: asyncio queues in this process, with the same semantics as RabbitMQ.

Each queue is an `asyncio.Queue` of messages; every subscription on it runs ``prefetch``
worker tasks that compete for its messages. A publish copies the message (through its JSON
form, as the broker would) into every queue with a subscription matching the topic. A failing
handler is retried after `retry_delay` growing delays; after ``max_retries`` retries the message
is kept in the queue's dead letters. Nothing survives the process: this adapter is for the
single-process mode, where losing in-memory work on exit is accepted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import structlog

from orin.bus.base import (
    Bus,
    DeadLetter,
    Handler,
    Message,
    log_dead_letter,
    log_retry,
    retry_delay,
)
from orin.config import AmqpSettings
from orin.errors import AdapterUnavailable

logger = structlog.get_logger(__name__)

MAX_DEAD_LETTERS_PER_QUEUE = 10_000


@lru_cache(maxsize=4096)
def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one dot-separated word, ``#`` zero or more."""
    words = pattern.split(".")
    parts = topic.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(parts)
        if words[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(parts) + 1))
        return j < len(parts) and words[i] in ("*", parts[j]) and match(i + 1, j + 1)

    return match(0, 0)


def error_text(exc: BaseException) -> str:
    """How a handler's exception is recorded on a dead letter."""
    return f"{type(exc).__name__}: {exc}"


@dataclass(slots=True)
class Subscription:
    """One `Bus.subscribe` call: a topic pattern and its handler on a queue."""

    topic: str
    handler: Handler


def pick_handler(
    subscriptions: list[Subscription], own: Subscription, topic: str
) -> Handler | None:
    """The handler for ``topic`` when ``own``'s consumer received it on a shared queue.

    A queue bound to several topics delivers all of them to every consumer; a consumer whose
    own pattern does not match hands the message to a subscription on the queue whose does.
    """
    if topic_matches(own.topic, topic):
        return own.handler
    for subscription in subscriptions:
        if topic_matches(subscription.topic, topic):
            return subscription.handler
    return None


@dataclass(slots=True)
class _Queue:
    name: str
    subscriptions: list[Subscription] = field(default_factory=list)
    ready: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    dead: deque[DeadLetter] = field(
        default_factory=lambda: deque(maxlen=MAX_DEAD_LETTERS_PER_QUEUE)
    )


class InProcessBus(Bus):
    """Asyncio bus for the embedded single-process mode (no broker)."""

    def __init__(self, settings: AmqpSettings, *, drain_timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.drain_timeout_s = drain_timeout_s
        self._queues: dict[str, _Queue] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[Any]] = set()
        self._retries: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

    def subscribe(self, topic: str, queue: str, handler: Handler) -> None:
        """Register ``handler`` for ``topic`` on ``queue``; call before `start`."""
        if self._started:
            raise RuntimeError("subscribe() must be called before start()")
        entry = self._queues.setdefault(queue, _Queue(queue))
        entry.subscriptions.append(Subscription(topic, handler))

    async def start(self) -> None:
        """Start ``prefetch`` workers per subscription; buffered messages are handled now."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("a closed bus cannot be started again")
        self._started = True
        for entry in self._queues.values():
            for subscription in entry.subscriptions:
                for index in range(self.settings.prefetch):
                    self._workers.append(
                        asyncio.create_task(
                            self._work(entry, subscription),
                            name=f"bus-{entry.name}-{index}",
                        )
                    )
        logger.info(
            "bus.started",
            adapter="inprocess",
            queues=sorted(self._queues),
            workers=len(self._workers),
        )

    async def close(self) -> None:
        """Stop idle workers, let busy ones finish (bounded), drop pending retries."""
        if self._closed:
            return
        self._closed = True
        idle = [task for task in self._workers if task not in self._busy]
        for task in idle:
            task.cancel()
        busy = set(self._busy)
        if busy:
            _, pending = await asyncio.wait(busy, timeout=self.drain_timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("bus.handlers_cancelled", adapter="inprocess", count=len(pending))
        retries = list(self._retries)
        for task in retries:
            task.cancel()
        await asyncio.gather(*self._workers, *retries, return_exceptions=True)
        dropped = {
            name: entry.ready.qsize() for name, entry in self._queues.items() if entry.ready.qsize()
        }
        if dropped or retries:
            logger.warning("bus.inprocess_dropped", ready=dropped, delayed_retries=len(retries))
        self._workers.clear()
        self._retries.clear()
        logger.info("bus.closed", adapter="inprocess")

    async def publish(self, message: Message) -> None:
        """Copy ``message`` into every queue subscribed to its topic (buffered before start)."""
        if self._closed:
            raise AdapterUnavailable("the in-process bus is closed")
        # Serialising here keeps the embedded mode honest: a payload RabbitMQ could not carry
        # fails in tests too, and each queue gets its own copy of the payload.
        body = message.model_dump_json()
        for entry in self._queues.values():
            if any(topic_matches(sub.topic, message.topic) for sub in entry.subscriptions):
                entry.ready.put_nowait(Message.model_validate_json(body))

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Messages of ``queue`` that exhausted their retries, oldest first."""
        entry = self._queues.get(queue)
        if entry is None:
            return []
        return list(entry.dead)[:limit]

    async def queue_depths(self, queues: Iterable[str] = ()) -> dict[str, int]:
        """Ready messages per queue, and dead letters as ``<queue>.dlq``."""
        depths: dict[str, int] = {}
        for name in {*self._queues, *queues}:
            entry = self._queues.get(name)
            depths[name] = entry.ready.qsize() if entry else 0
            depths[f"{name}.dlq"] = len(entry.dead) if entry else 0
        return depths

    async def ping(self) -> None:
        """Always reachable: the bus lives in this process."""

    async def _work(self, entry: _Queue, subscription: Subscription) -> None:
        task = asyncio.current_task()
        assert task is not None
        while not self._closed:
            message = await entry.ready.get()
            # No await between get() and here: close() sees this worker as busy from now on.
            self._busy.add(task)
            try:
                await self._deliver(entry, subscription, message)
            finally:
                self._busy.discard(task)
                entry.ready.task_done()

    async def _deliver(self, entry: _Queue, own: Subscription, message: Message) -> None:
        handler = pick_handler(entry.subscriptions, own, message.topic)
        if handler is None:
            self._dead_letter(entry, message, f"no handler for topic {message.topic!r}")
            return
        try:
            await handler(message)
        except Exception as exc:
            self._failed(entry, message, exc)

    def _failed(self, entry: _Queue, message: Message, exc: Exception) -> None:
        error = error_text(exc)
        if message.attempt >= self.settings.max_retries:
            self._dead_letter(entry, message, error, exc)
            return
        attempt = message.attempt + 1
        delay = retry_delay(
            attempt, self.settings.retry_base_delay_s, self.settings.retry_max_delay_s
        )
        log_retry("inprocess", entry.name, message, delay, error)
        retry = message.model_copy(update={"attempt": attempt})
        task = asyncio.create_task(self._retry_later(entry, retry, delay))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry_later(self, entry: _Queue, message: Message, delay: float) -> None:
        await asyncio.sleep(delay)
        entry.ready.put_nowait(message)

    def _dead_letter(
        self, entry: _Queue, message: Message, error: str, exc: Exception | None = None
    ) -> None:
        entry.dead.append(DeadLetter(message=message, queue=entry.name, error=error))
        log_dead_letter("inprocess", entry.name, message, error, exc)


__all__ = ["InProcessBus", "Subscription", "error_text", "pick_handler", "topic_matches"]
