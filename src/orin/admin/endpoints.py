"""`/api/v1/admin/*`: for the `admin` role only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from orin.admin.schemas import (
    AdminUserOut,
    AdminUserUpdate,
    Analytics,
    AuditEntryOut,
    AuditPage,
    SystemStatus,
)
from orin.admin.service import admin_service, check_window
from orin.audit import list_entries
from orin.auth.deps import AdminUser, AuthContextDep, ClientDep
from orin.deps import BusDep, PubSubDep, SessionDep, SettingsDep
from orin.pagination import MAX_LIMIT, Page
from orin.problems import problem_responses
from orin.realtime.publisher import invalidate_access
from orin.security.ratelimit import ApiRateLimit

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 403, 422, 429),
)

Window = Annotated[
    str,
    Query(
        max_length=5,
        description="How far back the figures look: hours or days, `1h` to `30d`.",
    ),
    AfterValidator(check_window),
]
UserId = Annotated[str, Path(max_length=32, description="The account's id.")]


@router.get("/audit", operation_id="admin_audit")
async def audit(
    admin: AdminUser,
    db: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    before_seq: int | None = Query(
        None, ge=1, le=2**63 - 1, description="Cursor from the previous page."
    ),
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


@router.get("/analytics", operation_id="admin_analytics")
async def analytics(admin: AdminUser, db: SessionDep, window: Window = "24h") -> Analytics:
    """Accounts, cameras, guards, catches (per minute, over the window, per day) and
    notification outcomes per channel, with the false-alarm rate of reviewed catches."""
    return await admin_service.analytics(db, window=window)


@router.get("/system", operation_id="admin_system")
async def system(
    admin: AdminUser, db: SessionDep, bus: BusDep, settings: SettingsDep
) -> SystemStatus:
    """Every process seen by heartbeat (alive or not), queue and dead-letter depths, storage
    used by recordings and the database's size."""
    return await admin_service.system(db, bus=bus, settings=settings)


@router.get("/users", operation_id="admin_users_list", responses=problem_responses(400))
async def list_users(
    admin: AdminUser,
    db: SessionDep,
    email: Annotated[
        str | None,
        Query(min_length=1, max_length=320, description="Part of the email address, any case."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
    cursor: str | None = None,
) -> Page[AdminUserOut]:
    """Accounts, oldest first, optionally only those whose email address contains `email`."""
    return await admin_service.list_users(db, email=email, limit=limit, cursor=cursor)


@router.patch(
    "/users/{user_id}",
    operation_id="admin_users_update",
    responses=problem_responses(404, 409),
)
async def update_user(
    user_id: UserId,
    body: AdminUserUpdate,
    admin: AdminUser,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    pubsub: PubSubDep,
) -> AdminUserOut:
    """Disable or enable an account, or change its plan; audited. Disabling signs the account
    out everywhere at once (its tokens get 401, its live connections close)."""
    out = await admin_service.update_user(
        db, ctx, admin=admin, user_id=user_id, change=body, client=client
    )
    if body.disabled:
        # Committed first, so the live connections re-read an access that is really gone.
        await db.commit()
        await invalidate_access(pubsub, [user_id])
    return out
