"""RTSP sources with sealed credentials, zones, privacy masks, and per-camera shares."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class CameraStatus(StrEnum):
    UNKNOWN = "unknown"
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


class RecordingMode(StrEnum):
    OFF = "off"
    EVENTS = "events"
    CONTINUOUS = "continuous"


class ShareRole(StrEnum):
    """A camera shared on its own: `viewer` watches and reviews, `manager` also edits it."""

    MANAGER = "manager"
    VIEWER = "viewer"


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("space.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    main_url: Mapped[str] = mapped_column(String(2048))
    """Without credentials; they live sealed in `credentials_sealed`."""
    detect_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    credentials_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    """JSON ``{"main": {"username", "password"}, "detect": {...}}`` sealed by `kit.envelope`."""
    enabled: Mapped[bool] = mapped_column(default=True)
    status: Mapped[CameraStatus] = mapped_column(String(20), default=CameraStatus.UNKNOWN)
    status_reason: Mapped[str] = mapped_column(String(300), default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    detect: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    zones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    privacy_masks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recording_mode: Mapped[RecordingMode] = mapped_column(String(20), default=RecordingMode.EVENTS)
    live_ladder: Mapped[bool] = mapped_column(default=False)
    """Live HLS also offers a transcoded 360p rendition (costs CPU; off by default)."""
    retention_days: Mapped[int | None] = mapped_column(default=None)
    """None: the plan's maximum."""
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CameraShare(Base):
    __tablename__ = "camera_share"
    __table_args__ = (UniqueConstraint("camera_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    camera_id: Mapped[str] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[ShareRole] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
