"""SSD-MobileNetV2 trained on Open Images V4 (24 classes, incl. ``Box`` → ``package``).

The fp16 ``.tflite`` and its label map are packed in npm ``@mediapipe/objectron``'s
``objectron_solution_packed_assets.data`` (installed under the checkout's ``models/`` by
``make setup``); the raw SSD outputs are decoded here with MediaPipe's anchors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]
from numpy.typing import NDArray

from orin.vision.detectors.base import Detection, Detector, DetectorUnavailable, Image
from orin.vision.detectors.config import OpenImagesSsdConfig
from orin.vision.detectors.packed_assets import (
    INSTALL_HINT,
    checkout_node_modules,
    read_packed_files,
)
from orin.vision.detectors.postprocess import nms_detections, orin_label
from orin.vision.detectors.ssd_anchors import decode_boxes, ssd_anchors

NPM_PACKAGE = "@mediapipe/objectron"
_SIDE = 300
_IOU_THRESHOLD = 0.45


def _package_dir(config: OpenImagesSsdConfig) -> Path:
    node_modules = Path(config.npm_dir) if config.npm_dir else checkout_node_modules()
    if node_modules is None:
        raise DetectorUnavailable(
            f"npm package {NPM_PACKAGE} not found: this is not a checkout with models/package.json;"
            " set npm_dir to a node_modules folder holding it"
        )
    package_dir = node_modules / NPM_PACKAGE
    if not package_dir.is_dir():
        raise DetectorUnavailable(
            f"npm package {NPM_PACKAGE} not found in {node_modules}; {INSTALL_HINT}"
        )
    return package_dir


class OpenImagesSsdDetector(Detector):
    """Open Images SSD on ai-edge-litert; runs images one at a time (the model has batch 1)."""

    type_key: ClassVar[str] = "open_images_ssd"

    def __init__(self, config: OpenImagesSsdConfig) -> None:
        self._config = config
        files = read_packed_files(
            _package_dir(config),
            "objectron_solution",
            {"labels": "_labelmap.txt", "model": ".tflite"},
        )
        names = [line.strip() for line in files["labels"].decode("utf-8").splitlines()]
        self._class_labels = [orin_label(name) for name in names if name]
        try:
            self._interpreter = Interpreter(
                model_content=files["model"], num_threads=config.threads or os.cpu_count() or 1
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise DetectorUnavailable(
                f"cannot load the {NPM_PACKAGE} SSD model: {error}"
            ) from error
        self._input = int(self._interpreter.get_input_details()[0]["index"])
        outputs = {str(d["name"]): d for d in self._interpreter.get_output_details()}
        self._boxes = int(outputs["raw_outputs/box_encodings"]["index"])
        self._scores = int(outputs["raw_outputs/class_predictions"]["index"])
        self._anchors = ssd_anchors()
        threshold = config.score_threshold
        self._logit_floor = float(np.log(threshold / (1.0 - threshold)))
        shape = tuple(outputs["raw_outputs/class_predictions"]["shape"])
        if shape != (1, len(self._anchors), len(self._class_labels)):
            raise DetectorUnavailable(f"unexpected {NPM_PACKAGE} SSD output shape {shape}")

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self._class_labels[1:])

    @property
    def input_size(self) -> tuple[int, int]:
        return (_SIDE, _SIDE)

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        return [self._detect_one(image) for image in images]

    def _run(self, image: Image) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The raw box encodings and class logits for one image (copies, safe to keep)."""
        rgb = cv2.cvtColor(cv2.resize(image, (_SIDE, _SIDE)), cv2.COLOR_BGR2RGB)
        # Scale straight into the interpreter's input buffer: [0, 255] → [-1, 1].
        np.subtract(
            np.multiply(rgb, 1 / 127.5, dtype=np.float32),
            1.0,
            out=self._interpreter.tensor(self._input)()[0],
        )
        self._interpreter.invoke()
        # get_tensor copies: nothing refers to the interpreter's buffers after this.
        encodings = self._interpreter.get_tensor(self._boxes)[0]
        logits = self._interpreter.get_tensor(self._scores)[0]
        return encodings, logits

    def _detect_one(self, image: Image) -> list[Detection]:
        encodings, logits = self._run(image)
        # The sigmoid is monotonic: pick each anchor's best class and apply the score floor on
        # the logits, so only the anchors that pass are turned into scores.
        logits = logits[:, 1:]
        class_index = np.argmax(logits, axis=1)
        best_logit = logits[np.arange(len(logits)), class_index]
        keep = np.flatnonzero(best_logit >= self._logit_floor)
        if keep.size == 0:
            return []
        best = (1.0 / (1.0 + np.exp(-best_logit[keep]))).astype(np.float32)
        height, width = image.shape[:2]
        boxes = decode_boxes(encodings[keep], self._anchors[keep])
        boxes *= np.asarray([width, height, width, height], dtype=np.float32)
        return nms_detections(
            boxes,
            best,
            class_index[keep].astype(np.int64) + 1,
            self._class_labels,
            iou_threshold=_IOU_THRESHOLD,
            size=(width, height),
        )
