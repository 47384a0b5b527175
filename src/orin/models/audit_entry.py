"""The audit log: append-only, each entry hash-chained to the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    """The user who acted (None for the system or an anonymous caller)."""
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str] = mapped_column(String(50), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    personal_salt: Mapped[str | None] = mapped_column(String(32), default=None)
    """Random per entry; hashed with the personal fields, and dropped when they are erased."""
    personal_digest: Mapped[str] = mapped_column(String(64), default="")
    """SHA-256 over the salt and the personal fields (actor, target id, ip, user agent, details)."""
    redacted_at: Mapped[datetime | None] = mapped_column(default=None)
    """Set when the personal fields were erased (GDPR); the chain still verifies."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
