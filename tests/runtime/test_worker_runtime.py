"""A worker runtime runs registered tasks sent through the outbox, on both adapter sets."""

from __future__ import annotations

import asyncio
import uuid

from orin.bus.base import Message
from orin.config import Settings
from orin.outbox import enqueue
from orin.runtime.process import Runtime
from orin.runtime.tasks import TaskContext, TaskRegistry


async def test_task_sent_in_a_transaction_runs_once_in_the_worker(
    adapter_settings: Settings,
) -> None:
    registry = TaskRegistry()
    topic = f"test.task.{uuid.uuid4().hex[:8]}"
    seen: list[tuple[str, dict[str, object], str]] = []
    done = asyncio.Event()

    @registry.task(topic)
    async def handle(ctx: TaskContext, message: Message) -> None:
        await ctx.infra.storage.put(f"tasks/{message.id}", b"ran")
        seen.append((message.id, message.payload, ctx.infra.adapter_names()["bus"]))
        done.set()

    async with Runtime(adapter_settings, ["worker"], registry=registry) as runtime:
        async with runtime.infra.database.transaction() as session:
            message_id = enqueue(session, topic, {"camera_id": "cam-1"})
        await asyncio.wait_for(done.wait(), 20)
        await asyncio.sleep(0.3)
        assert await runtime.infra.storage.get(f"tasks/{message_id}") == b"ran"
        expected_bus = "rabbitmq" if adapter_settings.amqp.url else "inprocess"
        assert seen == [(message_id, {"camera_id": "cam-1"}, expected_bus)]
        assert runtime.relay is not None
        assert runtime.relay.sent_total >= 1
