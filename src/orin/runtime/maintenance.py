"""Housekeeping tasks the scheduler sends periodically."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import delete

from orin.bus.base import Message
from orin.models.base import utcnow
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.outbox import repository as outbox_repository
from orin.runtime.tasks import TaskContext, tasks

logger = structlog.get_logger(__name__)

OUTBOX_CLEANUP = "maintenance.outbox_cleanup"
HEARTBEAT_CLEANUP = "maintenance.heartbeat_cleanup"
HEARTBEAT_FORGET_AFTER = timedelta(days=1)


@tasks.task(OUTBOX_CLEANUP)
async def outbox_cleanup(ctx: TaskContext, message: Message) -> None:
    """Delete sent outbox rows and processed-message ids past their retention."""
    hours = ctx.infra.settings.outbox.sent_retention_h
    now = utcnow()
    sent = await outbox_repository.delete_sent_before(ctx.session, now - timedelta(hours=hours))
    # Keep processed ids longer than sent rows, so a late redelivery is still recognised.
    processed = await outbox_repository.delete_processed_before(
        ctx.session, now - timedelta(hours=2 * hours)
    )
    logger.info("maintenance.outbox_cleaned", sent_rows=sent, processed_ids=processed)


@tasks.task(HEARTBEAT_CLEANUP)
async def heartbeat_cleanup(ctx: TaskContext, message: Message) -> None:
    """Forget processes not seen for a day."""
    cutoff = utcnow() - HEARTBEAT_FORGET_AFTER
    await ctx.session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.seen_at < cutoff))
