"""The ORIN labels each detector type can report, known from its config alone.

The ingest pipeline needs them to pick detectors for a camera's guards, also when the models
live in `orin detector` replicas and are never loaded in the ingest process. The names go
through the detectors' own `orin_label`, so both sides agree on synonyms (``Box`` → package).
"""

from __future__ import annotations

from orin.vision.detectors.config import (
    DetectorConfig,
    OnnxYoloConfig,
    OpenImagesSsdConfig,
    SsdCocoConfig,
)
from orin.vision.detectors.postprocess import orin_label

OPEN_IMAGES_CLASSES: tuple[str, ...] = (
    "Bicycle", "Boot", "Laptop", "Person", "Chair", "Cattle", "Desk", "Cat", "Computer mouse",
    "Computer monitor", "Box", "Mug", "Coffee cup", "Stationary bicycle", "Table", "Bottle",
    "High heels", "Vehicle", "Footwear", "Dog", "Book", "Camera", "Car",
)  # fmt: skip
"""The OIDv4 label map packed with the Open Images SSD, less its ``???`` background class."""


def labels_for(config: DetectorConfig) -> frozenset[str]:
    """The labels a detector built from ``config`` can report."""
    if isinstance(config, SsdCocoConfig):
        return frozenset(config.classes)
    if isinstance(config, OpenImagesSsdConfig):
        return frozenset(orin_label(name) for name in OPEN_IMAGES_CLASSES)
    if isinstance(config, OnnxYoloConfig):
        return frozenset(orin_label(name) for name in config.class_names)
    raise TypeError(f"no label table for detector config {type(config).__name__}")
