"""Moving finished recording segments from the ingest node's disk into object storage.

Runs in the ingest process beside the supervisor. Every few seconds it reads each camera's
``rec/segments.csv`` (FFmpeg's list of *finished* segments) from where it stopped, and for each
listed file still on disk: uploads it to ``<camera prefix>recordings/<UTC start>.ts``, inserts
its `RecordingSegment` row (a no-op when the key is already indexed), then deletes the file.
A crash anywhere in between is repaired by the next pass: the file is still there, the upload
is repeated (same key, same bytes) and the insert does nothing the second time. Deleted files
are the progress marker: lines whose file is gone are skipped.

Files FFmpeg never listed (it was killed mid-segment, or it restarted and truncated the list
before this pass read the last lines) are picked up once untouched for `orphan_after_s`; their
duration comes from ffprobe. Segments of cameras that were deleted or whose mode is now `off`
are dropped without upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from orin.config import Settings
from orin.db import Database
from orin.ingest.layout import RECORDING_DIR, RECORDING_LIST, live_root
from orin.media.keys import camera_prefix
from orin.models.base import new_id
from orin.models.camera import Camera, RecordingMode
from orin.models.recording import RecordingSegment
from orin.storage.base import ObjectStorage

logger = structlog.get_logger(__name__)

NAME_FORMAT = "%Y%m%dT%H%M%SZ"
_SEGMENT_NAME = re.compile(r"^\d{8}T\d{6}Z\.ts$")
CONTENT_TYPE = "video/mp2t"
PROBE_TIMEOUT_S = 15.0


def recording_key(space_id: str, camera_id: str, started_at: datetime) -> str:
    """Object key of the segment starting at ``started_at`` (whole UTC seconds)."""
    name = started_at.astimezone(UTC).strftime(NAME_FORMAT)
    return f"{camera_prefix(space_id, camera_id)}recordings/{name}.ts"


def segment_start(name: str) -> datetime | None:
    """The UTC start encoded in a segment file name, or None for other names."""
    if not _SEGMENT_NAME.match(name):
        return None
    try:
        return datetime.strptime(name[:-3], NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FinishedSegment:
    """A finished segment file and what the list (or ffprobe) says about it."""

    path: Path
    started_at: datetime
    duration_s: float | None
    """None for a file FFmpeg never listed: probed before upload."""


@dataclass
class ScanReport:
    """What one pass did."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    discarded: int = 0
    failed: int = 0


@dataclass
class _ListCursor:
    """How far one camera's segment list was read, and what it held that is not done yet."""

    identity: tuple[int, int, bytes] = (0, 0, b"")
    """(device, inode, first line): a different value means FFmpeg began a new list."""
    offset: int = 0
    pending: dict[str, FinishedSegment] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _CameraRow:
    id: str
    space_id: str
    mode: RecordingMode


def parse_list(text: str, folder: Path) -> list[FinishedSegment]:
    """Segments of complete ``filename,start,end`` lines of an FFmpeg csv segment list."""
    found: list[FinishedSegment] = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 3:
            continue
        name = os.path.basename(row[0])
        started_at = segment_start(name)
        try:
            duration = float(row[2]) - float(row[1])
        except ValueError:
            continue
        if started_at is not None:
            found.append(FinishedSegment(folder / name, started_at, duration))
    return found


def _read_new_lines(path: Path, cursor: _ListCursor) -> list[str]:
    """Complete lines appended to ``path`` since ``cursor`` (runs in a thread)."""
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            first = file.readline()
            if not first.endswith(b"\n"):
                return []
            identity = (stat.st_dev, stat.st_ino, first)
            if identity != cursor.identity or stat.st_size < cursor.offset:
                cursor.identity, cursor.offset = identity, 0
            file.seek(cursor.offset)
            chunk = file.read()
    except FileNotFoundError:
        return []
    end = chunk.rfind(b"\n") + 1
    cursor.offset += end
    return [chunk[:end].decode("utf-8", "replace")] if end else []


