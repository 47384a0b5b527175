"""`/api/v1/cameras/{id}/recordings*`: recorded segments by time range, and VOD playback.

- ``GET .../recordings?since&until`` lists the segments (paged, oldest first) and the
  continuous spans they form over the whole range (at most `MAX_LIST_RANGE`).
- ``GET .../recordings/playlist.m3u8?since&until`` is the HLS VOD playlist, for clients that
  send the bearer token; its segment URIs are signed storage URLs.
- ``GET .../recordings/playback?since&until`` returns a signed playlist URL
  (``/api/v1/recordings/<camera>/playlist.m3u8?since&until&expires&signature``) that any player
  opens without headers, like live view (`orin.streaming.live`).

Playlists span at most `MAX_PLAYLIST_RANGE`: an S3 presigned URL costs about 0.3 ms of CPU, so
a day of 10 s segments already takes about 3 s to sign.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVarTuple

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.access import Capability, camera_for
from orin.auth.deps import CurrentUser
from orin.config import Settings
from orin.deps import SessionDep, SettingsDep, StorageDep, get_secret
from orin.errors import BadRequest, NotFound
from orin.kit.signing import expiry_after, sign, verify
from orin.models.base import utcnow
from orin.models.camera import Camera, RecordingMode
from orin.models.recording import RecordingSegment
from orin.pagination import MAX_LIMIT, decode_cursor, encode_cursor, parse_cursor_time
from orin.problems import problem_responses
from orin.recordings.playlist import MEDIA_TYPE, PlaylistEntry, spans, vod_playlist
from orin.security.ratelimit import ApiRateLimit
from orin.storage.base import ObjectStorage

router = APIRouter(tags=["recordings"], responses=problem_responses(429))

SCOPE = "recordings"
DEFAULT_RANGE = timedelta(days=1)
MAX_LIST_RANGE = timedelta(days=7)
MAX_PLAYLIST_RANGE = timedelta(days=1)
LONGEST_SEGMENT = timedelta(hours=1)
"""Segments are found from this long before ``since`` (keeps the index range narrow)."""
MAX_SEGMENT_URL_TTL_S = 12 * 3600
_YIELD_EVERY = 100
Columns = TypeVarTuple("Columns")

Since = Annotated[
    AwareDatetime | None,
    Query(description="Start of the range (default: a day before `until`)."),
]
Until = Annotated[AwareDatetime | None, Query(description="End of the range (default: now).")]


class InvalidTimeRange(BadRequest):
    type_slug = "invalid-time-range"
    title = "Invalid time range"


class SegmentOut(BaseModel):
    id: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    size_bytes: int


class SpanOut(BaseModel):
    started_at: datetime
    ended_at: datetime
    duration_s: float = Field(description="Seconds of video in the span.")
    segments: int


class RecordingsOut(BaseModel):
    since: datetime
    until: datetime
    recording_mode: RecordingMode
    spans: list[SpanOut] = Field(description="Continuous recording over the whole range.")
    items: list[SegmentOut] = Field(description="One page of segments, oldest first.")
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last.")


class PlaybackOut(BaseModel):
    playlist_url: str = Field(description="HLS VOD playlist; signed, works until `expires_at`.")
    expires_at: datetime
    since: datetime
    until: datetime


def time_range(
    since: datetime | None, until: datetime | None, longest: timedelta
) -> tuple[datetime, datetime]:
    """The range asked for, with defaults; `InvalidTimeRange` (400) when empty or too long."""
    until = (until or utcnow()).astimezone(UTC)
    since = (since or until - DEFAULT_RANGE).astimezone(UTC)
    if since >= until:
        raise InvalidTimeRange("`since` must be before `until`")
    if until - since > longest:
        raise InvalidTimeRange(
            f"at most {longest.total_seconds() / 3600:g} hours per request; narrow the range",
            extra={"max_seconds": int(longest.total_seconds())},
        )
    return since, until


def in_range(
    statement: Select[*Columns], camera_id: str, since: datetime, until: datetime
) -> Select[*Columns]:
    """Segments of the camera overlapping [since, until)."""
    return statement.where(
        RecordingSegment.camera_id == camera_id,
        RecordingSegment.started_at >= since - LONGEST_SEGMENT,
        RecordingSegment.started_at < until,
        RecordingSegment.ended_at > since,
    )


async def segments_in(
    db: AsyncSession, camera_id: str, since: datetime, until: datetime
) -> list[RecordingSegment]:
    statement = in_range(select(RecordingSegment), camera_id, since, until)
    rows = await db.scalars(statement.order_by(RecordingSegment.started_at, RecordingSegment.id))
    return list(rows)


def segment_url_ttl(settings: Settings, segments: list[RecordingSegment]) -> int:
    """Segment links outlive the playback of the whole playlist (players fetch it once)."""
    base = settings.storage.url_ttl_s
    playing = math.ceil(sum(segment.duration_s for segment in segments))
    return max(base, min(playing + base, MAX_SEGMENT_URL_TTL_S))


def on_this_server(settings: Settings, url: str) -> str:
    """``url`` as a path when it points at this API (the local store's signed links), which
    players resolve against the playlist's own address; other URLs (S3's) as they are.

    A browser may have reached this server at another address than the public URL (a LAN
    address, a dev port): media at the public URL would then be another origin, which it may
    not reach and which the web app's CSP refuses.
    """
    origin = settings.public_url.rstrip("/")
    return url[len(origin) :] if url.startswith(origin + "/api/") else url


async def playlist_response(
    storage: ObjectStorage, settings: Settings, segments: list[RecordingSegment]
) -> Response:
    """The VOD playlist of ``segments`` with signed storage URLs; 404 when there are none."""
    if not segments:
        raise NotFound("no recordings in this range")
    ttl = segment_url_ttl(settings, segments)
    entries: list[PlaylistEntry] = []
    for index, segment in enumerate(segments):
        url = await storage.signed_url(segment.object_key, expires_in_s=ttl)
        entries.append(
            PlaylistEntry(segment.started_at, segment.duration_s, on_this_server(settings, url))
        )
        if index % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)  # signing is CPU work: let other requests in
    return Response(
        vod_playlist(entries),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get(
    "/api/v1/cameras/{camera_id}/recordings",
    operation_id="cameras_recordings",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(400, 401, 404, 422),
)
async def list_recordings(
    camera_id: str,
    user: CurrentUser,
    db: SessionDep,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> RecordingsOut:
    """Recorded segments overlapping the range (at most 7 days), and the spans they form."""
    access = await camera_for(db, user.id, camera_id, Capability.VIEW)
    since, until = time_range(since, until, MAX_LIST_RANGE)
    timeline = await db.execute(
        in_range(
            select(
                RecordingSegment.started_at,
                RecordingSegment.ended_at,
                RecordingSegment.duration_s,
            ),
            camera_id,
            since,
            until,
        ).order_by(RecordingSegment.started_at)
    )
    statement = in_range(select(RecordingSegment), camera_id, since, until)
    if cursor:
        after = decode_cursor(cursor, ("at", "id"))
        at = parse_cursor_time(after["at"])
        statement = statement.where(
            (RecordingSegment.started_at > at)
            | ((RecordingSegment.started_at == at) & (RecordingSegment.id > str(after["id"])))
        )
    rows = list(
        await db.scalars(
            statement.order_by(RecordingSegment.started_at, RecordingSegment.id).limit(limit + 1)
        )
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor({"at": page[-1].started_at.isoformat(), "id": page[-1].id})
    return RecordingsOut(
        since=since,
        until=until,
        recording_mode=access.camera.recording_mode,
        spans=[
            SpanOut(
                started_at=span.started_at,
                ended_at=span.ended_at,
                duration_s=round(span.duration_s, 3),
                segments=span.segments,
            )
            for span in spans(list(timeline.all()))
        ],
        items=[
            SegmentOut(
                id=segment.id,
                started_at=segment.started_at,
                ended_at=segment.ended_at,
                duration_s=segment.duration_s,
                size_bytes=segment.size_bytes,
            )
            for segment in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/api/v1/cameras/{camera_id}/recordings/playlist.m3u8",
    operation_id="cameras_recordings_playlist",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    response_class=Response,
    responses={
        200: {"description": "HLS VOD playlist.", "content": {MEDIA_TYPE: {}}},
        **problem_responses(400, 401, 404, 422),
    },
)
async def recordings_playlist(
    camera_id: str,
    user: CurrentUser,
    db: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    since: Since = None,
    until: Until = None,
) -> Response:
    """The range (at most a day) as an HLS VOD playlist of signed segment URLs."""
    await camera_for(db, user.id, camera_id, Capability.VIEW)
    since, until = time_range(since, until, MAX_PLAYLIST_RANGE)
    segments = await segments_in(db, camera_id, since, until)
    return await playlist_response(storage, settings, segments)


@router.get(
    "/api/v1/cameras/{camera_id}/recordings/playback",
    operation_id="cameras_recordings_playback",
    tags=["cameras"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(400, 401, 404, 422),
)
async def recordings_playback(
    camera_id: str,
    request: Request,
    user: CurrentUser,
    db: SessionDep,
    settings: SettingsDep,
    since: Since = None,
    until: Until = None,
) -> PlaybackOut:
    """A signed playlist URL for the range (at most a day); players need no headers."""
    await camera_for(db, user.id, camera_id, Capability.VIEW)
    since, until = time_range(since, until, MAX_PLAYLIST_RANGE)
    start, end = math.floor(since.timestamp()), math.ceil(until.timestamp())
    expires_at = expiry_after(settings.storage.url_ttl_s)
    signature = sign(
        get_secret(request), SCOPE, camera_id, str(start), str(end), expires_at=expires_at
    )
    query = f"since={start}&until={end}&expires={expires_at}&signature={signature}"
    return PlaybackOut(
        playlist_url=f"{settings.public_url.rstrip('/')}/api/v1/recordings/{camera_id}"
        f"/playlist.m3u8?{query}",
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        since=datetime.fromtimestamp(start, UTC),
        until=datetime.fromtimestamp(end, UTC),
    )


@router.get(
    "/api/v1/recordings/{camera_id}/playlist.m3u8",
    operation_id="recordings_signed_playlist",
    response_class=Response,
    responses={
        200: {"description": "HLS VOD playlist.", "content": {MEDIA_TYPE: {}}},
        **problem_responses(403, 404, 422),
    },
)
async def signed_playlist(
    camera_id: str,
    request: Request,
    db: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    since: Annotated[int, Query(description="Unix seconds.")],
    until: Annotated[int, Query(description="Unix seconds.")],
    expires: Annotated[int, Query(description="Unix time after which the URL stops working.")],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    """The playlist behind a signed playback URL, for whoever holds it."""
    verify(
        get_secret(request), signature, SCOPE, camera_id, str(since), str(until), expires_at=expires
    )
    if await db.get(Camera, camera_id) is None:
        raise NotFound("no such camera")
    segments = await segments_in(
        db, camera_id, datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC)
    )
    return await playlist_response(storage, settings, segments)
