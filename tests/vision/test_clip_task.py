"""The clip task cuts and uploads with no transaction open, and records the clip after; the
real FFmpeg cut is covered end to end in test_pipeline_e2e.py, so here the cut is replaced by
one that acts on the database while it "runs"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete

from orin.bus.base import Message
from orin.config import Settings
from orin.errors import NotFound
from orin.events.service import record_event
from orin.media.keys import event_media_key
from orin.models.base import utcnow
from orin.models.event import Event, EventKind
from orin.models.recording import RecordingSegment
from orin.models.user import User
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.tasks import OwnTransactionsContext
from orin.vision import tasks as vision_tasks
from tests.fixtures.seeding import watched_camera

WRITE_GUARD_S = 10.0
"""Hang guard for the write made during the cut (SQLite's busy timeout is 30 s)."""


@pytest.fixture
async def infra(adapter_settings: Settings) -> AsyncIterator[Infrastructure]:
    async with Infrastructure.from_settings(adapter_settings) as started:
        yield started


async def a_catch_with_recording(infra: Infrastructure) -> tuple[str, datetime, str, str]:
    """A catch two minutes ago with a recorded segment around it: (event id, start, user id,
    the key its clip is stored under)."""
    started = utcnow() - timedelta(minutes=2)
    async with infra.database.transaction() as session:
        seeded = await watched_camera(session)
        space_id, camera_id = seeded.space_id, seeded.camera_id
        session.add(
            RecordingSegment(
                camera_id=camera_id,
                started_at=started - timedelta(seconds=30),
                ended_at=started + timedelta(seconds=30),
                duration_s=60.0,
                size_bytes=1,
                object_key=f"recordings/{camera_id}/{time.time_ns()}.ts",
            )
        )
        event = await record_event(
            session,
            space_id=space_id,
            camera_id=camera_id,
            kind=EventKind.CATCH,
            started_at=started,
            label="person",
            confidence=0.9,
        )
        clip_key = event_media_key(space_id, camera_id, event.id, vision_tasks.CLIP_NAME)
        return event.id, started, seeded.user_id, clip_key


def cutting_with(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], Awaitable[None]]) -> None:
    """Replace the FFmpeg cut by one that runs ``meanwhile`` and returns a small clip."""

    async def cut(*args: object) -> bytes:
        await meanwhile()
        return b"\x00\x00\x00\x18ftypisom-clip"

    monkeypatch.setattr(vision_tasks, "_cut_clip", cut)


async def run_clip_task(infra: Infrastructure, event_id: str, started: datetime) -> None:
    await vision_tasks.make_clip(
        OwnTransactionsContext(infra, vision_tasks.CLIP),
        Message(
            topic=vision_tasks.CLIP,
            payload={"event_id": event_id, "started_at": started.isoformat(), "attempt": 1},
        ),
    )


async def test_writes_go_through_while_a_clip_is_cut(
    infra: Infrastructure, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, started, user_id, clip_key = await a_catch_with_recording(infra)
    wrote: list[bool] = []

    async def write() -> None:
        # On SQLite this waits for any open writing transaction: the task must not hold one.
        async with asyncio.timeout(WRITE_GUARD_S), infra.database.transaction() as session:
            user = await session.get(User, user_id)
            assert user is not None
            user.display_name = "Renamed during the cut"
        wrote.append(True)

    cutting_with(monkeypatch, write)
    began = time.monotonic()
    await run_clip_task(infra, event_id, started)
    assert wrote == [True]
    assert time.monotonic() - began < WRITE_GUARD_S
    async with infra.database.reading() as session:
        event = await session.get(Event, (event_id, started))
        assert event is not None
        assert event.clip_key == clip_key
    assert (await infra.storage.get(clip_key)).startswith(b"\x00\x00\x00\x18ftyp")


async def test_a_catch_deleted_during_the_cut_leaves_no_clip(
    infra: Infrastructure, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, started, _, clip_key = await a_catch_with_recording(infra)

    async def delete_the_catch() -> None:
        async with infra.database.transaction() as session:
            await session.execute(delete(Event).where(Event.id == event_id))

    cutting_with(monkeypatch, delete_the_catch)
    await run_clip_task(infra, event_id, started)
    async with infra.database.reading() as session:
        assert await session.get(Event, (event_id, started)) is None
    with pytest.raises(NotFound):  # uploaded by the cut, then removed with the catch
        await infra.storage.get(clip_key)
