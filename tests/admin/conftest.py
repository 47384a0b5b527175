"""The API on an emptied database (platform-wide figures then count only the test's rows),
and small factories for the rows the admin views count."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from orin.config import Settings
from orin.db import Database
from orin.models.camera import Camera, CameraStatus
from orin.models.event import Event, EventKind, ReviewState
from orin.models.guard import Guard, GuardState
from orin.models.notification import Notification, NotificationStatus
from orin.models.space import Space
from orin.models.user import Plan, User
from tests.fixtures.api import Api, open_api
from tests.fixtures.database import empty_all_tables


@pytest.fixture
async def clean_api(api_settings: Settings) -> AsyncIterator[Api]:
    """`api` on a database emptied first (the worker's database is shared by the HTTP tests)."""
    database = Database(api_settings)
    try:
        await empty_all_tables(database)
    finally:
        await database.dispose()
    async with open_api(api_settings) as opened:
        yield opened


async def add_user(api: Api, *, plan: Plan = Plan.FREE, **fields: Any) -> str:
    async with api.database.transaction() as session:
        user = User(email=f"seed-{uuid.uuid4().hex[:10]}@example.com", plan=plan, **fields)
        session.add(user)
        await session.flush()
        return user.id


async def add_space(api: Api) -> str:
    async with api.database.transaction() as session:
        space = Space(name="Depot")
        session.add(space)
        await session.flush()
        return space.id


async def add_camera(api: Api, space_id: str, status: CameraStatus, *, enabled: bool = True) -> str:
    async with api.database.transaction() as session:
        camera = Camera(
            space_id=space_id,
            name=f"Cam {status}",
            main_url="rtsp://127.0.0.1:1/x",
            status=status,
            enabled=enabled,
        )
        session.add(camera)
        await session.flush()
        return camera.id


async def add_guard(api: Api, space_id: str, state: GuardState) -> str:
    async with api.database.transaction() as session:
        guard = Guard(space_id=space_id, name=f"Guard {state}", state=state)
        session.add(guard)
        await session.flush()
        return guard.id


async def add_event(
    api: Api,
    space_id: str,
    camera_id: str,
    started_at: datetime,
    *,
    kind: EventKind = EventKind.CATCH,
    review: ReviewState | None = ReviewState.NEW,
) -> str:
    async with api.database.transaction() as session:
        event = Event(
            space_id=space_id,
            camera_id=camera_id,
            kind=kind,
            started_at=started_at,
            label="person" if kind == EventKind.CATCH else None,
            review_state=review if kind == EventKind.CATCH else None,
        )
        session.add(event)
        await session.flush()
        return event.id


async def add_notification(
    api: Api,
    user_id: str,
    channel: str,
    status: NotificationStatus,
    *,
    created_at: datetime | None = None,
) -> str:
    async with api.database.transaction() as session:
        row = Notification(key=uuid.uuid4().hex, user_id=user_id, channel=channel, status=status)
        if created_at is not None:
            row.created_at = created_at
        session.add(row)
        await session.flush()
        return row.id
