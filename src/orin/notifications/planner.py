"""Who hears about a catch, how, and when: one notification row per delivery.

For a catch, every user who may see its camera (members of its space and users it is shared
with, unexpired; disabled accounts left out) gets deliveries on the guard's channels when the
guard names some, otherwise on the channels of their own preferences. A channel is used only
when it can reach the user (`readiness.not_ready`: email needs a verified address, SMS a
number, webhooks a URL), push when the user has a subscription (one delivery per
subscription). Each delivery is then:

- ``suppressed`` when the same user had a delivery for the same guard, camera and channel
  within ``notify.cooldown_s`` (counted, never sent);
- ``held`` during the user's quiet hours (in their timezone) unless the guard is critical and
  the user lets critical guards through; held deliveries go out later as one digest;
- ``queued`` otherwise, with a `DELIVER` job.

Each row's key (catch, user, channel, target) is unique, so planning the same catch twice
adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from orin.access.resolve import live_share
from orin.admin.accounts import disabled_clause
from orin.config import NotifySettings
from orin.models.camera import Camera, CameraShare
from orin.models.event import Event
from orin.models.guard import Guard
from orin.models.notification import Notification, NotificationStatus, PushSubscription
from orin.models.space import SpaceMember
from orin.models.user import User
from orin.notifications.quiet_hours import decide
from orin.notifications.readiness import not_ready
from orin.outbox import enqueue
from orin.users.schemas import Channel, Preferences

logger = structlog.get_logger(__name__)

CATCH = "notifications.catch"
"""Plan a catch's deliveries (payload: event_id, started_at); queued with the catch."""
DELIVER = "notifications.deliver"
"""Deliver one notification row (payload: notification_id)."""


@dataclass(frozen=True)
class Delivery:
    """One planned delivery: who, where, and the user's preferences."""

    user: User
    preferences: Preferences
    channel: Channel
    target: str


def delivery_key(event_id: str, user_id: str, channel: str, target: str) -> str:
    """The idempotency key of a catch's delivery."""
    return f"{event_id}:{user_id}:{channel}:{target}"


async def audience(session: AsyncSession, camera: Camera) -> list[User]:
    """Users who may see ``camera`` (its space's members and its live shares) and whose
    account is not disabled."""
    members = select(SpaceMember.user_id).where(SpaceMember.space_id == camera.space_id)
    shared = select(CameraShare.user_id).where(CameraShare.camera_id == camera.id, live_share())
    rows = await session.scalars(
        select(User)
        .where(or_(User.id.in_(members), User.id.in_(shared)), ~disabled_clause())
        .order_by(User.id)
    )
    return list(rows)


async def deliveries_for(session: AsyncSession, guard: Guard, users: list[User]) -> list[Delivery]:
    """The deliveries of a catch of ``guard`` to ``users`` (see the module docstring)."""
    guard_channels = [Channel(name) for name in (guard.rule or {}).get("channels", [])]
    user_ids = [user.id for user in users]
    subscriptions: dict[str, list[str]] = {}
    if user_ids:
        rows = await session.execute(
            select(PushSubscription.user_id, PushSubscription.id)
            .where(PushSubscription.user_id.in_(user_ids))
            .order_by(PushSubscription.created_at)
        )
        for user_id, subscription_id in rows:
            subscriptions.setdefault(user_id, []).append(subscription_id)
    planned: list[Delivery] = []
    for user in users:
        preferences = Preferences.model_validate(user.preferences or {})
        for channel in guard_channels or preferences.channels:
            for target in _targets(user, preferences, channel, subscriptions.get(user.id, [])):
                planned.append(Delivery(user, preferences, channel, target))
    return planned


def _targets(
    user: User, preferences: Preferences, channel: Channel, subscriptions: list[str]
) -> list[str]:
    if channel is Channel.PUSH:
        return subscriptions
    return [] if not_ready(user, preferences, channel) else [""]


