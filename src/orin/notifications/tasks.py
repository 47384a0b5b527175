"""Worker tasks of notifications: plan a catch's deliveries, deliver one, release digests.

- `CATCH` (queued by `orin.vision.tasks.record_catch` with the event): plan the deliveries;
- `DELIVER`: send one row (`orin.notifications.delivery`);
- `RELEASE_HELD` (every minute, scheduler): held rows whose quiet hours are over become one
  digest per user, channel and target;
- `MQTT_CATCH` / `MQTT_CAMERA`: publish a catch or a camera's availability to MQTT (Home
  Assistant) when ``notify.mqtt_url`` is set; a broker that is down fails the job, and the bus
  retries it with backoff;
- `SWEEP` (every minute, scheduler): queued rows overdue by ``SWEEP_GRACE_S`` get a new job —
  a safety net for a job that was dead-lettered (a crash loop, a database outage).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from orin.bus.base import Message
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraStatus
from orin.models.event import Event
from orin.models.notification import Notification, NotificationStatus
from orin.notifications.channels.registry import channel_set
from orin.notifications.delivery import DeliveryJob, deliver
from orin.notifications.digests import release_held
from orin.notifications.mqtt_link import mqtt_publisher
from orin.notifications.planner import CATCH, DELIVER, plan_catch
from orin.notifications.summaries import summarise
from orin.outbox import enqueue
from orin.runtime.tasks import OwnTransactionsContext, TaskContext, tasks

logger = structlog.get_logger(__name__)

RELEASE_HELD = "notifications.release_held"
SWEEP = "notifications.sweep"
MQTT_CATCH = "notifications.mqtt_catch"
"""Publish a catch to MQTT (payload: event_id, started_at)."""
MQTT_CAMERA = "notifications.mqtt_camera"
"""Publish a camera's availability to MQTT (payload: camera_id)."""
SWEEP_GRACE_S = 120.0
"""A queued row this late was lost by the bus: queue it again."""
SWEEP_BATCH = 500


@tasks.task(CATCH)
async def plan_catch_task(ctx: TaskContext, message: Message) -> None:
    """Create the deliveries of the catch named in the payload."""
    event_id = str(message.payload["event_id"])
    started_at = datetime.fromisoformat(str(message.payload["started_at"]))
    event = await ctx.session.get(Event, (event_id, started_at))
    if event is None:
        logger.info("notifications.catch_gone", event_id=event_id)
        return
    await plan_catch(ctx.session, event, ctx.infra.settings.notify, now=utcnow())
    if ctx.infra.settings.notify.mqtt_url:
        enqueue(ctx.session, MQTT_CATCH, dict(message.payload))


@tasks.task(MQTT_CATCH)
async def mqtt_catch_task(ctx: TaskContext, message: Message) -> None:
    """Publish the catch to MQTT."""
    publisher = mqtt_publisher(ctx.infra.settings)
    if publisher is None:
        return
    event = await ctx.session.get(
        Event,
        (str(message.payload["event_id"]), datetime.fromisoformat(message.payload["started_at"])),
    )
    if event is None:
        return
    (summary,) = await summarise(
        ctx.session, [event], settings=ctx.infra.settings, storage=ctx.infra.storage
    )
    await publisher.publish_catch(summary)


@tasks.task(MQTT_CAMERA)
async def mqtt_camera_task(ctx: TaskContext, message: Message) -> None:
    """Publish the camera's availability (its current status) to MQTT."""
    publisher = mqtt_publisher(ctx.infra.settings)
    camera = await ctx.session.get(Camera, str(message.payload["camera_id"]))
    if publisher is None or camera is None:
        return
    await publisher.publish_camera(
        camera.id, camera.name, online=camera.status == CameraStatus.ONLINE
    )


@tasks.own_transactions(DELIVER)
async def deliver_task(ctx: OwnTransactionsContext, message: Message) -> None:
    """Deliver the row named in the payload, unless it is no longer queued; the provider is
    waited for outside any transaction (`orin.notifications.delivery`)."""
    infra = ctx.infra
    await deliver(
        infra.database,
        DeliveryJob(message.id, str(message.payload["notification_id"]), ctx.consumer),
        settings=infra.settings,
        server_secret=infra.secret,
        storage=infra.storage,
        channels=channel_set(infra.settings),
    )


@tasks.task(RELEASE_HELD)
async def release_held_task(ctx: TaskContext, message: Message) -> None:
    """Turn held rows whose quiet hours ended into digests."""
    del message
    await release_held(ctx.session, now=utcnow())


@tasks.task(SWEEP)
async def sweep_task(ctx: TaskContext, message: Message) -> None:
    """Queue again the rows whose job went missing."""
    del message
    now = utcnow()
    rows = list(
        await ctx.session.scalars(
            select(Notification)
            .where(
                Notification.status == NotificationStatus.QUEUED,
                Notification.next_attempt_at < now - timedelta(seconds=SWEEP_GRACE_S),
            )
            .limit(SWEEP_BATCH)
        )
    )
    for row in rows:
        row.next_attempt_at = now  # not swept again before another grace period
        enqueue(ctx.session, DELIVER, {"notification_id": row.id})
    if rows:
        logger.warning("notifications.swept", count=len(rows))