class RecordingUploader:
    """Uploads and indexes the finished segments under the live root; see the module doc."""

    def __init__(
        self,
        database: Database,
        storage: ObjectStorage,
        settings: Settings,
        *,
        cameras: Callable[[], Iterable[str]] | None = None,
        interval_s: float = 2.0,
        concurrency: int = 4,
        orphan_after_s: float | None = None,
    ) -> None:
        """``cameras`` narrows the scan to those camera folders; by default every folder under
        the live root is scanned (a node's disk only holds the cameras it ran)."""
        self.database = database
        self.storage = storage
        self.settings = settings
        self.root = live_root(settings)
        self.cameras = cameras
        self.interval_s = interval_s
        ingest = settings.ingest
        self.orphan_after_s = (
            orphan_after_s
            if orphan_after_s is not None
            else max(60.0, 3 * ingest.record_segment_s + 4 * ingest.io_timeout_s)
        )
        self._limit = asyncio.Semaphore(concurrency)
        self._cursors: dict[str, _ListCursor] = {}
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="recording-uploader")

    async def stop(self, *, drain_timeout_s: float = 10.0) -> None:
        """Stop the loop, then make one last pass (bounded by ``drain_timeout_s``; 0: none)
        for the segments FFmpeg finished while stopping: stop the ingest supervisor first."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if drain_timeout_s > 0:
            try:
                async with asyncio.timeout(drain_timeout_s):
                    await self.scan_once()
            except Exception as exc:  # what is left is uploaded at the next start
                logger.warning("recordings.drain_failed", error=str(exc) or type(exc).__name__)

    async def run(self) -> None:
        while True:
            try:
                report = await self.scan_once()
                if report.uploaded or report.failed or report.discarded:
                    logger.info(
                        "recordings.scan",
                        uploaded=report.uploaded,
                        bytes=report.uploaded_bytes,
                        discarded=report.discarded,
                        failed=report.failed,
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("recordings.scan_failed")
            await asyncio.sleep(self.interval_s)

    # -- one pass ---------------------------------------------------------------------------

    async def scan_once(self) -> ScanReport:
        """Upload, index and remove every finished segment found now."""
        only = None if self.cameras is None else list(self.cameras())
        work = await asyncio.to_thread(self._collect, only)
        report = ScanReport()
        if not work:
            return report
        rows = await self._camera_rows(list(work))
        await asyncio.gather(
            *(
                self._camera_pass(camera_id, segments, rows.get(camera_id), report)
                for camera_id, segments in work.items()
            )
        )
        return report

    def _folders(self, only: list[str] | None) -> list[Path]:
        if only is not None:
            return [self.root / camera_id / RECORDING_DIR for camera_id in only]
        try:
            return [entry / RECORDING_DIR for entry in self.root.iterdir() if entry.is_dir()]
        except FileNotFoundError:
            return []

    def _collect(self, only: list[str] | None) -> dict[str, list[FinishedSegment]]:
        """Per camera, the finished segments to handle, oldest first (runs in a thread)."""
        work: dict[str, list[FinishedSegment]] = {}
        now = time.time()
        for folder in self._folders(only):
            if not folder.is_dir():
                continue
            camera_id = folder.parent.name
            cursor = self._cursors.setdefault(camera_id, _ListCursor())
            for text in _read_new_lines(folder / RECORDING_LIST, cursor):
                for segment in parse_list(text, folder):
                    cursor.pending[segment.path.name] = segment
            for name in [name for name, seg in cursor.pending.items() if not seg.path.exists()]:
                del cursor.pending[name]  # uploaded (or dropped) earlier
            segments = list(cursor.pending.values())
            segments += self._orphans(folder, cursor, now)
            if segments:
                work[camera_id] = sorted(segments, key=lambda seg: seg.started_at)
        return work

    def _orphans(self, folder: Path, cursor: _ListCursor, now: float) -> list[FinishedSegment]:
        found: list[FinishedSegment] = []
        for path in folder.glob("*.ts"):
            started_at = segment_start(path.name)
            if started_at is None or path.name in cursor.pending:
                continue
            try:
                idle_s = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if idle_s >= self.orphan_after_s:
                found.append(FinishedSegment(path, started_at, None))
        return found

    async def _camera_rows(self, camera_ids: list[str]) -> dict[str, _CameraRow]:
        async with self.database.transaction() as session:
            rows = await session.execute(
                select(Camera.id, Camera.space_id, Camera.recording_mode).where(
                    Camera.id.in_(camera_ids)
                )
            )
            return {
                row.id: _CameraRow(row.id, row.space_id, RecordingMode(row.recording_mode))
                for row in rows
            }

    async def _camera_pass(
        self,
        camera_id: str,
        segments: list[FinishedSegment],
        camera: _CameraRow | None,
        report: ScanReport,
    ) -> None:
        if camera is None or camera.mode == RecordingMode.OFF:
            for segment in segments:
                await asyncio.to_thread(segment.path.unlink, missing_ok=True)
                report.discarded += 1
            logger.info(
                "recordings.discarded",
                camera=camera_id,
                segments=len(segments),
                reason="camera deleted" if camera is None else "recording off",
            )
            return
        async with self._limit:
            for segment in segments:
                try:
                    size = await self.upload(camera, segment)
                except Exception as exc:
                    # Keep the order: later segments wait for this one on the next pass.
                    report.failed += 1
                    logger.warning(
                        "recordings.upload_failed",
                        camera=camera_id,
                        segment=segment.path.name,
                        error=str(exc),
                    )
                    return
                if size is None:
                    report.discarded += 1
                else:
                    report.uploaded += 1
                    report.uploaded_bytes += size

    # -- one segment ------------------------------------------------------------------------

    async def upload(self, camera: _CameraRow, segment: FinishedSegment) -> int | None:
        """Upload, index, then delete one segment file; returns its size, or None when it
        held no video (or its camera vanished meanwhile) and was dropped."""
        try:
            data = await asyncio.to_thread(segment.path.read_bytes)
        except FileNotFoundError:
            return None
        duration = segment.duration_s
        if duration is None:
            duration = await self._probe_duration(segment)
        if not data or duration <= 0:
            await asyncio.to_thread(segment.path.unlink, missing_ok=True)
            return None
        key = recording_key(camera.space_id, camera.id, segment.started_at)
        await self.storage.put(key, data, content_type=CONTENT_TYPE)
        row = {
            "id": new_id(),
            "camera_id": camera.id,
            "started_at": segment.started_at,
            "ended_at": segment.started_at + timedelta(seconds=duration),
            "duration_s": duration,
            "size_bytes": len(data),
            "object_key": key,
        }
        insert = sqlite_insert if self.database.is_sqlite else pg_insert
        statement = (
            insert(RecordingSegment)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["object_key"])
        )
        try:
            async with self.database.transaction() as session:
                await session.execute(statement)
        except IntegrityError:
            # The camera was deleted after the upload began: its media goes with it.
            await self.storage.delete(key)
            await asyncio.to_thread(segment.path.unlink, missing_ok=True)
            return None
        await asyncio.to_thread(segment.path.unlink, missing_ok=True)
        return len(data)

    async def _probe_duration(self, segment: FinishedSegment) -> float:
        """Duration of an unlisted file by ffprobe; else its last write minus its start."""
        argv = [
            self.settings.ingest.ffprobe,
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            str(segment.path),
        ]
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
            try:
                out, _ = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT_S)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            return float(out.decode().strip())
        try:
            mtime = segment.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0
        return max(0.0, mtime - segment.started_at.timestamp())
