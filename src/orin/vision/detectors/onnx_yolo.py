"""A user's YOLOv8 / YOLO11 detector exported to ONNX, on onnxruntime (CPU).

The export's output is ``[batch, 4 + classes, anchors]``: box centre x, centre y, width and
height in input pixels, then per-class scores already passed through a sigmoid. Images are
letterboxed (aspect kept, grey 114 padding) and the boxes mapped back to image pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray

from orin.vision.detectors.base import Detection, Detector, DetectorUnavailable, Image
from orin.vision.detectors.config import OnnxYoloConfig
from orin.vision.detectors.postprocess import nms_detections, orin_label

_PAD = 114


@dataclass(frozen=True, slots=True)
class _Letterbox:
    """How one image was fitted into the input: scaled by ``scale``, then offset by the pads."""

    scale: float
    left: int
    top: int


def _letterbox(image: Image, width: int, height: int) -> tuple[NDArray[np.float32], _Letterbox]:
    """The image as a CHW float RGB tensor in [0, 1] of the input size, and how it was placed."""
    image_h, image_w = image.shape[:2]
    scale = min(width / image_w, height / image_h)
    new_w, new_h = max(1, round(image_w * scale)), max(1, round(image_h * scale))
    left, top = (width - new_w) // 2, (height - new_h) // 2
    canvas = np.full((height, width, 3), _PAD, dtype=np.uint8)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=interpolation
    )
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    return tensor, _Letterbox(scale, left, top)


def _fixed(dimension: object) -> int | None:
    return dimension if isinstance(dimension, int) and dimension > 0 else None


class OnnxYoloDetector(Detector):
    """YOLO ONNX export; one call per batch when the model's batch dimension is dynamic.

    A model with fixed spatial input dimensions uses them; otherwise ``config.input_size``.
    """

    type_key: ClassVar[str] = "onnx_yolo"

    def __init__(self, config: OnnxYoloConfig) -> None:
        self._config = config
        self._class_labels = [orin_label(name) for name in config.class_names]
        path = Path(config.path).expanduser()
        if not path.is_file():
            raise DetectorUnavailable(f"YOLO ONNX model {path} not found (detector config `path`)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise DetectorUnavailable(f"onnxruntime cannot load {path}: {error}") from error
        model_input = self._session.get_inputs()[0]
        self._input_name = str(model_input.name)
        batch, _, height, width = (list(model_input.shape) + [None] * 4)[:4]
        self._batched = _fixed(batch) is None
        self._size = (_fixed(width) or config.input_size, _fixed(height) or config.input_size)
        self._check_classes(self._session.get_outputs()[0].shape)

    def _check_classes(self, shape: Sequence[object]) -> None:
        expected = 4 + len(self._class_labels)
        channels = [_fixed(dimension) for dimension in shape[1:3]]
        if len(shape) != 3 or (None not in channels and expected not in channels):
            raise DetectorUnavailable(
                f"{self._config.path} outputs {list(shape)}, but {len(self._class_labels)} "
                f"class_names need [batch, {expected}, anchors]: class_names must list the "
                "model's classes in output order"
            )

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self._class_labels)

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        if not self._batched:
            return [self._detect_batch([image])[0] for image in images]
        return self._detect_batch(images) if images else []

    def _detect_batch(self, images: Sequence[Image]) -> list[list[Detection]]:
        fitted = [_letterbox(image, *self._size) for image in images]
        batch = np.stack([tensor for tensor, _ in fitted])
        output = self._session.run(None, {self._input_name: batch})[0]
        predictions = np.asarray(output, dtype=np.float32)
        expected = 4 + len(self._class_labels)
        if predictions.ndim != 3 or expected not in predictions.shape[1:]:
            self._check_classes(predictions.shape)
        if predictions.shape[1] != expected:
            predictions = predictions.transpose(0, 2, 1)
        return [
            self._decode(rows.T, letterbox, image.shape[1], image.shape[0])
            for rows, (_, letterbox), image in zip(predictions, fitted, images, strict=True)
        ]

    def _decode(
        self, rows: NDArray[np.float32], letterbox: _Letterbox, width: int, height: int
    ) -> list[Detection]:
        scores = rows[:, 4:]
        class_ids = np.argmax(scores, axis=1)
        best = scores[np.arange(len(rows)), class_ids]
        keep = best >= self._config.score_threshold
        cx, cy, w, h = rows[keep, :4].T
        boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        boxes -= np.asarray([letterbox.left, letterbox.top] * 2, dtype=np.float32)
        boxes /= letterbox.scale
        return nms_detections(
            boxes.astype(np.float32),
            best[keep].astype(np.float32),
            class_ids[keep].astype(np.int64),
            self._class_labels,
            iou_threshold=self._config.iou_threshold,
            size=(width, height),
        )
