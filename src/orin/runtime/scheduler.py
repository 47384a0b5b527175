"""`orin scheduler`: sends periodic jobs through the outbox; one leader at a time.

Leadership is a database lease renewed every tick; standbys keep trying and take over once
the leader's lease expires (or at once when it releases it on a clean stop). Due times live in
the leader's memory: a new leader sends each job once at takeover, which the jobs tolerate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

import structlog

from orin.config import SchedulerSettings
from orin.db import Database
from orin.events import tasks as event_tasks
from orin.notifications import tasks as notification_tasks
from orin.outbox import enqueue
from orin.recordings import retention as recording_retention
from orin.runtime import leases, maintenance
from orin.vision import tasks as vision_tasks

logger = structlog.get_logger(__name__)

LEADER_LEASE = "scheduler.leader"


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    topic: str
    every_s: float


DEFAULT_JOBS = (
    PeriodicJob(maintenance.OUTBOX_CLEANUP, every_s=3600.0),
    PeriodicJob(maintenance.HEARTBEAT_CLEANUP, every_s=3600.0),
    PeriodicJob(event_tasks.ENSURE_PARTITIONS, every_s=3600.0),
    PeriodicJob(recording_retention.RETENTION_TOPIC, every_s=3600.0),
    PeriodicJob(vision_tasks.TRACK_RETENTION, every_s=3600.0),
    PeriodicJob(notification_tasks.RELEASE_HELD, every_s=60.0),
    PeriodicJob(notification_tasks.SWEEP, every_s=60.0),
)


class Scheduler:
    """Leader-elected periodic job sender."""

    def __init__(
        self,
        database: Database,
        settings: SchedulerSettings,
        jobs: tuple[PeriodicJob, ...] = DEFAULT_JOBS,
    ) -> None:
        self.database = database
        self.settings = settings
        self.jobs = jobs
        self.holder = f"scheduler-{uuid.uuid4().hex[:12]}"
        self.is_leader = False
        self._next_due: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> list[str]:
        """Renew or try for leadership; as leader, send due jobs. Returns the topics sent."""
        leader = await leases.acquire_or_renew(
            self.database, LEADER_LEASE, self.holder, self.settings.lease_ttl_s
        )
        if leader != self.is_leader:
            logger.info("scheduler.leadership", leader=leader, holder=self.holder)
            self.is_leader = leader
            self._next_due.clear()
        if not leader:
            return []
        now = time.monotonic()
        due = [job for job in self.jobs if self._next_due.get(job.topic, 0.0) <= now]
        if due:
            async with self.database.transaction() as session:
                for job in due:
                    enqueue(session, job.topic, {"scheduled_by": self.holder})
            for job in due:
                self._next_due[job.topic] = now + job.every_s
        return [job.topic for job in due]

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                logger.warning("scheduler.tick_failed", error=str(exc))
            await asyncio.sleep(self.settings.tick_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="scheduler")

    async def stop(self) -> None:
        """Stop ticking and hand leadership over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            with contextlib.suppress(Exception):
                await leases.release(self.database, LEADER_LEASE, self.holder)
            self.is_leader = False
