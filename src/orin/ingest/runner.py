"""One camera's FFmpeg, kept running: reconnects with backoff and jitter, reports status.

States follow the camera: ``connecting`` while FFmpeg opens the stream, ``online`` once its
output time moves and the live playlist exists, then ``offline`` (lost, unreachable, ended)
or ``error`` (a problem no retry fixes by itself: wrong password, no such stream, unsupported
codec) with the reason. A
stream that stalls without FFmpeg noticing is killed by a watchdog after twice the I/O timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from orin.config import IngestSettings
from orin.ingest.command import camera_command
from orin.ingest.diagnosis import Diagnosis, diagnose
from orin.ingest.ffmpeg_process import FfmpegProcess
from orin.ingest.frames import FrameOutput, FrameReader, FrameSink, open_pipe
from orin.ingest.layout import CameraFiles
from orin.models.camera import CameraStatus

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CameraSource:
    """What the runner needs to open a camera (the URL carries its credentials)."""

    camera_id: str
    url: str
    record: bool
    secrets: tuple[str, ...] = ()
    """The camera's passwords, scrubbed from anything FFmpeg prints."""
    ladder: bool = False
    """Also transcode a 360p rendition for adaptive live HLS."""
    detect: DetectSpec | None = None
    """Decode frames for the vision pipeline (None: this camera has nothing to watch for)."""


@dataclass(frozen=True, slots=True)
class DetectSpec:
    """Which frames the vision pipeline wants from the camera's FFmpeg."""

    fps: float
    width: int
    height: int | None = None
    url: str | None = None
    """The detect sub-stream with credentials, or None for the main stream."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    camera_id: str
    status: CameraStatus
    reason: str = ""


StatusSink = Callable[[StatusChange], Awaitable[None]]


def backoff_delay(attempt: int, settings: IngestSettings, rng: random.Random) -> float:
    """Exponential delay for the ``attempt``-th reconnect (from 1), capped, with full jitter
    over its upper half so many cameras behind one dead switch do not retry in lockstep."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


class CameraRunner:
    """Runs FFmpeg for one camera until `stop`."""

    def __init__(
        self,
        source: CameraSource,
        files: CameraFiles,
        settings: IngestSettings,
        on_status: StatusSink,
        *,
        rng: random.Random | None = None,
        frame_sink: FrameSink | None = None,
    ) -> None:
        self.source = source
        self.frame_sink = frame_sink
        self.files = files
        self.settings = settings
        self.on_status = on_status
        self.rng = rng or random.Random()
        self.process: FfmpegProcess | None = None
        self.status = CameraStatus.UNKNOWN
        self.last_diagnosis: Diagnosis | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"camera:{self.source.camera_id}")

    async def stop(self) -> None:
        """Stop FFmpeg (SIGTERM, then SIGKILL) and the reconnect loop."""
        self._stopping.set()
        if self.process is not None:
            await self.process.stop(self.settings.stop_timeout_s)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _set(self, status: CameraStatus, reason: str = "") -> None:
        if status == self.status and status != CameraStatus.ERROR:
            return
        self.status = status
        try:
            await self.on_status(StatusChange(self.source.camera_id, status, reason))
        except Exception:
            logger.exception("ingest.status_sink_failed", camera=self.source.camera_id)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            if self.status == CameraStatus.UNKNOWN:
                # Later attempts keep showing `offline`/`error` with the reason until video flows.
                await self._set(CameraStatus.CONNECTING)
            was_online = await self._run_once()
            if self._stopping.is_set():
                return
            attempt = 1 if was_online else attempt + 1
            diagnosis = self.last_diagnosis
            assert diagnosis is not None
            status = CameraStatus.ERROR if diagnosis.fatal else CameraStatus.OFFLINE
            await self._set(status, diagnosis.reason)
            delay = (
                self.settings.backoff_max_s
                if diagnosis.fatal
                else backoff_delay(attempt, self.settings, self.rng)
            )
            logger.info(
                "ingest.reconnect_scheduled",
                camera=self.source.camera_id,
                problem=diagnosis.problem.value,
                delay_s=round(delay, 2),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _run_once(self) -> bool:
        """Run FFmpeg until it exits; True when the camera was online meanwhile."""
        self.files.prepare()
        detect = self.source.detect if self.frame_sink is not None else None
        read_fd = write_fd = -1
        frames: FrameOutput | None = None
        if detect is not None:
            read_fd, write_fd = open_pipe()
            frames = FrameOutput(write_fd, detect.fps, detect.width, detect.height, detect.url)
        argv = camera_command(
            self.source.url,
            self.files,
            self.settings,
            record=self.source.record,
            ladder=self.source.ladder,
            frames=frames,
        )
        process = FfmpegProcess(
            argv,
            name=self.source.camera_id,
            secrets=self.source.secrets,
            pass_fds=(write_fd,) if frames else (),
        )
        self.process = process
        try:
            await process.start()
        except OSError as exc:
            self.last_diagnosis = diagnose([f"cannot start FFmpeg: {exc}"])
            return False
        finally:
            if frames is not None:
                os.close(write_fd)  # FFmpeg holds its copy; EOF comes when it exits
        reading: asyncio.Task[None] | None = None
        if frames is not None and self.frame_sink is not None:
            reading = asyncio.create_task(FrameReader(read_fd, self.frame_sink).run())
        online = False
        exited = asyncio.create_task(process.wait())
        stall_s = max(2 * self.settings.io_timeout_s, 4.0)
        while not exited.done():
            progressed = asyncio.create_task(process.progressed.wait())
            done, _ = await asyncio.wait(
                {exited, progressed},
                timeout=stall_s if online else stall_s + self.settings.io_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            progressed.cancel()
            if progressed in done:
                process.progressed.clear()
                # Online once video flows *and* the first live segment is out, so a viewer
                # who reacts to the status finds something to play.
                if not online and self.files.playlist.exists():
                    online = True
                    await self._set(CameraStatus.ONLINE)
            elif exited not in done:
                logger.warning("ingest.stalled", camera=self.source.camera_id, after_s=stall_s)
                await process.stop(self.settings.stop_timeout_s)
                process.stderr_tail.append("stream timed out: no video")
        await exited
        if reading is not None:
            await _finish_reading(reading, self.source.camera_id)
        self.last_diagnosis = diagnose(list(process.stderr_tail) or ["End of file"])
        logger.info(
            "ingest.ffmpeg_exited",
            camera=self.source.camera_id,
            code=process.process.returncode if process.process else None,
            problem=self.last_diagnosis.problem.value,
            detail=self.last_diagnosis.detail,
        )
        return online


async def _finish_reading(reading: asyncio.Task[None], camera_id: str) -> None:
    """Wait for the frame reader to reach the pipe's end; a broken stream is logged, not fatal
    (FFmpeg's own exit decides the camera's status)."""
    try:
        await asyncio.wait_for(reading, 2.0)
    except TimeoutError:
        logger.warning("ingest.frame_reader_stuck", camera=camera_id)
    except Exception:
        logger.exception("ingest.frame_reader_failed", camera=camera_id)
