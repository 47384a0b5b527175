"""Vision pipeline: overhead against the bare model, cameras per machine, frame → catch latency.

P1, pipeline ÷ model throughput (goal >= 0.9): ``--frames`` frames of vtest (every second
one, 640 px wide, I420, synthetic times 0.2 s apart) are decoded once into memory. The pipeline
runs on them once through a recording proxy that keeps every crop it sends to the detector;
then the detector alone (`build_detector`, no pool, the pool's batch grouping) runs on exactly
those crops (the baseline, raw images/s); then a fresh pipeline on fresh copies of the same
frames, with the in-process pool, gives detector images/s and frames/s end to end. Frames reach
the pipeline as from a camera that always has the next one ready: through `on_frame` as soon as
the previous one is taken, so none is skipped and the next frame's motion is found while the
previous one is in the detector, as in a busy camera. One guard
(person in the lower 65 % of the frame, cooldown 5 s); catches are only counted; tracks go
through the track store's per-frame work but are not written.

P2, cameras at 5 detect fps (goal >= 8): N cameras, each a real `CameraRunner` (its own FFmpeg
looping vtest as H.264 with ``-re``, live HLS and recording segments, detect frames over a
pipe) feeding its own `CameraPipeline`, all sharing one `LocalDetectionService` in this one
process. After every camera delivers frames and ``--warmup`` seconds, counters are read over
``--seconds``. A camera is sustained when its pipeline processes >= 95 % of the detect rate
(frames skipped by the one-slot mailbox <= 5 %). CPU is this process (every thread) plus its
FFmpeg children, RSS likewise. Baseline in the same run: the same cameras with motion gating
off (every frame sent whole to the detector), and the default detectors without screening
(``screen_detector`` null: COCO on every region). Not in the default run, labelled as
alternative configurations: only the Open Images SSD (``--modes alt``, ``--alt-cameras``), and
``--modes workers2,alt-workers2`` (the same with ``local_workers=2``).
Each mode stops at the first N it does not sustain.

P3, frame decoded → catch stored: one camera as in P2 with a real database (SQLite, migrated),
`CatchWriter` on local storage, the guard and camera loaded from the database, and an
in-process worker (`Runtime` with the worker role: outbox relay, bus, `vision.catch` task).
End to end = the frame's arrival time (the pipe read, right after FFmpeg decoded it) → the
event row is visible (polled every ``POLL_S``); also frame → catch job committed (the pipeline's
own `catch_latencies_s`) and the detector's inference per detected frame. Cooldown 0.

    uv run python bench/vision_bench.py [--frames 100] [--cameras 1,2,4,6,8,10] [--seconds 20]
        [--alt-cameras 4,6,8,10] [--p3-seconds 30] [--parts p1,p2,p3]
        [--modes gated,unscreened,full]   (also: alt, workers2, alt-workers2)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import ClassVar, cast
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import psutil
from numpy.typing import NDArray
from sqlalchemy import select

from bench_services import quiet_logs
from orin.cameras.geometry import Zone
from orin.config import DatabaseSettings, IngestSettings, Settings, VisionSettings
from orin.db import READ_ONLY, Database
from orin.events.embeddings import text_embeddings
from orin.guards.rule import ObjectClass, Rule
from orin.ingest.frames import Frame
from orin.ingest.layout import CameraFiles
from orin.ingest.runner import CameraRunner, CameraSource, DetectSpec, StatusChange
from orin.migrate import upgrade
from orin.models.camera import Camera
from orin.models.event import Event, EventKind
from orin.models.guard import Guard, GuardCamera
from orin.models.space import Space, SpaceMember, SpaceRole
from orin.models.user import User
from orin.runtime.process import Runtime
from orin.vision.catches import CatchContext, CatchWriter
from orin.vision.detectors.base import Detection, Detector, Image
from orin.vision.detectors.config import DetectorConfig, OpenImagesSsdConfig, SsdCocoConfig
from orin.vision.detectors.registry import build_detector
from orin.vision.evaluate import GuardSpec, Match
from orin.vision.pipeline import CameraPipeline
from orin.vision.regions import Box, Region, full_frame
from orin.vision.track_store import TrackStore
from orin.vision.transport.base import DetectionService, DetectorFactory
from orin.vision.transport.labels import labels_for
from orin.vision.transport.local import LocalDetectionService
from orin.vision.watch import CameraWatch

GOAL_RATIO = 0.9
GOAL_CAMERAS = 8
SUSTAINED = 0.95
"""Share of the detect rate a camera's pipeline must process to count as sustained."""
WIDTH = 640
PLAZA = [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]]
"""The zone: the lower 65 % of the frame, where the pedestrians walk."""
POLL_S = 0.02
MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
VTEST_CANDIDATES = (
    REPO.parent / "shared" / "data" / "vtest.avi",
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
)

Yuv = NDArray[np.uint8]


