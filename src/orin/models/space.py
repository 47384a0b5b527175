"""A place a user watches: a group of cameras with a time zone, and its members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class SpaceRole(StrEnum):
    """What a member may do: owners everything, managers cameras and guards, viewers watch."""

    OWNER = "owner"
    MANAGER = "manager"
    VIEWER = "viewer"


class Space(Base):
    __tablename__ = "space"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    """With `longitude`, lets "at night" mean sunset to sunrise at this place."""
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SpaceMember(Base):
    __tablename__ = "space_member"

    space_id: Mapped[str] = mapped_column(
        ForeignKey("space.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[SpaceRole] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpaceInvite(Base):
    """An invitation by email; the person with that verified address accepts it."""

    __tablename__ = "space_invite"
    __table_args__ = (UniqueConstraint("space_id", "email"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("space.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[SpaceRole] = mapped_column(String(20))
    invited_by: Mapped[str | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
