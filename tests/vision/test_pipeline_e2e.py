"""End to end on both adapter sets: a fake RTSP camera → ingest (one FFmpeg) → motion →
detector → tracker → guards → catches with snapshot, thumbnail and clip in object storage.

Counts on vtest.avi (pedestrians on a plaza, looped) depend on the detector and tracker; the
range asserted here is documented in docs/vision.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orin.config import Settings, VisionSettings
from orin.ingest.supervisor import IngestSupervisor
from orin.models.event import Event, EventKind
from orin.models.track import Track
from orin.realtime.publisher import CHANNEL
from orin.recordings.uploader import RecordingUploader
from orin.vision.service import Vision
from orin.vision.transport.server import DetectorServer
from tests.fixtures.api import Api, Person
from tests.fixtures.cameras import FAST_INGEST, FakeCameraServer, require_gstreamer_rtsp, vtest_avi
from tests.fixtures.package_clip import PackageClip, make_package_clip
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

PLAZA = [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]]
E2E_VISION = VisionSettings(clip_pre_roll_s=2, clip_post_roll_s=2, stationary_after_s=3)


def e2e_settings(api: Api) -> Settings:
    """Short recording segments and clips; scaled: detection by a replica over RabbitMQ."""
    settings = api.runtime.settings
    transport = "amqp" if settings.amqp.url else "local"
    return settings.model_copy(
        update={
            "ingest": FAST_INGEST.model_copy(update={"record_segment_s": 2}),
            "vision": E2E_VISION.model_copy(update={"transport": transport}),
        }
    )


@asynccontextmanager
async def watching(api: Api) -> AsyncIterator[Vision]:
    """Ingest with the vision pipeline and the recording uploader (for clips); on the scaled
    set, an `orin detector` replica (in this process) answering over RabbitMQ."""
    await api.disable_other_cameras()
    settings = e2e_settings(api)
    infra = api.runtime.infra
    async with contextlib.AsyncExitStack() as stack:
        if settings.vision.transport == "amqp":
            replica = DetectorServer(settings)
            await replica.start()
            stack.push_async_callback(replica.close)
        vision = Vision(infra.database, infra.storage, settings)
        await vision.start()
        stack.push_async_callback(vision.close)
        supervisor = IngestSupervisor(infra.database, infra.envelope, settings, vision=vision)
        uploader = RecordingUploader(infra.database, infra.storage, settings)
        supervisor.start()
        uploader.start()
        stack.push_async_callback(uploader.stop)
        stack.push_async_callback(supervisor.stop)
        yield vision


async def catches(api: Api, guard_id: str) -> list[Event]:
    async with api.database.transaction() as session:
        rows = await session.scalars(
            select(Event)
            .where(Event.guard_id == guard_id, Event.kind == EventKind.CATCH)
            .order_by(Event.started_at)
        )
        return list(rows)


async def make_guard(person: Person, space_id: str, camera_id: str, rule: dict[str, Any]) -> str:
    response = await person.post(
        "/api/v1/guards",
        json={
            "space_id": space_id,
            "name": f"guard {len(rule)}",
            "instruction": "hand-written rule",
            "rule": rule,
            "camera_ids": [camera_id],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def vtest_camera(vtest_mp4: Path) -> Any:
    require_gstreamer_rtsp()
    with FakeCameraServer({"vtest": f"file:{vtest_mp4}"}) as server:
        yield server


async def test_people_on_the_plaza_become_catches_with_media(
    api: Api, vtest_camera: FakeCameraServer
) -> None:
    alice = await api.sign_up()
    space = await alice.create_space(timezone="UTC")
    camera = await alice.create_camera(
        space["id"],
        main_url=vtest_camera.url("vtest"),
        zones=[{"name": "Plaza", "polygon": PLAZA}],
    )
    guard = await make_guard(
        alice,
        space["id"],
        camera["id"],
        {"objects": ["person"], "zones": ["Plaza"], "cooldown_s": 5},
    )
    # Armed only in a window 12 hours away: must never catch.
    away = (datetime.now(UTC) + timedelta(hours=12)).time().replace(microsecond=0)
    back = (datetime.now(UTC) + timedelta(hours=13)).time().replace(microsecond=0)
    asleep = await make_guard(
        alice,
        space["id"],
        camera["id"],
        {
            "objects": ["person"],
            "cooldown_s": 0,
            "schedule": {
                "kind": "windows",
                "windows": [{"start": away.isoformat(), "end": back.isoformat()}],
            },
        },
    )
    live = await api.runtime.infra.cache.pubsub.subscribe(CHANNEL)
    published: list[dict[str, Any]] = []

    async def listen() -> None:
        async for _, data in live:
            published.append(json.loads(data))

    listener = asyncio.create_task(listen())
    async with watching(api) as vision:
        await eventually(lambda: catches(api, guard), within_s=60, what="a first catch")
        await asyncio.sleep(20)
        stats = vision.pipelines[camera["id"]].stats
    found = await catches(api, guard)
    # ~25-30 s of watching with a 5 s cooldown: one catch per cooldown while people walk.
    assert 3 <= len(found) <= 8, [(e.started_at, e.track_id) for e in found]
    assert await catches(api, asleep) == []
    assert stats.detected_frames > 0
    assert stats.failed_detections == 0
    storage = api.runtime.infra.storage
    for event in found:
        assert event.label == "person"
        assert event.zone == "Plaza"
        assert event.review_state == "new"
        assert event.confidence is not None
        assert event.confidence >= 0.5
        for key in (event.snapshot_key, event.thumbnail_key):
            assert key is not None
            assert (await storage.get(key))[:2] == b"\xff\xd8"  # JPEG
    first = found[0]

    async def clip_of_first() -> str | None:
        async with api.database.transaction() as session:
            event = await session.get(Event, (first.id, first.started_at))
            return None if event is None else event.clip_key

    clip_key = await eventually(clip_of_first, within_s=60, what="the first catch's clip")
    clip = await storage.get(clip_key)
    assert b"ftyp" in clip[:16]
    # Live views were told of the catch, then of its clip.

    def updates_of_first() -> list[tuple[str, bool]]:
        return [
            (m["type"], m["data"]["has_clip"])
            for m in published
            if m["type"].startswith("event.") and m["data"]["id"] == first.id
        ]

    async def clip_announced() -> bool:
        return len(updates_of_first()) >= 2

    await eventually(clip_announced, within_s=10, what="the clip's live update")
    listener.cancel()
    await live.close()
    assert updates_of_first() == [("event.created", False), ("event.updated", True)]
    # The catch is visible through the API with signed media URLs.
    body = (await alice.get(f"/api/v1/events/{first.id}")).json()
    assert body["guard_id"] == guard
    # Tracks were saved for backtests.
    async with api.database.transaction() as session:
        saved = list(await session.scalars(select(Track).where(Track.camera_id == camera["id"])))
    assert saved
    assert all(track.path for track in saved)


@pytest.fixture(scope="session")
def package_clip(camera_media_dir: Path) -> PackageClip:
    # The parcel comes 16 s in: well after the 10 s in which objects count as already there.
    return make_package_clip(
        vtest_avi(), camera_media_dir / "package.mp4", appears_s=16, removed_s=44, length_s=52
    )


async def test_a_left_package_fires_once(api: Api, package_clip: PackageClip) -> None:
    require_gstreamer_rtsp()
    alice = await api.sign_up()
    space = await alice.create_space(timezone="UTC")
    with FakeCameraServer({"door": f"file:{package_clip.path}"}) as server:
        camera = await alice.create_camera(
            space["id"],
            main_url=server.url("door"),
            zones=[{"name": "Front door", "polygon": package_clip.zone()}],
            detect={"fps": 5, "width": 768},
        )
        rule = {
            "objects": ["package"],
            "zones": ["Front door"],
            "left_object": True,
            "min_dwell_s": 3,
            "min_confidence": 0.5,
            "cooldown_s": 600,
        }
        guard = await make_guard(alice, space["id"], camera["id"], rule)
        started = time.monotonic()
        async with watching(api) as vision:
            found = await eventually(
                lambda: catches(api, guard),
                within_s=package_clip.removed_s + 15,
                what=lambda: f"a catch; {vision.pipelines[camera['id']].stats}",
            )
            caught_after = time.monotonic() - started
            # Until the clip ends: the parcel is removed, nothing more fires.
            await asyncio.sleep(max(0.0, package_clip.length_s - (time.monotonic() - started)))
        found = await catches(api, guard)
    assert len(found) == 1, [(e.started_at, e.track_id, e.confidence) for e in found]
    assert package_clip.appears_s < caught_after < package_clip.removed_s + 5
    assert found[0].label == "package"
    assert found[0].zone == "Front door"
