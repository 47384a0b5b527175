"""`/api/v1/admin/*`: for the `admin` role only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from orin.audit import list_entries
from orin.auth.deps import AdminUser
from orin.deps import SessionDep
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 403, 422, 429),
)


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    action: str
    target_type: str
    target_id: str
    ip: str
    user_agent: str
    details: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_seq: int | None = Field(
        description="Pass as `before_seq` for the next (older) page; null on the last page."
    )


@router.get("/audit", operation_id="admin_audit")
async def audit(
    admin: AdminUser,
    db: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    before_seq: int | None = Query(None, ge=1, description="Cursor from the previous page."),
    actor_id: str | None = Query(None, max_length=32),
    action: str | None = Query(None, max_length=100),
    target_id: str | None = Query(None, max_length=64),
) -> AuditPage:
    """The audit log, newest first, with filters and a cursor."""
    rows = await list_entries(
        db,
        limit=limit + 1,
        before_seq=before_seq,
        actor_id=actor_id,
        action=action,
        target_id=target_id,
    )
    page = rows[:limit]
    return AuditPage(
        items=[
            AuditEntryOut(
                seq=row.seq,
                at=row.at,
                actor_id=row.actor_id,
                action=row.action,
                target_type=row.target_type,
                target_id=row.target_id,
                ip=row.ip,
                user_agent=row.user_agent,
                details=row.details,
                hash=row.hash,
            )
            for row in page
        ],
        next_before_seq=page[-1].seq if len(rows) > limit else None,
    )
