"""Every query on the outbox and processed-message tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orin.models.base import utcnow
from orin.models.outbox_message import OutboxMessage
from orin.models.processed_message import ProcessedMessage


async def claim_unsent(session: AsyncSession, limit: int) -> Sequence[OutboxMessage]:
    """Unsent, due rows in commit order, locked so that other relays skip them (PostgreSQL)."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= utcnow())
        .order_by(OutboxMessage.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(statement)).all()


async def mark_sent(session: AsyncSession, seqs: Sequence[int], sent_at: datetime) -> None:
    if seqs:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.seq.in_(seqs))
            .values(sent_at=sent_at, attempts=OutboxMessage.attempts + 1, last_error=None)
        )


async def mark_failed(session: AsyncSession, seqs: Sequence[int], error: str) -> None:
    if seqs:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.seq.in_(seqs))
            .values(attempts=OutboxMessage.attempts + 1, last_error=error[:2000])
        )


async def count_unsent(session: AsyncSession) -> int:
    statement = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    )
    return int((await session.scalar(statement)) or 0)


async def delete_sent_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete rows sent before ``cutoff``; returns how many went."""
    result = await session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_processed_before(session: AsyncSession, cutoff: datetime) -> int:
    """Forget processed-message ids older than ``cutoff``; returns how many went."""
    result = await session.execute(
        delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def was_processed(session: AsyncSession, consumer: str, message_id: str) -> bool:
    statement = select(ProcessedMessage.message_id).where(
        ProcessedMessage.consumer == consumer, ProcessedMessage.message_id == message_id
    )
    return (await session.scalar(statement)) is not None


def record_processed(session: AsyncSession, consumer: str, message_id: str) -> None:
    session.add(ProcessedMessage(consumer=consumer, message_id=message_id, processed_at=utcnow()))
