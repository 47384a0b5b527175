"""Named leases with expiry: one holder at a time (scheduler leadership, later camera ownership)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base


class Lease(Base):
    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    acquired_at: Mapped[datetime]
