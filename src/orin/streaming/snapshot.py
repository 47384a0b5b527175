"""Snapshots: the first frame of a camera's newest live HLS segment, privacy masks blacked out.

Live segments start with a key frame, so their first frame decodes alone and is at most one
segment old. Without masks one FFmpeg decodes, scales and encodes the JPEG. With masks the
frame is decoded to raw YUV at full size, every pixel a mask touches is set to black, and a
second FFmpeg scales and encodes it: scaling after masking keeps masked pixels from bleeding
into the thumbnail. Results are kept about a second per camera, segment, width and masks, and
concurrent requests for the same snapshot share one FFmpeg.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
import weakref
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import structlog

from orin.cameras.geometry import Point
from orin.config import Settings
from orin.errors import NotFound, OrinError
from orin.ingest.layout import CameraFiles
from orin.streaming.probe import run_tool

logger = structlog.get_logger(__name__)

CACHE_TTL_S: Final = 1.0
CACHE_ENTRIES: Final = 128
DECODE_TIMEOUT_S: Final = 10.0
JPEG_QUALITY: Final = 4
"""FFmpeg's ``-q:v`` for MJPEG: 2 (best) to 31."""
MIN_STALE_S: Final = 15.0
"""A newest segment older than this (or three segment lengths) means the camera stopped."""
_SEGMENT = re.compile(r"^seg_(\d{1,12})\.ts$")
_Y4M_HEADER = re.compile(rb"^YUV4MPEG2 [^\n]*?W(\d+) H(\d+)[^\n]*\nFRAME[^\n]*\n")
_EDGE = 1e-6


class NoLiveVideo(NotFound):
    type_slug = "no-live-video"
    title = "No live video"


class SnapshotFailed(OrinError):
    status_code = 503
    type_slug = "snapshot-failed"
    title = "Snapshot failed"


def live_segments(files: CameraFiles) -> list[Path]:
    """The live segments, newest (highest number) first.

    Ingest writes segments under a temporary name and renames them when complete
    (``temp_file``), so every ``seg_<n>.ts`` here is whole.
    """
    folder = files.source_segments
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    numbered = [(int(m.group(1)), name) for name in names if (m := _SEGMENT.match(name))]
    return [folder / name for _, name in sorted(numbered, reverse=True)]


def stale_after_s(settings: Settings) -> float:
    return max(MIN_STALE_S, 3 * settings.ingest.hls_segment_s)


