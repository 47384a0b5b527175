"""Rows of the transactional outbox: messages committed with the data, sent later by the relay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    # Autoincrement keeps commit order for the relay; message_id is what consumers see.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    message_id: Mapped[str] = mapped_column(String(32), default=new_id, unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (
        # The relay's scan: unsent rows in order. Partial on both backends.
        Index(
            "ix_outbox_message_unsent",
            "seq",
            postgresql_where=sent_at.is_(None),
            sqlite_where=sent_at.is_(None),
        ),
        Index("ix_outbox_message_sent_at", "sent_at"),
    )