async def plan_catch(
    session: AsyncSession, event: Event, settings: NotifySettings, *, now: datetime
) -> list[Notification]:
    """Create the notification rows of a catch and queue the ones to send now."""
    guard = await session.get(Guard, event.guard_id) if event.guard_id else None
    camera = await session.get(Camera, event.camera_id)
    if guard is None or camera is None:
        logger.info("notifications.catch_orphaned", event_id=event.id)
        return []
    await _serialise_cooldown(session, guard.id, camera.id)
    severity = str((guard.rule or {}).get("severity", "warning"))
    existing = set(
        await session.scalars(select(Notification.key).where(Notification.event_id == event.id))
    )
    created: list[Notification] = []
    users = await audience(session, camera)
    cooling = await _cooling_down(session, guard.id, camera.id, users, settings, now=now)
    for delivery in await deliveries_for(session, guard, users):
        key = delivery_key(event.id, delivery.user.id, delivery.channel, delivery.target)
        if key in existing:
            continue
        row = Notification(
            key=key,
            kind="catch",
            user_id=delivery.user.id,
            event_id=event.id,
            event_started_at=event.started_at,
            guard_id=guard.id,
            camera_id=camera.id,
            channel=delivery.channel.value,
            target=delivery.target,
            severity=severity,
            created_at=now,
        )
        _decide(row, delivery.preferences, cooling, now=now)
        session.add(row)
        created.append(row)
    await session.flush()
    for row in created:
        if row.status == NotificationStatus.QUEUED:
            enqueue(session, DELIVER, {"notification_id": row.id})
    logger.info(
        "notifications.planned",
        event_id=event.id,
        deliveries=len(created),
        queued=sum(row.status == NotificationStatus.QUEUED for row in created),
        held=sum(row.status == NotificationStatus.HELD for row in created),
        suppressed=sum(row.status == NotificationStatus.SUPPRESSED for row in created),
    )
    return created


def _decide(
    row: Notification,
    preferences: Preferences,
    cooling: set[tuple[str, str, str]],
    *,
    now: datetime,
) -> None:
    """Set the row's status: suppressed (its user, channel and target are in ``cooling``),
    held (quiet hours) or queued."""
    if (row.user_id, row.channel, row.target) in cooling:
        row.status = NotificationStatus.SUPPRESSED
        return
    decision = decide(preferences, now, row.severity)
    if decision.release_at is not None:
        row.status = NotificationStatus.HELD
        row.next_attempt_at = decision.release_at
        return
    row.status = NotificationStatus.QUEUED
    row.next_attempt_at = now


async def _serialise_cooldown(session: AsyncSession, guard_id: str, camera_id: str) -> None:
    """Plan one catch of this guard and camera at a time, until the transaction ends, so two
    catches planned at once cannot both find no earlier notification and both be sent.

    PostgreSQL: a transaction-scoped advisory lock keyed by the pair (READ COMMITTED, so the
    cooldown query after it sees what the previous holder committed). SQLite: writing
    transactions already hold the database's write lock (``BEGIN IMMEDIATE``, `orin.db`).
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:pair, 0))"),
            {"pair": f"orin.notify.cooldown:{guard_id}:{camera_id}"},
        )


async def _cooling_down(
    session: AsyncSession,
    guard_id: str,
    camera_id: str,
    users: list[User],
    settings: NotifySettings,
    *,
    now: datetime,
) -> set[tuple[str, str, str]]:
    """(user, channel, target) of ``users`` that had a catch of this guard and camera within
    the cooldown (suppressed rows do not count): one query for the whole catch."""
    if settings.cooldown_s <= 0 or not users:
        return set()
    since = now - timedelta(seconds=settings.cooldown_s)
    rows = await session.execute(
        select(Notification.user_id, Notification.channel, Notification.target)
        .where(
            Notification.user_id.in_([user.id for user in users]),
            Notification.created_at >= since,
            Notification.guard_id == guard_id,
            Notification.camera_id == camera_id,
            Notification.kind == "catch",
            Notification.status != NotificationStatus.SUPPRESSED,
        )
        .distinct()
    )
    return {(user_id, channel, target) for user_id, channel, target in rows}
