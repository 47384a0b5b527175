"""Where to run the detector: square crops around motion and tracked objects, and back again.

A detector shrinks whatever it is given to its own input (e.g. 300x300). Running it on the whole
640 px frame makes a person 40 px tall a dozen pixels; a crop about the model's size around that
person shows them at native resolution. So each box of interest (motion, or a tracked object to
refresh) becomes a square *region*:

* centred on the box, side ``max(model_size, scale x longest box side)`` so small things keep
  their pixels and big ones fit with a margin;
* shifted to lie inside the frame, and clipped to it where the frame is smaller than the side
  (then the region spans that whole dimension and is not square);
* regions overlapping a lot merge into one square covering both, repeated until none do, and
  beyond ``max_regions`` the pair with the smallest covering square merges (each merge still
  contains every box it covered).

Detections from several regions are put back together with `merge_detections`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from orin.vision.detectors.base import Detection

__all__ = [
    "Box",
    "Region",
    "box_iou",
    "full_frame",
    "merge_detections",
    "region_around",
    "regions_for",
]


class Box(NamedTuple):
    """An axis-aligned box in frame pixels: top-left (x1, y1), bottom-right (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    @classmethod
    def of(cls, detection: Detection) -> Box:
        """A detection's box."""
        return cls(detection.x1, detection.y1, detection.x2, detection.y2)


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _area(a: Sequence[float]) -> float:
    return max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes (0 when either is empty)."""
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Region:
    """A crop of the frame in whole pixels: top-left (x, y), width w, height h."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def box(self) -> Box:
        return Box(self.x, self.y, self.x2, self.y2)

    def crop(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """This region of a frame (HxW or HxWxC): a view, not a copy."""
        return frame[self.y : self.y2, self.x : self.x2]

    def to_frame(self, detections: Iterable[Detection]) -> list[Detection]:
        """Detections in this crop's pixels, moved to frame pixels."""
        return [d.shifted(self.x, self.y) for d in detections]

    def contains(self, box: Sequence[float], margin: float = 0.0) -> bool:
        """Whether ``box`` lies inside, at least ``margin`` pixels from every edge."""
        return (
            box[0] >= self.x + margin
            and box[1] >= self.y + margin
            and box[2] <= self.x2 - margin
            and box[3] <= self.y2 - margin
        )


def full_frame(frame_w: int, frame_h: int) -> Region:
    """The region that is the whole frame."""
    _check_frame(frame_w, frame_h)
    return Region(0, 0, frame_w, frame_h)


def region_around(
    box: Sequence[float],
    frame_w: int,
    frame_h: int,
    model_size: int = 300,
    scale: float = 1.2,
) -> Region:
    """The square region for one box (see the module docstring), inside the frame."""
    _check_frame(frame_w, frame_h)
    x1 = min(max(math.floor(box[0]), 0), frame_w)
    y1 = min(max(math.floor(box[1]), 0), frame_h)
    x2 = min(max(math.ceil(box[2]), x1), frame_w)
    y2 = min(max(math.ceil(box[3]), y1), frame_h)
    side = max(model_size, math.ceil(max(x2 - x1, y2 - y1) * scale))
    return _square(x1, y1, x2, y2, side, frame_w, frame_h)


def regions_for(
    boxes: Iterable[Sequence[float]],
    frame_w: int,
    frame_h: int,
    model_size: int = 300,
    *,
    scale: float = 1.2,
    merge_overlap: float = 0.5,
    max_regions: int = 4,
) -> list[Region]:
    """Regions covering every box: one square each, merged (see the module docstring).

    Two regions merge when their intersection is at least ``merge_overlap`` of the smaller
    one's area; while more than ``max_regions`` remain, the pair with the smallest covering
    square merges. Every box (clipped to the frame) lies inside one of the returned regions,
    and no two returned regions overlap by ``merge_overlap``.
    """
    if max_regions < 1:
        raise ValueError("max_regions must be at least 1")
    regions = [region_around(b, frame_w, frame_h, model_size, scale) for b in boxes]
    while True:
        pair = _overlapping_pair(regions, merge_overlap)
        if pair is None and len(regions) > max_regions:
            pair = min(
                ((i, j) for i in range(len(regions)) for j in range(i + 1, len(regions))),
                key=lambda p: _cover(regions[p[0]], regions[p[1]], frame_w, frame_h).area,
            )
        if pair is None:
            return regions
        i, j = pair
        regions[i] = _cover(regions[i], regions[j], frame_w, frame_h)
        del regions[j]


def merge_detections(
    per_region: Sequence[tuple[Region, Sequence[Detection]]],
    frame_w: int | None = None,
    frame_h: int | None = None,
    *,
    iou_threshold: float = 0.5,
    edge_px: float = 2.0,
) -> list[Detection]:
    """One list of detections from several (possibly overlapping) regions.

    Detections must already be in frame pixels (`Region.to_frame`). A detection within
    ``edge_px`` of an edge of its region shows a cut object; it is dropped when another region
    holds it whole *and* that region reported the same label there uncut (most of the cut box
    covered by it), since that one saw the object entire. Given the frame's size, region
    edges on the frame's border do not cut (the object is cut by the frame, which no
    region can help). What remains goes through class-wise non-maximum suppression at
    ``iou_threshold``, best confidence first.
    """
    frame_size = None if frame_w is None or frame_h is None else (frame_w, frame_h)
    cut: list[list[bool]] = [
        [_is_cut(d, region, edge_px, frame_size) for d in dets] for region, dets in per_region
    ]
    kept: list[Detection] = []
    for i, (_, dets) in enumerate(per_region):
        for k, det in enumerate(dets):
            if cut[i][k] and _seen_whole_elsewhere(det, i, per_region, cut, edge_px, frame_size):
                continue
            kept.append(det)
    return _nms(kept, iou_threshold)


def _check_frame(frame_w: int, frame_h: int) -> None:
    if frame_w < 1 or frame_h < 1:
        raise ValueError(f"frame size must be positive, got {frame_w}x{frame_h}")


def _square(x1: int, y1: int, x2: int, y2: int, side: int, frame_w: int, frame_h: int) -> Region:
    """A sidexside region centred on the box (x1, y1, x2, y2), clipped and shifted into the frame.

    The box must lie in the frame and ``side`` be at least its longest side; the region then
    contains the box.
    """
    w = min(side, frame_w)
    h = min(side, frame_h)
    x = min(max(x1 + (x2 - x1 - w) // 2, 0), frame_w - w)
    y = min(max(y1 + (y2 - y1 - h) // 2, 0), frame_h - h)
    return Region(x, y, w, h)


def _cover(a: Region, b: Region, frame_w: int, frame_h: int) -> Region:
    """The square region covering both ``a`` and ``b``."""
    x1, y1 = min(a.x, b.x), min(a.y, b.y)
    x2, y2 = max(a.x2, b.x2), max(a.y2, b.y2)
    return _square(x1, y1, x2, y2, max(x2 - x1, y2 - y1), frame_w, frame_h)


def _overlapping_pair(regions: list[Region], merge_overlap: float) -> tuple[int, int] | None:
    """The first two regions whose overlap is ``merge_overlap`` of the smaller, if any."""
    for i, a in enumerate(regions):
        for j in range(i + 1, len(regions)):
            b = regions[j]
            if _intersection(a.box, b.box) >= merge_overlap * min(a.area, b.area):
                return i, j
    return None


def _cutting_edges(
    region: Region, frame_size: tuple[int, int] | None
) -> tuple[bool, bool, bool, bool]:
    """Which of the region's left, top, right, bottom edges lie inside the frame."""
    if frame_size is None:
        return (True, True, True, True)
    fw, fh = frame_size
    return (region.x > 0, region.y > 0, region.x2 < fw, region.y2 < fh)


def _is_cut(
    det: Detection, region: Region, edge_px: float, frame_size: tuple[int, int] | None
) -> bool:
    left, top, right, bottom = _cutting_edges(region, frame_size)
    return (
        (left and det.x1 <= region.x + edge_px)
        or (top and det.y1 <= region.y + edge_px)
        or (right and det.x2 >= region.x2 - edge_px)
        or (bottom and det.y2 >= region.y2 - edge_px)
    )


def _holds_whole(
    region: Region, det: Detection, edge_px: float, frame_size: tuple[int, int] | None
) -> bool:
    return region.contains((det.x1, det.y1, det.x2, det.y2)) and not _is_cut(
        det, region, edge_px, frame_size
    )


def _seen_whole_elsewhere(
    det: Detection,
    index: int,
    per_region: Sequence[tuple[Region, Sequence[Detection]]],
    cut: list[list[bool]],
    edge_px: float,
    frame_size: tuple[int, int] | None,
) -> bool:
    box = (det.x1, det.y1, det.x2, det.y2)
    for j, (region, others) in enumerate(per_region):
        if j == index or not _holds_whole(region, det, edge_px, frame_size):
            continue
        for k, other in enumerate(others):
            if (
                other.label == det.label
                and not cut[j][k]
                and _intersection(box, (other.x1, other.y1, other.x2, other.y2)) >= 0.5 * det.area
            ):
                return True
    return False


def _nms(detections: list[Detection], iou_threshold: float) -> list[Detection]:
    """Greedy class-wise non-maximum suppression, best confidence first."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.confidence, reverse=True):
        box = (det.x1, det.y1, det.x2, det.y2)
        if all(
            k.label != det.label or box_iou(box, (k.x1, k.y1, k.x2, k.y2)) <= iou_threshold
            for k in kept
        ):
            kept.append(det)
    return kept
