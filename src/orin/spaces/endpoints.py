"""`/api/v1/spaces*`: spaces, their stats, members and invitations; `/api/v1/invites*`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import func, select

from orin.access import Capability, space_for
from orin.audit import audit_event
from orin.auth.deps import ClientDep, CurrentUser, VerifiedUser
from orin.auth.emails import normalize_email
from orin.deps import SessionDep, SettingsDep
from orin.errors import NotFound
from orin.ingest.demo import add_demo_camera, demo_source
from orin.models.base import utcnow
from orin.models.space import Space, SpaceInvite, SpaceMember, SpaceRole
from orin.outbox import enqueue
from orin.pagination import MAX_LIMIT, Page, next_cursor, oldest_first
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit
from orin.spaces import service
from orin.spaces.invite_mail import INVITE_MAIL_TOPIC
from orin.spaces.schemas import (
    InviteIn,
    InviteOut,
    MemberOut,
    MembersOut,
    RoleUpdate,
    SpaceIn,
    SpaceOut,
    SpaceStats,
    SpaceUpdate,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["spaces"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]


def space_out(space: Space, role: SpaceRole) -> SpaceOut:
    return SpaceOut(
        id=space.id,
        name=space.name,
        timezone=space.timezone,
        latitude=space.latitude,
        longitude=space.longitude,
        role=role,
        created_at=space.created_at,
    )


def invite_out(row: SpaceInvite, space: Space) -> InviteOut:
    return InviteOut(
        id=row.id,
        space_id=space.id,
        space_name=space.name,
        email=row.email,
        role=row.role,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@router.get("/spaces", operation_id="spaces_list", responses=problem_responses(400))
async def list_spaces(
    user: CurrentUser, db: SessionDep, limit: Limit = 50, cursor: str | None = None
) -> Page[SpaceOut]:
    """Spaces the caller is a member of, oldest first."""
    statement = oldest_first(
        select(Space, SpaceMember.role)
        .join(SpaceMember, SpaceMember.space_id == Space.id)
        .where(SpaceMember.user_id == user.id),
        created=Space.created_at,
        key=Space.id,
        limit=limit,
        cursor=cursor,
    )
    rows = (await db.execute(statement)).all()
    items = [space_out(space, SpaceRole(role)) for space, role in rows[:limit]]
    return Page[SpaceOut](items=items, next_cursor=next_cursor(items, len(rows), limit))


@router.post(
    "/spaces",
    status_code=status.HTTP_201_CREATED,
    operation_id="spaces_create",
    responses=problem_responses(402, 422),
)
async def create_space(
    body: SpaceIn, user: CurrentUser, db: SessionDep, client: ClientDep, settings: SettingsDep
) -> SpaceOut:
    """Create a space; the caller owns it. Limited by the plan (402 when full). A user's
    first space gets the demo camera when the server offers one."""
    space = await service.create_space(
        db,
        user,
        name=body.name,
        timezone=body.timezone,
        latitude=body.latitude,
        longitude=body.longitude,
    )
    if (
        settings.ingest.demo_camera
        and demo_source(settings)
        and await service.is_first_space(db, user)
    ):
        add_demo_camera(db, space, settings)
    await audit_event(
        db,
        client,
        action="space.created",
        actor_id=user.id,
        target_type="space",
        target_id=space.id,
    )
    return space_out(space, SpaceRole.OWNER)


@router.get("/spaces/{space_id}", operation_id="spaces_get", responses=problem_responses(404))
async def get_space(space_id: str, user: CurrentUser, db: SessionDep) -> SpaceOut:
    access = await space_for(db, user.id, space_id)
    return space_out(access.space, access.role)


@router.patch(
    "/spaces/{space_id}",
    operation_id="spaces_update",
    responses=problem_responses(403, 404, 422),
)
async def update_space(
    space_id: str, body: SpaceUpdate, user: CurrentUser, db: SessionDep, client: ClientDep
) -> SpaceOut:
    """Rename the space, move its time zone or location (owner only)."""
    access = await space_for(db, user.id, space_id, Capability.ADMINISTER)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and body.name is None:
        changes.pop("name")
    if "timezone" in changes and body.timezone is None:
        changes.pop("timezone")
    for field, value in changes.items():
        setattr(access.space, field, value)
    await db.flush()
    await audit_event(
        db,
        client,
        action="space.updated",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
        details={"fields": sorted(changes)},
    )
    return space_out(access.space, access.role)


@router.delete(
    "/spaces/{space_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="spaces_delete",
    responses=problem_responses(403, 404),
)
async def delete_space(space_id: str, user: CurrentUser, db: SessionDep, client: ClientDep) -> None:
    """Delete the space with its cameras, guards, events and media (owner only)."""
    access = await space_for(db, user.id, space_id, Capability.ADMINISTER)
    await service.delete_space(db, access.space)
    await audit_event(
        db,
        client,
        action="space.deleted",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
    )


@router.get(
    "/spaces/{space_id}/stats", operation_id="spaces_stats", responses=problem_responses(404)
)
async def space_stats(space_id: str, user: CurrentUser, db: SessionDep) -> SpaceStats:
    """Cameras online, catches today (in the space's time zone), active guards."""
    access = await space_for(db, user.id, space_id)
    return SpaceStats(**await service.space_stats(db, access.space))


@router.get(
    "/spaces/{space_id}/members", operation_id="spaces_members", responses=problem_responses(404)
)
async def list_members(space_id: str, user: CurrentUser, db: SessionDep) -> MembersOut:
    """Members with their roles; owners also see pending invitations."""
    access = await space_for(db, user.id, space_id)
    members = [
        MemberOut(
            user_id=member.user_id,
            email=person.email,
            display_name=person.display_name,
            role=member.role,
            joined_at=member.created_at,
        )
        for member, person in await service.members_of(db, space_id)
    ]
    invites: list[InviteOut] = []
    if access.role == SpaceRole.OWNER:
        invites = [
            invite_out(row, access.space) for row in await service.pending_invites(db, space_id)
        ]
    return MembersOut(members=members, invites=invites)


@router.post(
    "/spaces/{space_id}/members",
    status_code=status.HTTP_201_CREATED,
    operation_id="spaces_invite",
    responses=problem_responses(403, 404, 409, 422),
)
async def invite_member(
    space_id: str, body: InviteIn, user: VerifiedUser, db: SessionDep, client: ClientDep
) -> InviteOut:
    """Invite someone by email as manager or viewer (owner only, verified email needed).

    They get a mail, and see the invitation under `GET /api/v1/invites` once signed in with
    that address verified.
    """
    access = await space_for(db, user.id, space_id, Capability.ADMINISTER)
    email = normalize_email(str(body.email))
    row = await service.invite(db, access.space, email=email, role=body.role, invited_by=user.id)
    enqueue(db, INVITE_MAIL_TOPIC, {"invite_id": row.id})
    await audit_event(
        db,
        client,
        action="space.member_invited",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
        details={"invite_id": row.id, "role": row.role},
    )
    return invite_out(row, access.space)


@router.delete(
    "/spaces/{space_id}/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="spaces_revoke_invite",
    responses=problem_responses(403, 404),
)
async def revoke_invite(
    space_id: str, invite_id: str, user: CurrentUser, db: SessionDep, client: ClientDep
) -> None:
    """Withdraw a pending invitation (owner only)."""
    await space_for(db, user.id, space_id, Capability.ADMINISTER)
    row = await db.get(SpaceInvite, invite_id)
    if row is None or row.space_id != space_id:
        raise NotFound("no such invitation")
    await db.delete(row)
    await audit_event(
        db,
        client,
        action="space.invite_revoked",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
        details={"invite_id": invite_id},
    )


@router.patch(
    "/spaces/{space_id}/members/{member_id}",
    operation_id="spaces_change_role",
    responses=problem_responses(403, 404, 409, 422),
)
async def change_member_role(
    space_id: str,
    member_id: str,
    body: RoleUpdate,
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
) -> MemberOut:
    """Change a member's role (owner only); `owner` hands ownership over."""
    await space_for(db, user.id, space_id, Capability.ADMINISTER)
    actor = await db.get(SpaceMember, (space_id, user.id))
    assert actor is not None  # space_for proved the membership
    member = await service.change_role(
        db, space_id, actor=actor, target_user_id=member_id, role=body.role
    )
    await audit_event(
        db,
        client,
        action="space.member_role_changed",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
        details={"member": member_id, "role": body.role},
    )
    rows = await service.members_of(db, space_id)
    person = next(p for m, p in rows if m.user_id == member_id)
    return MemberOut(
        user_id=member.user_id,
        email=person.email,
        display_name=person.display_name,
        role=member.role,
        joined_at=member.created_at,
    )


@router.delete(
    "/spaces/{space_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="spaces_remove_member",
    responses=problem_responses(403, 404, 409),
)
async def remove_member(
    space_id: str, member_id: str, user: CurrentUser, db: SessionDep, client: ClientDep
) -> None:
    """Remove a member (owner), or leave the space (any member removing themselves)."""
    need = Capability.VIEW if member_id == user.id else Capability.ADMINISTER
    await space_for(db, user.id, space_id, need)
    await service.remove_member(db, space_id, member_id)
    await audit_event(
        db,
        client,
        action="space.member_removed",
        actor_id=user.id,
        target_type="space",
        target_id=space_id,
        details={"member": member_id},
    )


@router.get("/invites", operation_id="invites_list", tags=["invites"])
async def my_invites(user: CurrentUser, db: SessionDep) -> list[InviteOut]:
    """Pending invitations to the caller's email address (none until it is verified)."""
    if user.email_verified_at is None:
        return []
    rows = await db.execute(
        select(SpaceInvite, Space)
        .join(Space, Space.id == SpaceInvite.space_id)
        .where(func.lower(SpaceInvite.email) == user.email.lower())
        .order_by(SpaceInvite.created_at)
    )
    return [invite_out(row, space) for row, space in rows if row.expires_at > utcnow()]


@router.post(
    "/invites/{invite_id}/accept",
    operation_id="invites_accept",
    tags=["invites"],
    responses=problem_responses(403, 404),
)
async def accept_invite(
    invite_id: str, user: VerifiedUser, db: SessionDep, client: ClientDep
) -> SpaceOut:
    """Join the space with the invited role."""
    row = await service.invite_for(db, user, invite_id)
    member = await service.accept_invite(db, user, row)
    space = await db.get(Space, member.space_id)
    assert space is not None
    await audit_event(
        db,
        client,
        action="space.invite_accepted",
        actor_id=user.id,
        target_type="space",
        target_id=space.id,
        details={"role": member.role},
    )
    return space_out(space, member.role)


@router.post(
    "/invites/{invite_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="invites_decline",
    tags=["invites"],
    responses=problem_responses(403, 404),
)
async def decline_invite(
    invite_id: str, user: VerifiedUser, db: SessionDep, client: ClientDep
) -> None:
    """Turn the invitation down; it is deleted."""
    row = await service.invite_for(db, user, invite_id)
    await db.delete(row)
    await audit_event(
        db,
        client,
        action="space.invite_declined",
        actor_id=user.id,
        target_type="space",
        target_id=row.space_id,
    )
