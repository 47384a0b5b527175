"""SSD anchors and box decoding as MediaPipe's SsdAnchorsCalculator and
TfLiteTensorsToDetectionsCalculator do them (TF object-detection API conventions)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class SsdAnchorOptions:
    """The anchor layout of an SSD model; defaults are SSD-MobileNetV2 at 300x300."""

    input_width: int = 300
    input_height: int = 300
    min_scale: float = 0.2
    max_scale: float = 0.95
    strides: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True
    anchor_offset: float = 0.5


def _scale(options: SsdAnchorOptions, layer: int) -> float:
    count = len(options.strides)
    if count == 1:
        return (options.min_scale + options.max_scale) / 2
    return options.min_scale + (options.max_scale - options.min_scale) * layer / (count - 1)


def _layer_shapes(options: SsdAnchorOptions, layer: int) -> list[tuple[float, float]]:
    """(scale, aspect ratio) of each anchor at one feature-map cell of ``layer``."""
    scale = _scale(options, layer)
    if layer == 0 and options.reduce_boxes_in_lowest_layer:
        return [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
    shapes = [(scale, ratio) for ratio in options.aspect_ratios]
    if options.interpolated_scale_aspect_ratio > 0:
        last = layer == len(options.strides) - 1
        following = 1.0 if last else _scale(options, layer + 1)
        shapes.append((math.sqrt(scale * following), options.interpolated_scale_aspect_ratio))
    return shapes


def ssd_anchors(options: SsdAnchorOptions | None = None) -> NDArray[np.float32]:
    """Anchors as rows of (x centre, y centre, width, height), normalised to [0, 1]."""
    options = options or SsdAnchorOptions()
    rows: list[tuple[float, float, float, float]] = []
    for layer, stride in enumerate(options.strides):
        sizes = [
            (scale * math.sqrt(ratio), scale / math.sqrt(ratio))
            for scale, ratio in _layer_shapes(options, layer)
        ]
        rows_count = math.ceil(options.input_height / stride)
        cols_count = math.ceil(options.input_width / stride)
        for y in range(rows_count):
            y_centre = (y + options.anchor_offset) / rows_count
            for x in range(cols_count):
                x_centre = (x + options.anchor_offset) / cols_count
                rows.extend((x_centre, y_centre, w, h) for w, h in sizes)
    return np.asarray(rows, dtype=np.float32)


def decode_boxes(
    encodings: NDArray[np.float32],
    anchors: NDArray[np.float32],
    scales: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
) -> NDArray[np.float32]:
    """Box encodings (Nx4: ty, tx, th, tw) → boxes (Nx4: x1, y1, x2, y2), normalised.

    ``scales`` are the box coder's (y, x, h, w) scales; sizes use the exponential form.
    """
    y_scale, x_scale, h_scale, w_scale = scales
    x_centre = encodings[:, 1] / x_scale * anchors[:, 2] + anchors[:, 0]
    y_centre = encodings[:, 0] / y_scale * anchors[:, 3] + anchors[:, 1]
    half_w = np.exp(encodings[:, 3] / w_scale) * anchors[:, 2] / 2
    half_h = np.exp(encodings[:, 2] / h_scale) * anchors[:, 3] / 2
    boxes = np.column_stack(
        [x_centre - half_w, y_centre - half_h, x_centre + half_w, y_centre + half_h]
    )
    return boxes.astype(np.float32)
