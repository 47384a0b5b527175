"""Delivering one notification row: render its notice, send it, record the outcome.

Three steps, and no transaction stays open while the provider answers (on SQLite an open
writing transaction holds the only write lock, so every other writer would wait for it):

1. a read-only transaction loads the row and renders its target and notice;
2. the notice is sent, outside any transaction;
3. a writing transaction records the outcome and the job's message as processed, unless the
   row changed meanwhile (a repeat of the same job recorded first: the outcome is dropped).

When the worker dies mid-send nothing is recorded, the bus delivers the job again and the same
notice goes out again under the same key (webhook ``X-ORIN-Event-Id``, Web Push ``Topic``, FCM
collapse key, mail ``Message-ID``), so the receiving side can drop the repeat. Outcomes:

- sent: ``sent``, with the provider's id;
- `TransientDeliveryError` (5xx, 429, timeouts): ``attempts`` grows, ``last_error`` and
  ``next_attempt_at`` are set and a delayed job is queued (``notify.retry_base_s`` doubling up
  to ``notify.retry_max_s``, or the provider's Retry-After when longer); after
  ``notify.max_attempts`` the row is ``dead``;
- `PermanentDeliveryError` (4xx): ``failed`` at once; `TargetGone` also deletes the push
  subscription (expired, unsubscribed, or an unknown FCM token);
- a channel this server has no credentials for, or a target that no longer exists: ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.admin.accounts import is_disabled
from orin.bus.base import retry_delay
from orin.config import Settings
from orin.db import Database
from orin.errors import NotFound
from orin.models.base import utcnow
from orin.models.event import Event
from orin.models.notification import Notification, NotificationStatus, PushKind, PushSubscription
from orin.models.user import User
from orin.notifications.channels.registry import ChannelSet, ChannelUnavailable
from orin.notifications.notice import (
    DeliveryError,
    EmailTarget,
    FcmTarget,
    Notice,
    SmsTarget,
    Target,
    TargetGone,
    TransientDeliveryError,
    WebhookTarget,
    WebPushTarget,
)
from orin.notifications.planner import DELIVER
from orin.notifications.readiness import not_ready
from orin.notifications.render import render_catch, render_digest
from orin.notifications.summaries import events_link, summarise
from orin.notifications.webhooks import check_webhook_url, webhook_secret
from orin.outbox import enqueue
from orin.outbox.consumer import claim_message, was_handled
from orin.storage.base import ObjectStorage
from orin.users.schemas import Channel, Preferences

logger = structlog.get_logger(__name__)

ERROR_LIMIT = 1000
"""Characters of a provider's error kept in ``last_error``."""
RESCHEDULED_SLACK = timedelta(seconds=1)
"""A job for a row due more than this later is an older job of a rescheduled row."""


class Undeliverable(Exception):
    """The row cannot be delivered at all (no target, no catch): it is marked failed."""


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One `DELIVER` job: the bus message and the row it names."""

    message_id: str
    notification_id: str
    consumer: str
    """The name the job's message is recorded as processed under."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one try came to: the provider's id when sent, else the error."""

    provider_id: str | None = None
    error: Exception | None = None


async def deliver(
    database: Database,
    job: DeliveryJob,
    *,
    settings: Settings,
    server_secret: bytes,
    storage: ObjectStorage,
    channels: ChannelSet,
) -> None:
    """Send the job's row once and record what happened (see the module docstring)."""
    async with database.reading() as session:
        if await was_handled(session, job.consumer, job.message_id):
            return
        row = await session.get(Notification, job.notification_id)
        if not _due(row, utcnow()):
            return  # a repeat of a finished delivery, a deleted row, or an older job
        assert row is not None
        seen_attempts = row.attempts
        rendered: tuple[Target, Notice] | Undeliverable
        try:
            rendered = await _render(
                session, row, settings=settings, server_secret=server_secret, storage=storage
            )
        except Undeliverable as error:
            rendered = error
    if isinstance(rendered, Undeliverable):
        outcome = _Outcome(error=rendered)
    else:
        outcome = await _send(channels, *rendered)
    async with database.transaction() as session:
        if not await claim_message(session, job.consumer, job.message_id):
            return
        row = await session.get(Notification, job.notification_id)
        if row is None or row.status != NotificationStatus.QUEUED or row.attempts != seen_attempts:
            logger.info("notifications.try_overtaken", notification_id=job.notification_id)
            return
        await _record(session, row, outcome, settings=settings, now=utcnow())


def _due(row: Notification | None, now: datetime) -> bool:
    """Whether ``row`` is still waiting for this job."""
    if row is None or row.status != NotificationStatus.QUEUED:
        return False
    return row.next_attempt_at is None or row.next_attempt_at <= now + RESCHEDULED_SLACK


async def _render(
    session: AsyncSession,
    row: Notification,
    *,
    settings: Settings,
    server_secret: bytes,
    storage: ObjectStorage,
) -> tuple[Target, Notice]:
    """Where ``row`` goes and what it says; `Undeliverable` when it cannot go anywhere."""
    user = await session.get(User, row.user_id)
    if user is None:
        raise Undeliverable("the user no longer exists")
    if is_disabled(user):
        raise Undeliverable("the account is disabled")
    preferences = Preferences.model_validate(user.preferences or {})
    target = await _target(
        session, row, user, preferences, settings=settings, server_secret=server_secret
    )
    notice = await _notice(session, row, preferences, settings=settings, storage=storage)
    return target, notice


async def _send(channels: ChannelSet, target: Target, notice: Notice) -> _Outcome:
    try:
        return _Outcome(provider_id=await channels.send(target, notice))
    except (ChannelUnavailable, DeliveryError) as error:
        return _Outcome(error=error)


