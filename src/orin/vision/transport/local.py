"""The embedded adapter: a pool of inference threads per detector, batching across callers.

Each detector name has one backlog and ``local_workers`` workers. A worker is a batcher
coroutine plus a thread of its own that owns one `Detector` (built on first use, in that
thread). The batcher takes the oldest request, then keeps taking requests that still fit in
``max_batch`` images for at most ``batch_window_ms``, runs one ``Detector.detect`` on all of
them in its thread, and hands each caller its slice. A call with more than ``max_batch``
images is split into chunks first, so no batch ever exceeds it.

Batches already waiting behind the first (the other crops of a frame, other cameras' frames)
go to the thread in the same hand-over, up to the worker's share of the backlog: the thread
runs them one model call after another and hands each result back as soon as it is ready, so
the model does not sit idle for an event-loop round trip between two crops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from orin.config import VisionSettings
from orin.vision.detectors.base import Detection, Detector, Image
from orin.vision.detectors.config import DetectorConfig
from orin.vision.transport.base import (
    DetectionService,
    DetectionServiceClosed,
    DetectorFactory,
    build_registered,
)

logger = structlog.get_logger(__name__)

Results = list[list[Detection]]


@dataclass(slots=True)
class _Item:
    """A chunk of one caller's images (at most ``max_batch``) and where its result goes."""

    images: Sequence[Image]
    future: asyncio.Future[Results]


class _Worker:
    """One inference thread and the detector it owns."""

    def __init__(self, name: str, config: DetectorConfig, factory: DetectorFactory) -> None:
        self.config = config
        self.factory = factory
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"detect-{name}")
        self._detector: Detector | None = None

    def detect(self, images: Sequence[Image]) -> Results:
        """Run in the worker thread: load the model on first use, then infer."""
        if self._detector is None:
            self._detector = self.factory(self.config)
        return self._detector.detect(images)


class _Pool:
    """The backlog and workers of one detector name."""

    def __init__(
        self, name: str, config: DetectorConfig, settings: VisionSettings, factory: DetectorFactory
    ) -> None:
        self.name = name
        self.max_batch = settings.max_batch
        self.window_s = settings.batch_window_ms / 1000
        self.workers = [_Worker(name, config, factory) for _ in range(settings.local_workers)]
        self._backlog: deque[_Item] = deque()
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._serve(worker), name=f"detect-{self.name}-{index}")
            for index, worker in enumerate(self.workers)
        ]

    def submit(self, images: Sequence[Image]) -> list[asyncio.Future[Results]]:
        """Queue ``images`` in chunks of at most ``max_batch``; one future per chunk."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Results]] = []
        for start in range(0, len(images), self.max_batch):
            future: asyncio.Future[Results] = loop.create_future()
            self._backlog.append(_Item(images[start : start + self.max_batch], future))
            futures.append(future)
        self._arrived.set()
        return futures

    async def close(self) -> None:
        """Stop the batchers, fail what waits, and join the threads."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        _fail(self._backlog, f"detector {self.name!r}: detection service closed")
        self._backlog.clear()
        for worker in self.workers:
            await asyncio.to_thread(worker.executor.shutdown, wait=True)

    async def _serve(self, worker: _Worker) -> None:
        while True:
            batches = [await self._gather()]
            share = len(self._backlog) // len(self.workers)
            while len(batches) <= share and (more := self._take_waiting()):
                batches.append(more)
            await self._run(worker, batches)

    def _take_waiting(self) -> list[_Item]:
        """A batch of the items waiting now (no batching window); empty when none is."""
        batch: list[_Item] = []
        size = 0
        while (item := self._take(self.max_batch - size)) is not None:
            batch.append(item)
            size += len(item.images)
        return batch

    async def _gather(self) -> list[_Item]:
        """The oldest waiting item plus those that fit and arrive within the window."""
        while (first := self._take(self.max_batch)) is None:
            self._arrived.clear()
            await self._arrived.wait()
        batch, size = [first], len(first.images)
        deadline = asyncio.get_running_loop().time() + self.window_s
        while size < self.max_batch:
            item = self._take(self.max_batch - size)
            if item is not None:
                batch.append(item)
                size += len(item.images)
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if self._backlog or remaining <= 0:
                break  # the next item does not fit, or the window is over
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
        return batch

    def _take(self, room: int) -> _Item | None:
        """The oldest live item if it fits in ``room`` images (callers gone are dropped)."""
        while self._backlog and self._backlog[0].future.done():
            self._backlog.popleft()
        if self._backlog and len(self._backlog[0].images) <= room:
            return self._backlog.popleft()
        return None

    async def _run(self, worker: _Worker, batches: list[list[_Item]]) -> None:
        """Run ``batches`` in the worker's thread, one model call each, in order."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(worker.executor, self._infer, worker, batches, loop)
        except asyncio.CancelledError:
            for batch in batches:
                _fail(batch, f"detector {self.name!r}: detection service closed")
            raise

    def _infer(
        self,
        worker: _Worker,
        batches: list[list[_Item]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """In the worker's thread: each batch's results go back to the loop as soon as ready."""
        for batch in batches:
            if all(item.future.done() for item in batch):
                continue  # every caller gave up (or the service closed) meanwhile
            images = [image for item in batch for image in item.images]
            try:
                results = worker.detect(images)
                if len(results) != len(images):
                    raise RuntimeError(
                        f"detector {self.name!r} returned {len(results)} results "
                        f"for {len(images)} images"
                    )
            except Exception as exc:
                _call_in_loop(loop, self._reject, batch, exc)
            else:
                _call_in_loop(loop, _resolve, batch, results)

    def _reject(self, batch: list[_Item], exc: Exception) -> None:
        logger.warning("detection.batch_failed", detector=self.name, error=str(exc))
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)


def _resolve(batch: list[_Item], results: Results) -> None:
    """Hand each caller of ``batch`` its slice of ``results`` (in the loop's thread)."""
    offset = 0
    for item in batch:
        if not item.future.done():
            item.future.set_result(results[offset : offset + len(item.images)])
        offset += len(item.images)


def _call_in_loop(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """Schedule ``callback(*args)`` on ``loop`` from a worker thread (not if it closed)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _fail(items: Sequence[_Item] | deque[_Item], message: str) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(DetectionServiceClosed(message))


class LocalDetectionService(DetectionService):
    """In-process detection: per detector, ``local_workers`` threads fed by one batcher each."""

    def __init__(
        self, settings: VisionSettings, factory: DetectorFactory = build_registered
    ) -> None:
        super().__init__(settings.detectors)
        self.settings = settings
        self.factory = factory
        self._pools: dict[str, _Pool] = {}

    async def start(self) -> None:
        if self._pools:
            return
        for name, config in self.detectors.items():
            pool = _Pool(name, config, self.settings, self.factory)
            pool.start()
            self._pools[name] = pool
        logger.info(
            "detection.started",
            transport="local",
            detectors=self.names,
            workers=self.settings.local_workers,
            max_batch=self.settings.max_batch,
        )

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()
        if pools:
            logger.info("detection.closed", transport="local")

    async def detect(self, detector: str, images: Sequence[Image]) -> Results:
        self.config(detector)
        pool = self._pools.get(detector)
        if pool is None:
            raise DetectionServiceClosed("detection service is not started")
        if not images:
            return []
        futures = pool.submit(images)
        if len(futures) == 1:
            return await futures[0]  # the common case: no gather round trip
        chunks = await asyncio.gather(*futures)
        return [found for chunk in chunks for found in chunk]
