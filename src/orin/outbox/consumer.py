"""Effectively-once handling of bus messages: at-least-once delivery plus a processed-id table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Handler, Message
from orin.db import Database
from orin.outbox import repository

logger = structlog.get_logger(__name__)

SessionHandler = Callable[[AsyncSession, Message], Awaitable[None]]


def idempotent(database: Database, consumer: str, handler: SessionHandler) -> Handler:
    """Wrap ``handler`` so each message id is handled once per ``consumer``.

    The handler's writes and the processed-id row commit in one transaction: a redelivered
    message that was already handled is acknowledged without running the handler again.
    """

    async def run(message: Message) -> None:
        try:
            async with database.transaction() as session:
                if await repository.was_processed(session, consumer, message.id):
                    logger.info("bus.duplicate_skipped", consumer=consumer, message_id=message.id)
                    return
                repository.record_processed(session, consumer, message.id)
                await handler(session, message)
        except IntegrityError:
            # Either a concurrent delivery of the same message committed first (fine), or the
            # handler broke a constraint of its own (a real error, to be retried).
            async with database.transaction() as session:
                if not await repository.was_processed(session, consumer, message.id):
                    raise
            logger.info("bus.duplicate_raced", consumer=consumer, message_id=message.id)

    return run


async def was_handled(session: AsyncSession, consumer: str, message_id: str) -> bool:
    """Whether ``consumer`` has recorded ``message_id`` as processed."""
    return await repository.was_processed(session, consumer, message_id)


async def claim_message(session: AsyncSession, consumer: str, message_id: str) -> bool:
    """Record ``message_id`` as processed by ``consumer`` in the session's transaction; False
    (and nothing recorded) when it already was.

    For tasks that run their own transactions (`orin.runtime.tasks`): call it in the
    transaction that writes the outcome. A repeat handled at the same moment makes that commit
    fail on the processed-id key, and the bus delivers the message again, to be skipped.
    """
    if await repository.was_processed(session, consumer, message_id):
        logger.info("bus.duplicate_skipped", consumer=consumer, message_id=message_id)
        return False
    repository.record_processed(session, consumer, message_id)
    return True
