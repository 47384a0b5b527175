"""Monthly partitions on PostgreSQL (a fresh database of their own), and the job that keeps them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from orin.config import DatabaseSettings, Settings
from orin.db import Database
from orin.events import tasks as event_tasks
from orin.events.partitions import ensure_month_partitions, months_to_ensure, partition_name
from orin.events.service import NewEvent, record_events
from orin.migrate import upgrade
from orin.models.camera import Camera
from orin.models.event import EventKind
from orin.models.space import Space
from orin.runtime.scheduler import DEFAULT_JOBS
from orin.runtime.tasks import tasks
from tests.fixtures.database import _pg_admin, pg_url


@pytest.fixture(scope="module")
def fresh_pg_url() -> Iterator[str]:
    name = f"orin_test_partitions_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = pg_url(name)
    upgrade(url)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg(fresh_pg_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(Settings(data_dir=tmp_path, database=DatabaseSettings(url=fresh_pg_url)))
    yield database
    await database.dispose()


async def _space_and_camera(database: Database) -> tuple[str, str]:
    async with database.transaction() as session:
        space = Space(name="Depot")
        session.add(space)
        await session.flush()
        camera = Camera(space_id=space.id, name="Gate", main_url="rtsp://127.0.0.1/gate")
        session.add(camera)
        await session.flush()
        return space.id, camera.id


async def _where(database: Database, ids: list[str]) -> dict[str, str]:
    async with database.transaction() as session:
        rows = await session.execute(
            text("SELECT id, tableoid::regclass::text FROM event WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
        return {row[0]: row[1] for row in rows}


def test_months_to_ensure_cross_the_year() -> None:
    months = months_to_ensure(datetime(2030, 12, 31, 23, 59, tzinfo=UTC), 2)
    assert [partition_name(month) for month in months] == [
        "event_y2030m12",
        "event_y2031m01",
        "event_y2031m02",
    ]


async def test_missing_months_are_created_and_rows_leave_the_default(pg: Database) -> None:
    space_id, camera_id = await _space_and_camera(pg)
    times = [
        datetime(2031, 3, 1, 0, 0, tzinfo=UTC),  # first instant of March
        datetime(2031, 3, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2031, 4, 15, tzinfo=UTC),
        datetime(2031, 5, 1, tzinfo=UTC),  # not ensured: stays in the default partition
    ]
    items = [
        NewEvent(space_id=space_id, camera_id=camera_id, kind=EventKind.CATCH, started_at=at)
        for at in times
    ]
    async with pg.transaction() as session:
        ids = await record_events(session, items)
    assert set((await _where(pg, ids)).values()) == {"event_default"}

    async with pg.transaction() as session:
        created = await ensure_month_partitions(session, 1, now=datetime(2031, 3, 15, tzinfo=UTC))
    assert created == ["event_y2031m03", "event_y2031m04"]
    assert await _where(pg, ids) == {
        ids[0]: "event_y2031m03",
        ids[1]: "event_y2031m03",
        ids[2]: "event_y2031m04",
        ids[3]: "event_default",
    }

    async with pg.engine.begin() as connection:  # a connection works as well as a session
        again = await ensure_month_partitions(connection, 1, now=datetime(2031, 3, 15, tzinfo=UTC))
    assert again == []

    async with pg.transaction() as session:
        indexes = set(
            (
                await session.execute(
                    text(
                        "SELECT am.amname FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_am am ON am.oid = c.relam "
                        "WHERE i.indrelid = 'event_y2031m03'::regclass"
                    )
                )
            ).scalars()
        )
        assert {"hnsw", "btree"} <= indexes
        (later,) = await record_events(
            session,
            [
                NewEvent(
                    space_id=space_id,
                    camera_id=camera_id,
                    kind=EventKind.MOTION,
                    started_at=datetime(2031, 4, 2, tzinfo=UTC),
                )
            ],
        )
    assert await _where(pg, [later]) == {later: "event_y2031m04"}


async def test_the_current_months_exist_after_the_job(pg: Database) -> None:
    async with pg.transaction() as session:
        await ensure_month_partitions(session)
        names = set(
            (
                await session.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                        "ON c.oid = i.inhrelid WHERE i.inhparent = 'event'::regclass"
                    )
                )
            ).scalars()
        )
    expected = {partition_name(month) for month in months_to_ensure(datetime.now(UTC), 1)}
    assert expected | {"event_default"} <= names


async def test_the_scheduler_sends_the_job_and_a_worker_runs_it() -> None:
    assert event_tasks.ENSURE_PARTITIONS in {job.topic for job in DEFAULT_JOBS}
    assert event_tasks.ENSURE_PARTITIONS in {spec.topic for spec in tasks.specs}


async def test_sqlite_has_nothing_to_do(sqlite_database_url: str, tmp_path: Path) -> None:
    database = Database(
        Settings(data_dir=tmp_path, database=DatabaseSettings(url=sqlite_database_url))
    )
    try:
        async with database.transaction() as session:
            assert await ensure_month_partitions(session) == []
    finally:
        await database.dispose()
