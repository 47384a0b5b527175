"""The detection port: named detectors, batches of images in, detections per image out."""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from orin.vision.detectors.base import Detection, Detector, Image
from orin.vision.detectors.config import DetectorConfig
from orin.vision.transport.labels import labels_for

DetectorFactory = Callable[[DetectorConfig], Detector]
"""Builds (loads) a detector from its config; called in the thread that will run it."""


class UnknownDetector(LookupError):
    """No detector of that name is configured in ``vision.detectors``."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown detector {name!r}; configured: {', '.join(known) or 'none'}")
        self.name = name


class DetectionFailed(Exception):
    """A detection could not be done (no answer after every attempt, or a replica's error)."""


class DetectionServiceClosed(DetectionFailed):
    """The service was closed while the detection waited or ran."""


def build_registered(config: DetectorConfig) -> Detector:
    """The default factory: ``orin.vision.detectors.registry.build_detector``, imported late
    so that processes which never run a model (remote transport) never import one."""
    registry = importlib.import_module("orin.vision.detectors.registry")
    build = cast(DetectorFactory, registry.build_detector)
    return build(config)


class DetectionService(abc.ABC):
    """Runs named detectors on batches of images; `start` before use, `close` when done."""

    def __init__(self, detectors: Mapping[str, DetectorConfig]) -> None:
        self.detectors: dict[str, DetectorConfig] = dict(detectors)

    @property
    def names(self) -> list[str]:
        """The configured detector names, in settings order."""
        return list(self.detectors)

    def config(self, detector: str) -> DetectorConfig:
        """The config of ``detector``; `UnknownDetector` when it is not configured."""
        try:
            return self.detectors[detector]
        except KeyError:
            raise UnknownDetector(detector, self.names) from None

    def labels(self, detector: str) -> frozenset[str]:
        """The ORIN labels ``detector`` can report, known without loading its model."""
        return labels_for(self.config(detector))

    @abc.abstractmethod
    async def start(self) -> None:
        """Get ready to detect (connect, start workers); models load lazily."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop; detections still waiting fail with `DetectionServiceClosed`."""

    @abc.abstractmethod
    async def detect(self, detector: str, images: Sequence[Image]) -> list[list[Detection]]:
        """Objects in each image (same order) found by the detector named ``detector``.

        Raises `UnknownDetector` for a name not configured and `DetectionFailed` when the
        detection could not be done; a local detector's own exception propagates as is.
        """
