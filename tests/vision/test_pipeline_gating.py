"""The pipeline's gating on real frames with a counting detector: a static scene sends (almost)
nothing to the detector, walking people do; privacy masks are black in what it sees; frames
come from FFmpeg over a pipe as Y4M."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from orin.config import VisionSettings
from orin.guards.rule import Rule
from orin.ingest.frames import Frame, FrameFormatError, FrameReader, open_pipe, parse_header
from orin.vision.detectors.base import Detection, Image
from orin.vision.detectors.config import SsdCocoConfig
from orin.vision.evaluate import GuardSpec
from orin.vision.motion import MotionDetector
from orin.vision.pipeline import CameraPipeline
from orin.vision.transport.base import DetectionService
from orin.vision.watch import CameraWatch
from tests.fixtures.cameras import vtest_avi
from tests.fixtures.waiting import eventually

WIDTH, HEIGHT = 640, 480


class CountingService(DetectionService):
    """Finds nothing; remembers every image it was shown."""

    def __init__(self) -> None:
        super().__init__({"coco": SsdCocoConfig()})
        self.images: list[Image] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        self.images.extend(image.copy() for image in images)
        return [[] for _ in images]


class NoTracks:
    frame_size = (1, 1)

    async def save_active(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def save_ended(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


def pipeline(
    service: DetectionService, masks: tuple[tuple[tuple[float, float], ...], ...] = ()
) -> CameraPipeline:
    guard = GuardSpec("g", Rule(objects=["person"]), {}, ZoneInfo("UTC"))  # type: ignore[list-item]
    watch = CameraWatch("cam", "space", (), masks, (guard,))
    made = CameraPipeline(
        "cam",
        database=None,  # type: ignore[arg-type]
        service=service,
        writer=None,  # type: ignore[arg-type]
        settings=VisionSettings(full_frame_interval_s=5),
        watch=watch,
    )
    made.tracks = NoTracks()  # type: ignore[assignment]
    return made


def vtest_frames(count: int, *, still: bool) -> list[Frame]:
    """``count`` frames at 5 fps: the video (every second frame) or its first frame repeated
    with sensor noise."""
    capture = cv2.VideoCapture(str(vtest_avi()))
    rng = np.random.default_rng(7)
    frames: list[Frame] = []
    first: np.ndarray[Any, Any] | None = None
    while len(frames) < count:
        ok, image = capture.read()
        assert ok
        capture.read()
        image = cv2.resize(image, (WIDTH, HEIGHT))
        if still:
            first = image if first is None else first
            noise = rng.normal(0, 2.0, first.shape)
            image = np.clip(first + noise, 0, 255).astype(np.uint8)
        yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), np.uint8)
        frames.append(Frame(1_000.0 + len(frames) * 0.2, WIDTH, HEIGHT, yuv))
    return frames


async def test_a_static_scene_sends_almost_nothing_to_the_detector() -> None:
    service = CountingService()
    still = pipeline(service)
    for frame in vtest_frames(100, still=True):  # 20 s
        await still.process(frame)
    # Only the periodic full-frame checks (every 5 s): 4 of 100 frames.
    assert still.stats.detected_frames == still.stats.full_frame_checks
    assert still.stats.detected_frames <= 5
    assert still.stats.motion_frames <= 2

    moving = pipeline(CountingService())
    for frame in vtest_frames(100, still=False):
        await moving.process(frame)
    assert moving.stats.detected_frames >= 90
    assert moving.stats.regions > moving.stats.full_frame_checks


async def test_the_detector_sees_privacy_masks_black() -> None:
    service = CountingService()
    masked = pipeline(service, masks=(((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)),))
    for frame in vtest_frames(2, still=False):
        await masked.process(frame)
    full = service.images[0]  # the first frame is a full-frame check
    assert full.shape[:2] == (HEIGHT, WIDTH)
    assert int(full[:, : WIDTH // 2 - 1].max()) == 0
    assert full[:, WIDTH // 2 + 1 :].mean() > 50


class GatedService(CountingService):
    """`CountingService` whose calls wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()

    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        self.waiting.set()
        await self.gate.wait()
        return await super().detect(detector, images)


