"""The vision part of an ingest process: one detection service, one pipeline per camera."""

from __future__ import annotations

import asyncio

from orin.config import Settings
from orin.db import Database
from orin.models.camera import Camera
from orin.storage.base import ObjectStorage
from orin.vision.catches import CatchWriter
from orin.vision.pipeline import CameraPipeline
from orin.vision.tracker import load_solver
from orin.vision.transport.base import DetectionService
from orin.vision.transport.factory import detection_service


class Vision:
    """Builds camera pipelines that share this process's detection service."""

    def __init__(
        self,
        database: Database,
        storage: ObjectStorage,
        settings: Settings,
        *,
        service: DetectionService | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.service = service or detection_service(settings)
        self.writer = CatchWriter(database, storage)
        self.pipelines: dict[str, CameraPipeline] = {}

    async def start(self) -> None:
        await self.service.start()
        # Off the event loop: importing it in the first tracked frame stalled the loop 0.65 s.
        await asyncio.to_thread(load_solver)

    async def close(self) -> None:
        for camera_id in list(self.pipelines):
            await self.stop_camera(camera_id)
        await self.service.close()

    def detect_spec_values(self, camera: Camera) -> tuple[float, int, int | None]:
        """The camera's detect fps, width and height (its own settings, else the defaults)."""
        detect = camera.detect or {}
        fps = float(detect.get("fps") or self.settings.vision.detect_fps)
        width = int(detect.get("width") or self.settings.vision.detect_width)
        height = detect.get("height")
        return fps, width, int(height) if height else None

    def start_camera(self, camera_id: str) -> CameraPipeline:
        pipeline = CameraPipeline(
            camera_id,
            database=self.database,
            service=self.service,
            writer=self.writer,
            settings=self.settings.vision,
        )
        self.pipelines[camera_id] = pipeline
        pipeline.start()
        return pipeline

    async def stop_camera(self, camera_id: str) -> None:
        pipeline = self.pipelines.pop(camera_id, None)
        if pipeline is not None:
            await pipeline.stop()
