"""`/api/v1/cameras*`: cameras, their zones and privacy masks, and per-camera shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import func, select

from orin.access import CameraAccess, Capability, camera_for, space_for, visible_camera_ids
from orin.access.resolve import camera_roles, space_role
from orin.audit import audit_event
from orin.auth.deps import ClientDep, CurrentUser, VerifiedUser
from orin.auth.emails import normalize_email
from orin.cameras import service
from orin.cameras.credentials import Login, Stream, masked_url, open_logins, split_login
from orin.cameras.geometry import PrivacyMask, Zone
from orin.cameras.network_policy import NetworkPolicy
from orin.cameras.schemas import (
    CameraIn,
    CameraOut,
    CameraUpdate,
    DetectSettings,
    MasksIn,
    ShareIn,
    ShareOut,
    ZonesIn,
)
from orin.cameras.stream_url import StreamUrl
from orin.deps import EnvelopeDep, SessionDep, SettingsDep
from orin.errors import BadRequest, Conflict, NotFound, OrinError
from orin.kit.envelope import Envelope
from orin.models.base import new_id, utcnow
from orin.models.camera import Camera, CameraShare
from orin.models.user import User
from orin.pagination import MAX_LIMIT, Page, next_cursor, oldest_first
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit
from orin.spaces.service import owner_of
from orin.users.plans import PlanLimitReached

router = APIRouter(
    prefix="/api/v1/cameras",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)


class NoSuchAccount(OrinError):
    status_code = 422
    type_slug = "no-such-account"
    title = "No account with that address"


def policy_of(settings: SettingsDep) -> NetworkPolicy:
    return NetworkPolicy.from_settings(settings.cameras)


PolicyDep = Annotated[NetworkPolicy, Depends(policy_of)]


async def camera_out(
    db: SessionDep, envelope: Envelope, access: CameraAccess, plan_retention: int | None = None
) -> CameraOut:
    """The camera as the API shows it; ``plan_retention`` saves a lookup when already known."""
    camera = access.camera
    retention = camera.retention_days or plan_retention
    if retention is None:
        retention = await service.retention_limit(db, camera.space_id)
    return CameraOut(
        id=camera.id,
        space_id=camera.space_id,
        name=camera.name,
        main_url=masked_url(envelope, camera, "main") or "",
        detect_url=masked_url(envelope, camera, "detect"),
        has_credentials=camera.credentials_sealed is not None,
        enabled=camera.enabled,
        status=camera.status,
        status_reason=camera.status_reason,
        detect=DetectSettings.model_validate(camera.detect or {}),
        zones=[Zone.model_validate(zone) for zone in camera.zones],
        privacy_masks=[PrivacyMask.model_validate(mask) for mask in camera.privacy_masks],
        recording_mode=camera.recording_mode,
        retention_days=retention,
        live_ladder=camera.live_ladder,
        role=access.role,
        shared_with_me=access.via_share,
        created_at=camera.created_at,
    )


async def _check_retention(db: SessionDep, space_id: str, days: int | None) -> None:
    if days is None:
        return
    limit = await service.retention_limit(db, space_id)
    if days > limit:
        owner = await owner_of(db, space_id)
        raise PlanLimitReached("retention days", limit, owner.plan)


async def _urls_and_logins(
    user: User,
    policy: NetworkPolicy,
    *,
    main_url: str | None,
    detect_url: str | None,
    username: str | None,
    password: str | None,
) -> tuple[dict[Stream, StreamUrl | None], dict[Stream, Login]]:
    urls: dict[Stream, StreamUrl | None] = {}
    logins: dict[Stream, Login] = {}
    if main_url is not None:
        main = await service.checked_url(main_url, field="main_url", user=user, policy=policy)
        urls["main"] = main
        logins["main"] = split_login(main, username, password)
    if detect_url is not None:
        if detect_url == "":
            urls["detect"] = None
        else:
            detect = await service.checked_url(
                detect_url, field="detect_url", user=user, policy=policy
            )
            urls["detect"] = detect
            logins["detect"] = (
                Login(detect.username, detect.password)
                if detect.username or detect.password
                else logins.get("main", Login(username, password))
            )
    return urls, logins


@router.get("", operation_id="cameras_list", responses=problem_responses(400, 404))
async def list_cameras(
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    space_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[CameraOut]:
    """Cameras the caller can see (their spaces' and those shared with them), oldest first."""
    query = select(Camera).where(Camera.id.in_(visible_camera_ids(user.id)))
    if space_id is not None:
        query = query.where(Camera.space_id == space_id)
    statement = oldest_first(
        query, created=Camera.created_at, key=Camera.id, limit=limit, cursor=cursor
    )
    cameras = list(await db.scalars(statement))
    page = cameras[:limit]
    roles = await camera_roles(db, user.id, page)
    retention: dict[str, int] = {}
    items = []
    for camera in page:
        if camera.space_id not in retention:
            retention[camera.space_id] = await service.retention_limit(db, camera.space_id)
        access = CameraAccess(camera, roles[camera.id])
        items.append(await camera_out(db, envelope, access, retention[camera.space_id]))
    return Page[CameraOut](items=items, next_cursor=next_cursor(items, len(cameras), limit))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="cameras_create",
    responses=problem_responses(402, 403, 404, 422),
)
async def create_camera(
    body: CameraIn,
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    policy: PolicyDep,
    client: ClientDep,
) -> CameraOut:
    """Add a camera to a space (manager or owner). The URL must pass the network policy;
    credentials are sealed and never returned. Limited by the space owner's plan (402)."""
    access = await space_for(db, user.id, body.space_id, Capability.MANAGE)
    await service.check_camera_limit(db, access.space)
    await _check_retention(db, access.space.id, body.retention_days)
    urls, logins = await _urls_and_logins(
        user,
        policy,
        main_url=body.main_url,
        detect_url=body.detect_url,
        username=body.username,
        password=body.password,
    )
    camera = Camera(
        id=new_id(),
        space_id=access.space.id,
        name=body.name,
        enabled=body.enabled,
        detect=body.detect.model_dump(mode="json"),
        zones=[zone.model_dump(mode="json") for zone in body.zones],
        privacy_masks=[mask.model_dump(mode="json") for mask in body.privacy_masks],
        recording_mode=body.recording_mode,
        retention_days=body.retention_days,
        live_ladder=body.live_ladder,
        created_by=user.id,
    )
    service.store_urls(envelope, camera, urls=urls, logins=logins)
    db.add(camera)
    await db.flush()
    await audit_event(
        db,
        client,
        action="camera.created",
        actor_id=user.id,
        target_type="camera",
        target_id=camera.id,
        details={"space_id": camera.space_id},
    )
    return await camera_out(db, envelope, CameraAccess(camera, access.role))


