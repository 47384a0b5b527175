"""One camera's vision pipeline: frame → motion → detector regions → tracker → guards → catch.

Frames arrive from the camera's FFmpeg (`orin.ingest.frames`) into a one-slot mailbox: the
pipeline always works on the newest frame and counts the ones it had to skip, so a slow
detector costs detection rate, never live video. For each frame:

1. motion gating (`orin.vision.motion`) gives boxes where the picture changed; with the boxes
   of objects being tracked they become detector regions (`orin.vision.regions`), cropped at
   about the model's input size so small objects keep their pixels. Without motion and with
   nothing moving, nothing is sent to the detector, except a full-frame check every
   ``vision.full_frame_interval_s`` so still objects are not missed;
2. the detectors that report the camera's guards' objects run on the regions (privacy masks
   blacked out first) and their detections are merged back into frame coordinates; with a
   screen detector the fast model looks at the regions and the accurate one confirms each new
   object once (`orin.vision.screening`);
3. the tracker follows objects across frames; guards are evaluated on its confirmed tracks;
4. a match becomes a catch (`orin.vision.catches`); tracks are saved for backtests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import structlog
from numpy.typing import NDArray

from orin.cameras.geometry import Zone
from orin.config import VisionSettings
from orin.db import Database
from orin.ingest.frames import Frame
from orin.streaming.snapshot import mask_pixels
from orin.vision.catches import CatchContext, CatchWriter
from orin.vision.detectors.base import Detection
from orin.vision.evaluate import CameraEvaluator, Match, ObjectView
from orin.vision.motion import MotionDetector
from orin.vision.regions import (
    Box,
    Region,
    full_frame,
    merge_detections,
    region_around,
    regions_for,
)
from orin.vision.screening import Confirmations, DetectorPlan, confirm_tracks, plan_detectors
from orin.vision.track_store import TrackStore, row_id_of
from orin.vision.tracker import Track, Tracker, TrackerConfig, TrackState
from orin.vision.transport.base import DetectionService
from orin.vision.watch import CameraWatch, load_watch

logger = structlog.get_logger(__name__)

WATCH_RELOAD_S = 5.0
FAILURE_LOG_EVERY_S = 60.0
EXPLAINED_SHARE = 0.6
"""Motion mostly (this share of its box) inside a followed object's box is that object's."""
MODEL_SIZE = 300
"""Detector input side the regions are sized for (the SSD models take 300x300)."""


@dataclass(slots=True)
class PipelineStats:
    """Counters of one camera's pipeline (read by tests and benchmarks)."""

    frames: int = 0
    skipped: int = 0
    """Frames that arrived while the previous one was still being worked on."""
    motion_frames: int = 0
    detected_frames: int = 0
    """Frames any region of which went to a detector."""
    full_frame_checks: int = 0
    regions: int = 0
    detections: int = 0
    catches: int = 0
    failed_detections: int = 0
    confirmation_crops: int = 0
    """Crops the confirming detector looked at for the screen's new objects."""
    confirmed_tracks: int = 0
    refresh_skips: int = 0
    """Frames with motion that followed objects explained, between their refreshes."""
    inference_s: float = 0.0
    """Time spent awaiting the detector (queueing in the pool or broker included)."""
    busy_s: float = 0.0
    catch_latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    """Frame arrival → catch job committed, for the latest catches."""


@dataclass(slots=True)
class _Keeper:
    """The frame where a track looked best (for its snapshot)."""

    t: float
    frame: Frame


