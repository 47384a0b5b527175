"""A deterministic fake detector, and a replica process built on it for the kill -9 test.

Run as ``python -m tests.vision.detector_child URL DETECTOR WORKDIR DELAY_S``: it serves
``DETECTOR`` with a `FakeDetector` that sleeps ``DELAY_S`` per batch, writes
``WORKDIR/ready`` once consuming, and appends one line to ``WORKDIR/batches`` as each batch
starts (the values of its images), so the test knows when to kill it mid-inference.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orin.config import AmqpSettings, Settings, VisionSettings
from orin.vision.detectors.base import Detection, Detector, Image
from orin.vision.detectors.config import DetectorConfig, SsdCocoConfig
from orin.vision.transport.base import DetectorFactory
from orin.vision.transport.server import DetectorServer


@dataclass
class Stats:
    """What the fake detectors sharing it saw; appends are atomic, so threads may share it."""

    batches: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    load_threads: list[int] = field(default_factory=list)
    detect_threads: list[int] = field(default_factory=list)


class FakeDetector(Detector):
    """Finds one "mean" object per image: confidence 1, box (mean, 0, width, height).

    ``delays`` are slept one per batch (the last repeats); ``fail_on`` is a pixel value that
    makes a batch holding it raise; ``journal`` gets one line per batch as it starts.
    """

    type_key = "fake"

    def __init__(
        self,
        stats: Stats,
        *,
        delays: Sequence[float] = (0.0,),
        fail_on: int | None = None,
        journal: Path | None = None,
    ) -> None:
        self.stats = stats
        self.delays = list(delays)
        self.fail_on = fail_on
        self.journal = journal
        stats.load_threads.append(threading.get_ident())

    @property
    def labels(self) -> frozenset[str]:
        return frozenset({"mean"})

    @property
    def input_size(self) -> tuple[int, int]:
        return (300, 300)

    def detect(self, images: Sequence[Image]) -> list[list[Detection]]:
        means = [float(np.asarray(image).mean()) for image in images]
        self.stats.batches.append(len(images))
        self.stats.values.extend(means)
        self.stats.detect_threads.append(threading.get_ident())
        if self.journal is not None:
            with self.journal.open("a") as out:
                out.write(" ".join(f"{mean:g}" for mean in means) + "\n")
        delay = self.delays.pop(0) if len(self.delays) > 1 else self.delays[0]
        if delay:
            time.sleep(delay)
        if self.fail_on is not None and self.fail_on in means:
            raise RuntimeError(f"poisoned image {self.fail_on}")
        return [[expected(image)] for image in images]


def expected(image: Image) -> Detection:
    """What `FakeDetector` reports for ``image``."""
    height, width = image.shape[:2]
    return Detection("mean", 1.0, float(np.asarray(image).mean()), 0.0, width, height)


def fake_factory(
    stats: Stats, *, delays: Sequence[float] = (0.0,), fail_on: int | None = None
) -> DetectorFactory:
    """A detector factory building `FakeDetector` objects that share ``stats``."""

    def build(config: DetectorConfig) -> Detector:
        return FakeDetector(stats, delays=delays, fail_on=fail_on)

    return build


def replica_settings(url: str, detector: str, **vision: Any) -> Settings:
    """Settings of a client or replica for ``detector`` on the broker at ``url``."""
    return Settings(
        amqp=AmqpSettings(url=url, confirm_timeout_s=3.0),
        vision=VisionSettings(
            transport="amqp",
            detectors={detector: SsdCocoConfig()},
            **vision,
        ),
    )


async def main(url: str, detector: str, workdir: Path, delay_s: float) -> None:
    stats = Stats()
    settings = replica_settings(url, detector, max_batch=2, batch_window_ms=5.0)

    def build(config: DetectorConfig) -> Detector:
        return FakeDetector(stats, delays=[delay_s], journal=workdir / "batches")

    server = DetectorServer(settings, factory=build)
    await server.start()
    (workdir / "ready").write_text("ready")
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, detector, workdir, delay = sys.argv[1:5]
    asyncio.run(main(url, detector, Path(workdir), float(delay)))
