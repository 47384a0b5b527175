"""Recording events for tests the way the vision pipeline will: through `record_event`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orin.events.service import NewEvent, record_event, record_events
from orin.models.event import EventKind
from orin.models.guard import Guard
from tests.fixtures.api import Api, Person

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


async def add_event(api: Api, space_id: str, camera_id: str, **fields: Any) -> str:
    """Record one event (a `person` catch at `T0` unless told otherwise); returns its id."""
    values: dict[str, Any] = {"kind": EventKind.CATCH, "label": "person", "started_at": T0}
    values.update(fields)
    async with api.database.transaction() as session:
        event = await record_event(session, space_id=space_id, camera_id=camera_id, **values)
        return event.id


async def add_events(
    api: Api, space_id: str, camera_id: str, count: int, *, start: datetime = T0, **fields: Any
) -> list[str]:
    """Record ``count`` catches a minute apart from ``start``, in one batch."""
    values: dict[str, Any] = {"kind": EventKind.CATCH, "label": "person"}
    values.update(fields)
    items = [
        NewEvent(
            space_id=space_id,
            camera_id=camera_id,
            started_at=start + timedelta(minutes=n),
            **values,
        )
        for n in range(count)
    ]
    async with api.database.transaction() as session:
        return await record_events(session, items)


async def add_guard(api: Api, space_id: str, name: str = "Pets on the lawn") -> str:
    async with api.database.transaction() as session:
        guard = Guard(space_id=space_id, name=name, instruction=name)
        session.add(guard)
        await session.flush()
        return guard.id


async def space_with_camera(person: Person, **space: Any) -> tuple[str, str]:
    """A new space of ``person`` with one camera: ``(space_id, camera_id)``."""
    created = await person.create_space(**space)
    camera = await person.create_camera(created["id"])
    return created["id"], camera["id"]


async def ids(person: Person, url: str, **params: Any) -> list[str]:
    response = await person.get(url, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]
