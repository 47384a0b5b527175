"""RSA keys that sign access tokens, identified by `kid`; old keys verify until retired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orin.models.base import Base, utcnow


class SigningKey(Base):
    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    """No longer signs from this time; still verifies until `expires_at`."""
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    """Dropped from the JWKS after this (retirement + the access token lifetime)."""
