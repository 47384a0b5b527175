"""Held notifications become digests when the quiet hours that held them are over.

A held row waits with ``next_attempt_at`` set to the end of the user's quiet stretch. Once that
time has passed, every such row of the same user, channel and target is attached
(``digest_id``) to one new ``digest`` row, which is delivered like any other; the held rows keep
their ``held`` status (they count as held in analytics) and point at the digest that carried
them. The digest's key names the user, channel, target and the first held row, so releasing the
same rows twice makes no second digest.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.models.notification import Notification, NotificationStatus
from orin.notifications.notice import most_severe
from orin.notifications.planner import DELIVER
from orin.outbox import enqueue

logger = structlog.get_logger(__name__)

RELEASE_BATCH = 2000
"""Most held rows released by one run (the next run takes the rest)."""


async def release_held(session: AsyncSession, *, now: datetime) -> list[Notification]:
    """Make the digests that are due; returns the new digest rows (queued for delivery)."""
    held = list(
        await session.scalars(
            select(Notification)
            .where(
                Notification.status == NotificationStatus.HELD,
                Notification.digest_id.is_(None),
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.created_at, Notification.id)
            .limit(RELEASE_BATCH)
        )
    )
    groups: dict[tuple[str, str, str], list[Notification]] = {}
    for row in held:
        groups.setdefault((row.user_id, row.channel, row.target), []).append(row)
    digests: list[Notification] = []
    for (user_id, channel, target), rows in groups.items():
        digest = Notification(
            key=f"digest:{user_id}:{channel}:{target}:{rows[0].id}",
            kind="digest",
            user_id=user_id,
            channel=channel,
            target=target,
            severity=most_severe(row.severity for row in rows),
            status=NotificationStatus.QUEUED,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(digest)
        await session.flush()
        for row in rows:
            row.digest_id = digest.id
        enqueue(session, DELIVER, {"notification_id": digest.id})
        digests.append(digest)
    if digests:
        logger.info("notifications.digests", digests=len(digests), held=len(held))
    return digests
