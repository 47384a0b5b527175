"""What producers call to push a live update to every API process's WebSocket clients.

An update is published once, on the pub/sub channel `CHANNEL`, as the very JSON its
subscribers receive: ``{"type", "space_id", "camera_id", "data", "at"}``. Each API process
subscribes to that one channel and forwards the bytes as they are to its local clients whose
subscriptions and current access match (`orin.realtime.hub`). Delivery is best effort, like
pub/sub itself: a client that reconnects refetches what it shows.

Publish only what has committed, so no client is told about a change that was rolled back:
`publish_after_commit` inside a transaction (endpoints, tasks), `publish_event` once the
commit is done, or `orin.realtime.tasks.publish_via_outbox` where no pub/sub is at hand (the
ingest process): that one rides the transactional outbox and a worker publishes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson
import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from orin.cache.base import PubSub
from orin.errors import AdapterUnavailable
from orin.events.schemas import event_out
from orin.models.base import utcnow
from orin.models.event import Event
from orin.realtime.protocol import ACCESS_CHANGED, UPDATE_TYPES, UpdateType

logger = structlog.get_logger(__name__)

CHANNEL: Final = "orin.rt"
"""The one pub/sub channel of live updates; the space id travels inside each message."""

_PENDING: Final = "orin.realtime.pending"
_HOOKED: Final = "orin.realtime.hooked"
_in_flight: set[asyncio.Task[None]] = set()


def _body(
    kind: UpdateType, space_id: str, camera_id: str | None, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The update's fields but its time, as plain JSON values (checked and converted now)."""
    if kind not in UPDATE_TYPES:
        raise ValueError(f"unknown realtime update type {kind!r}")
    body = {"type": kind, "space_id": space_id, "camera_id": camera_id, "data": data}
    converted: dict[str, Any] = orjson.loads(orjson.dumps(body, default=to_jsonable_python))
    return converted


def envelope(
    kind: UpdateType,
    *,
    space_id: str,
    camera_id: str | None = None,
    data: Mapping[str, Any],
) -> bytes:
    """The update as published and as delivered, stamped with the current time (``at``)."""
    return orjson.dumps({**_body(kind, space_id, camera_id, data), "at": utcnow()})


async def publish_event(
    pubsub: PubSub,
    kind: UpdateType,
    *,
    space_id: str,
    camera_id: str | None = None,
    data: Mapping[str, Any],
) -> None:
    """Publish one update now (the change must already be committed).

    ``data`` is JSON-able (datetimes, enums and pydantic models are converted). Never raises
    for an unreachable pub/sub: the update is logged and dropped, since live updates are best
    effort and the change itself is safely stored."""
    payload = envelope(kind, space_id=space_id, camera_id=camera_id, data=data)
    await publish_raw(pubsub, payload)


async def publish_raw(pubsub: PubSub, payload: bytes) -> None:
    """Publish an already encoded update (see `envelope`)."""
    try:
        await pubsub.publish(CHANNEL, payload)
    except AdapterUnavailable as exc:
        logger.warning("realtime.publish_failed", error=str(exc))


def publish_after_commit(
    session: AsyncSession,
    pubsub: PubSub,
    kind: UpdateType,
    *,
    space_id: str,
    camera_id: str | None = None,
    data: Mapping[str, Any],
) -> None:
    """Publish one update once ``session``'s transaction commits; nothing if it rolls back.

    ``data`` is encoded now (so later changes to the objects it came from do not leak in);
    ``at`` is stamped when the commit is done. Updates of one commit go out in call order."""
    body = _body(kind, space_id, camera_id, data)
    sync = session.sync_session
    pending: list[tuple[PubSub, dict[str, Any]]] = sync.info.setdefault(_PENDING, [])
    pending.append((pubsub, body))
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        sa_event.listen(sync, "after_commit", _after_commit)
        sa_event.listen(sync, "after_soft_rollback", _after_rollback)


def _after_commit(sync: Session) -> None:
    pending: list[tuple[PubSub, dict[str, Any]]] = sync.info.pop(_PENDING, [])
    if not pending:
        return
    at = utcnow()
    messages = [(pubsub, orjson.dumps({**body, "at": at})) for pubsub, body in pending]
    # SQLAlchemy calls this hook synchronously on the event loop's thread (inside the
    # awaited commit), so the publishing runs as a task of that loop.
    task = asyncio.get_running_loop().create_task(_publish_all(messages))
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)


def _after_rollback(sync: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        sync.info.pop(_PENDING, None)


async def _publish_all(messages: list[tuple[PubSub, bytes]]) -> None:
    for pubsub, payload in messages:
        try:
            await publish_raw(pubsub, payload)
        except Exception:
            logger.exception("realtime.publish_failed")


async def invalidate_access(pubsub: PubSub, user_ids: Iterable[str]) -> None:
    """Make every API process re-read these users' access now (call after commit when a
    membership ends, a share is revoked or an account is disabled); without it the change
    still takes effect within `RealtimeSettings.access_refresh_s`."""
    ids = sorted(set(user_ids))
    if ids:
        await publish_raw(pubsub, orjson.dumps({"type": ACCESS_CHANGED, "user_ids": ids}))


def event_data(event: Event) -> dict[str, Any]:
    """An event as ``event.created`` / ``event.updated`` carry it: the `EventOut` shape
    (the list view's fields; media URLs come from ``GET /api/v1/events/{id}``)."""
    return event_out(event).model_dump(mode="json", exclude={"score"})
