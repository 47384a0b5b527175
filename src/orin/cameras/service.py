"""Cameras: creating and changing them under the URL policy, credentials sealed, plan limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.cameras.credentials import Login, Stream, open_logins, seal_logins
from orin.cameras.network_policy import DestinationRefused, NetworkPolicy, check_destination
from orin.cameras.stream_url import StreamUrl, StreamUrlError, parse_stream_url
from orin.errors import BadRequest, Conflict
from orin.kit.envelope import Envelope
from orin.media.cleanup import delete_media_later
from orin.media.keys import camera_prefix
from orin.models.camera import Camera
from orin.models.event import Event
from orin.models.guard import Guard, GuardCamera, GuardState
from orin.models.space import Space
from orin.models.user import User, UserRole
from orin.spaces.service import check_owner_limit, owner_of
from orin.users.plans import limits_for


class InvalidStreamUrl(BadRequest):
    status_code = 422
    type_slug = "invalid-stream-url"
    title = "Camera URL not accepted"


async def checked_url(text: str, *, field: str, user: User, policy: NetworkPolicy) -> StreamUrl:
    """Parse a stream URL and apply the SSRF policy to its host; 422 naming the field."""
    try:
        url = parse_stream_url(text, allow_file=user.role == UserRole.ADMIN)
    except StreamUrlError as exc:
        raise InvalidStreamUrl(f"{field}: {exc.message}", extra={"field": field}) from None
    if url.host is not None:
        try:
            await check_destination(url.host, policy)
        except DestinationRefused as exc:
            raise InvalidStreamUrl(f"{field}: {exc}", extra={"field": field}) from None
    return url


async def check_camera_limit(db: AsyncSession, space: Space) -> None:
    """402 when the space owner's plan has no room for another camera."""
    await check_owner_limit(db, space.id, "cameras", Camera.space_id)


async def retention_limit(db: AsyncSession, space_id: str) -> int:
    return limits_for((await owner_of(db, space_id)).plan).retention_days


def store_urls(
    envelope: Envelope,
    camera: Camera,
    *,
    urls: dict[Stream, StreamUrl | None],
    logins: dict[Stream, Login],
) -> None:
    """Keep the URLs without credentials and seal the logins (merged over the stored ones)."""
    merged = open_logins(envelope, camera) if camera.credentials_sealed else {}
    for stream, url in urls.items():
        if stream == "main":
            assert url is not None
            camera.main_url = url.without_credentials()
        else:
            camera.detect_url = None if url is None else url.without_credentials()
            if url is None:
                merged.pop("detect", None)
    merged.update(logins)
    camera.credentials_sealed = seal_logins(envelope, camera.id, merged)


async def guards_using_zones(db: AsyncSession, camera: Camera, zone_names: set[str]) -> list[str]:
    """Names of the camera's active or paused guards whose rule names a zone not in
    ``zone_names`` (compared ignoring case)."""
    known = {name.casefold() for name in zone_names}
    rows = await db.scalars(
        select(Guard)
        .join(GuardCamera, GuardCamera.guard_id == Guard.id)
        .where(GuardCamera.camera_id == camera.id, Guard.state != GuardState.INVALID)
    )
    names = []
    for guard in rows:
        rule: dict[str, Any] = guard.rule or {}
        if any(str(zone).casefold() not in known for zone in rule.get("zones", [])):
            names.append(guard.name)
    return names


async def check_zone_removal(db: AsyncSession, camera: Camera, new_names: set[str]) -> None:
    using = await guards_using_zones(db, camera, new_names)
    if using:
        raise Conflict(
            "guards watch zones this change removes: " + ", ".join(sorted(using)),
            extra={"guards": sorted(using)},
        )


async def delete_camera(db: AsyncSession, camera: Camera) -> None:
    """Delete the camera, its events and shares; its media goes after commit."""
    await db.execute(delete(Event).where(Event.camera_id == camera.id))
    await db.delete(camera)
    await db.flush()
    delete_media_later(db, camera_prefix(camera.space_id, camera.id))
