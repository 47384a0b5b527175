"""A catch summary and a notice as the notification worker builds them, for channel tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from orin.events.service import record_event
from orin.models.base import utcnow
from orin.models.event import EventKind
from orin.notifications.notice import CatchSummary, Notice
from orin.notifications.planner import CATCH
from orin.outbox import enqueue
from tests.fixtures.api import Api

OCCURRED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LINK = "https://orin.test/events/evt-1"


def make_catch(**overrides: Any) -> CatchSummary:
    """A person caught by "Garden gate" on "Back yard"; no snapshot unless overridden."""
    values: dict[str, Any] = {
        "event_id": "evt-1",
        "guard_id": "grd-1",
        "guard_name": "Garden gate",
        "camera_id": "cam-1",
        "camera_name": "Back yard",
        "space_id": "spc-1",
        "space_name": "Home",
        "label": "person",
        "confidence": 0.874,
        "severity": "high",
        "occurred_at": OCCURRED_AT,
        "link": LINK,
        "snapshot_url": None,
    }
    values.update(overrides)
    return CatchSummary(**values)


def make_notice(**overrides: Any) -> Notice:
    """A one-catch notice (a fresh idempotency key each time) about `make_catch`'s catch."""
    values: dict[str, Any] = {
        "key": f"ntf-{secrets.token_hex(6)}",
        "kind": "catch",
        "title": "Person at Back yard",
        "body": "Garden gate caught a person.",
        "link": LINK,
        "catches": (make_catch(),),
        "severity": "high",
    }
    values.update(overrides)
    return Notice(**values)


SNAPSHOT_JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
"""The stored snapshot of the catches `record_catch` makes (not a decodable image)."""


async def record_catch(
    api: Api, space_id: str, camera_id: str, guard_id: str, *, at: datetime | None = None
) -> str:
    """Record a person catch with a snapshot and queue its notifications, as the vision worker
    does; its event id."""
    started = at or utcnow()
    key = f"events/test/{started.timestamp()}.jpg"
    await api.runtime.infra.storage.put(key, SNAPSHOT_JPEG, content_type="image/jpeg")
    async with api.database.transaction() as session:
        event = await record_event(
            session,
            space_id=space_id,
            camera_id=camera_id,
            guard_id=guard_id,
            kind=EventKind.CATCH,
            started_at=started,
            label="person",
            confidence=0.91,
            snapshot_key=key,
        )
        enqueue(session, CATCH, {"event_id": event.id, "started_at": started.isoformat()})
    return event.id
