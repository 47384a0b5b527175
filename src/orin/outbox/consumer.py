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
