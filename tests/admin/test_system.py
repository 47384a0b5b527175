"""`GET /api/v1/admin/system`: processes by heartbeat, queues, storage and database size."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from orin import __version__
from orin.admin.service import ALIVE_AFTER_S, admin_service, queue_rows
from orin.bus import create_bus
from orin.models.base import utcnow
from orin.models.camera import CameraStatus
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.models.recording import RecordingSegment
from orin.runtime.heartbeat import HEARTBEAT_EVERY_S
from orin.runtime.tasks import tasks
from tests.admin.conftest import add_camera, add_space
from tests.fixtures.api import Api
from tests.fixtures.waiting import eventually


async def test_system_lists_live_and_stale_processes_queues_storage_and_database(
    clean_api: Api, adapter_set: str
) -> None:
    api = clean_api
    admin = await api.sign_up(admin=True)
    now = utcnow()
    async with api.database.transaction() as session:
        session.add(
            ProcessHeartbeat(
                process_id="gone-host-1-deadbeef",
                role="ingest",
                hostname="gone-host",
                pid=1,
                version="0.0.1",
                started_at=now - timedelta(hours=2),
                seen_at=now - timedelta(seconds=ALIVE_AFTER_S + 5),
            )
        )
    space = await add_space(api)
    camera = await add_camera(api, space, CameraStatus.ONLINE)
    async with api.database.transaction() as session:
        for n, size in enumerate((1000, 2500, 40)):
            session.add(
                RecordingSegment(
                    camera_id=camera,
                    started_at=now - timedelta(seconds=10 * (n + 1)),
                    ended_at=now - timedelta(seconds=10 * n),
                    duration_s=10.0,
                    size_bytes=size,
                    object_key=f"cameras/{camera}/recordings/{n}.ts",
                )
            )

    async def mine_beats() -> dict[str, Any] | None:
        body = (await admin.get("/api/v1/admin/system")).json()
        own = [p for p in body["processes"] if p["pid"] == os.getpid() and p["alive"]]
        return body if own else None

    body = await eventually(mine_beats, within_s=15, what="this process's heartbeat")
    assert body["heartbeat_interval_s"] == HEARTBEAT_EVERY_S
    assert body["alive_threshold_s"] == 3 * HEARTBEAT_EVERY_S
    own = next(p for p in body["processes"] if p["pid"] == os.getpid())
    assert own["role"] == "api+worker"
    assert own["hostname"] == socket.gethostname()
    assert own["version"] == __version__
    assert own["seconds_since_heartbeat"] < ALIVE_AFTER_S
    stale = next(p for p in body["processes"] if p["hostname"] == "gone-host")
    assert stale["alive"] is False
    assert stale["role"] == "ingest"
    assert stale["seconds_since_heartbeat"] >= ALIVE_AFTER_S

    # The worker role subscribes every task queue.
    names = {queue["name"] for queue in body["queues"]}
    assert "maintenance.outbox_cleanup" in names
    assert body["queues_error"] is None
    for queue in body["queues"]:
        assert queue["depth"] >= 0
        assert queue["dead_letters"] >= 0

    assert body["storage"]["backend"] == ("local" if adapter_set == "embedded" else "s3")
    assert body["storage"]["recordings_bytes"] == 3540
    assert body["storage"]["recordings_objects"] == 3
    assert "recording segment" in body["storage"]["method"]
    expected_backend = "sqlite" if adapter_set == "embedded" else "postgresql"
    assert body["database"]["backend"] == expected_backend
    assert body["database"]["size_bytes"] > 0


def test_queue_depths_pair_each_queue_with_its_dead_letters() -> None:
    rows = queue_rows({"b": 3, "b.dlq": 1, "a": 0, "a.dlq": 0, "c.dlq": 2})
    assert [(row.name, row.depth, row.dead_letters) for row in rows] == [
        ("a", 0, 0),
        ("b", 3, 1),
        ("c", 0, 2),
    ]


async def test_a_process_that_consumes_no_queue_still_reports_the_task_queues(
    clean_api: Api,
) -> None:
    """`orin api` alone (no worker role) consumes nothing; the system screen and the metrics
    still show every task queue's backlog."""
    settings = clean_api.runtime.settings
    bus = create_bus(settings)
    await bus.start()
    try:
        async with clean_api.database.transaction() as session:
            status = await admin_service.system(session, bus=bus, settings=settings)
    finally:
        await bus.close()
    assert status.queues_error is None
    names = {queue.name for queue in status.queues}
    assert set(tasks.queues) <= names
    assert "maintenance.outbox_cleanup" in names
