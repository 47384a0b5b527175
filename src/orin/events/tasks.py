"""Background work of events: keeping monthly partitions ahead of time (PostgreSQL)."""

from __future__ import annotations

import structlog

from orin.bus.base import Message
from orin.events.partitions import ensure_month_partitions
from orin.runtime.tasks import TaskContext, tasks

logger = structlog.get_logger(__name__)

ENSURE_PARTITIONS = "events.ensure_partitions"
"""Sent hourly by the scheduler, and once when a scheduler becomes leader (at start)."""

MONTHS_AHEAD = 1


@tasks.task(ENSURE_PARTITIONS)
async def ensure_partitions(ctx: TaskContext, message: Message) -> None:
    """Create this and next month's ``event`` partitions if missing (no-op on SQLite)."""
    created = await ensure_month_partitions(ctx.session, MONTHS_AHEAD)
    if created:
        logger.info("events.partitions_ensured", created=created)
