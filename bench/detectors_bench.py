"""Time per crop of each packaged detector, against the COCO model's full graph.

The COCO detector runs OpenCV without the model's class heads and computes them for its
configured classes only (`orin.vision.detectors.ssd_heads`); the baseline in the same run is
the whole graph in OpenCV (heads and detection output), as the detector ran before. Crops are
300x300 pieces of vtest.avi, the size the pipeline sends.

    uv run python bench/detectors_bench.py [--calls 40] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from orin.vision.detectors.base import Detector, Image
from orin.vision.detectors.coco import COCO_TF_LABELS
from orin.vision.detectors.config import OpenImagesSsdConfig, SsdCocoConfig
from orin.vision.detectors.registry import build_detector
from orin.vision.detectors.ssd_coco import _GRAPH, _TEXT_GRAPH, _models_dir

VTEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "vtest.avi"


def vtest_crops(count: int) -> list[Image]:
    """``count`` 300x300 crops from the first frames of vtest.avi (people in each)."""
    capture = cv2.VideoCapture(str(VTEST))
    crops: list[Image] = []
    corners = ((100, 200), (200, 300), (0, 0), (150, 400))
    try:
        while len(crops) < count:
            ok, frame = capture.read()
            if not ok:
                raise SystemExit(f"{VTEST} has too few frames")
            y, x = corners[len(crops) % len(corners)]
            crops.append(np.ascontiguousarray(frame[y : y + 300, x : x + 300]))
    finally:
        capture.release()
    return crops


def ms_per_call(call: Callable[[Image], object], crops: list[Image], rounds: int) -> list[float]:
    """Milliseconds per call over the crops, one figure per round (after a warm-up call)."""
    call(crops[0])
    figures = []
    for _ in range(rounds):
        started = time.perf_counter()
        for crop in crops:
            call(crop)
        figures.append((time.perf_counter() - started) / len(crops) * 1000)
    return figures


def one_at_a_time(detector: Detector) -> Callable[[Image], object]:
    """``detector`` called on one image at a time, as the pipeline's pool does by default."""

    def call(image: Image) -> object:
        return detector.detect([image])

    return call


def full_graph(threads: int) -> Callable[[Image], object]:
    """The COCO model's whole graph in OpenCV: the detector as it ran before the heads moved."""
    folder = _models_dir()
    net = cv2.dnn.readNetFromTensorflow(str(folder / _GRAPH), str(folder / _TEXT_GRAPH))
    cv2.setNumThreads(threads)

    def call(image: Image) -> object:
        net.setInput(cv2.dnn.blobFromImage(image, 1.0, (300, 300), (0, 0, 0), swapRB=True))
        return net.forward()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=40, help="crops per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    crops = vtest_crops(args.calls)
    candidates: list[tuple[str, Callable[[Image], object]]] = [
        ("coco, full graph in OpenCV (baseline)", full_graph(args.threads)),
    ]
    for label, config in (
        ("coco, heads for the 18 default classes", SsdCocoConfig(threads=args.threads)),
        (
            "coco, heads for all 80 classes",
            SsdCocoConfig(threads=args.threads, classes=tuple(COCO_TF_LABELS.values())),
        ),
        ("open images ssd (screen)", OpenImagesSsdConfig(threads=args.threads)),
    ):
        candidates.append((label, one_at_a_time(build_detector(config))))
    print(
        f"detectors, ms per 300x300 vtest crop, {args.calls} crops x {args.rounds} rounds, "
        f"{args.threads} threads, OpenCV {cv2.__version__}"
    )
    # Interleaved rounds, so a burst of other load hits every candidate alike.
    per_round: dict[str, list[float]] = {label: [] for label, _ in candidates}
    for _ in range(args.rounds):
        for label, call in candidates:
            per_round[label] += ms_per_call(call, crops, 1)
    baseline = statistics.median(per_round[candidates[0][0]])
    for label, figures in per_round.items():
        median = statistics.median(figures)
        spread = f"{min(figures):.1f}-{max(figures):.1f}"
        print(
            f"  {label:42s} median {median:6.1f} ms  ({spread})  "
            f"x{baseline / median:.2f} vs baseline"
        )


if __name__ == "__main__":
    main()
