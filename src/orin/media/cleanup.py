"""Deleting media after its rows: a job sent through the outbox in the deleting transaction,
so objects go only if the rows went, and a crash between the two is retried."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.outbox import enqueue
from orin.runtime.tasks import TaskContext, tasks

logger = structlog.get_logger(__name__)

DELETE_PREFIX_TOPIC = "media.delete_prefix"
_BATCH = 500


def delete_media_later(session: AsyncSession, *prefixes: str) -> None:
    """Queue the deletion of every object under each prefix once the transaction commits."""
    for prefix in prefixes:
        if not prefix.endswith("/"):
            raise ValueError(f"media prefix {prefix!r} must end with '/'")
        enqueue(session, DELETE_PREFIX_TOPIC, {"prefix": prefix})


@tasks.task(DELETE_PREFIX_TOPIC)
async def delete_prefix(ctx: TaskContext, message: Message) -> None:
    """Delete every object under ``payload["prefix"]`` (idempotent: a redelivery finds none)."""
    prefix = str(message.payload.get("prefix", ""))
    if not prefix.endswith("/") or prefix == "/":
        logger.warning("media.delete_prefix_refused", prefix=prefix)
        return
    objects = await ctx.infra.storage.list(prefix)
    keys = [item.key for item in objects]
    for start in range(0, len(keys), _BATCH):
        await ctx.infra.storage.delete(*keys[start : start + _BATCH])
    logger.info("media.deleted", prefix=prefix, objects=len(keys))
