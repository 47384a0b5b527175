"""People with an account."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, new_id, utcnow


class UserRole(StrEnum):
    USER = "user"
    ADMIN = "admin"


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"


class User(Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Normalised: the domain lower-cased, the local part as given (see `auth.emails`)."""
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    password_hash: Mapped[str | None] = mapped_column(String(100), default=None)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[UserRole] = mapped_column(String(20), default=UserRole.USER)
    plan: Mapped[Plan] = mapped_column(String(20), default=Plan.FREE)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    """The TOTP seed sealed with `orin.kit.crypto` (set at enrolment, before confirmation)."""
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    """Set by an admin: the account cannot sign in or use a token until re-enabled."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
