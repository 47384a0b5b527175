"""How long the garbage collector stops this process, as a Prometheus histogram.

prometheus_client's own GC collector counts collections; it does not say how long they took.
With thousands of sockets open, a full (generation 2) collection walks every object they hold
and stalls the event loop for as long, which shows up as late live updates: this histogram
(``orin_gc_pause_seconds`` by generation) and a ``gc.long_pause`` warning make such a stall
visible. `install` hooks ``gc.callbacks`` once per process; each app registers the same
histogram in its own registry.
"""

from __future__ import annotations

import gc
import time
from typing import Any, Final

import structlog
from prometheus_client import Histogram

logger = structlog.get_logger(__name__)

LONG_PAUSE_S: Final = 0.05
"""Pauses at least this long are logged."""

GC_PAUSES: Final = Histogram(
    "orin_gc_pause_seconds",
    "Time the garbage collector stopped this process, per collection, by generation.",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=None,
)

_started: list[float] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
        return
    if not _started:
        return
    paused = time.perf_counter() - _started.pop()
    generation = info.get("generation", -1)
    GC_PAUSES.labels(str(generation)).observe(paused)
    if paused >= LONG_PAUSE_S:
        logger.warning(
            "gc.long_pause",
            generation=generation,
            paused_ms=round(paused * 1000, 1),
            collected=info.get("collected"),
        )


def install() -> Histogram:
    """Start timing collections (once per process); returns the histogram to register."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    return GC_PAUSES


def freeze_startup_heap() -> None:
    """Move everything alive now (modules, app, adapters) out of the collector's reach.

    Called once a process has started: those objects live as long as the process, yet every
    full collection would walk them again (131 ms for a built API app on the 2-core machine,
    docs/benchmarks.md). Objects made later are collected as usual; frozen ones that become
    garbage are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()
    logger.debug("gc.frozen", objects=gc.get_freeze_count())
