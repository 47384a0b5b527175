"""Deliveries of catches to people, and the push subscriptions they go to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class NotificationStatus(StrEnum):
    """``queued`` → ``sending`` → ``sent`` | ``failed`` (permanent) | ``dead`` (retries spent);
    ``held`` during quiet hours (sent later in a digest), ``suppressed`` by a cooldown."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    HELD = "held"
    SUPPRESSED = "suppressed"


class PushKind(StrEnum):
    WEBPUSH = "webpush"
    FCM = "fcm"


class Notification(Base):
    """One delivery of one catch (or one digest) to one user on one channel and target.

    ``key`` is unique: the same catch never makes two deliveries to the same place, however
    often its job is redelivered. A digest row has ``kind`` ``digest`` and the rows it carries
    point at it through ``digest_id``.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("key", name="uq_notification_key"),
        Index("ix_notification_status_due", "status", "next_attempt_at"),
        Index("ix_notification_user_created", "user_id", "created_at"),
        Index("ix_notification_event", "event_id"),
        Index("ix_notification_channel_status", "channel", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="catch")
    """``catch`` or ``digest``."""
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The catch (no foreign key: events are partitioned and may be dropped by retention)."""
    event_started_at: Mapped[datetime | None] = mapped_column(default=None)
    guard_id: Mapped[str | None] = mapped_column(
        ForeignKey("guard.id", ondelete="SET NULL"), default=None
    )
    camera_id: Mapped[str | None] = mapped_column(
        ForeignKey("camera.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(64), default="")
    """Which of the user's targets: a push subscription id; empty for the others."""
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    status: Mapped[NotificationStatus] = mapped_column(
        String(20), default=NotificationStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_id: Mapped[str | None] = mapped_column(String(200), default=None)
    digest_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class PushSubscription(Base):
    """A browser's Web Push subscription or a native app's FCM token, for one user."""

    __tablename__ = "push_subscription"
    __table_args__ = (UniqueConstraint("user_id", "endpoint", name="uq_push_user_endpoint"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PushKind] = mapped_column(String(10))
    endpoint: Mapped[str] = mapped_column(String(1000))
    """Web Push: the push service URL; FCM: the registration token."""
    p256dh: Mapped[str] = mapped_column(String(200), default="")
    auth: Mapped[str] = mapped_column(String(100), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
