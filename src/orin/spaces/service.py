"""Spaces, membership and invitations: the rules, apart from HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from orin.errors import Conflict, NotFound
from orin.media.cleanup import delete_media_later
from orin.media.keys import space_prefix
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraStatus
from orin.models.event import Event, EventKind
from orin.models.guard import Guard, GuardState
from orin.models.space import Space, SpaceInvite, SpaceMember, SpaceRole
from orin.models.user import User
from orin.users.plans import PlanLimitReached, limits_for

INVITE_TTL = timedelta(days=14)


async def owner_of(db: AsyncSession, space_id: str) -> User:
    """The space's one owner, whose plan sets the space's limits."""
    user = await db.scalar(
        select(User)
        .join(SpaceMember, SpaceMember.user_id == User.id)
        .where(SpaceMember.space_id == space_id, SpaceMember.role == SpaceRole.OWNER)
    )
    if user is None:
        raise NotFound("the space has no owner")
    return user


async def check_owner_limit(
    db: AsyncSession,
    space_id: str,
    resource: Literal["cameras", "guards"],
    space_column: InstrumentedAttribute[str],
) -> None:
    """402 when the space owner's plan has no room for one more ``resource``, counted over
    every space they own (``space_column`` is the resource table's space id column)."""
    owner = await owner_of(db, space_id)
    limit: int = getattr(limits_for(owner.plan), resource)
    owned_spaces = select(SpaceMember.space_id).where(
        SpaceMember.user_id == owner.id, SpaceMember.role == SpaceRole.OWNER
    )
    count = await db.scalar(
        select(func.count()).select_from(space_column.class_).where(space_column.in_(owned_spaces))
    )
    if (count or 0) >= limit:
        raise PlanLimitReached(resource, limit, owner.plan)


async def create_space(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    timezone: str,
    latitude: float | None,
    longitude: float | None,
) -> Space:
    """A new space owned by ``user``; 402 when their plan has no room for another."""
    limit = limits_for(user.plan).spaces
    owned = await db.scalar(
        select(func.count())
        .select_from(SpaceMember)
        .where(SpaceMember.user_id == user.id, SpaceMember.role == SpaceRole.OWNER)
    )
    if (owned or 0) >= limit:
        raise PlanLimitReached("spaces", limit, user.plan)
    space = Space(
        name=name, timezone=timezone, latitude=latitude, longitude=longitude, created_by=user.id
    )
    db.add(space)
    await db.flush()
    db.add(SpaceMember(space_id=space.id, user_id=user.id, role=SpaceRole.OWNER))
    await db.flush()
    return space


async def is_first_space(db: AsyncSession, user: User) -> bool:
    """Whether the user is a member of exactly one space (the one just created)."""
    count = await db.scalar(
        select(func.count()).select_from(SpaceMember).where(SpaceMember.user_id == user.id)
    )
    return count == 1


async def delete_space(db: AsyncSession, space: Space) -> None:
    """Delete the space with its cameras, guards and events; its media goes after commit."""
    await db.execute(delete(Event).where(Event.space_id == space.id))
    await db.delete(space)
    await db.flush()
    delete_media_later(db, space_prefix(space.id))


def start_of_local_day(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(ZoneInfo("UTC"))


async def space_stats(db: AsyncSession, space: Space) -> dict[str, int]:
    cameras = (
        await db.execute(
            select(Camera.status, func.count())
            .where(Camera.space_id == space.id)
            .group_by(Camera.status)
        )
    ).all()
    guards = (
        await db.execute(
            select(Guard.state, func.count())
            .where(Guard.space_id == space.id)
            .group_by(Guard.state)
        )
    ).all()
    since = start_of_local_day(utcnow(), space.timezone)
    catches = await db.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.space_id == space.id, Event.kind == EventKind.CATCH, Event.started_at >= since)
    )
    return {
        "cameras": sum(count for _, count in cameras),
        "cameras_online": sum(count for status, count in cameras if status == CameraStatus.ONLINE),
        "catches_today": catches or 0,
        "guards": sum(count for _, count in guards),
        "guards_active": sum(count for state, count in guards if state == GuardState.ACTIVE),
    }


