"""The demo camera: OpenCV's `vtest.avi` (pedestrians on a plaza), looped, so a new user sees
live video (and, with detection, catches) without owning a camera.

The file is MPEG-4 Part 2, which browsers cannot play, so it is transcoded to H.264 (without
B-frames, like IP cameras, so it can be stream-copied) once into
``<data_dir>/demo/vtest.mp4``; ingest then streams that file like a camera (``file://`` URL,
read at its own pace, looped).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from orin.config import Settings
from orin.models.base import new_id
from orin.models.camera import Camera, RecordingMode
from orin.models.space import Space

logger = structlog.get_logger(__name__)

DEMO_NAME = "Demo camera"
SOURCES = (
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "vtest.avi",
)
_lock = asyncio.Lock()


def demo_source(settings: Settings) -> Path | None:
    """The original video, if this machine has one."""
    candidates = [Path(settings.ingest.demo_source)] if settings.ingest.demo_source else []
    return next((path for path in [*candidates, *SOURCES] if path.is_file()), None)


def demo_video(settings: Settings) -> Path:
    """Where the H.264 copy lives (made by `prepare_demo_video`)."""
    return Path(settings.data_dir) / "demo" / "vtest.mp4"


async def prepare_demo_video(settings: Settings) -> Path | None:
    """Transcode the demo video once; None when there is no source (install `opencv-doc`)."""
    target = demo_video(settings)
    async with _lock:
        if target.is_file():
            return target
        source = demo_source(settings)
        if source is None:
            logger.warning("demo.no_source", hint="apt-get install opencv-doc")
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part.mp4")
        process = await asyncio.create_subprocess_exec(
            settings.ingest.ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(source),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "10",
            "-bf",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-an",
            str(partial),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode != 0:
            logger.error("demo.transcode_failed", error=stderr.decode(errors="replace")[-500:])
            partial.unlink(missing_ok=True)
            return None
        partial.replace(target)
        logger.info("demo.ready", path=str(target))
        return target


def add_demo_camera(session: AsyncSession, space: Space, settings: Settings) -> Camera:
    """A demo camera in ``space`` (recording off, so it fills no storage)."""
    camera = Camera(
        id=new_id(),
        space_id=space.id,
        name=DEMO_NAME,
        main_url=demo_video(settings).as_uri(),
        recording_mode=RecordingMode.OFF,
        created_by=space.created_by,
    )
    session.add(camera)
    return camera
