"""`/api/v1/user/me/export*` and `DELETE /api/v1/user/me`: GDPR export and erasure."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from orin.audit import audit_event
from orin.auth import session_cache
from orin.auth.cookies import clear_session_cookies
from orin.auth.deps import ClientDep, CurrentUser
from orin.auth.passwords import verify_password
from orin.deps import CacheDep, SessionDep, SettingsDep, StorageDep
from orin.errors import Conflict, Forbidden, NotFound
from orin.gdpr.erase import erase_user
from orin.gdpr.export import EXPORT_TOPIC
from orin.models.auth_session import AuthSession
from orin.models.base import utcnow
from orin.models.data_export import DataExport, ExportStatus
from orin.outbox import enqueue
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit, AuthRateLimit

router = APIRouter(
    prefix="/api/v1/user/me",
    tags=["user"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)

CONFIRMATION = "delete my account"


class ExportOut(BaseModel):
    id: str
    status: ExportStatus
    created_at: datetime
    finished_at: datetime | None
    size_bytes: int | None
    download_url: str | None = Field(description="Signed, expiring link once `ready`.")


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        None, max_length=1000, description="Required when the account has a password."
    )
    confirm: str = Field(description=f"Must be exactly `{CONFIRMATION}`.", max_length=100)


async def export_out(row: DataExport, storage: StorageDep, settings: SettingsDep) -> ExportOut:
    url = None
    if row.status == ExportStatus.READY and row.object_key:
        url = await storage.signed_url(row.object_key, expires_in_s=settings.storage.url_ttl_s)
    return ExportOut(
        id=row.id,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        size_bytes=row.size_bytes,
        download_url=url,
    )


@router.post(
    "/export",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="user_export",
    responses=problem_responses(409),
)
async def request_export(
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> ExportOut:
    """Start building an archive of everything about you (JSON + media); poll
    `GET /api/v1/user/me/exports/{id}` for the download link. One at a time."""
    pending = await db.scalar(
        select(DataExport).where(
            DataExport.user_id == user.id, DataExport.status == ExportStatus.PENDING
        )
    )
    if pending is not None:
        raise Conflict("an export is already being built", extra={"export_id": pending.id})
    row = DataExport(user_id=user.id, created_at=utcnow())
    db.add(row)
    await db.flush()
    enqueue(db, EXPORT_TOPIC, {"export_id": row.id})
    await audit_event(
        db,
        client,
        action="user.export_requested",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"export_id": row.id},
    )
    return await export_out(row, storage, settings)


@router.get("/exports", operation_id="user_exports")
async def list_exports(
    user: CurrentUser, db: SessionDep, storage: StorageDep, settings: SettingsDep
) -> list[ExportOut]:
    rows = await db.scalars(
        select(DataExport)
        .where(DataExport.user_id == user.id)
        .order_by(DataExport.created_at.desc())
    )
    return [await export_out(row, storage, settings) for row in rows]


@router.get(
    "/exports/{export_id}", operation_id="user_export_get", responses=problem_responses(404)
)
async def get_export(
    export_id: str,
    user: CurrentUser,
    db: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> ExportOut:
    row = await db.get(DataExport, export_id)
    if row is None or row.user_id != user.id:
        raise NotFound("no such export")
    return await export_out(row, storage, settings)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="user_erase",
    responses=problem_responses(403, 422),
    dependencies=[Depends(AuthRateLimit)],
)
async def erase_me(
    body: ErasureIn,
    user: CurrentUser,
    db: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    response: Response,
) -> None:
    """Erase your account for good: spaces only you own (with their cameras, events and
    media), memberships, shares, sessions and exports. Spaces shared with others pass to
    their longest-standing manager. The audit log keeps anonymised entries only."""
    if body.confirm != CONFIRMATION:
        raise Forbidden(f"type `{CONFIRMATION}` to confirm")
    if user.password_hash is not None and not (
        body.password and await verify_password(body.password, user.password_hash)
    ):
        raise Forbidden("the password is not right")
    session_ids = list(
        await db.scalars(select(AuthSession.id).where(AuthSession.user_id == user.id))
    )
    await erase_user(db, user)
    await session_cache.mark_revoked(cache, session_ids, settings.auth.session_cache_ttl_s)
    # As on sign-out: a browser keeps no refresh cookie of a session that is gone.
    clear_session_cookies(response, settings.auth)