# -- media -----------------------------------------------------------------------------------


def vtest_avi() -> Path:
    for path in VTEST_CANDIDATES:
        if path.is_file():
            return path.resolve()
    raise SystemExit(f"vtest.avi not found in {[str(p) for p in VTEST_CANDIDATES]}")


def transcode_h264(source: Path, target: Path) -> Path:
    """``source`` as H.264 MP4 as IP cameras send it: a key frame every 10 frames, no B-frames."""
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-an",
            "-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "0",
            "-pix_fmt", "yuv420p", str(target),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return target


def decode_vtest(count: int, width: int) -> list[Yuv]:
    """``count`` I420 frames at 5 fps (every second frame of the 10 fps video), ``width`` wide."""
    capture = cv2.VideoCapture(str(vtest_avi()))
    frames: list[Yuv] = []
    try:
        while len(frames) < count:
            ok, image = capture.read()
            if not ok:
                raise SystemExit(f"vtest.avi has fewer than {count} frames at 5 fps")
            capture.grab()
            height = round(image.shape[0] * width / image.shape[1] / 2) * 2
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), np.uint8))
    finally:
        capture.release()
    return frames


def new_frame(yuv: Yuv, index: int, start: float = 1_000.0) -> Frame:
    """A new `Frame` for the ``index``-th of the 5 fps planes (its BGR conversion is cached per
    object, so a frame object is never reused)."""
    return Frame(start + index * 0.2, yuv.shape[1], yuv.shape[0] * 2 // 3, yuv, seq=index + 1)


# -- stubs and probes ------------------------------------------------------------------------


class CountingWriter(CatchWriter):
    """Counts catches instead of storing media and an outbox job (no database)."""

    def __init__(self) -> None:
        self.count = 0

    async def write(
        self,
        context: CatchContext,
        match: Match,
        frame_bgr: NDArray[np.uint8],
        *,
        track_db_id: str,
    ) -> str:
        del context, match, frame_bgr
        self.count += 1
        return track_db_id


class DiscardingTrackStore(TrackStore):
    """Does the track store's per-frame work (rows for every active track), writes nothing."""

    def __init__(self, camera_id: str, flush_s: float) -> None:
        super().__init__(cast(Database, None), camera_id, flush_s)
        self.rows = 0

    async def flush(self) -> None:
        self._last_flush = time.monotonic()
        self.rows += len(self._pending)
        self._pending = {}


class FullFramePipeline(CameraPipeline):
    """Motion gating off: every frame goes whole to the detector."""

    def _regions(self, frame: Frame, motion: Sequence[Box]) -> list[Region]:
        del motion
        return [full_frame(frame.width, frame.height)]


class RecordingService(DetectionService):
    """Forwards to another service; keeps (copies of) the images of each call and its time."""

    def __init__(self, inner: DetectionService, *, keep_images: bool) -> None:
        super().__init__(inner.detectors)
        self.inner = inner
        self.keep_images = keep_images
        self.calls: list[tuple[str, list[Image]]] = []
        self.durations: list[float] = []
        self.sizes: list[int] = []
        """Images per call."""

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        if self.keep_images:
            self.calls.append((detector, [np.ascontiguousarray(image) for image in images]))
        self.sizes.append(len(images))
        started = time.perf_counter()
        try:
            return await self.inner.detect(detector, images)
        finally:
            self.durations.append(time.perf_counter() - started)


@dataclass
class InferenceMeter:
    """Time spent inside `Detector.detect` in the pool's threads (wall and thread CPU)."""

    images: int = 0
    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    thread_ids: set[int] = field(default_factory=set)
    walls: list[float] = field(default_factory=list)
    """Each call's wall time, in order."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, config: DetectorConfig) -> Detector:
        return TimedDetector(build_detector(config), self)

    def add(self, images: int, wall_s: float, cpu_s: float) -> None:
        with self._lock:
            self.images += images
            self.calls += 1
            self.wall_s += wall_s
            self.cpu_s += cpu_s
            self.walls.append(wall_s)
            self.thread_ids.add(threading.get_native_id())

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return self.images, self.wall_s, self.cpu_s


class TimedDetector(Detector):
    """A detector that reports each call's wall and thread CPU time to a meter."""

    type_key: ClassVar[str] = "timed"

    def __init__(self, inner: Detector, meter: InferenceMeter) -> None:
        self.inner = inner
        self.meter = meter

    @property
    def labels(self) -> frozenset[str]:
        return self.inner.labels

    @property
    def input_size(self) -> tuple[int, int]:
        return self.inner.input_size

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.inner.detect(images)
        finally:
            self.meter.add(len(images), time.perf_counter() - wall, time.thread_time() - cpu)


def plaza_watch(camera_id: str, cooldown_s: int) -> CameraWatch:
    zone = Zone.model_validate({"name": "Plaza", "polygon": PLAZA})
    rule = Rule(objects=[ObjectClass.PERSON], zones=["Plaza"], cooldown_s=cooldown_s)
    guard = GuardSpec("guard", rule, {}, ZoneInfo("UTC"))
    return CameraWatch(camera_id, "space", (zone,), (), (guard,))


def bench_pipeline(
    camera_id: str, service: DetectionService, vision: VisionSettings, *, gated: bool = True
) -> tuple[CameraPipeline, CountingWriter]:
    """A pipeline with a fixed watch, a counting writer and a discarding track store."""
    writer = CountingWriter()
    kind = CameraPipeline if gated else FullFramePipeline
    pipeline = kind(
        camera_id,
        database=cast(Database, None),
        service=service,
        writer=writer,
        settings=vision,
        watch=plaza_watch(camera_id, cooldown_s=5),
    )
    pipeline.tracks = DiscardingTrackStore(camera_id, vision.track_flush_s)
    return pipeline, writer


async def warm_up(service: DetectionService, vision: VisionSettings) -> None:
    """Load every detector's model before anything is timed."""
    blank = np.zeros((300, 300, 3), np.uint8)
    for name in service.names:
        await service.detect(name, [blank] * min(2, vision.max_batch))


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def person_detector(vision: VisionSettings) -> str:
    """The detectors a person guard uses: the screen (if it reports persons) and the first
    other configured one reporting persons."""
    screen = vision.detectors.get(vision.screen_detector or "")
    own = [
        f"{name} ({config.type})"
        for name, config in vision.detectors.items()
        if name != vision.screen_detector and ObjectClass.PERSON in labels_for(config)
    ]
    if screen is not None and ObjectClass.PERSON in labels_for(screen):
        screened = f"persons screened by {vision.screen_detector} ({screen.type})"
        return f"{screened}, confirmed by {own[0]}" if own else screened
    return f"persons by {own[0]}" if own else "no detector reports persons"


async def _ignore(change: StatusChange) -> None:
    del change


# -- P1: pipeline against the bare model -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class P1Result:
    label: str
    frames: int
    detected_frames: int
    images: int
    catches: int
    raw_s: float
    pipeline_s: float
    same_images: bool

    @property
    def raw_rate(self) -> float:
        return self.images / self.raw_s

    @property
    def pipeline_rate(self) -> float:
        return self.images / self.pipeline_s

    @property
    def ratio(self) -> float:
        return self.pipeline_rate / self.raw_rate


def run_raw(
    detectors: dict[str, Detector], calls: list[tuple[str, list[Image]]], max_batch: int
) -> float:
    """Seconds the bare detectors take on the recorded calls, chunked as the pool does."""
    started = time.perf_counter()
    for name, images in calls:
        for first in range(0, len(images), max_batch):
            detectors[name].detect(images[first : first + max_batch])
    return time.perf_counter() - started


async def feed(pipeline: CameraPipeline, planes: Sequence[Yuv]) -> None:
    """Give ``pipeline`` (started) the ``planes`` as a camera that always has the next frame
    ready: each arrives through `on_frame` as soon as the pipeline has taken the one before (and
    is working on it), so none is skipped; returns once the last one is done.

    Each `Frame` is made as it arrives and nothing here keeps it, as with the camera's frame
    reader: a frame lives as long as the pipeline holds it (keeping all of them would make every
    BGR conversion write to fresh memory, which the pipeline never does).
    """
    taken = asyncio.Event()
    finished = asyncio.Event()
    process = pipeline.process
    last = len(planes)

    async def taking(frame: Frame, motion: list[Box] | None = None) -> list[Match]:
        taken.set()
        try:
            return await process(frame, motion)
        finally:
            if frame.seq == last:
                finished.set()

    pipeline.process = taking  # type: ignore[method-assign]
    for index, yuv in enumerate(planes):
        pipeline.on_frame(new_frame(yuv, index))
        await taken.wait()
        taken.clear()
    await finished.wait()
    if pipeline.stats.skipped:
        raise RuntimeError(f"{pipeline.camera_id} skipped {pipeline.stats.skipped} frames")


async def run_pipeline(
    planes: Sequence[Yuv], service: DetectionService, vision: VisionSettings, cameras: int = 1
) -> tuple[float, CameraPipeline, CountingWriter]:
    """Seconds ``cameras`` pipelines take to work through their own copies of the frames, all
    at once (each camera's frames in order, each handed over as the previous one is taken);
    the first pipeline."""
    built = [bench_pipeline(f"p1-{index}", service, vision) for index in range(cameras)]

    async def one(pipeline: CameraPipeline) -> None:
        pipeline.start()
        await feed(pipeline, planes)

    started = time.perf_counter()
    runs = [one(pipeline) for pipeline, _ in built]
    await asyncio.gather(*runs)
    elapsed = time.perf_counter() - started
    for pipeline, _ in built:
        await pipeline.stop()
    return elapsed, built[0][0], built[0][1]


async def measure_p1(
    prefix: str, planes: Sequence[Yuv], vision: VisionSettings, repeats: int, cameras: int = 1
) -> P1Result:
    service = LocalDetectionService(vision)
    await service.start()
    try:
        await warm_up(service, vision)
        recorder = RecordingService(service, keep_images=True)
        await run_pipeline(planes, recorder, vision)
        calls = recorder.calls
        images = sum(len(batch) for _, batch in calls)
        detectors = {name: build_detector(vision.detectors[name]) for name, _ in calls}
        for name, detector in detectors.items():
            detector.detect(next(batch for used, batch in calls if used == name)[:1])
        raw_times: list[float] = []
        pipeline_times: list[float] = []
        counter = RecordingService(service, keep_images=False)
        for _ in range(repeats):  # interleaved, so a burst of other load hits both alike
            raw_times.append(run_raw(detectors, calls * cameras, vision.max_batch))
            counter.sizes.clear()
            elapsed, pipeline, writer = await run_pipeline(planes, counter, vision, cameras)
            pipeline_times.append(elapsed)
        sent = sum(counter.sizes)
        used = ", ".join(f"{name} ({vision.detectors[name].type})" for name in detectors)
        cams = f", {cameras} cameras at once" if cameras > 1 else ""
        return P1Result(
            label=f"{prefix}{used}{cams}",
            frames=len(planes) * cameras,
            detected_frames=pipeline.stats.detected_frames * cameras,
            images=images * cameras,
            catches=writer.count,
            raw_s=min(raw_times),
            pipeline_s=min(pipeline_times),
            same_images=sent == images * cameras,
        )
    finally:
        await service.close()


def print_p1(results: list[P1Result], repeats: int) -> None:
    print(f"\nP1  pipeline throughput / bare model on the same crops (best of {repeats})")
    heads = (
        "frames", "det.fr", "images", "raw img/s", "pipe img/s", "pipe fr/s", "raw fr/s",
        "ratio",
    )  # fmt: skip
    print(f"  {'detector used':<62}" + "".join(f"{head:>11}" for head in heads))
    for r in results:
        cells = (
            f"{r.frames}",
            f"{r.detected_frames}",
            f"{r.images}" + ("" if r.same_images else "*"),
            f"{r.raw_rate:.2f}",
            f"{r.pipeline_rate:.2f}",
            f"{r.frames / r.pipeline_s:.2f}",
            f"{r.frames / r.raw_s:.2f}",
            f"{r.ratio:.3f}",
        )
        print(f"  {r.label:<62}" + "".join(f"{cell:>11}" for cell in cells))
    if any(not r.same_images for r in results):
        print("  * the timed pipeline sent a different number of crops than the recorded one")
    for r in results:
        if r.label.startswith("ALTERNATIVE"):
            continue
        verdict = "met" if r.ratio >= GOAL_RATIO else "NOT met"
        print(f"  verdict: ratio {r.ratio:.3f} ({r.label}) vs goal >= {GOAL_RATIO}: {verdict}")


# -- P2: cameras sustained -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class P2Result:
    mode: str
    cameras: int
    window_s: float
    arrived: int
    processed: int
    skipped: int
    detected: int
    objects: int
    images: int
    catches: int
    detector_wall_s: float
    detector_cpu_s: float
    workers: int
    cpu_s: float
    loop_cpu_s: float
    ffmpeg_cpu_s: float
    rss_python: int
    rss_ffmpeg: int
    detect_fps: float

    @property
    def processed_fps(self) -> float:
        return self.processed / self.window_s / self.cameras

    @property
    def arrived_fps(self) -> float:
        return self.arrived / self.window_s / self.cameras

    @property
    def skip_share(self) -> float:
        return self.skipped / self.arrived if self.arrived else 1.0

    @property
    def sustained(self) -> bool:
        return (
            self.processed_fps >= SUSTAINED * self.detect_fps and self.skip_share <= 1 - SUSTAINED
        )

    def cpu_percent(self, seconds: float) -> float:
        return 100 * seconds / self.window_s


def tree_cpu(root: psutil.Process) -> tuple[float, float, float, dict[int, float]]:
    """CPU seconds of this process, of its children, and per thread of this process."""
    own = root.cpu_times()
    children = 0.0
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = child.cpu_times()
            children += times.user + times.system
    threads = {t.id: t.user_time + t.system_time for t in root.threads()}
    return own.user + own.system, children, own.user + own.system + children, threads


def tree_rss(root: psutil.Process) -> tuple[int, int]:
    children = 0
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            children += child.memory_info().rss
    return root.memory_info().rss, children


@dataclass(frozen=True, slots=True)
class _Counters:
    at: float
    arrived: int
    processed: int
    skipped: int
    detected: int
    objects: int
    catches: int
    images: int
    detector_wall_s: float
    detector_cpu_s: float
    own_cpu_s: float
    children_cpu_s: float
    loop_cpu_s: float


def read_counters(
    pipelines: Sequence[CameraPipeline],
    writers: Sequence[CountingWriter],
    meter: InferenceMeter,
    root: psutil.Process,
) -> _Counters:
    images, wall_s, cpu_s = meter.snapshot()
    own, children, _, threads = tree_cpu(root)
    return _Counters(
        at=time.monotonic(),
        arrived=sum(p.stats.frames + p.stats.skipped for p in pipelines),
        processed=sum(p.stats.frames for p in pipelines),
        skipped=sum(p.stats.skipped for p in pipelines),
        detected=sum(p.stats.detected_frames for p in pipelines),
        objects=sum(p.stats.detections for p in pipelines),
        catches=sum(w.count for w in writers),
        images=images,
        detector_wall_s=wall_s,
        detector_cpu_s=cpu_s,
        own_cpu_s=own,
        children_cpu_s=children,
        loop_cpu_s=threads.get(threading.get_native_id(), 0.0),
    )


async def measure_cameras(
    mode: str,
    count: int,
    mp4: Path,
    vision: VisionSettings,
    *,
    gated: bool,
    warmup_s: float,
    window_s: float,
    work: Path,
) -> P2Result:
    settings = Settings(
        data_dir=work / f"{mode}-{count}",
        ingest=IngestSettings(demo_camera=False),
        vision=vision,
    )
    meter = InferenceMeter()
    factory: DetectorFactory = meter.factory
    service = LocalDetectionService(vision, factory=factory)
    await service.start()
    await warm_up(service, vision)
    root = psutil.Process()
    made = [bench_pipeline(f"cam{n}", service, vision, gated=gated) for n in range(count)]
    pipelines = [pipeline for pipeline, _ in made]
    writers = [writer for _, writer in made]
    runners = [
        CameraRunner(
            CameraSource(
                pipeline.camera_id,
                f"file://{mp4}",
                record=True,
                detect=DetectSpec(vision.detect_fps, vision.detect_width),
            ),
            CameraFiles.of(settings, pipeline.camera_id),
            settings.ingest,
            _ignore,
            frame_sink=pipeline.on_frame,
        )
        for pipeline in pipelines
    ]
    for pipeline in pipelines:
        pipeline.start()
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 30
        while not all(p.stats.frames for p in pipelines):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{mode}: not every camera delivered frames within 30 s")
            await asyncio.sleep(0.1)
        await asyncio.sleep(warmup_s)
        before = read_counters(pipelines, writers, meter, root)
        await asyncio.sleep(window_s)
        after = read_counters(pipelines, writers, meter, root)
        rss_python, rss_ffmpeg = tree_rss(root)
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners))
        for pipeline in pipelines:
            await pipeline.stop()
        await service.close()
    return P2Result(
        mode=mode,
        cameras=count,
        window_s=after.at - before.at,
        arrived=after.arrived - before.arrived,
        processed=after.processed - before.processed,
        skipped=after.skipped - before.skipped,
        detected=after.detected - before.detected,
        objects=after.objects - before.objects,
        images=after.images - before.images,
        catches=after.catches - before.catches,
        detector_wall_s=after.detector_wall_s - before.detector_wall_s,
        detector_cpu_s=after.detector_cpu_s - before.detector_cpu_s,
        workers=vision.local_workers,  # threads of the one pool in use (persons)
        cpu_s=(after.own_cpu_s + after.children_cpu_s) - (before.own_cpu_s + before.children_cpu_s),
        loop_cpu_s=after.loop_cpu_s - before.loop_cpu_s,
        ffmpeg_cpu_s=after.children_cpu_s - before.children_cpu_s,
        rss_python=rss_python,
        rss_ffmpeg=rss_ffmpeg,
        detect_fps=vision.detect_fps,
    )


