"""What every detector is: typed config in, labelled boxes out.

A detector takes a batch of BGR images (uint8, HxWx3, any size: it resizes to its own input)
and returns, per image, the objects it found with boxes in that image's pixel coordinates.
Labels are ORIN's object names (`orin.guards.rule.ObjectClass` values where one applies, e.g.
``person``, ``car``, ``package``), so the tracker and guards never see a model's own label set.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
"""A BGR image, HxWx3."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one image: ORIN label, confidence in [0, 1], box in pixels."""

    label: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> Detection:
        """The box scaled by ``scale`` then moved by (dx, dy): a crop's box in frame pixels."""
        return Detection(
            self.label,
            self.confidence,
            self.x1 * scale + dx,
            self.y1 * scale + dy,
            self.x2 * scale + dx,
            self.y2 * scale + dy,
        )


class DetectorUnavailable(Exception):
    """A detector's model could not be loaded; the message names what is missing and the fix."""


class Detector(abc.ABC):
    """A loaded model. Implementations are thread-safe for one caller at a time."""

    type_key: ClassVar[str]
    """The config ``type`` that builds this detector."""

    @property
    @abc.abstractmethod
    def labels(self) -> frozenset[str]:
        """The ORIN labels this detector can report."""

    @property
    @abc.abstractmethod
    def input_size(self) -> tuple[int, int]:
        """The model's input (width, height); regions are cropped to about this size."""

    @abc.abstractmethod
    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        """Objects in each image (same order), above the detector's own score floor."""
