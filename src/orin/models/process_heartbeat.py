"""Last sign of life of each ORIN process, for /admin/system and for finding dead nodes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base


class ProcessHeartbeat(Base):
    __tablename__ = "process_heartbeat"

    process_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(50), index=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
