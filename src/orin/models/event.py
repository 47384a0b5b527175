"""Things that happened on a camera: catches and system events (partitioned by month on PG)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow
from orin.models.embedding_type import Embedding

EMBEDDING_DIM = 384


class EventKind(StrEnum):
    CATCH = "catch"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_ONLINE = "camera_online"
    MOTION = "motion"


class ReviewState(StrEnum):
    """A catch's review: ``new`` → ``seen`` → ``confirmed`` | ``false_alarm`` | ``resolved``."""

    NEW = "new"
    SEEN = "seen"
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"
    RESOLVED = "resolved"


class Event(Base):
    """One event. On PostgreSQL the table is partitioned by month on ``started_at`` (see
    `orin.events.partitions`), so the primary key includes it."""

    __tablename__ = "event"
    __table_args__ = (
        # INCLUDE lets stats and lists of a space run as index-only scans on PostgreSQL:
        # rows are wide (the embedding is stored inline).
        Index(
            "ix_event_space_started",
            "space_id",
            "started_at",
            "id",
            postgresql_include=["kind", "label", "camera_id", "guard_id"],
        ),
        Index("ix_event_camera_started", "camera_id", "started_at"),
        Index("ix_event_guard_started", "guard_id", "started_at"),
        # Admin analytics: catches per minute and per day across every space.
        Index("ix_event_kind_started", "kind", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    started_at: Mapped[datetime] = mapped_column(primary_key=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    space_id: Mapped[str] = mapped_column(ForeignKey("space.id", ondelete="CASCADE"))
    camera_id: Mapped[str] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    guard_id: Mapped[str | None] = mapped_column(
        ForeignKey("guard.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[EventKind] = mapped_column(String(20))
    label: Mapped[str | None] = mapped_column(String(50), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    zone: Mapped[str | None] = mapped_column(String(64), default=None)
    track_id: Mapped[str | None] = mapped_column(String(64), default=None)
    snapshot_key: Mapped[str | None] = mapped_column(String(300), default=None)
    thumbnail_key: Mapped[str | None] = mapped_column(String(300), default=None)
    clip_key: Mapped[str | None] = mapped_column(String(300), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_state: Mapped[ReviewState | None] = mapped_column(String(20), default=None)
    """Catches only: their review; None for system events."""
    notes: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    search_text: Mapped[str] = mapped_column(Text, default="")
    """What text search matches: label, attributes, camera and zone names, notes."""
    embedding: Mapped[NDArray[np.float32] | None] = mapped_column(
        Embedding(EMBEDDING_DIM), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
