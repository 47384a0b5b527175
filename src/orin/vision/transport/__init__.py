"""How frames reach detectors: an in-process pool or `orin detector` replicas over RabbitMQ.

`detection_service` (in `orin.vision.transport.factory`) picks the adapter from
``settings.vision.transport``; code above it sees only `DetectionService`.
"""

from orin.vision.transport.base import (
    DetectionFailed,
    DetectionService,
    DetectionServiceClosed,
    DetectorFactory,
    UnknownDetector,
)
from orin.vision.transport.labels import labels_for

__all__ = [
    "DetectionFailed",
    "DetectionService",
    "DetectionServiceClosed",
    "DetectorFactory",
    "UnknownDetector",
    "labels_for",
]
