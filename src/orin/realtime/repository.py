"""The queries of the realtime hub: what connected users may see, read in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orin.access.resolve import live_share
from orin.db import READ_ONLY, Database
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraShare
from orin.models.space import SpaceMember
from orin.models.user import User

BATCH: Final = 500
"""Users (or cameras) per ``IN (...)`` list: well within every backend's parameter limit."""


@dataclass(frozen=True, slots=True)
class Access:
    """What one user may receive: their spaces, and cameras shared with them alone."""

    spaces: frozenset[str] = frozenset()
    shares: dict[str, float | None] = field(default_factory=dict)
    """Camera id → the share's expiry (POSIX seconds), None when it never expires."""

    def covers(self, other: Access) -> bool:
        """Whether this access allows at least everything ``other`` does."""
        if not self.spaces >= other.spaces:
            return False
        for camera_id, expires in other.shares.items():
            if camera_id not in self.shares:
                return False
            mine = self.shares[camera_id]
            if mine is not None and (expires is None or mine < expires):
                return False
        return True

    def sees(self, space_id: str, camera_id: str | None, now: float) -> bool:
        """Whether an update about ``space_id`` (and ``camera_id``) may reach this user:
        members see all of a space; a share shows one camera's updates, until it expires."""
        if space_id in self.spaces:
            return True
        if camera_id is None or camera_id not in self.shares:
            return False
        expires = self.shares[camera_id]
        return expires is None or expires > now


_readers: WeakKeyDictionary[Database, async_sessionmaker[AsyncSession]] = WeakKeyDictionary()


@asynccontextmanager
async def reading(database: Database) -> AsyncIterator[AsyncSession]:
    """A session that only reads: it takes a connection at its first query (none when no
    query runs, e.g. the session cache answered), and on SQLite never waits for the write
    lock. Nothing to commit: it ends by rolling back."""
    maker = _readers.get(database)
    if maker is None:
        engine = database.engine.execution_options(**{READ_ONLY: True})
        maker = _readers[database] = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        yield session


def _batches(ids: Collection[str]) -> list[list[str]]:
    ordered = sorted(ids)
    return [ordered[start : start + BATCH] for start in range(0, len(ordered), BATCH)]


async def load_access(db: AsyncSession, user_ids: Collection[str]) -> dict[str, Access]:
    """Each existing user's `Access`; users that no longer exist are left out."""
    now = utcnow()
    spaces: dict[str, set[str]] = {}
    shares: dict[str, dict[str, float | None]] = {}
    for batch in _batches(user_ids):
        for user_id in await db.scalars(select(User.id).where(User.id.in_(batch))):
            spaces[user_id] = set()
            shares[user_id] = {}
        members = await db.execute(
            select(SpaceMember.user_id, SpaceMember.space_id).where(SpaceMember.user_id.in_(batch))
        )
        for user_id, space_id in members:
            if user_id in spaces:
                spaces[user_id].add(space_id)
        live = await db.execute(
            select(CameraShare.user_id, CameraShare.camera_id, CameraShare.expires_at).where(
                CameraShare.user_id.in_(batch), live_share(now)
            )
        )
        for user_id, camera_id, expires_at in live:
            if user_id in shares:
                shares[user_id][camera_id] = None if expires_at is None else expires_at.timestamp()
    return {
        user_id: Access(spaces=frozenset(spaces[user_id]), shares=shares[user_id])
        for user_id in spaces
    }


async def camera_spaces(db: AsyncSession, camera_ids: Collection[str]) -> dict[str, str]:
    """Camera id → its space id, for the cameras that exist."""
    found: dict[str, str] = {}
    for batch in _batches(camera_ids):
        rows = await db.execute(select(Camera.id, Camera.space_id).where(Camera.id.in_(batch)))
        found.update({str(camera_id): str(space_id) for camera_id, space_id in rows})
    return found