async def _record(
    session: AsyncSession,
    row: Notification,
    outcome: _Outcome,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """Write the outcome of one try to ``row``."""
    log = logger.bind(notification_id=row.id, channel=row.channel, kind=row.kind)
    row.attempts += 1
    error = outcome.error
    if isinstance(error, Undeliverable | ChannelUnavailable):
        _fail(row, NotificationStatus.FAILED, str(error))
        log.warning("notifications.undeliverable", error=str(error))
        return
    if isinstance(error, TransientDeliveryError):
        _retry_or_bury(session, row, error, settings=settings, now=now)
        log.warning(
            "notifications.retry",
            error=error.message,
            status=error.status,
            attempts=row.attempts,
            outcome=row.status.value,
        )
        return
    if isinstance(error, DeliveryError):
        _fail(row, NotificationStatus.FAILED, error.message)
        if isinstance(error, TargetGone) and row.channel == Channel.PUSH:
            await session.execute(delete(PushSubscription).where(PushSubscription.id == row.target))
            log.info("notifications.push_subscription_removed", subscription_id=row.target)
        log.warning("notifications.failed", error=error.message, status=error.status)
        return
    row.status = NotificationStatus.SENT
    row.sent_at = now
    row.provider_id = outcome.provider_id[:200] if outcome.provider_id else None
    row.last_error = ""
    row.next_attempt_at = None
    if row.channel == Channel.PUSH:
        subscription = await session.get(PushSubscription, row.target)
        if subscription is not None:
            subscription.last_used_at = now
    log.info("notifications.sent", attempts=row.attempts)


def _fail(row: Notification, status: NotificationStatus, error: str) -> None:
    row.status = status
    row.last_error = error[:ERROR_LIMIT]
    row.next_attempt_at = None


def _retry_or_bury(
    session: AsyncSession,
    row: Notification,
    error: TransientDeliveryError,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    notify = settings.notify
    if row.attempts >= notify.max_attempts:
        _fail(row, NotificationStatus.DEAD, f"gave up after {row.attempts} tries: {error.message}")
        return
    delay = retry_delay(row.attempts, notify.retry_base_s, notify.retry_max_s)
    if error.retry_after_s is not None:
        delay = max(delay, min(error.retry_after_s, notify.retry_max_s))
    row.status = NotificationStatus.QUEUED
    row.last_error = error.message[:ERROR_LIMIT]
    row.next_attempt_at = now + timedelta(seconds=delay)
    enqueue(session, DELIVER, {"notification_id": row.id}, delay_s=delay)


async def _target(
    session: AsyncSession,
    row: Notification,
    user: User,
    preferences: Preferences,
    *,
    settings: Settings,
    server_secret: bytes,
) -> Target:
    channel = Channel(row.channel)
    if channel is Channel.PUSH:
        subscription = await session.get(PushSubscription, row.target)
        if subscription is None or subscription.user_id != user.id:
            raise Undeliverable("the push subscription was removed")
        if subscription.kind == PushKind.FCM:
            return FcmTarget(token=subscription.endpoint)
        endpoint = await check_webhook_url(
            subscription.endpoint, settings.notify, fail=Undeliverable, what="push endpoint"
        )
        return WebPushTarget(
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            pinned_hosts=endpoint.pinned_hosts,
        )
    reason = not_ready(user, preferences, channel)
    if reason is not None:
        raise Undeliverable(reason)
    if channel is Channel.EMAIL:
        return EmailTarget(address=user.email, name=user.display_name)
    if channel is Channel.SMS:
        assert preferences.sms_number is not None  # ready
        return SmsTarget(number=preferences.sms_number)
    assert preferences.webhook_url is not None  # ready
    checked = await check_webhook_url(preferences.webhook_url, settings.notify, fail=Undeliverable)
    return WebhookTarget(
        url=preferences.webhook_url,
        secret=webhook_secret(server_secret, user.id),
        pinned_hosts=checked.pinned_hosts,
    )


async def _notice(
    session: AsyncSession,
    row: Notification,
    preferences: Preferences,
    *,
    settings: Settings,
    storage: ObjectStorage,
) -> Notice:
    timezone = preferences.timezone
    if row.kind == "digest":
        held = list(
            await session.scalars(
                select(Notification)
                .where(Notification.digest_id == row.id)
                .order_by(Notification.created_at)
            )
        )
        events = await _events(session, held)
        if not events:
            raise Undeliverable("the held catches were deleted")
        summaries = await summarise(session, events, settings=settings, storage=storage)
        return render_digest(
            row.key,
            summaries,
            window_start=held[0].created_at,
            window_end=row.created_at,
            timezone=timezone,
            events_link=events_link(settings),
        )
    events = await _events(session, [row])
    if not events:
        raise Undeliverable("the catch was deleted")
    (summary,) = await summarise(session, events, settings=settings, storage=storage)
    snapshot = None
    if row.channel == Channel.EMAIL and events[0].snapshot_key:
        try:
            snapshot = await storage.get(events[0].snapshot_key)
        except NotFound:
            snapshot = None
    return render_catch(row.key, summary, snapshot=snapshot, timezone=timezone)


async def _events(session: AsyncSession, rows: list[Notification]) -> list[Event]:
    """The catches of ``rows`` that still exist, in the rows' order."""
    events: list[Event] = []
    for row in rows:
        if row.event_id is None or row.event_started_at is None:
            continue
        event = await session.get(Event, (row.event_id, row.event_started_at))
        if event is not None:
            events.append(event)
    return events
