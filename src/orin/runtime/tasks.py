"""Background tasks: handlers for bus topics, run by `orin worker` with effectively-once delivery.

A module declares a task with ``@tasks.task("topic")``; the worker subscribes every registered
task, and domain code sends one with `orin.outbox.enqueue` inside its transaction. The handler
runs in one transaction, which also records the message as processed.

A task that waits on something outside ORIN (a provider's API) declares itself with
``@tasks.own_transactions("topic")`` instead: it opens its own short transactions around the
wait and records the message as processed itself (`orin.outbox.consumer.claim_message`), so no
transaction stays open across the wait. On SQLite an open writing transaction holds the
database's only write lock, so every other writer would wait for the provider too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.outbox.consumer import claim_message, was_handled
from orin.runtime.infrastructure import Infrastructure


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a task handler gets: the transaction it runs in and the process's adapters."""

    session: AsyncSession
    infra: Infrastructure


TaskHandler = Callable[[TaskContext, Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class OwnTransactionsContext:
    """What a task that runs its own transactions gets: the process's adapters, and the
    consumer name under which it records the messages it has handled."""

    infra: Infrastructure
    consumer: str


OwnTransactionsHandler = Callable[[OwnTransactionsContext, Message], Awaitable[None]]
T = TypeVar("T")


async def read_then_act(
    ctx: OwnTransactionsContext,
    message: Message,
    read: Callable[[AsyncSession], Awaitable[T | None]],
    act: Callable[[T], Awaitable[None]],
) -> None:
    """The plain shape of a task with its own transactions: ``read`` in a read-only
    transaction (None: nothing to do), ``act`` on what it returned with no transaction open,
    then record the message as processed. A message already recorded is skipped; ``act``
    raising leaves it unrecorded, for the bus to deliver again."""
    database = ctx.infra.database
    async with database.reading() as session:
        if await was_handled(session, ctx.consumer, message.id):
            return
        found = await read(session)
    if found is not None:
        await act(found)
    async with database.transaction() as session:
        await claim_message(session, ctx.consumer, message.id)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    topic: str
    queue: str
    handler: TaskHandler | OwnTransactionsHandler
    own_transactions: bool = False


class TaskRegistry:
    """The tasks this codebase knows, by topic."""

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}

    def task(self, topic: str, *, queue: str | None = None) -> Callable[[TaskHandler], TaskHandler]:
        """Register the decorated handler for ``topic`` (its queue defaults to the topic)."""

        def register(handler: TaskHandler) -> TaskHandler:
            self._add(TaskSpec(topic=topic, queue=queue or topic, handler=handler))
            return handler

        return register

    def own_transactions(
        self, topic: str, *, queue: str | None = None
    ) -> Callable[[OwnTransactionsHandler], OwnTransactionsHandler]:
        """Register the decorated handler for ``topic`` as one that opens its own transactions
        (see the module docstring)."""

        def register(handler: OwnTransactionsHandler) -> OwnTransactionsHandler:
            spec = TaskSpec(topic, queue or topic, handler, own_transactions=True)
            self._add(spec)
            return handler

        return register

    def _add(self, spec: TaskSpec) -> None:
        if spec.topic in self._specs:
            raise ValueError(f"task {spec.topic!r} registered twice")
        self._specs[spec.topic] = spec

    @property
    def specs(self) -> list[TaskSpec]:
        return list(self._specs.values())

    @property
    def queues(self) -> list[str]:
        """The queues the tasks are consumed from (what admin screens and metrics watch)."""
        return sorted({spec.queue for spec in self._specs.values()})


tasks = TaskRegistry()
