"""Background tasks: handlers for bus topics, run by `orin worker` with effectively-once delivery.

A module declares a task with ``@tasks.task("topic")``; the worker subscribes every registered
task, and domain code sends one with `orin.outbox.enqueue` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.runtime.infrastructure import Infrastructure


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task handler gets: the transaction it runs in and the process's adapters."""

    session: AsyncSession
    infra: Infrastructure


TaskHandler = Callable[[TaskContext, Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    topic: str
    queue: str
    handler: TaskHandler


class TaskRegistry:
    """The tasks this codebase knows, by topic."""

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}

    def task(self, topic: str, *, queue: str | None = None) -> Callable[[TaskHandler], TaskHandler]:
        """Register the decorated handler for ``topic`` (its queue defaults to the topic)."""

        def register(handler: TaskHandler) -> TaskHandler:
            if topic in self._specs:
                raise ValueError(f"task {topic!r} registered twice")
            self._specs[topic] = TaskSpec(topic=topic, queue=queue or topic, handler=handler)
            return handler

        return register

    @property
    def specs(self) -> list[TaskSpec]:
        return list(self._specs.values())

    @property
    def queues(self) -> list[str]:
        """The queues the tasks are consumed from (what admin screens and metrics watch)."""
        return sorted({spec.queue for spec in self._specs.values()})


tasks = TaskRegistry()
