"""Catches survive a worker killed mid-flow (kill -9) and are never made twice: the catch id is
derived from (guard, camera, track), the outbox and RabbitMQ redeliver, and the worker records
a catch only if its id is new. Scaled adapter set (a real `orin worker` process)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from orin.config import Settings
from orin.models.event import Event, EventKind
from orin.runtime.infrastructure import Infrastructure
from orin.vision.catches import CatchContext, CatchWriter, catch_id
from orin.vision.evaluate import Match
from tests.cli.helpers import START_GUARD_S
from tests.fixtures.seeding import watched_camera
from tests.fixtures.worker_process import start_worker

CATCHES = 240
RESENT = 40
"""Catches the ingest side sends a second time (as after an ingest restart)."""


async def seed(infra: Infrastructure) -> tuple[CatchContext, str]:
    async with infra.database.transaction() as session:
        seeded = await watched_camera(session)
    return CatchContext(seeded.space_id, seeded.camera_id), seeded.guard_id


async def recorded(infra: Infrastructure, guard_id: str) -> list[str]:
    async with infra.database.transaction() as session:
        rows = await session.scalars(
            select(Event.id).where(Event.guard_id == guard_id, Event.kind == EventKind.CATCH)
        )
        return list(rows)


async def test_a_worker_killed_mid_flow_loses_and_duplicates_no_catch(
    scaled_settings: Settings,
    infra: Infrastructure,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    context, guard_id = await seed(infra)
    writer = CatchWriter(infra.database, infra.storage)
    frame = np.zeros((48, 64, 3), np.uint8)
    base = time.time() - 60

    def match(n: int) -> Match:
        return Match(guard_id, f"t{n}", "person", 0.8, None, (0.1, 0.1, 0.3, 0.6), base + n, 0, 1)

    for n in range(CATCHES):
        await writer.write(context, match(n), frame, track_db_id=f"track-{n}")
    log = tmp_path / "worker.log"
    workers.append(start_worker(scaled_settings, log, ORIN_VISION_CLIP_WAIT_S="1"))
    deadline = time.monotonic() + START_GUARD_S  # a worker process starts first
    while len(done := await recorded(infra, guard_id)) < CATCHES // 8:
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        await asyncio.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    at_kill = len(await recorded(infra, guard_id))
    assert at_kill < CATCHES, "the worker finished before it was killed"
    # The ingest side sends some catches again (same ids), then a new worker starts.
    for n in range(RESENT):
        await writer.write(context, match(n), frame, track_db_id=f"track-{n}")
    workers.append(start_worker(scaled_settings, log, ORIN_VISION_CLIP_WAIT_S="1"))
    deadline = time.monotonic() + START_GUARD_S  # a worker process starts first
    while len(done := await recorded(infra, guard_id)) < CATCHES:
        assert time.monotonic() < deadline, f"{len(done)} of {CATCHES}: {log.read_text()[-2000:]}"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # time for a late duplicate to show up
    done = await recorded(infra, guard_id)
    expected = {catch_id(guard_id, context.camera_id, f"track-{n}") for n in range(CATCHES)}
    assert sorted(done) == sorted(expected)
    async with infra.database.transaction() as session:
        total = await session.scalar(
            select(func.count()).select_from(Event).where(Event.camera_id == context.camera_id)
        )
    assert total == CATCHES
