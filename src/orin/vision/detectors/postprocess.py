"""Helpers every detector shares: model label → ORIN label, class-wise NMS, box clipping."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from orin.vision.detectors.base import Detection

_SYNONYMS = {"box": "package", "vehicle": "car", "motorbike": "motorcycle"}


def orin_label(model_label: str) -> str:
    """ORIN's name for a model's class: lowercased, with a few synonyms (``Box`` → ``package``)."""
    name = model_label.strip().lower()
    return _SYNONYMS.get(name, name)


def nms_detections(
    boxes: NDArray[np.float32],
    scores: NDArray[np.float32],
    class_ids: NDArray[np.int64],
    labels: Sequence[str],
    *,
    iou_threshold: float,
    size: tuple[int, int],
) -> list[Detection]:
    """Class-wise non-maximum suppression of ``boxes`` (Nx4, x1 y1 x2 y2 pixels), best first.

    ``labels[class_id]`` names each class; boxes are clipped to ``size`` (width, height) and
    boxes left empty by clipping are dropped.
    """
    if len(boxes) == 0:
        return []
    width, height = size
    clipped = np.empty_like(boxes)
    clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    xywh = np.column_stack([clipped[:, :2], clipped[:, 2:] - clipped[:, :2]])
    keep = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.tolist(), class_ids.tolist(), 0.0, iou_threshold
    )
    found: list[Detection] = []
    for i in sorted(np.asarray(keep, dtype=np.int64).reshape(-1), key=lambda k: -scores[k]):
        x1, y1, x2, y2 = (float(v) for v in clipped[i])
        if x2 > x1 and y2 > y1:
            found.append(Detection(labels[int(class_ids[i])], float(scores[i]), x1, y1, x2, y2))
    return found
