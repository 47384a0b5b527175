"""Live HLS behind signed, expiring URLs scoped to one camera.

`GET /api/v1/cameras/{id}/live` (for someone who may view the camera) returns a playlist URL
``/api/v1/live/<camera>/<expires>/<signature>/index.m3u8``. The signature covers the camera and
the expiry, and sits in the path, so the playlist's relative segment names
(``seg_<n>.ts``) resolve to URLs carrying it too: any player (hls.js, Safari, VLC) works
without headers or cookies. Altered or expired links get 403; the files come from the ingest
node's live folder (`orin.ingest.layout`), which the API must share in scaled deployments.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from orin.access import camera_for
from orin.auth.deps import CurrentUser
from orin.deps import SessionDep, SettingsDep, get_secret
from orin.errors import NotFound
from orin.ingest.layout import PLAYLIST, CameraFiles
from orin.kit.signing import expiry_after, sign, verify
from orin.models.camera import CameraStatus
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit

router = APIRouter(tags=["live"], responses=problem_responses(429))

SCOPE = "live"
_FILE = re.compile(r"^((source|low)/)?(index\.m3u8|seg_\d{1,12}\.ts)$")
_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


class LiveOut(BaseModel):
    hls_url: str = Field(description="Live playlist; signed, works until `expires_at`.")
    expires_at: datetime
    status: CameraStatus
    status_reason: str


def live_path(secret: bytes, camera_id: str, expires_at: int, name: str = PLAYLIST) -> str:
    signature = sign(secret, SCOPE, camera_id, expires_at=expires_at)
    return f"/api/v1/live/{camera_id}/{expires_at}/{signature}/{name}"


@router.get(
    "/api/v1/cameras/{camera_id}/live",
    operation_id="cameras_live",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 404),
)
async def live(
    camera_id: str,
    request: Request,
    user: CurrentUser,
    db: SessionDep,
    settings: SettingsDep,
) -> LiveOut:
    """A signed live HLS URL for the camera (ask again before it expires)."""
    access = await camera_for(db, user.id, camera_id)
    expires_at = expiry_after(settings.ingest.live_url_ttl_s)
    path = live_path(get_secret(request), camera_id, expires_at)
    return LiveOut(
        hls_url=settings.public_url.rstrip("/") + path,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        status=access.camera.status,
        status_reason=access.camera.status_reason,
    )


@router.get(
    "/api/v1/live/{camera_id}/{expires_at}/{signature}/{name:path}",
    operation_id="live_file",
    responses=problem_responses(403, 404),
    include_in_schema=True,
)
async def live_file(
    camera_id: str,
    expires_at: int,
    signature: str,
    name: str,
    request: Request,
    settings: SettingsDep,
) -> Response:
    """A live playlist or segment, for whoever holds a valid signed link (with the ladder on,
    ``index.m3u8`` is the master playlist and renditions live under ``source/`` and ``low/``)."""
    verify(get_secret(request), signature, SCOPE, camera_id, expires_at=expires_at)
    if not _FILE.match(name):
        raise NotFound("no such live file")
    path = CameraFiles.of(settings, camera_id).root / name
    # Read once: FFmpeg replaces the playlist (write, then rename) several times a second and
    # deletes old segments, so a size taken before a later open could disagree with the body.
    try:
        content = await anyio.to_thread.run_sync(path.read_bytes)
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound("no live video yet" if name == PLAYLIST else "segment gone") from None
    # Segment names restart at 0 when FFmpeg reconnects, so nothing here may be cached long.
    return Response(content, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
