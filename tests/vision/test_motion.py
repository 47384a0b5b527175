"""Motion gating: quiet on a still (noisy) scene, boxes where people walk, masks, lights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orin.vision.motion import MotionConfig, MotionDetector, _shrink
from orin.vision.regions import Box
from tests.fixtures.cameras import vtest_avi

W, H = 640, 480
Gray = NDArray[np.uint8]


@pytest.fixture(scope="module")
def plaza() -> list[Gray]:
    """The first 100 frames of the pedestrian plaza, 640x480 grey like the detect stream."""
    capture = cv2.VideoCapture(str(vtest_avi()))
    frames: list[Gray] = []
    while len(frames) < 100:
        ok, bgr = capture.read()
        if not ok:
            break
        small = cv2.resize(bgr, (W, H), interpolation=cv2.INTER_AREA)
        frames.append(np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8))
    capture.release()
    assert len(frames) == 100
    return frames


def noisy(frame: Gray, rng: np.random.Generator, sigma: float = 4.0) -> Gray:
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def textured_scene(seed: int = 1) -> Gray:
    """A still, textured background (smooth blobs, like a real scene at detect resolution)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(60, 180, (24, 32), dtype=np.uint8)
    return np.asarray(cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC), np.uint8)


def with_square(scene: Gray, x: int, y: int, side: int = 60) -> Gray:
    frame = scene.copy()
    frame[y : y + side, x : x + side] = 250
    return frame


def inside(box: Box, x1: float, y1: float, x2: float, y2: float) -> bool:
    return box.x1 >= x1 and box.y1 >= y1 and box.x2 <= x2 and box.y2 <= y2


def test_a_still_scene_with_sensor_noise_reports_nothing(plaza: list[Gray]) -> None:
    motion = MotionDetector(W, H)
    rng = np.random.default_rng(0)
    boxes = [motion.update(noisy(plaza[0], rng)) for _ in range(50)]
    assert sum(len(b) for b in boxes[3:]) == 0
    assert motion.motion_fraction < 0.001


def test_people_walking_give_boxes_where_they_are(plaza: list[Gray]) -> None:
    motion = MotionDetector(W, H)
    per_frame = [motion.update(frame) for frame in plaza]
    assert per_frame[0] == []  # the first frame is learnt
    later = per_frame[10:]
    assert sum(1 for boxes in later if boxes) >= 0.9 * len(later)
    for boxes in later:
        for box in boxes:
            assert 0 <= box.x1 < box.x2 <= W
            assert 0 <= box.y1 < box.y2 <= H
            assert box.area < 0.5 * W * H  # people, not the whole picture
    # Frame 80 (seen by eye): a man walking on the right, a group of four by the lamp post.
    for x, y in [(487, 200), (322, 175), (380, 170), (405, 170)]:
        assert any(b.x1 <= x <= b.x2 and b.y1 <= y <= b.y2 for b in per_frame[80])
    # Nobody crosses the lawn in the foreground.
    assert all(box.y2 < 380 for boxes in later for box in boxes)
    assert 0 < motion.motion_fraction < 0.3


def test_a_moving_object_is_boxed_and_nearby_blobs_merge() -> None:
    scene = textured_scene()
    motion = MotionDetector(W, H)
    for _ in range(5):
        assert motion.update(scene) == []
    boxes = motion.update(with_square(scene, 400, 200))
    assert len(boxes) == 1
    (box,) = boxes
    assert inside(box, 385, 185, 475, 275)
    assert box.area >= 60 * 60


def test_a_mask_hides_motion_inside_it_only() -> None:
    scene = textured_scene()
    left_half = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
    masked = MotionDetector(W, H, mask_polygons=[left_half])
    plain = MotionDetector(W, H)
    for detector in (masked, plain):
        detector.update(scene)
    for step in range(10):
        frame = with_square(scene, 60 + 10 * step, 200)  # stays inside the left half
        assert masked.update(frame) == []
        assert masked.motion_fraction == 0.0
        assert plain.update(frame) != []
    # Outside the mask, motion still shows.
    boxes = masked.update(with_square(scene, 450, 100))
    assert boxes
    assert all(box.x1 >= W // 2 for box in boxes)


def test_a_global_brightness_jump_is_relearnt_not_reported() -> None:
    scene = textured_scene()
    motion = MotionDetector(W, H)
    for _ in range(5):
        motion.update(scene)
    brighter = np.clip(scene.astype(np.int16) + 60, 0, 255).astype(np.uint8)
    assert motion.update(brighter) == []
    assert (motion.motion_fraction > 0.9, motion.settling) == (True, True)
    rng = np.random.default_rng(3)
    after = [motion.update(noisy(brighter, rng, 2.0)) for _ in range(10)]
    assert all(boxes == [] for boxes in after)
    assert not motion.settling
    # Real motion is reported again straight away.
    assert motion.update(with_square(brighter, 100, 100, 40)) != []


def test_small_blobs_below_the_contour_area_are_ignored() -> None:
    scene = textured_scene()
    motion = MotionDetector(W, H, MotionConfig(contour_area=0.01))
    motion.update(scene)
    assert motion.update(with_square(scene, 300, 300, side=20)) == []
    assert motion.motion_fraction > 0
    assert motion.update(with_square(scene, 300, 300, side=120)) != []


def test_reset_relearns_and_wrong_sizes_are_refused() -> None:
    scene = textured_scene()
    motion = MotionDetector(W, H)
    motion.update(scene)
    motion.reset()
    assert motion.update(with_square(scene, 100, 100)) == []  # learnt as the background
    with pytest.raises(ValueError, match="640x480"):
        motion.update(np.zeros((H, W + 2), np.uint8))
    with pytest.raises(ValueError, match="positive"):
        MotionDetector(0, H)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((480, 640), (240, 180)), ((576, 704), (220, 180)), ((180, 240), (240, 180))],
)
def test_shrinking_stays_within_a_grey_level_of_an_area_resize(
    plaza: list[Gray], shape: tuple[int, int], size: tuple[int, int]
) -> None:
    frame = np.asarray(cv2.resize(plaza[50], (shape[1], shape[0])), np.uint8)
    shrunk = _shrink(frame, size)
    area = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    assert shrunk.shape == (size[1], size[0])
    # Blurred as the detector does, the two agree to within a few grey levels anywhere (a
    # motion threshold is 25).
    difference = cv2.absdiff(cv2.GaussianBlur(shrunk, (3, 3), 0), cv2.GaussianBlur(area, (3, 3), 0))
    assert float(np.percentile(difference, 99)) <= 6
    assert float(difference.mean()) < 1.5