def print_p2_table(title: str, results: list[P2Result]) -> None:
    print(f"  {title}")
    heads = (
        "cams", "in fps/c", "done fps/c", "skip %", "img/frame", "obj/frame", "det busy %",
        "CPU %", "CPU %/cam", "loop %", "ffmpeg %", "infer %", "RSS MiB", "RSS/cam",
        "ffmpeg/cam", "sustained",
    )  # fmt: skip
    print("    " + "".join(f"{head:>11}" for head in heads))
    for r in results:
        total_rss = (r.rss_python + r.rss_ffmpeg) / MIB
        cells = (
            f"{r.cameras}",
            f"{r.arrived_fps:.2f}",
            f"{r.processed_fps:.2f}",
            f"{100 * r.skip_share:.1f}",
            f"{r.images / r.processed if r.processed else 0:.2f}",
            f"{r.objects / r.processed if r.processed else 0:.2f}",
            f"{100 * r.detector_wall_s / r.window_s:.0f}",
            f"{r.cpu_percent(r.cpu_s):.0f}",
            f"{r.cpu_percent(r.cpu_s) / r.cameras:.1f}",
            f"{r.cpu_percent(r.loop_cpu_s):.0f}",
            f"{r.cpu_percent(r.ffmpeg_cpu_s):.0f}",
            f"{100 * r.detector_cpu_s / r.cpu_s if r.cpu_s else 0:.0f}",
            f"{total_rss:.0f}",
            f"{total_rss / r.cameras:.0f}",
            f"{r.rss_ffmpeg / MIB / r.cameras:.0f}",
            "yes" if r.sustained else "no",
        )
        print("    " + "".join(f"{cell:>11}" for cell in cells))