@router.get("/{camera_id}", operation_id="cameras_get", responses=problem_responses(404))
async def get_camera(
    camera_id: str, user: CurrentUser, db: SessionDep, envelope: EnvelopeDep
) -> CameraOut:
    return await camera_out(db, envelope, await camera_for(db, user.id, camera_id))


@router.patch(
    "/{camera_id}",
    operation_id="cameras_update",
    responses=problem_responses(402, 403, 404, 409, 422),
)
async def update_camera(
    camera_id: str,
    body: CameraUpdate,
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    policy: PolicyDep,
    client: ClientDep,
) -> CameraOut:
    """Change a camera (space manager/owner, or a share manager). Give `username`/`password`
    to replace the stored ones; an empty `detect_url` removes the sub-stream."""
    access = await camera_for(db, user.id, camera_id, Capability.MANAGE)
    camera = access.camera
    changes = body.model_dump(exclude_unset=True)
    await _check_retention(db, camera.space_id, body.retention_days)
    main_url = body.main_url
    if main_url is None and ("username" in changes or "password" in changes):
        main_url = camera.main_url
    urls, logins = await _urls_and_logins(
        user,
        policy,
        main_url=main_url,
        detect_url=body.detect_url,
        username=body.username,
        password=body.password,
    )
    if body.main_url is not None and "username" not in changes and "password" not in changes:
        kept = open_logins(envelope, camera).get("main")
        if kept is not None and logins["main"].empty:
            logins["main"] = kept
    if urls:
        urls.setdefault(
            "main",
            await service.checked_url(camera.main_url, field="main_url", user=user, policy=policy),
        )
        service.store_urls(envelope, camera, urls=urls, logins=logins)
    if body.zones is not None:
        await service.check_zone_removal(db, camera, {zone.name for zone in body.zones})
        camera.zones = [zone.model_dump(mode="json") for zone in body.zones]
    if body.privacy_masks is not None:
        camera.privacy_masks = [mask.model_dump(mode="json") for mask in body.privacy_masks]
    if body.detect is not None:
        camera.detect = body.detect.model_dump(mode="json")
    for field in ("name", "enabled", "recording_mode", "retention_days", "live_ladder"):
        if field in changes and (changes[field] is not None or field == "retention_days"):
            setattr(camera, field, changes[field])
    await db.flush()
    await audit_event(
        db,
        client,
        action="camera.updated",
        actor_id=user.id,
        target_type="camera",
        target_id=camera.id,
        details={"fields": sorted(changes)},
    )
    return await camera_out(db, envelope, access)


@router.delete(
    "/{camera_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="cameras_delete",
    responses=problem_responses(403, 404),
)
async def delete_camera(
    camera_id: str, user: CurrentUser, db: SessionDep, client: ClientDep
) -> None:
    """Delete a camera with its events and media (space manager or owner)."""
    access = await camera_for(db, user.id, camera_id, Capability.MANAGE, shares_allowed=False)
    await service.delete_camera(db, access.camera)
    await audit_event(
        db,
        client,
        action="camera.deleted",
        actor_id=user.id,
        target_type="camera",
        target_id=camera_id,
    )


