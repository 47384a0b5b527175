"""One ORIN process: its adapters plus the roles it plays (api, worker, scheduler).

`orin run` plays every role in one process; `orin api`, `orin worker` and `orin scheduler`
play one each. The worker role consumes tasks and runs the outbox relay; the scheduler role
sends periodic jobs; every role records a heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from orin.auth import email_tasks
from orin.auth.keys import KeyRing
from orin.bus.base import Handler, Message
from orin.config import S3Settings, Settings
from orin.events import tasks as event_tasks
from orin.gdpr import export as gdpr_export
from orin.ingest.demo import prepare_demo_video
from orin.ingest.supervisor import IngestSupervisor
from orin.media import cleanup
from orin.notifications import tasks as notification_tasks
from orin.notifications.channels.registry import close_channel_set
from orin.notifications.mqtt_link import start_mqtt, stop_mqtt
from orin.outbox import OutboxRelay, idempotent
from orin.recordings import retention as recording_retention
from orin.recordings.lifecycle import apply_archive_rule
from orin.recordings.uploader import RecordingUploader
from orin.runtime import maintenance
from orin.runtime.heartbeat import Heartbeat
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.scheduler import Scheduler
from orin.runtime.tasks import (
    OwnTransactionsContext,
    OwnTransactionsHandler,
    TaskContext,
    TaskHandler,
    TaskRegistry,
    TaskSpec,
    tasks,
)
from orin.spaces import invite_mail
from orin.vision import tasks as vision_tasks
from orin.vision.service import Vision

logger = structlog.get_logger(__name__)

Role = Literal["api", "worker", "scheduler", "ingest"]
ALL_ROLES: tuple[Role, ...] = ("api", "worker", "scheduler", "ingest")

# Importing a task module registers its tasks.
_TASK_MODULES = (
    maintenance,
    email_tasks,
    cleanup,
    invite_mail,
    event_tasks,
    gdpr_export,
    recording_retention,
    vision_tasks,
    notification_tasks,
)


class Runtime:
    """Starts the adapters and the background parts of the given roles; stops them in reverse."""

    def __init__(
        self,
        settings: Settings,
        roles: Iterable[Role],
        *,
        registry: TaskRegistry = tasks,
    ) -> None:
        self.settings = settings
        self.roles = frozenset(roles)
        self.registry = registry
        self.infra = Infrastructure.from_settings(settings)
        self.keyring: KeyRing | None = None
        self.relay: OutboxRelay | None = None
        self.scheduler: Scheduler | None = None
        self.ingest: IngestSupervisor | None = None
        self.uploader: RecordingUploader | None = None
        self.vision: Vision | None = None
        self.heartbeat = Heartbeat(self.infra.database, "+".join(sorted(self.roles)))
        self._background: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start adapters, then the roles' background work."""
        if "worker" in self.roles:
            for spec in self.registry.specs:
                self.infra.bus.subscribe(spec.topic, spec.queue, self._task_handler(spec))
        try:
            await self.infra.start()
        except BaseException:
            await self.infra.close()
            raise
        if "api" in self.roles:
            self.keyring = KeyRing(
                self.infra.database, self.settings.auth, envelope=self.infra.envelope
            )
            try:
                await self.keyring.start()
            except BaseException:
                await self.infra.close()
                raise
        if "worker" in self.roles:
            self.relay = OutboxRelay(self.infra.database, self.infra.bus, self.settings.outbox)
            self.relay.start()
            await start_mqtt(self.settings)
        if "scheduler" in self.roles:
            self.scheduler = Scheduler(self.infra.database, self.settings.scheduler)
            self.scheduler.start()
            s3 = self.settings.s3
            if s3.endpoint and (s3.archive_after_days or s3.expire_after_days):
                self._background.append(
                    asyncio.create_task(_apply_archive_rule(s3), name="archive-rule")
                )
        self._background.append(asyncio.create_task(self.heartbeat.run(), name="heartbeat"))
        if "ingest" in self.roles:
            if self.settings.ingest.demo_camera:
                self._background.append(
                    asyncio.create_task(prepare_demo_video(self.settings), name="demo-video")
                )
            if self.settings.vision.enabled:
                self.vision = Vision(self.infra.database, self.infra.storage, self.settings)
                await self.vision.start()
            self.ingest = IngestSupervisor(
                self.infra.database, self.infra.envelope, self.settings, vision=self.vision
            )
            self.ingest.start()
            self.uploader = RecordingUploader(
                self.infra.database, self.infra.storage, self.settings
            )
            self.uploader.start()
        logger.info("runtime.started", roles=sorted(self.roles))

    async def stop(self) -> None:
        """Stop background work, then the adapters."""
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        if self.ingest is not None:
            await self.ingest.stop()
        if self.vision is not None:
            await self.vision.close()
        if self.uploader is not None:
            await self.uploader.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.relay is not None:
            await self.relay.stop()
        await close_channel_set(self.settings)
        await stop_mqtt(self.settings)
        await self.infra.close()
        logger.info("runtime.stopped", roles=sorted(self.roles))

    def _task_handler(self, spec: TaskSpec) -> Handler:
        if spec.own_transactions:
            handler = cast(OwnTransactionsHandler, spec.handler)
            return functools.partial(handler, OwnTransactionsContext(self.infra, spec.queue))
        return _Bound(self.infra, spec.queue, cast(TaskHandler, spec.handler))


async def _apply_archive_rule(s3: S3Settings) -> None:
    """Set the bucket's archive/expiry lifecycle rule (idempotent, so at every start)."""
    try:
        await apply_archive_rule(
            s3,
            archive_after_days=s3.archive_after_days,
            storage_class=s3.archive_storage_class,
            expire_after_days=s3.expire_after_days,
        )
    except Exception as exc:
        logger.warning("storage.archive_rule_failed", error=str(exc))


class _Bound:
    """A task handler bound to this process's adapters, made effectively-once."""

    def __init__(self, infra: Infrastructure, consumer: str, handler: TaskHandler) -> None:
        self.infra = infra
        self.handler = handler
        self._run = idempotent(infra.database, consumer, self._with_context)

    async def _with_context(self, session: AsyncSession, message: Message) -> None:
        await self.handler(TaskContext(session=session, infra=self.infra), message)

    async def __call__(self, message: Message) -> None:
        await self._run(message)
