"""AI watch rules: a plain-words instruction, the rule compiled from it, its cameras."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class GuardState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    INVALID = "invalid"


class Guard(Base):
    __tablename__ = "guard"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("space.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    instruction: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """The compiled (or hand-edited) `orin.guards.rule.Rule` as JSON; None while invalid."""
    rule_edited: Mapped[bool] = mapped_column(default=False)
    """True when the rule was edited directly rather than compiled from the instruction."""
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What the compiler understood, could not understand, and warned about."""
    state: Mapped[GuardState] = mapped_column(String(20), default=GuardState.ACTIVE)
    invalid_reason: Mapped[str] = mapped_column(String(500), default="")
    tuning: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Confidence thresholds learnt from reviews, per label and zone."""
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GuardCamera(Base):
    __tablename__ = "guard_camera"

    guard_id: Mapped[str] = mapped_column(
        ForeignKey("guard.id", ondelete="CASCADE"), primary_key=True
    )
    camera_id: Mapped[str] = mapped_column(
        ForeignKey("camera.id", ondelete="CASCADE"), primary_key=True, index=True
    )