class CameraPipeline:
    """Runs the pipeline for one camera until `stop` (see the module docstring)."""

    def __init__(
        self,
        camera_id: str,
        *,
        database: Database,
        service: DetectionService,
        writer: CatchWriter,
        settings: VisionSettings,
        watch: CameraWatch | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.database = database
        self.service = service
        self.writer = writer
        self.settings = settings
        self.watch = watch
        self.stats = PipelineStats()
        self.tracks = TrackStore(database, camera_id, settings.track_flush_s)
        self._fixed_watch = watch is not None
        self._watch_loaded_at = 0.0
        self._latest: Frame | None = None
        self._latest_motion: list[Box] | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._motion: MotionDetector | None = None
        self._tracker = Tracker(
            camera_id, TrackerConfig(stationary_after_s=settings.stationary_after_s)
        )
        self._evaluator: CameraEvaluator | None = None
        self._zones: tuple[Zone, ...] = ()
        self._mask: NDArray[np.bool_] | None = None
        self._mask_key: tuple[object, ...] | None = None
        self._last_full = 0.0
        self._plan: DetectorPlan | None = None
        self._plan_labels: frozenset[str] | None = None
        self._confirmations = Confirmations(settings.full_frame_interval_s)
        self._best: dict[str, _Keeper] = {}
        self._track_ids: dict[str, str] = {}
        self._failure_logged: dict[str, float] = {}

    # -- frames in -------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """Frame sink for `orin.ingest.frames.FrameReader`: keep only the newest frame.

        Its motion is found now, on arrival: while an earlier frame waits for the detector,
        this work overlaps the inference instead of following it, and the background model
        learns from every frame whatever the load (a skipped frame's boxes are dropped with
        it; the newest frame's show where things are now). A frame with motion is also
        converted to BGR now, for the detector.
        """
        if self._latest is not None:
            self.stats.skipped += 1
        self._latest = frame
        try:
            self._latest_motion = self._arrival_motion(frame)
        except Exception:  # never into the frame reader: `process` finds the motion instead
            logger.exception("vision.arrival_motion_failed", camera=self.camera_id)
            self._latest_motion = None
        self._ready.set()

    def _arrival_motion(self, frame: Frame) -> list[Box] | None:
        """``frame``'s motion boxes if the motion detector is set up for it, else None (then
        `process` sets it up and finds them)."""
        watch = self.watch
        if self._motion is None or watch is None or not watch.guards:
            return None
        if self._mask_key != (frame.width, frame.height, watch.masks):
            return None
        motion = self._motion.update(frame.gray)
        if motion:
            frame.bgr()  # the detector will most likely look at it: convert it now too
        return motion

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"vision:{self.camera_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._finish_tracks(self._tracker.end_all())
        await self.tracks.flush()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            frame, motion = self._latest, self._latest_motion
            self._latest = self._latest_motion = None
            if frame is None:
                continue
            try:
                await self.process(frame, motion)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("vision.frame_failed", camera=self.camera_id)

    # -- one frame -------------------------------------------------------------------------

    async def _current_watch(self, now: float) -> CameraWatch | None:
        if not self._fixed_watch and now - self._watch_loaded_at >= WATCH_RELOAD_S:
            # Read-only: on SQLite this reload never takes the write lock.
            async with self.database.reading() as session:
                self.watch = await load_watch(session, self.camera_id)
            self._watch_loaded_at = now
        return self.watch

    def _prepare(self, frame: Frame, watch: CameraWatch) -> bool:
        """Set up motion, masks and the evaluator for ``frame`` and ``watch``; True when the
        motion detector is new (motion found before it is void)."""
        key = (frame.width, frame.height, watch.masks)
        renewed = key != self._mask_key
        if renewed:
            self._mask_key = key
            self.tracks.frame_size = (frame.width, frame.height)
            self._motion = MotionDetector(frame.width, frame.height, mask_polygons=watch.masks)
            self._mask = (
                mask_pixels(watch.masks, frame.width, frame.height) if watch.masks else None
            )
        if self._evaluator is None or self._zones != watch.zones:
            started = self._evaluator.started_at if self._evaluator else frame.t
            self._evaluator = CameraEvaluator(watch.zones, started_at=started)
            self._zones = watch.zones
        return renewed

    def _plan_for(self, watch: CameraWatch) -> DetectorPlan:
        """Which detectors run for the guards' labels (re-planned when the labels change)."""
        labels = frozenset(watch.wanted_labels)
        if self._plan is None or labels != self._plan_labels:
            self._plan = plan_detectors(self.service, labels, self.settings.screen_detector)
            self._plan_labels = labels
        return self._plan

    async def process(self, frame: Frame, motion: list[Box] | None = None) -> list[Match]:
        """Work on one frame; returns the guard matches it caused (each stored as a catch).

        ``motion``: the frame's motion boxes if `on_frame` found them on arrival.
        """
        started = time.perf_counter()
        self.stats.frames += 1
        watch = await self._current_watch(frame.t)
        if watch is None or not watch.guards:
            return []
        if self._prepare(frame, watch):
            motion = None
        assert self._motion is not None
        assert self._evaluator is not None
        if motion is None:
            motion = self._motion.update(frame.gray)
        if motion:
            self.stats.motion_frames += 1
        plan = self._plan_for(watch)
        regions = self._regions(frame, motion)
        detections: list[Detection] = []
        if regions:
            detections = await self._detect(frame, regions, plan.regions)
        update = self._tracker.update(detections, frame.t, observed_regions=regions)
        await self._confirm_new(frame, plan)
        self._keep_best(frame, update.active)
        await self._finish_tracks([t for t in update.ended if not plan.needs_confirmation(t)])
        self._confirmations.forget(track.id for track in update.ended)
        # Lost tracks are still there for guards (missed for a frame or two): dwell goes on.
        # Objects the screen found count once their own detector has confirmed them.
        present = [
            track for track in (*update.active, *update.lost) if not plan.needs_confirmation(track)
        ]
        views = [self._view(track, frame) for track in present]
        matches = self._evaluator.evaluate(watch.guards, views, frame.t)
        for match in matches:
            try:
                await self._catch(watch, match, frame)
            except Exception:
                # Storage or database unreachable: the next frame that still matches retries.
                logger.exception("vision.catch_failed", camera=self.camera_id, guard=match.guard_id)
                self._evaluator.undo(match)
        await self.tracks.save_active(present, self._track_ids)
        self.stats.busy_s += time.perf_counter() - started
        return matches

    def _regions(self, frame: Frame, motion: Sequence[Box]) -> list[Region]:
        """Where the detector looks in this frame (see the module docstring)."""
        if frame.t - self._last_full >= self.settings.full_frame_interval_s:
            self._last_full = frame.t
            self.stats.full_frame_checks += 1
            return [full_frame(frame.width, frame.height)]
        # Followed objects on the move (and lost ones, to find them again or let them age out).
        followed = [
            track
            for track in self._tracker.tracks
            if track.state in (TrackState.CONFIRMED, TrackState.LOST) and not track.stationary
        ]
        known = [track.predicted for track in followed]
        # Motion a followed object explains waits for that object's refresh; other motion
        # (someone new) is looked at now.
        fresh = [box for box in motion if not _explained(box, known)]
        refresh = self.settings.track_refresh_s
        still_refresh = self.settings.full_frame_interval_s
        due = [
            track.predicted
            for track in followed
            if track.state is TrackState.LOST or frame.t - track.last_seen >= refresh
        ]
        # New objects (to confirm or drop them quickly) and still ones (motion no longer shows
        # them) need a crop at about the model's size: merged into a large square they would
        # shrink below what the detector sees.
        close_ups = [
            track.box
            for track in self._tracker.tracks
            if track.state is TrackState.TENTATIVE
            or (track.stationary and frame.t - track.last_seen >= still_refresh)
        ]
        if not fresh and not due and not close_ups:
            if motion:
                self.stats.refresh_skips += 1
            return []
        # Crops even when they cover most of the frame: the whole frame shrunk to the model's
        # input loses small objects (the parcel model finds none on a whole 768x576 frame).
        moving = [*fresh, *due]
        regions = regions_for(moving, frame.width, frame.height, MODEL_SIZE) if moving else []
        for box in close_ups:
            if not any(_holds(region, box) for region in regions):
                regions.append(region_around(box, frame.width, frame.height, MODEL_SIZE))
        return regions

    async def _detect(
        self,
        frame: Frame,
        regions: list[Region],
        uses: Sequence[tuple[str, frozenset[str]]],
    ) -> list[Detection]:
        """The detections of the detectors in ``uses`` on ``regions``, in frame pixels."""
        image = self._masked(frame)
        self.stats.detected_frames += 1
        self.stats.regions += len(regions)
        per_region: list[tuple[Region, list[Detection]]] = [(region, []) for region in regions]
        for name, labels in uses:
            found = await self._run_detector(name, labels, image, regions)
            for (_, kept), (_, objects) in zip(per_region, found or (), strict=False):
                kept.extend(objects)
        detections = merge_detections(per_region, frame.width, frame.height)
        self.stats.detections += len(detections)
        return detections

    async def _run_detector(
        self,
        name: str,
        labels: frozenset[str],
        image: NDArray[np.uint8],
        regions: Sequence[Region],
    ) -> list[tuple[Region, list[Detection]]] | None:
        """Detector ``name`` on the crops of ``regions``, kept to ``labels``, in frame pixels
        per region; None when the detection failed (logged)."""
        began = time.perf_counter()
        try:
            found = await self.service.detect(name, [region.crop(image) for region in regions])
        except Exception as error:  # DetectionFailed, or a local model that cannot load
            self.stats.failed_detections += 1
            self._report_failure(name, error)
            return None
        finally:
            self.stats.inference_s += time.perf_counter() - began
        return [
            (region, [d.shifted(region.x, region.y) for d in objects if d.label in labels])
            for region, objects in zip(regions, found, strict=True)
        ]

    async def _confirm_new(self, frame: Frame, plan: DetectorPlan) -> None:
        """Run the confirming detectors on the screen's tracks that are due a try."""
        due = self._confirmations.due(plan, self._tracker.tracks, frame.t)
        if not due:
            return
        image = self._masked(frame)
        for name in sorted({plan.confirm_by[track.label] for track in due}):
            tracks = [track for track in due if plan.confirm_by[track.label] == name]
            regions: list[Region] = []
            for track in tracks:
                self._confirmations.tried(track, frame.t)
                if not any(_holds(region, track.box) for region in regions):
                    regions.append(region_around(track.box, frame.width, frame.height, MODEL_SIZE))
            self.stats.confirmation_crops += len(regions)
            found = await self._run_detector(name, plan.confirming(name), image, regions)
            if found is None:
                continue
            detections = merge_detections(found, frame.width, frame.height)
            self.stats.confirmed_tracks += len(confirm_tracks(tracks, detections))

    def _masked(self, frame: Frame) -> NDArray[np.uint8]:
        """The frame as BGR with the privacy masks black (a copy only when there are masks)."""
        image = frame.bgr()
        if self._mask is None:
            return image
        image = image.copy()
        image[self._mask] = 0
        return image

    def _report_failure(self, detector: str, error: Exception) -> None:
        """Log a failed detection: in full the first time, then once a minute."""
        now = time.monotonic()
        if now - self._failure_logged.get(detector, -FAILURE_LOG_EVERY_S) < FAILURE_LOG_EVERY_S:
            return
        self._failure_logged[detector] = now
        logger.warning(
            "vision.detection_failed",
            camera=self.camera_id,
            detector=detector,
            error=f"{type(error).__name__}: {error}",
            failed_so_far=self.stats.failed_detections,
        )

    def _keep_best(self, frame: Frame, tracks: Sequence[Track]) -> None:
        for track in tracks:
            best_t = track.best.t if track.best is not None else None
            keeper = self._best.get(track.id)
            if best_t == frame.t or keeper is None:
                self._best[track.id] = _Keeper(frame.t, frame)

    def _view(self, track: Track, frame: Frame) -> ObjectView:
        return ObjectView(
            track_id=track.id,
            label=track.label,
            confidence=track.confidence,
            box=_normalised(track.box, frame),
            first_seen=track.first_seen,
            stationary_since=track.stationary_since,
        )

    async def _catch(self, watch: CameraWatch, match: Match, frame: Frame) -> None:
        track = self._tracker.get(match.track_id)
        keeper = self._best.get(match.track_id)
        shot, box = frame, match.box
        if track is not None and keeper is not None and track.best is not None:
            shot = keeper.frame
            box = _normalised(track.best.box, shot)
        image = self._masked(shot)
        track_db_id = row_id_of(match.track_id, self._track_ids)
        await self.writer.write(
            CatchContext(watch.space_id, self.camera_id),
            replace(match, box=box),
            image,
            track_db_id=track_db_id,
        )
        self.stats.catches += 1
        self.stats.catch_latencies_s.append(time.time() - frame.t)
        logger.info(
            "vision.catch",
            camera=self.camera_id,
            guard=match.guard_id,
            label=match.label,
            confidence=round(match.confidence, 3),
            zone=match.zone,
        )

    async def _finish_tracks(self, ended: Sequence[Track]) -> None:
        if not ended:
            return
        await self.tracks.save_ended(ended, self._track_ids)
        for track in ended:
            self._best.pop(track.id, None)
            self._track_ids.pop(track.id, None)
        if self._evaluator is not None:
            self._evaluator.forget(track.id for track in ended)


def _normalised(box: Box, frame: Frame) -> tuple[float, float, float, float]:
    """``box`` (frame pixels) in normalised coordinates, clipped to the frame."""
    x1, y1, x2, y2 = box
    width, height = frame.width, frame.height

    def clip(value: float) -> float:
        return min(1.0, max(0.0, value))

    return (clip(x1 / width), clip(y1 / height), clip(x2 / width), clip(y2 / height))


def _holds(region: Region, box: Box) -> bool:
    """Whether ``region`` contains ``box`` and is small enough to keep its detail."""
    return max(region.w, region.h) <= MODEL_SIZE * 1.5 and region.contains(box)


def _explained(box: Box, known: Sequence[Box]) -> bool:
    """Whether most of the motion ``box`` lies inside one of the ``known`` object boxes
    (each grown by a fifth, as a walking body's motion spills past its box)."""
    area = box.area
    if area <= 0:
        return True
    for other in known:
        grow_w, grow_h = other.width * 0.1, other.height * 0.1
        width = min(box.x2, other.x2 + grow_w) - max(box.x1, other.x1 - grow_w)
        height = min(box.y2, other.y2 + grow_h) - max(box.y1, other.y1 - grow_h)
        if width > 0 and height > 0 and width * height >= EXPLAINED_SHARE * area:
            return True
    return False
