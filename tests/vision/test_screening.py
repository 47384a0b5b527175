"""Screening: the fast model follows objects, the accurate one confirms them before guards see
them (`orin.vision.screening`), on synthetic frames with scripted detectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from orin.config import VisionSettings
from orin.guards.rule import Rule
from orin.ingest.frames import Frame
from orin.vision.detectors.base import Detection, Image
from orin.vision.detectors.config import OpenImagesSsdConfig, SsdCocoConfig
from orin.vision.evaluate import GuardSpec
from orin.vision.pipeline import CameraPipeline
from orin.vision.screening import plan_detectors
from orin.vision.tracker import Tracker
from orin.vision.transport.base import DetectionService
from orin.vision.watch import CameraWatch

WIDTH, HEIGHT = 640, 480
FPS = 5


class BlobService(DetectionService):
    """Both detectors find the white blob in what they are shown, as a person: the screen at
    0.55, the confirming one at 0.9 only while ``coco_sees`` is set."""

    def __init__(self) -> None:
        super().__init__({"coco": SsdCocoConfig(), "packages": OpenImagesSsdConfig()})
        self.coco_sees = False
        self.calls: dict[str, int] = {"coco": 0, "packages": 0}
        self.images: dict[str, int] = {"coco": 0, "packages": 0}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        self.calls[detector] += 1
        self.images[detector] += len(images)
        if detector == "coco" and not self.coco_sees:
            return [[] for _ in images]
        score = 0.9 if detector == "coco" else 0.55
        return [_blobs(image, score) for image in images]


def _blobs(image: Image, score: float) -> list[Detection]:
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    mask = (gray > 200).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    found = []
    for x, y, w, h, area in stats[1:count].tolist():
        if area >= 200:
            found.append(Detection("person", score, x, y, x + w, y + h))
    return found


class Writer:
    def __init__(self) -> None:
        self.confidences: list[float] = []

    async def write(self, context: Any, match: Any, image: Any, **kwargs: Any) -> str:
        self.confidences.append(match.confidence)
        return "id"


class NoTracks:
    frame_size = (1, 1)

    async def save_active(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def save_ended(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


def _walker(index: int) -> Frame:
    """A 40x120 white 'person' walking right across a grey scene, 4 px a frame."""
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    x = 60 + index * 4
    image[200:320, x : x + 40] = 255
    yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), np.uint8)
    return Frame(1_000.0 + index / FPS, WIDTH, HEIGHT, yuv)


def _pipeline(service: DetectionService, writer: Writer, **settings: Any) -> CameraPipeline:
    rule = Rule(objects=["person"], cooldown_s=3600)  # type: ignore[list-item]
    watch = CameraWatch("cam", "space", (), (), (GuardSpec("g", rule, {}, ZoneInfo("UTC")),))
    made = CameraPipeline(
        "cam",
        database=None,  # type: ignore[arg-type]
        service=service,
        writer=writer,  # type: ignore[arg-type]
        settings=VisionSettings(**settings),
        watch=watch,
    )
    made.tracks = NoTracks()  # type: ignore[assignment]
    return made


def test_the_plan_screens_shared_labels_and_confirms_them_with_their_own_detector() -> None:
    service = BlobService()
    plan = plan_detectors(service, {"person", "package", "truck"}, "packages")
    assert plan.regions == (
        ("packages", frozenset({"person", "package"})),
        ("coco", frozenset({"truck"})),
    )
    assert plan.confirm_by == {"person": "coco"}
    assert plan.confirming("coco") == frozenset({"person"})

    unscreened = plan_detectors(service, {"person", "package"}, None)
    assert unscreened.regions == (
        ("coco", frozenset({"person"})),
        ("packages", frozenset({"package"})),
    )
    assert unscreened.confirm_by == {}
    # A screen that is not configured is ignored.
    assert plan_detectors(service, {"person"}, "nope").confirm_by == {}


async def test_guards_wait_for_the_confirming_detector_and_take_its_confidence() -> None:
    service = BlobService()
    writer = Writer()
    watcher = _pipeline(service, writer, full_frame_interval_s=60)
    # The first frame is a full-frame check (through the screen too).
    for index in range(40):  # 8 s
        await watcher.process(_walker(index))
    assert writer.confidences == []
    assert watcher.stats.confirmed_tracks == 0
    tries = watcher.stats.confirmation_crops
    # Tried when the tracker confirmed the track, then after 0.5, 1, 2 and 4 s: not per frame.
    assert 3 <= tries <= 6
    assert service.images["packages"] >= 35

    service.coco_sees = True
    for index in range(40, 80):
        await watcher.process(_walker(index))
    assert len(writer.confidences) == 1
    assert writer.confidences[0] >= 0.9  # the confirming detector's scale, not the screen's
    assert watcher.stats.confirmed_tracks == 1
    # The accurate model ran only for the confirmation tries.
    assert service.calls["coco"] == watcher.stats.confirmation_crops


async def test_without_a_screen_every_region_goes_to_the_accurate_model() -> None:
    service = BlobService()
    service.coco_sees = True
    writer = Writer()
    watcher = _pipeline(service, writer, full_frame_interval_s=60, screen_detector=None)
    for index in range(20):
        await watcher.process(_walker(index))
    assert service.calls["packages"] == 0
    assert service.calls["coco"] >= 15
    assert len(writer.confidences) == 1
    assert watcher.stats.confirmation_crops == 0


def test_a_confirmed_track_takes_the_higher_median() -> None:
    tracker = Tracker("cam")
    det = Detection("person", 0.55, 10, 10, 50, 130)
    for step in range(5):
        update = tracker.update([det], step * 0.2)
    (track,) = update.active
    before = (track.confirmed, track.confidence)
    track.confirm(0.92)
    track.confirm(0.8)
    assert before == (False, 0.55)
    assert track.confirmed
    assert track.confidence == (0.92 + 0.8) / 2
    track.confirm(0.1)  # a poor extra score cannot pull it under the screen's own
    assert track.confidence == 0.8