class CountingMotion:
    """Counts `MotionDetector.update` calls (patched onto the class)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        update = MotionDetector.update

        def counted(detector: MotionDetector, gray: Any) -> list[Any]:
            self.calls += 1
            return update(detector, gray)

        monkeypatch.setattr(MotionDetector, "update", counted)


async def until(check: Callable[[], bool], what: str) -> None:
    async def checked() -> bool:
        return check()

    await eventually(checked, within_s=10, what=what, interval_s=0.005)


async def test_motion_is_found_on_arrival_while_the_previous_frame_is_in_the_detector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    motion = CountingMotion(monkeypatch)
    service = GatedService()
    watcher = pipeline(service)
    frames = vtest_frames(4, still=False)
    watcher.start()
    try:
        watcher.on_frame(frames[0])  # sets the motion detector up
        await until(lambda: len(service.images) == 1, "the first frame's full-frame check")
        assert motion.calls == 1
        service.gate.clear()
        service.waiting.clear()
        watcher.on_frame(frames[1])
        await service.waiting.wait()  # frame 1 is in the detector
        watcher.on_frame(frames[2])  # arrives meanwhile: its motion is found now ...
        assert motion.calls == 3
        watcher.on_frame(frames[3])  # ... and this one replaces it (frame 2 is skipped)
        assert motion.calls == 4
        service.gate.set()
        await until(lambda: watcher.stats.frames == 3, "frames 0, 1 and 3 processed")
        assert watcher.stats.skipped == 1
        assert motion.calls == 4  # processing used the motion found on arrival
    finally:
        await watcher.stop()


async def test_a_failure_on_arrival_leaves_the_frame_to_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = CountingService()
    watcher = pipeline(service)
    frames = vtest_frames(2, still=False)
    await watcher.process(frames[0])  # sets the motion detector up
    update = MotionDetector.update
    failures = iter([RuntimeError("cv2 broke")])

    def flaky(detector: MotionDetector, gray: Any) -> list[Any]:
        if (failure := next(failures, None)) is not None:
            raise failure
        return update(detector, gray)

    monkeypatch.setattr(MotionDetector, "update", flaky)
    watcher.on_frame(frames[1])  # the reader's callback does not raise
    watcher.start()
    try:
        await until(lambda: watcher.stats.frames == 2, "the frame processed all the same")
    finally:
        await watcher.stop()
    assert watcher.stats.motion_frames == 1  # the second frame's, found by `process`
    assert watcher.stats.regions > watcher.stats.full_frame_checks


async def test_frames_handed_over_one_by_one_send_what_direct_processing_sends() -> None:
    frames = vtest_frames(30, still=False)
    direct = CountingService()
    processed = pipeline(direct)
    for frame in frames:
        await processed.process(frame)

    handed = GatedService()
    fed = pipeline(handed)
    fed.start()
    try:
        for index, frame in enumerate(vtest_frames(30, still=False)):
            fed.on_frame(frame)
            await until(lambda: fed.stats.frames == index + 1, f"frame {index} taken")  # noqa: B023
        await until(lambda: len(handed.images) == len(direct.images), "the last frame's crops")
    finally:
        await fed.stop()
    assert fed.stats.skipped == 0
    assert fed.stats.regions == processed.stats.regions > 30
    assert len(handed.images) == len(direct.images)
    for mine, theirs in zip(handed.images, direct.images, strict=True):
        assert np.array_equal(mine, theirs)


def test_y4m_headers() -> None:
    assert parse_header(b"YUV4MPEG2 W640 H360 F5:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n") == (
        640,
        360,
    )
    for bad in (b"RIFF....\n", b"YUV4MPEG2 W641 H360\n", b"YUV4MPEG2 W640 H360 C444\n"):
        with pytest.raises(FrameFormatError):
            parse_header(bad)


async def test_frames_arrive_from_ffmpeg_over_a_pipe() -> None:
    read_fd, write_fd = open_pipe()
    ffmpeg = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
        "testsrc2=size=320x240:rate=10", "-t", "2", "-filter:v", "fps=5,scale=160:-2",
        "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", f"pipe:{write_fd}",
        pass_fds=(write_fd,),
    )  # fmt: skip
    os.close(write_fd)
    got: list[Frame] = []
    await asyncio.wait_for(FrameReader(read_fd, got.append).run(), 30)
    assert await asyncio.wait_for(ffmpeg.wait(), 30) == 0
    assert 9 <= len(got) <= 11
    assert {(frame.width, frame.height) for frame in got} == {(160, 120)}
    assert got[0].gray.shape == (120, 160)
    assert got[0].bgr().shape == (120, 160, 3)
    assert [frame.seq for frame in got] == list(range(1, len(got) + 1))


class PersonService(CountingService):
    """Sees one person standing at the same place in every image it is shown."""

    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        await super().detect(detector, images)
        return [[Detection("person", 0.9, 100, 100, 140, 220)] for _ in images]


class FlakyWriter:
    """Fails the first write (storage down), then stores."""

    def __init__(self) -> None:
        self.calls = 0
        self.stored: list[str] = []

    async def write(self, context: Any, match: Any, image: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("object storage unreachable")
        self.stored.append(match.track_id)
        return "id"


async def test_a_catch_that_cannot_be_stored_is_tried_again() -> None:
    writer = FlakyWriter()
    watcher = pipeline(PersonService())
    watcher.writer = writer  # type: ignore[assignment]
    for frame in vtest_frames(12, still=True):
        await watcher.process(frame)
    assert writer.calls == 2
    assert len(writer.stored) == 1
    assert watcher.stats.catches == 1
