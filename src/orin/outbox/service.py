"""Writing to the outbox: the only way domain code sends jobs and events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orin.db import OUTBOX_WRITTEN
from orin.models.base import new_id, utcnow
from orin.models.outbox_message import OutboxMessage


def enqueue(
    session: AsyncSession, topic: str, payload: dict[str, Any], *, delay_s: float = 0.0
) -> str:
    """Add a message to the session's transaction; it is sent only if the transaction commits.

    ``payload`` must be JSON: IDs and small values, never objects. Returns the message id that
    consumers will see. ``delay_s`` holds the message back at least that long.
    """
    now = utcnow()
    message = OutboxMessage(
        message_id=new_id(),
        topic=topic,
        payload=payload,
        created_at=now,
        available_at=now + timedelta(seconds=delay_s),
    )
    session.add(message)
    session.info[OUTBOX_WRITTEN] = True
    return message.message_id
