"""Which consumer handled which bus message: at-least-once delivery made effectively once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, utcnow


class ProcessedMessage(Base):
    __tablename__ = "processed_message"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
