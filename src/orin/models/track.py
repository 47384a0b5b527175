"""Tracked objects as the vision pipeline saw them: kept for backtests and search."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, utcnow


class Track(Base):
    """One object followed across frames on one camera.

    ``path`` holds samples ``[t, x1, y1, x2, y2, confidence]``: ``t`` in seconds after
    ``first_seen``, the box in normalised frame coordinates (0 to 1), about two a second.
    """

    __tablename__ = "track"
    __table_args__ = (Index("ix_track_camera_last_seen", "camera_id", "last_seen"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(50))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    confidence: Mapped[float] = mapped_column(Float)
    """The track's confidence aggregated over its frames (see `orin.vision.tracker`)."""
    stationary_since: Mapped[datetime | None] = mapped_column(default=None)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    ended: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
