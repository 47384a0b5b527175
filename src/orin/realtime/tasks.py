"""Live updates that ride the transactional outbox, for processes without a pub/sub at hand.

The ingest process records camera status in its own transactions and holds no pub/sub port;
`publish_via_outbox` writes the update with the data, and a worker's `realtime.publish` task
publishes it once committed. Slower than `orin.realtime.publisher.publish_after_commit` (the
relay's wake-up or poll, then the bus), but never sent for a rolled-back transaction and not
lost while the broker is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.models.base import utcnow
from orin.outbox import enqueue
from orin.realtime.protocol import UPDATE_TYPES, UpdateType
from orin.realtime.publisher import publish_raw
from orin.runtime.tasks import TaskContext, tasks

PUBLISH: Final = "realtime.publish"
"""Publish a live update (payload: the update as clients receive it)."""


def publish_via_outbox(
    session: AsyncSession,
    kind: UpdateType,
    *,
    space_id: str,
    camera_id: str | None = None,
    data: Mapping[str, Any],
) -> None:
    """Queue an update in ``session``'s transaction; a worker publishes it after commit.
    ``at`` is the time of this call (when the change was made)."""
    if kind not in UPDATE_TYPES:
        raise ValueError(f"unknown realtime update type {kind!r}")
    body = {
        "type": kind,
        "space_id": space_id,
        "camera_id": camera_id,
        "data": data,
        "at": utcnow(),
    }
    enqueue(session, PUBLISH, orjson.loads(orjson.dumps(body, default=to_jsonable_python)))


@tasks.task(PUBLISH)
async def publish_update(ctx: TaskContext, message: Message) -> None:
    """Publish the queued update on this process's pub/sub (a redelivery publishes it again:
    clients treat updates as idempotent refreshes)."""
    await publish_raw(ctx.infra.cache.pubsub, orjson.dumps(message.payload))