def best_sustained(results: list[P2Result]) -> int:
    return max((r.cameras for r in results if r.sustained), default=0)


def headroom(results: list[P2Result]) -> str:
    """What the largest sustained N says about the ceilings (linear extrapolation)."""
    sustained = [r for r in results if r.sustained]
    if not sustained:
        return "    nothing sustained"
    r = sustained[-1]
    busy = 100 * r.detector_wall_s / r.window_s / max(1, r.workers) / r.cameras
    cpu = r.cpu_percent(r.cpu_s) / r.cameras
    cores = os.cpu_count() or 1
    return (
        f"    per camera at N={r.cameras}: inference thread {busy:.1f} % busy -> ~"
        f"{100 / busy if busy else float('inf'):.1f} cameras fill {max(1, r.workers)} thread(s); "
        f"CPU {cpu:.1f} % of a core -> ~{100 * cores / cpu:.1f} cameras fill {cores} cores"
    )


# -- P3: frame → catch stored ----------------------------------------------------------------


class EventWatcher:
    """Polls the event table; notes when each catch's row first became visible."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen: dict[str, float] = {}
        """event id → seconds from its frame (``started_at``) to the poll that saw it."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="event-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        query = select(Event.id, Event.started_at).where(Event.kind == EventKind.CATCH)
        while True:
            async with self.database.engine.connect() as connection:
                await connection.execution_options(**{READ_ONLY: True})
                rows = (await connection.execute(query)).all()
            now = time.time()
            for event_id, started_at in rows:
                if event_id not in self.seen:
                    at = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
                    self.seen[event_id] = now - at.timestamp()
            await asyncio.sleep(POLL_S)