async def members_of(db: AsyncSession, space_id: str) -> list[tuple[SpaceMember, User]]:
    rows = await db.execute(
        select(SpaceMember, User)
        .join(User, User.id == SpaceMember.user_id)
        .where(SpaceMember.space_id == space_id)
        .order_by(SpaceMember.created_at, User.email)
    )
    return [(member, user) for member, user in rows]


async def pending_invites(db: AsyncSession, space_id: str) -> list[SpaceInvite]:
    rows = await db.scalars(
        select(SpaceInvite)
        .where(SpaceInvite.space_id == space_id, SpaceInvite.expires_at > utcnow())
        .order_by(SpaceInvite.created_at)
    )
    return list(rows)


async def invite(
    db: AsyncSession, space: Space, *, email: str, role: SpaceRole, invited_by: str
) -> SpaceInvite:
    """Invite ``email`` (normalised) as ``role``; re-inviting renews the pending invitation.

    Addresses are matched ignoring case: people type them in any case, and an invitation
    is accepted only by someone who verified the address anyway."""
    if role == SpaceRole.OWNER:
        raise Conflict("invite as manager or viewer; hand ownership over to a member instead")
    already = await db.scalar(
        select(SpaceMember.user_id)
        .join(User, User.id == SpaceMember.user_id)
        .where(SpaceMember.space_id == space.id, func.lower(User.email) == email.lower())
    )
    if already is not None:
        raise Conflict("that person is already a member of this space")
    row = await db.scalar(
        select(SpaceInvite).where(
            SpaceInvite.space_id == space.id, func.lower(SpaceInvite.email) == email.lower()
        )
    )
    now = utcnow()
    if row is None:
        row = SpaceInvite(space_id=space.id, email=email)
        db.add(row)
    row.role = role
    row.invited_by = invited_by
    row.created_at = now
    row.expires_at = now + INVITE_TTL
    await db.flush()
    return row


async def invite_for(db: AsyncSession, user: User, invite_id: str) -> SpaceInvite:
    """A pending invitation addressed to the user's (verified) email; 404 otherwise."""
    row = await db.get(SpaceInvite, invite_id)
    if row is None or row.email.lower() != user.email.lower() or row.expires_at <= utcnow():
        raise NotFound("no such invitation")
    return row


async def accept_invite(db: AsyncSession, user: User, row: SpaceInvite) -> SpaceMember:
    member = SpaceMember(space_id=row.space_id, user_id=user.id, role=row.role)
    await db.delete(row)
    existing = await db.get(SpaceMember, (row.space_id, user.id))
    if existing is not None:
        return existing
    db.add(member)
    await db.flush()
    return member


async def change_role(
    db: AsyncSession, space_id: str, *, actor: SpaceMember, target_user_id: str, role: SpaceRole
) -> SpaceMember:
    """Change a member's role; making someone owner hands ownership over."""
    member = await db.get(SpaceMember, (space_id, target_user_id))
    if member is None:
        raise NotFound("no such member")
    if member.role == SpaceRole.OWNER and role != SpaceRole.OWNER:
        raise Conflict("the owner cannot be demoted; hand ownership to another member first")
    if role == SpaceRole.OWNER and member.user_id != actor.user_id:
        actor.role = SpaceRole.MANAGER
    member.role = role
    await db.flush()
    return member


async def remove_member(db: AsyncSession, space_id: str, user_id: str) -> None:
    member = await db.get(SpaceMember, (space_id, user_id))
    if member is None:
        raise NotFound("no such member")
    if member.role == SpaceRole.OWNER:
        raise Conflict("the owner cannot leave; hand ownership over or delete the space")
    await db.delete(member)
    await db.flush()