@router.put(
    "/{camera_id}/zones",
    operation_id="cameras_set_zones",
    responses=problem_responses(403, 404, 409, 422),
)
async def set_zones(
    camera_id: str,
    body: ZonesIn,
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    client: ClientDep,
) -> CameraOut:
    """Replace the camera's zones; refused (409) while a guard watches a zone it removes."""
    access = await camera_for(db, user.id, camera_id, Capability.MANAGE)
    await service.check_zone_removal(db, access.camera, {zone.name for zone in body.zones})
    access.camera.zones = [zone.model_dump(mode="json") for zone in body.zones]
    await db.flush()
    await audit_event(
        db,
        client,
        action="camera.zones_changed",
        actor_id=user.id,
        target_type="camera",
        target_id=camera_id,
        details={"zones": [zone.name for zone in body.zones]},
    )
    return await camera_out(db, envelope, access)


@router.put(
    "/{camera_id}/masks",
    operation_id="cameras_set_masks",
    responses=problem_responses(403, 404, 422),
)
async def set_masks(
    camera_id: str,
    body: MasksIn,
    user: CurrentUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    client: ClientDep,
) -> CameraOut:
    """Replace the camera's privacy masks."""
    access = await camera_for(db, user.id, camera_id, Capability.MANAGE)
    access.camera.privacy_masks = [mask.model_dump(mode="json") for mask in body.privacy_masks]
    await db.flush()
    await audit_event(
        db,
        client,
        action="camera.masks_changed",
        actor_id=user.id,
        target_type="camera",
        target_id=camera_id,
        details={"masks": len(body.privacy_masks)},
    )
    return await camera_out(db, envelope, access)


def share_out(share: CameraShare, email: str) -> ShareOut:
    return ShareOut(
        id=share.id,
        camera_id=share.camera_id,
        user_id=share.user_id,
        email=email,
        role=share.role,
        expires_at=share.expires_at,
        created_at=share.created_at,
    )


@router.get(
    "/{camera_id}/shares",
    operation_id="cameras_shares",
    responses=problem_responses(403, 404),
)
async def list_shares(camera_id: str, user: CurrentUser, db: SessionDep) -> list[ShareOut]:
    """Who the camera is shared with (space managers and owners)."""
    await camera_for(db, user.id, camera_id, Capability.MANAGE, shares_allowed=False)
    rows = await db.execute(
        select(CameraShare, User.email)
        .join(User, User.id == CameraShare.user_id)
        .where(CameraShare.camera_id == camera_id)
        .order_by(CameraShare.created_at)
    )
    return [share_out(share, email) for share, email in rows]


@router.post(
    "/{camera_id}/shares",
    status_code=status.HTTP_201_CREATED,
    operation_id="cameras_share",
    responses=problem_responses(403, 404, 409, 422),
)
async def share_camera(
    camera_id: str, body: ShareIn, user: VerifiedUser, db: SessionDep, client: ClientDep
) -> ShareOut:
    """Share this camera alone with another account, as viewer or manager, optionally until
    a time (space managers and owners, verified email needed). Sharing again updates it."""
    access = await camera_for(db, user.id, camera_id, Capability.MANAGE, shares_allowed=False)
    email = normalize_email(str(body.email))
    target = await db.scalar(select(User).where(User.email == email)) or await db.scalar(
        select(User).where(func.lower(User.email) == email.lower()).limit(1)
    )
    if target is None:
        raise NoSuchAccount("no ORIN account uses that address; ask them to sign up first")
    if target.id == user.id or await space_role(db, target.id, access.camera.space_id):
        raise Conflict("that person already sees this camera through its space")
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise BadRequest("the expiry must be in the future")
    share = await db.scalar(
        select(CameraShare).where(
            CameraShare.camera_id == camera_id, CameraShare.user_id == target.id
        )
    )
    if share is None:
        share = CameraShare(camera_id=camera_id, user_id=target.id, created_by=user.id)
        db.add(share)
    share.role = body.role
    share.expires_at = body.expires_at
    await db.flush()
    await audit_event(
        db,
        client,
        action="camera.shared",
        actor_id=user.id,
        target_type="camera",
        target_id=camera_id,
        details={"with": target.id, "role": body.role},
    )
    return share_out(share, target.email)


@router.delete(
    "/{camera_id}/shares/{share_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="cameras_unshare",
    responses=problem_responses(403, 404),
)
async def unshare_camera(
    camera_id: str, share_id: str, user: CurrentUser, db: SessionDep, client: ClientDep
) -> None:
    """End a share: space managers and owners, or the person it was shared with."""
    share = await db.get(CameraShare, share_id)
    if share is None or share.camera_id != camera_id:
        raise NotFound("no such share")
    if share.user_id != user.id:
        await camera_for(db, user.id, camera_id, Capability.MANAGE, shares_allowed=False)
    await db.delete(share)
    await audit_event(
        db,
        client,
        action="camera.unshared",
        actor_id=user.id,
        target_type="camera",
        target_id=camera_id,
        details={"share_id": share_id},
    )
