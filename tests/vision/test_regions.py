"""Detection regions: model-sized squares around boxes, inside the frame, merged and capped;
detections from overlapping regions put back together."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from orin.vision.detectors.base import Detection
from orin.vision.regions import (
    Box,
    Region,
    full_frame,
    merge_detections,
    region_around,
    regions_for,
)

W, H = 640, 480


def holds(region: Region, box: tuple[float, float, float, float]) -> bool:
    return region.contains(box)


def in_frame(region: Region, frame_w: int, frame_h: int) -> bool:
    return (
        region.x >= 0
        and region.y >= 0
        and region.w >= 1
        and region.h >= 1
        and region.x2 <= frame_w
        and region.y2 <= frame_h
    )


def overlap_area(a: Region, b: Region) -> int:
    return max(0, min(a.x2, b.x2) - max(a.x, b.x)) * max(0, min(a.y2, b.y2) - max(a.y, b.y))


def det(label: str, score: float, x1: float, y1: float, x2: float, y2: float) -> Detection:
    return Detection(label, score, x1, y1, x2, y2)


def test_a_small_box_gets_a_model_sized_square_centred_on_it() -> None:
    box = (300.0, 200.0, 330.0, 260.0)
    region = region_around(box, W, H, model_size=300)
    assert (region.w, region.h) == (300, 300)
    assert holds(region, box)
    cx, cy = Box(*box).center
    assert abs(region.x + region.w / 2 - cx) <= 1
    assert abs(region.y + region.h / 2 - cy) <= 1


def test_a_big_box_gets_a_margin() -> None:
    region = region_around((100, 100, 300, 420), W, H, model_size=300)
    assert region.w == region.h == 384  # 1.2 x 320
    assert holds(region, (100, 100, 300, 420))


def test_near_the_edge_the_region_shifts_inside() -> None:
    box = (600.0, 440.0, 639.0, 479.0)
    region = region_around(box, W, H, model_size=300)
    assert region == Region(340, 180, 300, 300)
    assert holds(region, box)
    top_left = region_around((-20, -10, 15, 30), W, H)
    assert top_left == Region(0, 0, 300, 300)


def test_a_frame_smaller_than_the_side_gives_the_frame_dimension() -> None:
    wide = region_around((10, 10, 50, 50), 640, 240, model_size=300)
    assert (wide.y, wide.h, wide.w) == (0, 240, 300)  # full height, not square
    tiny = region_around((10, 10, 50, 50), 200, 150, model_size=300)
    assert tiny == full_frame(200, 150) == Region(0, 0, 200, 150)


def test_overlapping_regions_merge_into_one_square_and_far_ones_do_not() -> None:
    near = [(100, 100, 130, 160), (160, 120, 190, 180)]
    (merged,) = regions_for(near, W, H, model_size=300)
    assert merged.w == merged.h
    assert all(holds(merged, b) for b in near)
    far = [(20, 20, 50, 80), (560, 380, 600, 460)]
    regions = regions_for(far, W, H, model_size=200)
    assert len(regions) == 2
    assert all(r.w == r.h == 200 for r in regions)


def test_the_region_cap_merges_the_closest_pair() -> None:
    boxes = [
        (200, 200, 220, 220),
        (260, 200, 280, 220),
        (1000, 500, 1020, 520),
        (1500, 800, 1520, 820),
    ]
    regions = regions_for(boxes, 1920, 1080, model_size=100, max_regions=3)
    assert len(regions) == 3
    # The two boxes 40 px apart (squares overlapping by 40 %) went together; the others keep
    # their own squares.
    assert any(holds(r, boxes[0]) and holds(r, boxes[1]) for r in regions)
    assert sorted(r.w for r in regions) == [100, 100, 160]
    assert len(regions_for(boxes, 1920, 1080, model_size=100, max_regions=1)) == 1


def test_crop_is_a_view_of_the_region() -> None:
    frame = np.arange(H * W * 3, dtype=np.uint32).astype(np.uint8).reshape(H, W, 3)
    region = Region(10, 20, 300, 200)
    crop = region.crop(frame)
    assert crop.shape == (200, 300, 3)
    assert crop.base is frame or np.shares_memory(crop, frame)
    assert full_frame(W, H).crop(frame).shape == (H, W, 3)


def test_to_frame_moves_crop_detections() -> None:
    region = Region(100, 50, 300, 300)
    (moved,) = region.to_frame([det("person", 0.9, 10, 20, 30, 40)])
    assert (moved.x1, moved.y1, moved.x2, moved.y2) == (110, 70, 130, 90)


@st.composite
def frames_and_boxes(draw: st.DrawFn) -> tuple[int, int, list[tuple[float, float, float, float]]]:
    """A frame size and 1-12 boxes inside it."""
    frame_w = draw(st.integers(16, 1920))
    frame_h = draw(st.integers(16, 1080))
    unit = st.floats(0, 1)
    boxes = []
    for _ in range(draw(st.integers(1, 12))):
        xa, xb, ya, yb = draw(unit), draw(unit), draw(unit), draw(unit)
        boxes.append(
            (
                min(xa, xb) * frame_w,
                min(ya, yb) * frame_h,
                max(xa, xb) * frame_w,
                max(ya, yb) * frame_h,
            )
        )
    return frame_w, frame_h, boxes


@settings(max_examples=200, deadline=None)
@given(
    case=frames_and_boxes(),
    model_size=st.integers(32, 640),
    max_regions=st.integers(1, 6),
    overlap=st.floats(0.05, 1.0),
)
def test_regions_lie_in_the_frame_and_contain_every_box(
    case: tuple[int, int, list[tuple[float, float, float, float]]],
    model_size: int,
    max_regions: int,
    overlap: float,
) -> None:
    frame_w, frame_h, boxes = case
    regions = regions_for(
        boxes, frame_w, frame_h, model_size, merge_overlap=overlap, max_regions=max_regions
    )
    assert 1 <= len(regions) <= max_regions
    for region in regions:
        assert in_frame(region, frame_w, frame_h)
        assert region.w >= min(model_size, frame_w)
        assert region.h >= min(model_size, frame_h)
        assert region.w == region.h or region.w == frame_w or region.h == frame_h
    for box in boxes:
        assert any(holds(r, box) for r in regions)
    for i, a in enumerate(regions):  # nothing left that should have merged
        for b in regions[i + 1 :]:
            assert overlap_area(a, b) < overlap * min(a.area, b.area)


def test_nms_keeps_the_best_of_one_class_and_every_class() -> None:
    a = Region(0, 0, 300, 300)
    b = Region(150, 0, 300, 300)
    merged = merge_detections(
        [
            (a, [det("person", 0.7, 160, 50, 220, 200), det("dog", 0.6, 165, 150, 215, 200)]),
            (b, [det("person", 0.9, 162, 52, 222, 198)]),
        ]
    )
    assert sorted((d.label, d.confidence) for d in merged) == [("dog", 0.6), ("person", 0.9)]


def test_a_cut_detection_gives_way_to_the_region_that_saw_it_whole() -> None:
    a = Region(0, 0, 300, 300)
    b = Region(200, 0, 300, 300)
    cut = det("person", 0.95, 260, 100, 300, 250)  # touches a's right edge, which is inside
    whole = det("person", 0.6, 262, 98, 340, 252)  # b sees the whole body; IoU with cut ~0.5
    assert merge_detections([(a, [cut]), (b, [whole])]) == [whole]
    # Nobody else saw it: the cut one is all there is, so it stays.
    assert merge_detections([(a, [cut]), (b, [])]) == [cut]
    # Another label in b does not count.
    car = det("car", 0.6, 262, 98, 340, 252)
    assert set(merge_detections([(a, [cut]), (b, [car])])) == {cut, car}


def test_the_frame_border_does_not_cut() -> None:
    a = Region(0, 0, 300, 300)
    b = Region(0, 100, 300, 300)
    at_border = det("person", 0.9, 0, 150, 40, 280)  # touches the frame's left edge
    other = det("person", 0.5, 1, 140, 60, 290)
    kept = merge_detections([(a, [at_border]), (b, [other])], W, H)
    assert at_border in kept
