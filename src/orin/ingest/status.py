"""Camera status in the database, and `camera_offline` / `camera_online` events, debounced.

A camera that was online and is lost gets ``camera_offline`` only if it stays lost for
``offline_after_s`` (a blip while FFmpeg reconnects makes no event); ``camera_online`` follows
when it comes back after such an event. Each outage therefore makes exactly one pair.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import update

from orin.config import IngestSettings
from orin.db import Database
from orin.events.service import record_event
from orin.ingest.runner import StatusChange
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraStatus
from orin.models.event import EventKind
from orin.notifications.tasks import MQTT_CAMERA
from orin.outbox import enqueue
from orin.realtime.tasks import publish_via_outbox

logger = structlog.get_logger(__name__)

LOST = frozenset({CameraStatus.OFFLINE, CameraStatus.ERROR})


class StatusRecorder:
    """Receives `StatusChange` from camera runners; writes status and outage events, tells
    live views, and with ``mqtt`` queues the camera's availability for MQTT too."""

    def __init__(self, database: Database, settings: IngestSettings, *, mqtt: bool = False) -> None:
        self.database = database
        self.settings = settings
        self.mqtt = mqtt
        self._online: set[str] = set()
        self._announced: set[str] = set()
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def __call__(self, change: StatusChange) -> None:
        camera_id = change.camera_id
        was_online = camera_id in self._online
        async with self.database.transaction() as session:
            camera = await session.get(Camera, camera_id)
            if camera is None:
                return
            was_online = was_online or camera.status == CameraStatus.ONLINE
            changed_at = utcnow()
            # A status write is not an edit of the camera: `updated_at` keeps its value.
            await session.execute(
                update(Camera)
                .where(Camera.id == camera_id)
                .values(
                    status=change.status,
                    status_reason=change.reason[:300],
                    status_changed_at=changed_at,
                    updated_at=Camera.updated_at,
                )
            )
            # Live views learn it through the outbox: this process holds no pub/sub.
            publish_via_outbox(
                session,
                "camera.status",
                space_id=camera.space_id,
                camera_id=camera_id,
                data={
                    "status": change.status,
                    "reason": change.reason[:300],
                    "changed_at": changed_at,
                },
            )
            if self.mqtt:
                enqueue(session, MQTT_CAMERA, {"camera_id": camera_id})
            if change.status == CameraStatus.ONLINE and camera_id in self._announced:
                self._announced.discard(camera_id)
                await record_event(
                    session,
                    space_id=camera.space_id,
                    camera_id=camera_id,
                    kind=EventKind.CAMERA_ONLINE,
                    started_at=utcnow(),
                )
        logger.info(
            "ingest.camera_status", camera=camera_id, status=change.status, reason=change.reason
        )
        if change.status == CameraStatus.ONLINE:
            self._online.add(camera_id)
            pending = self._pending.pop(camera_id, None)
            if pending is not None:
                pending.cancel()
        elif change.status in LOST:
            self._online.discard(camera_id)
            if was_online and camera_id not in self._announced and camera_id not in self._pending:
                self._pending[camera_id] = asyncio.create_task(
                    self._announce_offline(camera_id, change.reason)
                )

    async def _announce_offline(self, camera_id: str, reason: str) -> None:
        try:
            await asyncio.sleep(self.settings.offline_after_s)
            async with self.database.transaction() as session:
                camera = await session.get(Camera, camera_id)
                if camera is None or camera.status not in LOST:
                    return
                await record_event(
                    session,
                    space_id=camera.space_id,
                    camera_id=camera_id,
                    kind=EventKind.CAMERA_OFFLINE,
                    started_at=camera.status_changed_at or utcnow(),
                    attributes={"reason": reason or camera.status_reason},
                )
            self._announced.add(camera_id)
        except Exception:
            logger.exception("ingest.offline_event_failed", camera=camera_id)
        finally:
            self._pending.pop(camera_id, None)

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
