"""The ingest supervisor: takes camera leases through the database and runs their FFmpeg.

Every tick (a third of the lease time) it renews the leases of the cameras it runs, stops
those it lost or that were disabled, deleted or changed (changed ones restart with the new
settings), and takes free or expired leases until it runs its fair share: the enabled cameras
divided by the live ingest processes (from heartbeats), at most ``max_cameras``. Two processes
therefore split the cameras; when one dies its leases expire and the other takes them over
within the lease time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
import zlib

import structlog
from sqlalchemy import func, select

from orin.cameras.credentials import full_url, open_logins
from orin.config import Settings
from orin.db import Database
from orin.ingest.layout import CameraFiles
from orin.ingest.runner import CameraRunner, CameraSource, DetectSpec, StatusChange
from orin.ingest.status import StatusRecorder
from orin.kit.crypto import SealError
from orin.kit.envelope import Envelope
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraStatus, RecordingMode
from orin.models.lease import Lease
from orin.runtime import leases
from orin.vision.service import Vision
from orin.vision.watch import watched_camera_ids

logger = structlog.get_logger(__name__)

NODE_LEASE_PREFIX = "ingest-node:"
UNREADABLE_CREDENTIALS = (
    "the camera's password is sealed under a key this server does not have (ORIN_CRYPTO_KEYS)"
)


def lease_name(camera_id: str) -> str:
    return f"camera:{camera_id}"


def stream_fingerprint(camera: Camera, watching: bool = False) -> str:
    """What FFmpeg depends on; a change restarts it (a rename or a status write does not).
    ``watching``: the camera has active guards, so FFmpeg also decodes detect frames."""
    parts = (
        watching,
        camera.detect if watching else None,
        camera.main_url,
        camera.detect_url,
        camera.credentials_sealed,
        camera.recording_mode,
        camera.live_ladder,
    )
    return repr(parts)


class IngestSupervisor:
    """Runs the cameras this process holds leases for."""

    def __init__(
        self,
        database: Database,
        envelope: Envelope,
        settings: Settings,
        *,
        node: str = "",
        vision: Vision | None = None,
    ) -> None:
        self.database = database
        self.vision = vision
        """Runs the detection pipeline of cameras with active guards (None: no detection)."""
        self._watched: set[str] = set()
        self.envelope = envelope
        self.settings = settings
        self.node = node or f"ingest-{uuid.uuid4().hex[:12]}"
        self.membership = NODE_LEASE_PREFIX + self.node
        self.recorder = StatusRecorder(
            database, settings.ingest, mqtt=bool(settings.notify.mqtt_url)
        )
        self.runners: dict[str, CameraRunner] = {}
        self._versions: dict[str, str] = {}
        self._unreadable: dict[str, str] = {}
        """Cameras whose credentials cannot be opened, by fingerprint: skipped until edited."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="ingest-supervisor")

    async def run(self) -> None:
        interval = self.settings.ingest.lease_ttl_s / 3
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("ingest.tick_failed", node=self.node)
            took = time.monotonic() - started
            if took > interval:
                # Leases are renewed once a tick: slower ticks risk losing cameras to others.
                logger.warning("ingest.tick_slow", node=self.node, took_s=round(took, 2))
            await asyncio.sleep(max(0.0, interval - took))

    async def _live_nodes(self) -> int:
        """Ingest processes alive now: those whose membership lease has not expired."""
        async with self.database.transaction() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Lease)
                .where(Lease.name.startswith(NODE_LEASE_PREFIX), Lease.expires_at > utcnow())
            )
        return max(1, int(count or 0))

    async def _enabled_cameras(self) -> dict[str, Camera]:
        async with self.database.transaction() as session:
            rows = await session.scalars(select(Camera).where(Camera.enabled.is_(True)))
            if self.vision is not None:
                self._watched = await watched_camera_ids(session)
            return {camera.id: camera for camera in rows}

    def _fingerprint(self, camera: Camera) -> str:
        return stream_fingerprint(camera, camera.id in self._watched)

    async def tick(self) -> None:
        """Renew, stop, restart and take cameras once."""
        ttl = self.settings.ingest.lease_ttl_s
        # Membership first: renewed before the camera leases, it always expires before them,
        # so once a dead node's cameras are up for grabs it no longer counts as a node.
        await leases.acquire_or_renew(self.database, self.membership, self.node, ttl)
        cameras = await self._enabled_cameras()
        for camera_id in list(self.runners):
            camera = cameras.get(camera_id)
            changed = camera is not None and self._fingerprint(camera) != self._versions.get(
                camera_id
            )
            held = camera is not None and await leases.acquire_or_renew(
                self.database, lease_name(camera_id), self.node, ttl
            )
            if not held or changed:
                await self._stop_camera(camera_id, release=held and not changed)
        share = min(
            self.settings.ingest.max_cameras, math.ceil(len(cameras) / await self._live_nodes())
        )
        expired = await self._expired_leases()
        # Each node walks the cameras in its own order, so nodes starting together spread out.
        order = sorted(cameras, key=lambda cid: zlib.crc32(f"{self.node}:{cid}".encode()))
        for camera_id in order:
            if camera_id in self.runners:
                continue
            if self._unreadable.get(camera_id) == self._fingerprint(cameras[camera_id]):
                continue
            # Up to the fair share, any free camera; beyond it, only cameras whose node died
            # (an expired lease): nobody else runs them, so availability beats balance.
            orphaned = camera_id in expired
            if len(self.runners) >= (self.settings.ingest.max_cameras if orphaned else share):
                continue
            if await leases.acquire_or_renew(self.database, lease_name(camera_id), self.node, ttl):
                await self._start_camera(cameras[camera_id])
        if len(self.runners) > share:
            # Above the fair share (another node joined): hand one camera back per tick.
            surplus = max(self.runners, key=lambda cid: zlib.crc32(f"{self.node}:{cid}".encode()))
            await self._stop_camera(surplus, release=True)

    async def _expired_leases(self) -> set[str]:
        """Cameras whose lease ran out without being released: their node died."""
        prefix = lease_name("")
        async with self.database.transaction() as session:
            names = await session.scalars(
                select(Lease.name).where(
                    Lease.name.startswith(prefix), Lease.expires_at <= utcnow()
                )
            )
            return {name.removeprefix(prefix) for name in names}

    async def _start_camera(self, camera: Camera) -> None:
        try:
            url = full_url(self.envelope, camera, "main")
            logins = open_logins(self.envelope, camera)
        except SealError:
            # Sealed under a key this deployment lacks: say so on the camera, run the others.
            logger.error("ingest.credentials_unreadable", camera=camera.id)
            self._unreadable[camera.id] = self._fingerprint(camera)
            await leases.release(self.database, lease_name(camera.id), self.node)
            await self.recorder(StatusChange(camera.id, CameraStatus.ERROR, UNREADABLE_CREDENTIALS))
            return
        if url is None:
            return
        secrets = tuple(login.password for login in logins.values() if login.password)
        detect: DetectSpec | None = None
        frame_sink = None
        if self.vision is not None and camera.id in self._watched:
            fps, width, height = self.vision.detect_spec_values(camera)
            detect_url = full_url(self.envelope, camera, "detect") if camera.detect_url else None
            detect = DetectSpec(fps=fps, width=width, height=height, url=detect_url)
            frame_sink = self.vision.start_camera(camera.id).on_frame
        source = CameraSource(
            camera_id=camera.id,
            url=url,
            record=camera.recording_mode != RecordingMode.OFF,
            secrets=secrets,
            ladder=camera.live_ladder,
            detect=detect,
        )
        runner = CameraRunner(
            source,
            CameraFiles.of(self.settings, camera.id),
            self.settings.ingest,
            self.recorder,
            frame_sink=frame_sink,
        )
        self.runners[camera.id] = runner
        self._versions[camera.id] = self._fingerprint(camera)
        runner.start()
        logger.info("ingest.camera_started", camera=camera.id, node=self.node)

    async def _stop_camera(self, camera_id: str, *, release: bool) -> None:
        runner = self.runners.pop(camera_id)
        self._versions.pop(camera_id, None)
        await runner.stop()
        if self.vision is not None:
            await self.vision.stop_camera(camera_id)
        if release:
            await leases.release(self.database, lease_name(camera_id), self.node)
        logger.info("ingest.camera_stopped", camera=camera_id, node=self.node)

    async def stop(self) -> None:
        """Stop every camera and give its lease back, so another node takes it at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for camera_id in list(self.runners):
            await self._stop_camera(camera_id, release=True)
        await leases.release(self.database, self.membership, self.node)
        await self.recorder.close()
