"""`/api/v1/cameras/...`: test a camera's streams, probe a URL before saving, live snapshots.

Probes contact cameras and spawn ffprobe, so they also spend a per-user probe budget. The
request's database session is committed before ffprobe or FFmpeg runs, so a slow camera does
not hold a pooled connection.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from orin.access import Capability, camera_for, space_for
from orin.audit import audit_event
from orin.auth.deps import ClientDep, CurrentUser
from orin.cameras import service
from orin.cameras.credentials import Stream, full_url, open_logins, split_login
from orin.cameras.endpoints import PolicyDep
from orin.cameras.geometry import PrivacyMask
from orin.cameras.schemas import Credential
from orin.deps import EnvelopeDep, SessionDep, SettingsDep
from orin.ingest.diagnosis import Problem
from orin.models.user import User
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit, RateLimit
from orin.streaming.probe import ProbeResult, probe
from orin.streaming.snapshot import snapshot_jpeg

PROBES_PER_MINUTE: Final = 30
PROBE_TIMEOUT_S: Final = 10.0

router = APIRouter(
    prefix="/api/v1/cameras",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)

ProbeRateLimit = RateLimit("probe", per_user=lambda _settings: PROBES_PER_MINUTE)


async def probing_user(request: Request, response: Response, user: CurrentUser) -> User:
    """The caller, once they spent one token of their probe budget."""
    await ProbeRateLimit(request, response)
    return user


ProbingUser = Annotated[User, Depends(probing_user)]


class StreamProbeOut(BaseModel):
    ok: bool
    codec: str | None = Field(description="`h264` or `hevc` when usable.")
    profile: str | None
    width: int | None
    height: int | None
    fps: float | None
    bitrate: int | None = Field(description="Bits per second, when the source tells.")
    audio_codec: str | None
    problem: Problem | None = Field(description="What went wrong, for programs.")
    reason: str | None = Field(description="What went wrong, for people.")
    elapsed_ms: int


class ProbeOut(BaseModel):
    ok: bool = Field(description="Every probed stream is usable.")
    main: StreamProbeOut
    detect: StreamProbeOut | None = Field(description="The sub-stream, when the camera has one.")


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    space_id: str = Field(max_length=32)
    main_url: str = Field(min_length=1, max_length=2048)
    username: Credential | None = Field(None, description="Overrides one in the URL.")
    password: Credential | None = Field(None, description="Overrides one in the URL.")


def stream_out(result: ProbeResult) -> StreamProbeOut:
    return StreamProbeOut(
        ok=result.ok,
        codec=result.codec,
        profile=result.profile,
        width=result.width,
        height=result.height,
        fps=result.fps,
        bitrate=result.bitrate,
        audio_codec=result.audio_codec,
        problem=result.problem,
        reason=result.reason,
        elapsed_ms=result.elapsed_ms,
    )


def probe_out(main: ProbeResult, detect: ProbeResult | None) -> ProbeOut:
    ok = main.ok and (detect is None or detect.ok)
    return ProbeOut(
        ok=ok, main=stream_out(main), detect=None if detect is None else stream_out(detect)
    )


@router.post(
    "/{camera_id}/test",
    operation_id="cameras_test",
    responses=problem_responses(404),
)
async def test_camera(
    camera_id: str,
    user: ProbingUser,
    db: SessionDep,
    envelope: EnvelopeDep,
    settings: SettingsDep,
) -> ProbeOut:
    """Probe the camera's main stream (and sub-stream): codec, size, frame rate, or why not."""
    camera = (await camera_for(db, user.id, camera_id, Capability.VIEW)).camera
    streams: list[Stream] = ["main"] if camera.detect_url is None else ["main", "detect"]
    urls = [url for stream in streams if (url := full_url(envelope, camera, stream))]
    logins = open_logins(envelope, camera).values()
    secrets = [login.password for login in logins if login.password]
    await db.commit()  # hand the connection back while the camera answers
    results = await asyncio.gather(
        *(probe(url, settings.ingest, secrets=secrets, timeout_s=PROBE_TIMEOUT_S) for url in urls)
    )
    return probe_out(results[0], results[1] if len(results) > 1 else None)


@router.post(
    "/probe",
    operation_id="cameras_probe",
    responses=problem_responses(403, 404, 422),
)
async def probe_url(
    body: ProbeIn,
    user: ProbingUser,
    db: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    client: ClientDep,
) -> ProbeOut:
    """Probe a stream URL before adding it as a camera (space managers and owners). The URL
    must pass the network policy; credentials are used for this probe only, never stored."""
    await space_for(db, user.id, body.space_id, Capability.MANAGE)
    url = await service.checked_url(body.main_url, field="main_url", user=user, policy=policy)
    login = split_login(url, body.username, body.password)
    full = url.without_credentials() if login.empty else url.with_credentials(*login.pair)
    await audit_event(
        db,
        client,
        action="camera.url_probed",
        actor_id=user.id,
        target_type="space",
        target_id=body.space_id,
        details={"url": url.masked()},
    )
    await db.commit()  # the audit entry stays even if the probe is cut short
    secrets = [secret for secret in (login.password, url.password) if secret]
    result = await probe(full, settings.ingest, secrets=secrets, timeout_s=PROBE_TIMEOUT_S)
    return probe_out(result, None)


@router.get(
    "/{camera_id}/snapshot",
    operation_id="cameras_snapshot",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The newest live frame."},
        **problem_responses(404, 503),
    },
)
async def snapshot(
    camera_id: str,
    user: CurrentUser,
    db: SessionDep,
    settings: SettingsDep,
    width: Annotated[
        int | None, Query(ge=160, le=1920, description="Scale down to this width.")
    ] = None,
) -> Response:
    """The newest live frame as a JPEG, privacy masks blacked out (404 while not streaming).
    Never cached by clients; poll at most once a second."""
    camera = (await camera_for(db, user.id, camera_id, Capability.VIEW)).camera
    masks = [PrivacyMask.model_validate(mask).polygon for mask in camera.privacy_masks]
    await db.commit()
    jpeg = await snapshot_jpeg(settings, camera_id, masks=masks, width=width)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
