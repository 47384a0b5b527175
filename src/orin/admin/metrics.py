"""Domain figures on ``/metrics``: events, cameras online, active guards, notification
outcomes, queue and dead-letter depths.

Several processes record events and deliver notifications, so no one process's counters
would tell the whole story: the figures are read from the database (and the bus) when
Prometheus scrapes, at most every `REFRESH_EVERY_S` seconds, by a task of the event loop that
the scrape waits for only briefly (a slow database leaves the previous figures in place).
Events are counted every `EVENT_COUNTS_EVERY_S` only: that count reads the whole event table.

``orin_events_total`` and ``orin_notifications_total`` are counters made monotonic here: a
refresh adds what the stored counts grew by, and a drop (events deleted with their camera or
space, deliveries with an erased account) is not subtracted, so Prometheus never sees a reset
that did not happen. Growth that falls in the same refresh as such a deletion is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orin.admin import repository
from orin.admin.service import queue_rows
from orin.bus.base import Bus
from orin.db import Database
from orin.models.camera import CameraStatus
from orin.models.event import EventKind
from orin.models.guard import GuardState
from orin.models.notification import NotificationStatus
from orin.runtime.tasks import tasks
from orin.users.schemas import Channel

logger = structlog.get_logger(__name__)

REFRESH_EVERY_S = 10.0
EVENT_COUNTS_EVERY_S = 60.0
"""Events are counted less often: the count scans the whole (largest) table."""
SCRAPE_WAIT_S = 3.0
"""How long a scrape waits for a refresh it started before answering with older figures."""
QUEUE_DEPTHS_TIMEOUT_S = 5.0
OUTCOMES = (
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
    NotificationStatus.DEAD,
    NotificationStatus.HELD,
    NotificationStatus.SUPPRESSED,
)
"""Statuses a delivery ends in (counted); ``queued`` and ``sending`` are pending (a gauge)."""

K = TypeVar("K", bound=Hashable)


class MonotonicCounts(Generic[K]):
    """Counts read from storage, exposed as counters that never go down."""

    def __init__(self) -> None:
        self.values: dict[K, float] = {}
        self._last: dict[K, int] | None = None

    def update(self, stored: Mapping[K, int]) -> None:
        """Take the stored counts: the first reading as is, then only their growth."""
        if self._last is None:
            self.values = {key: float(value) for key, value in stored.items()}
        else:
            for key, value in stored.items():
                grown = value - self._last.get(key, 0)
                self.values[key] = self.values.get(key, 0.0) + max(0, grown)
        self._last = dict(stored)


class DomainMetrics(Collector):
    """The domain metric families, registered in ``registry``; see the module docstring."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = MonotonicCounts[str]()
        self.notifications = MonotonicCounts[tuple[str, str]]()
        self.pending: dict[tuple[str, str], int] = {}
        self.cameras_online: int | None = None
        self.guards_active: int | None = None
        self.depths: dict[str, int] = {}
        self.refreshed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = -REFRESH_EVERY_S
        self._events_counted = -EVENT_COUNTS_EVERY_S
        registry.register(self)

    async def refresh(self, database: Database, bus: Bus) -> None:
        """Bring the figures up to date unless they are fresh; called before each scrape."""
        if self._task is None or self._task.done():
            if time.monotonic() - self._started < REFRESH_EVERY_S:
                return
            self._started = time.monotonic()
            self._task = asyncio.create_task(self._refresh(database, bus), name="domain-metrics")
        with contextlib.suppress(TimeoutError):
            # Shielded: a scrape that gives up (or is cancelled) leaves the refresh running.
            await asyncio.wait_for(asyncio.shield(self._task), SCRAPE_WAIT_S)

    async def _refresh(self, database: Database, bus: Bus) -> None:
        try:
            count_events = time.monotonic() - self._events_counted >= EVENT_COUNTS_EVERY_S
            async with database.reading() as session:
                events = await repository.event_counts_by_kind(session) if count_events else None
                cameras, _ = await repository.camera_counts(session)
                guards = await repository.guard_counts(session)
                notifications = await repository.notification_counts(session)
        except Exception as exc:
            logger.warning("metrics.domain_refresh_failed", error=str(exc))
            return
        if events is not None:
            self._events_counted = time.monotonic()
            self.events.update({str(k): events.get(str(k), 0) for k in EventKind} | events)
        channels = {str(channel) for channel in Channel} | {ch for ch, _ in notifications}
        self.notifications.update(
            {
                (channel, str(status)): notifications.get((channel, str(status)), 0)
                for channel in channels
                for status in OUTCOMES
            }
            | {key: n for key, n in notifications.items() if key[1] in OUTCOMES}
        )
        self.pending = {
            (channel, str(status)): notifications.get((channel, str(status)), 0)
            for channel in channels
            for status in (NotificationStatus.QUEUED, NotificationStatus.SENDING)
        }
        self.cameras_online = cameras.get(CameraStatus.ONLINE, 0)
        self.guards_active = guards.get(GuardState.ACTIVE, 0)
        try:
            async with asyncio.timeout(QUEUE_DEPTHS_TIMEOUT_S):
                self.depths = await bus.queue_depths(tasks.queues)
        except Exception as exc:
            logger.warning("metrics.queue_depths_failed", error=str(exc))
        self.refreshed_at = time.time()

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> list[Metric]:
        events = CounterMetricFamily(
            "orin_events",
            "Events stored, by kind (catch, camera_offline, camera_online, motion); read from "
            "the database, never decreasing.",
            labels=["kind"],
        )
        for kind, value in sorted(self.events.values.items()):
            events.add_metric([kind], value)
        notifications = CounterMetricFamily(
            "orin_notifications",
            "Deliveries that reached an outcome (sent, failed, dead, held, suppressed), by "
            "channel; read from the database, never decreasing.",
            labels=["channel", "outcome"],
        )
        for (channel, outcome), value in sorted(self.notifications.values.items()):
            notifications.add_metric([channel, outcome], value)
        pending = GaugeMetricFamily(
            "orin_notifications_pending",
            "Deliveries not done yet (queued, sending), by channel.",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(self.pending.items()):
            pending.add_metric([channel, status], count)
        online = GaugeMetricFamily("orin_cameras_online", "Cameras whose status is online.")
        active = GaugeMetricFamily("orin_guards_active", "Guards in the active state.")
        if self.cameras_online is not None:
            online.add_metric([], self.cameras_online)
        if self.guards_active is not None:
            active.add_metric([], self.guards_active)
        depth = GaugeMetricFamily(
            "orin_queue_depth",
            "Messages ready in each bus queue this process knows of.",
            labels=["queue"],
        )
        dead = GaugeMetricFamily(
            "orin_dead_letters",
            "Messages parked in each bus queue's dead-letter queue.",
            labels=["queue"],
        )
        for queue in queue_rows(self.depths):
            depth.add_metric([queue.name], queue.depth)
            dead.add_metric([queue.name], queue.dead_letters)
        refreshed = GaugeMetricFamily(
            "orin_domain_metrics_refreshed_timestamp_seconds",
            "When the domain figures were last read (Unix time).",
        )
        if self.refreshed_at is not None:
            refreshed.add_metric([], self.refreshed_at)
        return [events, notifications, pending, online, active, depth, dead, refreshed]
