"""Build a detector from its config: ``config.type`` picks the class whose ``type_key`` matches.

Plugins add their own `Detector` subclasses with `register_detector`; every registered class
takes its config as its only constructor argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from orin.vision.detectors.base import Detector, DetectorUnavailable
from orin.vision.detectors.onnx_yolo import OnnxYoloDetector
from orin.vision.detectors.open_images_ssd import OpenImagesSsdDetector
from orin.vision.detectors.ssd_coco import SsdCocoDetector

__all__ = ["DETECTOR_TYPES", "DetectorUnavailable", "build_detector", "register_detector"]


class TypedConfig(Protocol):
    """Any detector config: a `DetectorConfig` or a plugin's own, with its ``type``."""

    @property
    def type(self) -> str: ...


DETECTOR_TYPES: dict[str, type[Detector]] = {
    cls.type_key: cls for cls in (SsdCocoDetector, OpenImagesSsdDetector, OnnxYoloDetector)
}
"""The detector class for each config ``type``."""

D = TypeVar("D", bound=type[Detector])


def register_detector(cls: D, *, replace: bool = False) -> D:
    """Make ``cls`` the detector for configs whose ``type`` is ``cls.type_key`` (a decorator).

    Registering another class under a taken key raises `ValueError` unless ``replace``.
    """
    key = getattr(cls, "type_key", None)
    if not isinstance(key, str) or not key:
        raise ValueError(f"{cls.__name__} needs a non-empty `type_key` class attribute")
    current = DETECTOR_TYPES.get(key)
    if current is not None and current is not cls and not replace:
        raise ValueError(f"detector type {key!r} is already {current.__qualname__}")
    DETECTOR_TYPES[key] = cls
    return cls


def build_detector(config: TypedConfig) -> Detector:
    """Load the detector ``config`` describes; `DetectorUnavailable` says what is missing."""
    cls = DETECTOR_TYPES.get(config.type)
    if cls is None:
        known = ", ".join(sorted(DETECTOR_TYPES))
        raise DetectorUnavailable(f"no detector of type {config.type!r} (known: {known})")
    factory = cast(Callable[[TypedConfig], Detector], cls)
    return factory(config)
