"""A worker killed (kill -9) in the middle of a delivery: once a new worker starts, the
notification is sent, under the same idempotency key, and recorded once. Scaled adapter set
(a real `orin worker` process, RabbitMQ redelivering the unacknowledged job)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orin.config import Settings
from orin.events.service import record_event
from orin.models.base import utcnow
from orin.models.event import EventKind
from orin.models.notification import Notification
from orin.notifications.planner import CATCH
from orin.notifications.webhooks import webhook_secret
from orin.outbox import enqueue
from orin.runtime.infrastructure import Infrastructure
from tests.cli.helpers import START_GUARD_S
from tests.fixtures.seeding import watched_camera
from tests.fixtures.worker_process import start_worker
from tests.notifications.fakes.webhook_receiver import WebhookReceiver

STALL_S = 8.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver()
    started.start()
    yield started
    started.stop()


async def seed(infra: Infrastructure, hook_url: str) -> tuple[str, str, str, str]:
    async with infra.database.transaction() as session:
        seeded = await watched_camera(
            session, preferences={"channels": ["webhook"], "webhook_url": hook_url}
        )
    return seeded.user_id, seeded.space_id, seeded.camera_id, seeded.guard_id


async def test_a_worker_killed_mid_delivery_sends_it_after_restart_once(
    scaled_settings: Settings,
    infra: Infrastructure,
    receiver: WebhookReceiver,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    user_id, space_id, camera_id, guard_id = await seed(infra, receiver.url)
    receiver.secret = webhook_secret(infra.secret, user_id)
    receiver.stall_next(STALL_S)  # the first try hangs: the worker dies waiting for it
    log = tmp_path / "worker.log"
    env = {
        "ORIN_NOTIFY_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "ORIN_NOTIFY_REQUEST_TIMEOUT_S": "30",
        "ORIN_SECRET_KEY": scaled_settings.secret_key.get_secret_value(),
    }
    workers.append(start_worker(scaled_settings, log, **env))
    started = utcnow()
    async with infra.database.transaction() as session:
        event = await record_event(
            session,
            space_id=space_id,
            camera_id=camera_id,
            guard_id=guard_id,
            kind=EventKind.CATCH,
            started_at=started,
            label="person",
            confidence=0.9,
        )
        enqueue(session, CATCH, {"event_id": event.id, "started_at": started.isoformat()})
    deadline = time.monotonic() + START_GUARD_S  # a worker process starts first
    while not receiver.requests:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        await asyncio.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    async with infra.database.transaction() as session:
        (row,) = await session.scalars(select(Notification).where(Notification.user_id == user_id))
        assert (row.status, row.attempts) == ("queued", 0)  # the killed try left no trace

    workers.append(start_worker(scaled_settings, log, **env))
    deadline = time.monotonic() + START_GUARD_S  # a worker process starts first
    while True:
        async with infra.database.transaction() as session:
            (row,) = await session.scalars(
                select(Notification).where(Notification.user_id == user_id)
            )
        if row.status == "sent":
            break
        assert time.monotonic() < deadline, f"{row.status}: {log.read_text()[-3000:]}"
        await asyncio.sleep(0.2)
    await asyncio.sleep(STALL_S)  # the stalled first request finishes at the receiver too
    keys = {request.headers["x-orin-event-id"] for request in receiver.requests}
    assert keys == {row.key}  # every try carried the same key
    assert len(receiver.requests) == 2
    assert list(receiver.deliveries) == [row.key]  # the receiver kept it once
    assert row.attempts == 1
