"""Erasing a user (GDPR): their spaces alone-owned, cameras, events, media, sessions, exports.

Spaces they own with other members are handed to the longest-standing manager (else member)
instead of being deleted, so nobody else loses their cameras. Audit entries stay, redacted
(`orin.audit.redact_personal_data`), so the log's chain still verifies.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.audit import ERASED_ACTOR, record, redact_personal_data
from orin.media.cleanup import delete_media_later
from orin.media.keys import export_prefix
from orin.models.data_export import DataExport
from orin.models.space import Space, SpaceInvite, SpaceMember, SpaceRole
from orin.models.user import User
from orin.spaces.service import delete_space

_SUCCESSION = (SpaceRole.MANAGER, SpaceRole.VIEWER)


async def _hand_over_or_delete(session: AsyncSession, user: User) -> tuple[int, int]:
    deleted = handed_over = 0
    owned = list(
        await session.scalars(
            select(Space)
            .join(SpaceMember, SpaceMember.space_id == Space.id)
            .where(SpaceMember.user_id == user.id, SpaceMember.role == SpaceRole.OWNER)
        )
    )
    for space in owned:
        successor = None
        for role in _SUCCESSION:
            successor = await session.scalar(
                select(SpaceMember)
                .where(SpaceMember.space_id == space.id, SpaceMember.role == role)
                .order_by(SpaceMember.created_at)
                .limit(1)
            )
            if successor is not None:
                break
        if successor is None:
            await delete_space(session, space)
            deleted += 1
        else:
            successor.role = SpaceRole.OWNER
            handed_over += 1
    return deleted, handed_over


async def erase_user(session: AsyncSession, user: User) -> dict[str, int]:
    """Erase ``user`` inside the caller's transaction; media goes after commit."""
    deleted, handed_over = await _hand_over_or_delete(session, user)
    await session.execute(
        delete(SpaceInvite).where(func.lower(SpaceInvite.email) == user.email.lower())
    )
    await session.execute(delete(DataExport).where(DataExport.user_id == user.id))
    delete_media_later(session, export_prefix(user.id))
    redacted = await redact_personal_data(session, user.id)
    await session.delete(user)
    await session.flush()
    await record(
        session,
        action="user.erased",
        actor_id=ERASED_ACTOR,
        target_type="user",
        target_id=ERASED_ACTOR,
        details={"spaces_deleted": deleted, "spaces_handed_over": handed_over},
    )
    return {"spaces_deleted": deleted, "spaces_handed_over": handed_over, "redacted": redacted}
