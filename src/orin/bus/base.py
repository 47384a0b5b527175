"""The bus port: jobs and domain events between processes.

Messages carry IDs and small JSON payloads, never objects. A *topic* names what happened or
what must be done (``notification.send``); a *queue* is one group of competing consumers for a
topic: two subscriptions with the same queue share its messages, two queues each get every one.
Delivery is at least once; a failing handler is retried with growing delays up to the retry cap,
then the message is parked in the queue's dead-letter queue.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]
logger = structlog.get_logger(__name__)


def retry_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before retry number ``attempt`` (1-based): ``base * 2**(attempt-1)``, capped."""
    return float(min(max_s, base_s * (2 ** max(0, attempt - 1))))


class Message(BaseModel):
    """One message on the bus, as handlers receive it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, description="Unique message id.")
    topic: str = Field(description="Routing topic, e.g. `notification.send`.")
    payload: JsonObject = Field(default_factory=dict, description="JSON body: IDs, not objects.")
    attempt: int = Field(0, ge=0, description="Retries already made (0 on first delivery).")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class DeadLetter(BaseModel):
    """A message that exhausted its retries, with the last error seen."""

    model_config = ConfigDict(frozen=True)

    message: Message
    queue: str
    error: str


Handler = Callable[[Message], Awaitable[None]]


def log_retry(adapter: str, queue: str, message: Message, delay_s: float, error: str) -> None:
    """Log a failed handler whose message will be retried in ``delay_s`` seconds."""
    logger.warning(
        "bus.handler_failed",
        adapter=adapter,
        queue=queue,
        topic=message.topic,
        message_id=message.id,
        attempt=message.attempt,
        retry_in_s=delay_s,
        error=error,
    )


def log_dead_letter(
    adapter: str, queue: str, message: Message, error: str, exc: BaseException | None
) -> None:
    """Log a message that exhausted its retries and went to the dead-letter queue."""
    logger.error(
        "bus.dead_lettered",
        adapter=adapter,
        queue=queue,
        topic=message.topic,
        message_id=message.id,
        attempts=message.attempt + 1,
        error=error,
        exc_info=exc,
    )


class Bus(abc.ABC):
    """Publish messages and consume them with retries and a dead-letter queue."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and start every consumer registered with `subscribe`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop consumers (letting in-flight handlers finish) and disconnect."""

    @abc.abstractmethod
    async def publish(self, message: Message) -> None:
        """Send one message; returns once the broker has confirmed it is stored."""

    @abc.abstractmethod
    def subscribe(self, topic: str, queue: str, handler: Handler) -> None:
        """Register ``handler`` for ``topic`` on ``queue``; call before `start`."""

    @abc.abstractmethod
    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Messages parked in ``queue``'s dead-letter queue (left there)."""

    @abc.abstractmethod
    async def queue_depths(self, queues: Iterable[str] = ()) -> dict[str, int]:
        """Ready messages per queue (and its DLQ, as ``<queue>.dlq``): the queues this bus
        consumes and ``queues`` (so a process that consumes nothing still sees the backlog);
        a queue nobody has declared yet counts 0."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `AdapterUnavailable` when the broker cannot be reached."""

    async def publish_new(self, topic: str, payload: JsonObject) -> Message:
        """Build a message for ``topic`` and publish it."""
        message = Message(topic=topic, payload=payload)
        await self.publish(message)
        return message