def mask_pixels(
    polygons: Sequence[Sequence[Point]], width: int, height: int
) -> npt.NDArray[np.bool_]:
    """Pixels any polygon touches (normalised coordinates), erring on covering.

    Each row is cut by the outlines just below its top, at its middle and just above its
    bottom (even-odd rule); a pixel is covered when a cut span overlaps it at all.
    """
    covered = np.zeros((height, width), dtype=bool)
    for polygon in polygons:
        points = np.asarray(polygon, dtype=np.float64) * (width, height)
        x1, y1 = points[:, 0], points[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        top = max(0, math.floor(float(y1.min())))
        bottom = min(height, math.ceil(float(y1.max())))
        if top >= bottom:
            continue
        rows = np.arange(top, bottom)
        marks = np.zeros((bottom - top, width + 1), dtype=np.int32)
        for offset in (_EDGE, 0.5, 1 - _EDGE):
            y = (rows + offset)[:, None]
            crosses = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            x = np.sort(np.where(crosses, x, np.inf), axis=1)
            starts, ends = x[:, 0::2], x[:, 1::2]
            pairs = min(starts.shape[1], ends.shape[1])
            starts, ends = starts[:, :pairs], ends[:, :pairs]
            valid = np.isfinite(starts) & np.isfinite(ends)
            row_index = np.broadcast_to(np.arange(len(rows))[:, None], starts.shape)[valid]
            first = np.clip(np.floor(starts[valid]), 0, width).astype(np.int64)
            last = np.clip(np.ceil(ends[valid]), 0, width).astype(np.int64)
            keep = first < last
            np.add.at(marks, (row_index[keep], first[keep]), 1)
            np.add.at(marks, (row_index[keep], last[keep]), -1)
        covered[top:bottom] |= np.cumsum(marks, axis=1)[:, :width] > 0
    return covered


def black_out(y4m: bytes, masks: Sequence[Sequence[Point]]) -> bytes:
    """One 4:2:0 YUV4MPEG2 frame with the masks' pixels black (Y 0, neutral chroma)."""
    header = _Y4M_HEADER.match(y4m[:256])
    if header is None:
        raise _failed("decode", b"not a YUV4MPEG2 frame", False)
    width, height = int(header.group(1)), int(header.group(2))
    chroma_w, chroma_h = (width + 1) // 2, (height + 1) // 2
    planes = np.frombuffer(y4m, dtype=np.uint8, offset=header.end()).copy()
    if planes.size != width * height + 2 * chroma_w * chroma_h:
        raise _failed("decode", b"short frame", False)
    covered = mask_pixels(masks, width, height)
    luma = planes[: width * height].reshape(height, width)
    luma[covered] = 0
    # A chroma sample is neutral when any of the 2x2 pixels it colours is covered.
    padded = np.zeros((chroma_h * 2, chroma_w * 2), dtype=bool)
    padded[:height, :width] = covered
    chroma_covered = padded.reshape(chroma_h, 2, chroma_w, 2).any(axis=(1, 3))
    for index in range(2):
        start = width * height + index * chroma_w * chroma_h
        chroma = planes[start : start + chroma_w * chroma_h].reshape(chroma_h, chroma_w)
        chroma[chroma_covered] = 128
    return y4m[: header.end()] + planes.tobytes()


def _scale_filter(width: int | None) -> list[str]:
    """Scale down to ``width`` keeping the aspect ratio (never up)."""
    return [] if width is None else ["-vf", f"scale='min({width},iw)':-2"]


def _encode_args(width: int | None) -> list[str]:
    jpeg = ["-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", str(JPEG_QUALITY)]
    return [*_scale_filter(width), *jpeg, "pipe:1"]


def _failed(step: str, run_stderr: bytes, timed_out: bool) -> SnapshotFailed:
    lines = run_stderr.decode(errors="replace").strip().splitlines()
    logger.warning("snapshot.failed", step=step, timed_out=timed_out, detail=lines[-3:])
    return SnapshotFailed("the live video could not be decoded; try again in a moment")


async def render_jpeg(
    ffmpeg: str, segment: Path, masks: Sequence[Sequence[Point]], width: int | None
) -> bytes:
    """The segment's first frame as a JPEG, masks blacked out, scaled down to ``width``."""
    head = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error"]
    source = [*head, "-i", str(segment), "-map", "0:v:0"]
    if not masks:
        run = await run_tool([*source, *_encode_args(width)], timeout_s=DECODE_TIMEOUT_S)
        if run.returncode != 0 or not run.stdout:
            raise _failed("encode", run.stderr, run.timed_out)
        return run.stdout
    y4m = ["-frames:v", "1", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1"]
    run = await run_tool([*source, *y4m], timeout_s=DECODE_TIMEOUT_S)
    if run.returncode != 0:
        raise _failed("decode", run.stderr, run.timed_out)
    frame = black_out(run.stdout, masks)
    raw = ["-f", "yuv4mpegpipe", "-i", "pipe:0"]
    run = await run_tool(
        [*head, *raw, *_encode_args(width)], timeout_s=DECODE_TIMEOUT_S, stdin=frame
    )
    if run.returncode != 0 or not run.stdout:
        raise _failed("encode", run.stderr, run.timed_out)
    return run.stdout


@dataclass(slots=True)
class _Entry:
    made_at: float
    task: asyncio.Task[bytes]


class SnapshotCache:
    """Recent snapshots by key for ``ttl_s``; one task makes each, its callers share it."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, max_entries: int = CACHE_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, _Entry] = {}

    def _prune(self, now: float) -> None:
        for key, entry in list(self._entries.items()):
            if entry.task.done() and now - entry.made_at > self.ttl_s:
                del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]

    def _forget_failure(self, key: Hashable, task: asyncio.Task[bytes]) -> None:
        if task.cancelled() or task.exception() is not None:
            entry = self._entries.get(key)
            if entry is not None and entry.task is task:
                del self._entries[key]

    async def get(self, key: Hashable, make: Callable[[], Coroutine[Any, Any, bytes]]) -> bytes:
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or now - entry.made_at > self.ttl_s or entry.task.get_loop() is not loop:
            self._prune(now)
            entry = _Entry(now, loop.create_task(make()))
            self._entries[key] = entry
            entry.task.add_done_callback(lambda task: self._forget_failure(key, task))
        return await asyncio.shield(entry.task)


_cache = SnapshotCache()
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _decode_slots() -> asyncio.Semaphore:
    """At most one decoding FFmpeg per CPU at a time (per event loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(os.cpu_count() or 2)
    return slots


async def snapshot_jpeg(
    settings: Settings,
    camera_id: str,
    *,
    masks: Sequence[Sequence[Point]],
    width: int | None = None,
) -> bytes:
    """The newest live frame of the camera as a JPEG; `NoLiveVideo` when it is not streaming."""
    segments = live_segments(CameraFiles.of(settings, camera_id))
    now = time.time()
    for segment in segments[:2]:
        try:
            stat = segment.stat()
        except FileNotFoundError:
            continue  # deleted by ingest's rotation meanwhile: the next older one
        if now - stat.st_mtime > stale_after_s(settings):
            break
        key = (str(segment), stat.st_mtime_ns, width, json.dumps(masks))

        async def make(segment: Path = segment) -> bytes:
            async with _decode_slots():
                return await render_jpeg(settings.ingest.ffmpeg, segment, masks, width)

        try:
            return await _cache.get(key, make)
        except SnapshotFailed:
            if segment.exists():
                raise
    raise NoLiveVideo("no live video yet: the camera is not streaming")
