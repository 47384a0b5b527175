"""Whether a session is still valid, cached in the cache port so each request skips the database.

Revocation writes "revoked" to the cache at once (Redis when scaled, so every replica sees it);
a miss falls back to the database and caches the answer for `session_cache_ttl_s`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from orin.auth import repository
from orin.cache.base import Cache
from orin.models.base import utcnow

ACTIVE = b"1"
REVOKED = b"0"


def _key(session_id: str) -> str:
    return f"auth:session:{session_id}"


async def is_active(cache: Cache, db: AsyncSession, session_id: str, ttl_s: float) -> bool:
    """True while the session exists, is not revoked and has not expired."""
    cached = await cache.get(_key(session_id))
    if cached is not None:
        return cached == ACTIVE
    row = await repository.session_by_id(db, session_id)
    active = row is not None and row.revoked_at is None and row.expires_at > utcnow()
    await cache.set(_key(session_id), ACTIVE if active else REVOKED, ttl_s=ttl_s)
    return active


async def mark_revoked(cache: Cache, session_ids: list[str], ttl_s: float) -> None:
    """Make revocation effective at once for every replica."""
    for session_id in session_ids:
        await cache.set(_key(session_id), REVOKED, ttl_s=ttl_s)