async def seed(database: Database, mp4: Path) -> str:
    """A user's space with the plaza camera and a person guard (cooldown 0); the camera id."""
    async with database.transaction() as session:
        user = User(email="bench@vision.test", password_hash="x")
        session.add(user)
        await session.flush()
        space = Space(name="Bench", timezone="UTC", created_by=user.id)
        session.add(space)
        await session.flush()
        session.add(SpaceMember(space_id=space.id, user_id=user.id, role=SpaceRole.OWNER))
        camera = Camera(
            space_id=space.id,
            name="Plaza",
            main_url=f"file://{mp4}",
            zones=[{"name": "Plaza", "polygon": PLAZA}],
        )
        rule = {"objects": ["person"], "zones": ["Plaza"], "cooldown_s": 0}
        guard = Guard(space_id=space.id, name="People on the plaza", rule=rule)
        session.add_all([camera, guard])
        await session.flush()
        session.add(GuardCamera(guard_id=guard.id, camera_id=camera.id))
        return camera.id


def per_frame(walls: Sequence[float], sizes: Sequence[int], max_batch: int) -> list[float]:
    """The model's calls grouped by the pipeline call they came from (one camera: in order;
    the pool splits a call into chunks of ``max_batch`` images)."""
    grouped: list[float] = []
    first = 0
    for size in sizes:
        chunks = -(-size // max_batch)
        grouped.append(sum(walls[first : first + chunks]))
        first += chunks
    return grouped


@dataclass(frozen=True, slots=True)
class P3Result:
    seconds: float
    frames: int
    skipped: int
    detected: int
    catches: int
    stored: list[float]
    committed: list[float]
    detect_calls: list[float]
    inference: list[float]
    """In-thread inference per detected frame (its images' calls summed)."""
    per_image: list[float]


async def measure_p3(mp4: Path, vision: VisionSettings, seconds: float, work: Path) -> P3Result:
    data = work / "p3"
    data.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{data / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        data_dir=data,
        database=DatabaseSettings(url=url),
        ingest=IngestSettings(demo_camera=False),
        vision=vision,
    )
    runtime = Runtime(settings, roles=("worker",))
    await runtime.start()
    try:
        database, storage = runtime.infra.database, runtime.infra.storage
        camera_id = await seed(database, mp4)
        await text_embeddings.embed(["bench warm-up"])  # load the text model, as a worker has
        meter = InferenceMeter()
        service = LocalDetectionService(vision, factory=meter.factory)
        await service.start()
        await warm_up(service, vision)
        timing = RecordingService(service, keep_images=False)
        pipeline = CameraPipeline(
            camera_id,
            database=database,
            service=timing,
            writer=CatchWriter(database, storage),
            settings=vision,
        )
        runner = CameraRunner(
            CameraSource(
                camera_id,
                f"file://{mp4}",
                record=True,
                detect=DetectSpec(vision.detect_fps, vision.detect_width),
            ),
            CameraFiles.of(settings, camera_id),
            settings.ingest,
            _ignore,
            frame_sink=pipeline.on_frame,
        )
        watcher = EventWatcher(database)
        watcher.start()
        pipeline.start()
        runner.start()
        warm_calls = len(meter.walls)
        try:
            await asyncio.sleep(seconds)
            await runner.stop()
            await asyncio.sleep(0.5)
            await pipeline.stop()
            for _ in range(100):  # the last catches' rows, for up to 10 s
                if len(watcher.seen) >= pipeline.stats.catches:
                    break
                await asyncio.sleep(0.1)
        finally:
            await watcher.stop()
            await service.close()
        stats = pipeline.stats
        return P3Result(
            seconds=seconds,
            frames=stats.frames,
            skipped=stats.skipped,
            detected=stats.detected_frames,
            catches=stats.catches,
            stored=list(watcher.seen.values()),
            committed=list(stats.catch_latencies_s),
            detect_calls=list(timing.durations),
            inference=per_frame(meter.walls[warm_calls:], timing.sizes, vision.max_batch),
            per_image=meter.walls[warm_calls:],
        )
    finally:
        await runtime.stop()


def print_p3(result: P3Result, label: str) -> None:
    print(f"\nP3  frame decoded -> catch stored ({label}, 1 camera, {result.seconds:.0f} s)")
    skipped = 100 * result.skipped / max(1, result.frames + result.skipped)
    print(
        f"  frames processed {result.frames}, skipped {skipped:.1f} %, detected "
        f"{result.detected}, catches {result.catches}, event rows seen {len(result.stored)}"
    )
    print(f"  {'latency (ms)':<52}{'n':>6}{'p50':>9}{'p99':>9}{'max':>9}")
    rows = (
        ("frame -> event row visible (end to end)", result.stored),
        ("frame -> catch job committed (pipeline's own)", result.committed),
        ("detector inference per detected frame (in-thread)", result.inference),
        ("detector inference per call of the model (in-thread)", result.per_image),
        ("detect call as the pipeline awaits it (pool incl.)", result.detect_calls),
    )
    for name, values in rows:
        if not values:
            print(f"  {name:<52}{0:>6}{'-':>9}{'-':>9}{'-':>9}")
            continue
        p50, p99 = 1000 * percentile(values, 0.5), 1000 * percentile(values, 0.99)
        print(f"  {name:<52}{len(values):>6}{p50:>9.0f}{p99:>9.0f}{1000 * max(values):>9.0f}")
    if result.stored and result.committed:
        relay = statistics.median(result.stored) - statistics.median(result.committed)
        print(f"  outbox relay + worker (difference of the medians): {1000 * relay:.0f} ms")
    print(f"  (event rows polled every {POLL_S * 1000:.0f} ms)")


# -- main ------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def word_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


MODES: dict[str, tuple[str, Callable[[VisionSettings], VisionSettings], bool]] = {
    "gated": ("default settings, motion gating (the answer)", lambda v: v, True),
    "unscreened": (
        "baseline: default detectors without screening (COCO on every region), gated",
        lambda v: v.model_copy(update={"screen_detector": None}),
        True,
    ),
    "full": ("baseline: default settings, gating off (full frame)", lambda v: v, False),
    "alt": (
        "ALTERNATIVE config: only the Open Images SSD (packages), gated",
        lambda v: v.model_copy(update={"detectors": {"packages": OpenImagesSsdConfig()}}),
        True,
    ),
    "workers2": (
        "ALTERNATIVE config: default detectors, local_workers=2, gated",
        lambda v: v.model_copy(update={"local_workers": 2}),
        True,
    ),
    "threads1": (
        "ALTERNATIVE config: default detectors on one thread each, local_workers=2, gated",
        lambda v: v.model_copy(
            update={
                "detectors": {
                    "coco": SsdCocoConfig(threads=1),
                    "packages": OpenImagesSsdConfig(threads=1),
                },
                "local_workers": 2,
            }
        ),
        True,
    ),
    "alt-workers2": (
        "ALTERNATIVE config: only the Open Images SSD, local_workers=2, gated",
        lambda v: v.model_copy(
            update={"detectors": {"packages": OpenImagesSsdConfig()}, "local_workers": 2}
        ),
        True,
    ),
}
"""P2 modes: title, settings from the defaults, gating on. ``--modes`` picks; the two
``*workers2`` ones are not in the default run."""
DEFAULT_MODES = ["gated", "unscreened", "full"]


async def run_p2(
    mp4: Path, vision: VisionSettings, args: argparse.Namespace, work: Path
) -> dict[str, list[P2Result]]:
    print(
        f"\nP2  cameras at {vision.detect_fps:g} detect fps, vtest looped, one process, "
        f"{args.seconds:.0f} s windows; sustained = processed >= {SUSTAINED:.0%} of the rate"
    )
    print(
        "  in/done fps/c: frames arriving / processed per camera; img/frame: images sent to "
        "the detector; obj/frame: objects it found;"
    )
    print(
        "  det busy %: inference threads busy (sum); CPU %: process + FFmpeg (100 = a core); "
        "loop %: event-loop thread; infer %: inference share of the CPU;"
    )
    print("  RSS MiB: process + FFmpeg children at the window's end; ffmpeg/cam: one FFmpeg's")
    results: dict[str, list[P2Result]] = {}
    for mode in args.modes:
        title, adapt, gated = MODES[mode]
        settings = adapt(vision)
        rows: list[P2Result] = []
        for count in args.alt_cameras if mode.startswith("alt") else args.cameras:
            result = await measure_cameras(
                mode,
                count,
                mp4,
                settings,
                gated=gated,
                warmup_s=args.warmup,
                window_s=args.seconds,
                work=work,
            )
            rows.append(result)
            if not result.sustained:
                break  # saturated: more cameras only skip more
        results[mode] = rows
        print_p2_table(f"{title} [{person_detector(settings)}]", rows)
        print(headroom(rows))
    if "gated" in results:
        best = best_sustained(results["gated"])
        verdict = "met" if best >= GOAL_CAMERAS else "NOT met"
        line = f"  verdict: {best} cameras sustained (default config) vs goal >= {GOAL_CAMERAS}"
        if "unscreened" in results:
            line += f"; without screening: {best_sustained(results['unscreened'])}"
        if "full" in results:
            line += f"; gating off: {best_sustained(results['full'])}"
        if "alt" in results:
            line += f"; alternative (Open Images only): {best_sustained(results['alt'])}"
        print(f"{line}: {verdict}")
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="P1 frames (5 fps)")
    parser.add_argument("--repeats", type=int, default=2, help="P1 timed passes (best kept)")
    parser.add_argument(
        "--p1-cameras",
        type=lambda text: [int(n) for n in word_list(text)],
        default=[4],
        help="P1 also with this many cameras at once (the same frames each)",
    )
    parser.add_argument("--cameras", type=int_list, default=[1, 2, 4, 6, 8, 10])
    parser.add_argument("--seconds", type=float, default=20.0, help="P2 window per N")
    parser.add_argument("--warmup", type=float, default=3.0, help="P2 seconds before a window")
    parser.add_argument("--p3-seconds", type=float, default=30.0)
    parser.add_argument("--parts", type=word_list, default=["p1", "p2", "p3"])
    parser.add_argument("--modes", type=word_list, default=DEFAULT_MODES)
    parser.add_argument(
        "--base",
        choices=sorted(name for name, (_, _, gated) in MODES.items() if gated),
        default="gated",
        help="settings P1 and P3 run with (and P2's modes start from); default: the defaults",
    )
    parser.add_argument(
        "--alt-cameras",
        type=int_list,
        default=[4, 6, 8, 10],
        help="N for the alternative Open Images config (it needs far less per camera)",
    )
    args = parser.parse_args()
    quiet_logs()
    vision = MODES[args.base][1](VisionSettings())
    load = os.getloadavg()
    print(
        f"vision pipeline, vtest 768x576 -> {vision.detect_width} px at "
        f"{vision.detect_fps:g} fps, {os.cpu_count()} cores, OpenCV {cv2.__version__}, "
        f"pool: {vision.local_workers} worker(s)/detector, max_batch {vision.max_batch}, "
        f"base settings: {args.base}; "
        f"load average at start {load[0]:.2f}"
    )
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="orin-vision-bench-"))
    try:
        if "p1" in args.parts:
            planes = decode_vtest(args.frames, vision.detect_width)
            p1 = [await measure_p1("", planes, vision, args.repeats)]
            for cameras in args.p1_cameras:
                p1.append(await measure_p1("", planes, vision, args.repeats, cameras))
            if "alt" in args.modes:
                alt = MODES["alt"][1](vision)
                p1.append(await measure_p1("ALTERNATIVE ", planes, alt, args.repeats))
            print_p1(p1, args.repeats)
        if "p2" in args.parts or "p3" in args.parts:
            mp4 = await asyncio.to_thread(transcode_h264, vtest_avi(), work / "vtest.mp4")
            if "p2" in args.parts:
                await run_p2(mp4, vision, args, work)
            if "p3" in args.parts:
                p3 = await measure_p3(mp4, vision, args.p3_seconds, work)
                print_p3(p3, person_detector(vision))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"\ntotal {time.monotonic() - began:.0f} s; load average at end {load[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
