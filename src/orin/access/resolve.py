"""Loading a thing for a caller: missing or not visible → 404; visible but not allowed → 403."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.access.policy import Capability, allows
from orin.errors import Forbidden, NotFound
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraShare, ShareRole
from orin.models.event import Event
from orin.models.guard import Guard
from orin.models.space import Space, SpaceMember, SpaceRole


@dataclass(frozen=True, slots=True)
class SpaceAccess:
    space: Space
    role: SpaceRole


@dataclass(frozen=True, slots=True)
class CameraAccess:
    camera: Camera
    role: SpaceRole | ShareRole
    """The caller's space role, or their share's role when they reach it only by a share."""

    @property
    def via_share(self) -> bool:
        return isinstance(self.role, ShareRole)


def _refuse(role: SpaceRole | ShareRole, capability: Capability, what: str) -> Forbidden:
    return Forbidden(
        f"your role `{role.value}` cannot {capability.value} this {what}",
        extra={"role": role.value, "needs": capability.value},
    )


def visible_space_ids(user_id: str) -> Select[str]:
    """Ids of the spaces the user is a member of."""
    return select(SpaceMember.space_id).where(SpaceMember.user_id == user_id)


def live_share(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition true for camera shares that have not expired (at ``now``)."""
    at = now or utcnow()
    return or_(CameraShare.expires_at.is_(None), CameraShare.expires_at > at)


def _live_shares(user_id: str) -> Select[str]:
    return select(CameraShare.camera_id).where(CameraShare.user_id == user_id, live_share())


def visible_camera_ids(user_id: str) -> Select[str]:
    """Ids of cameras in the user's spaces or shared with them (unexpired)."""
    in_spaces = select(Camera.id).where(Camera.space_id.in_(visible_space_ids(user_id)))
    return in_spaces.union(_live_shares(user_id))  # type: ignore[return-value]


def event_scope(user_id: str) -> ColumnElement[bool]:
    """Events the user may see: in their spaces, or from cameras shared with them."""
    return or_(
        Event.space_id.in_(visible_space_ids(user_id)),
        Event.camera_id.in_(_live_shares(user_id)),
    )


async def space_role(db: AsyncSession, user_id: str, space_id: str) -> SpaceRole | None:
    role = await db.scalar(
        select(SpaceMember.role).where(
            SpaceMember.space_id == space_id, SpaceMember.user_id == user_id
        )
    )
    return None if role is None else SpaceRole(role)


async def space_for(
    db: AsyncSession, user_id: str, space_id: str, need: Capability = Capability.VIEW
) -> SpaceAccess:
    """The space if the user is a member whose role allows ``need``."""
    space = await db.get(Space, space_id)
    role = None if space is None else await space_role(db, user_id, space_id)
    if space is None or role is None:
        raise NotFound("no such space")
    if not allows(role, need):
        raise _refuse(role, need, "space")
    return SpaceAccess(space, role)


async def camera_for(
    db: AsyncSession,
    user_id: str,
    camera_id: str,
    need: Capability = Capability.VIEW,
    *,
    shares_allowed: bool = True,
) -> CameraAccess:
    """The camera if the user reaches it through its space or (``shares_allowed``) a live
    share whose role allows ``need``."""
    camera = await db.get(Camera, camera_id)
    if camera is None:
        raise NotFound("no such camera")
    role: SpaceRole | ShareRole | None = await space_role(db, user_id, camera.space_id)
    if role is None:
        share_role = await db.scalar(
            _live_shares(user_id)
            .with_only_columns(CameraShare.role)
            .where(CameraShare.camera_id == camera_id)
        )
        role = None if share_role is None else ShareRole(share_role)
    if role is None:
        raise NotFound("no such camera")
    if not allows(role, need) or (isinstance(role, ShareRole) and not shares_allowed):
        raise _refuse(role, need, "camera")
    return CameraAccess(camera, role)


async def guard_for(
    db: AsyncSession, user_id: str, guard_id: str, need: Capability = Capability.VIEW
) -> tuple[Guard, SpaceAccess]:
    """The guard if the user is a member of its space with a role that allows ``need``."""
    guard = await db.get(Guard, guard_id)
    if guard is None:
        raise NotFound("no such guard")
    try:
        access = await space_for(db, user_id, guard.space_id, need)
    except NotFound:
        raise NotFound("no such guard") from None
    return guard, access


async def camera_roles(
    db: AsyncSession, user_id: str, cameras: Sequence[Camera]
) -> dict[str, SpaceRole | ShareRole]:
    """The caller's role on each of ``cameras`` in two queries (space role wins over a share);
    cameras they cannot reach are left out."""
    space_ids = {camera.space_id for camera in cameras}
    members = await db.execute(
        select(SpaceMember.space_id, SpaceMember.role).where(
            SpaceMember.user_id == user_id, SpaceMember.space_id.in_(space_ids)
        )
    )
    by_space = {space_id: SpaceRole(role) for space_id, role in members}
    shares = await db.execute(
        _live_shares(user_id)
        .with_only_columns(CameraShare.camera_id, CameraShare.role)
        .where(CameraShare.camera_id.in_([camera.id for camera in cameras]))
    )
    by_camera = {camera_id: ShareRole(role) for camera_id, role in shares}
    roles: dict[str, SpaceRole | ShareRole] = {}
    for camera in cameras:
        role = by_space.get(camera.space_id) or by_camera.get(camera.id)
        if role is not None:
            roles[camera.id] = role
    return roles
