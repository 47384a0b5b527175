"""Stored video: one row per recording segment uploaded to object storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id


class RecordingSegment(Base):
    __tablename__ = "recording_segment"
    __table_args__ = (Index("ix_recording_segment_camera_started", "camera_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    camera_id: Mapped[str] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime] = mapped_column(index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
