"""Database leases: a name held by one holder until it expires unless renewed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orin.db import Database
from orin.models.base import utcnow
from orin.models.lease import Lease


async def acquire_or_renew(database: Database, name: str, holder: str, ttl_s: float) -> bool:
    """Take ``name`` if free or expired, or extend it if ``holder`` has it; True if held."""
    now = utcnow()
    try:
        async with database.transaction() as session:
            lease = await session.scalar(select(Lease).where(Lease.name == name).with_for_update())
            if lease is None:
                session.add(
                    Lease(
                        name=name,
                        holder=holder,
                        acquired_at=now,
                        expires_at=now + timedelta(seconds=ttl_s),
                    )
                )
                return True
            if lease.holder != holder and lease.expires_at > now:
                return False
            if lease.holder != holder:
                lease.holder = holder
                lease.acquired_at = now
            lease.expires_at = now + timedelta(seconds=ttl_s)
            return True
    except IntegrityError:
        # Another holder inserted the row at the same moment.
        return False


async def release(database: Database, name: str, holder: str) -> None:
    """Give ``name`` up if ``holder`` has it, so a standby can take over at once."""
    async with database.transaction() as session:
        lease = await session.scalar(select(Lease).where(Lease.name == name).with_for_update())
        if lease is not None and lease.holder == holder:
            await session.delete(lease)


async def holder_of(database: Database, name: str) -> str | None:
    """Who holds ``name`` now, or None when free or expired."""
    async with database.transaction() as session:
        lease = await session.scalar(select(Lease).where(Lease.name == name))
        if lease is None or lease.expires_at <= utcnow():
            return None
        return lease.holder
