"""Recording retention: the scheduled sweep that deletes expired segments, rows and objects.

A camera keeps its segments ``camera.retention_days`` days, or its space owner's plan maximum
when unset or larger (a plan downgrade shortens it). A segment expires once it *ended* more
than that long ago. Cameras in ``events`` mode upload every segment, and the sweep removes
those that do not overlap a catch or motion event (padded by `EVENT_PAD`) once they are an
hour old (`EVENTS_GRACE`, time for late events to arrive).

Rows are deleted in the sweep's transaction, and the same transaction queues
``recordings.delete_objects`` jobs with their keys (outbox): objects go only if the rows went,
a failed object deletion is retried, and no row ever points at a deleted object. A sweep
handles at most `ROWS_PER_RUN` segments and queues its own continuation when there were more.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.models.base import utcnow
from orin.models.camera import Camera, RecordingMode
from orin.models.event import Event, EventKind
from orin.models.recording import RecordingSegment
from orin.models.space import SpaceMember, SpaceRole
from orin.models.user import Plan, User
from orin.outbox import enqueue
from orin.runtime.tasks import TaskContext, tasks
from orin.users.plans import limits_for

logger = structlog.get_logger(__name__)

RETENTION_TOPIC = "recordings.retention"
"""Sent hourly by the scheduler (and by a sweep that stopped at `ROWS_PER_RUN`)."""
DELETE_OBJECTS_TOPIC = "recordings.delete_objects"

ROWS_PER_RUN = 5000
KEYS_PER_MESSAGE = 500
EVENT_PAD = timedelta(seconds=10)
EVENTS_GRACE = timedelta(hours=1)
EVENTS_JUDGE_WINDOW = timedelta(hours=6)
"""``events`` mode judges segments started in the 6 h before the grace point: each is judged
by several hourly sweeps, and older never-judged ones (after a longer scheduler outage) are
kept until retention instead of re-reading the kept ones every hour."""
EVENT_LONGEST = timedelta(days=1)
"""Events are looked up from this long before a segment (bounds the index range)."""
_EVENT_KINDS = (EventKind.CATCH, EventKind.MOTION)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CameraRetention:
    camera_id: str
    mode: RecordingMode
    days: int


@dataclass
class SweepResult:
    expired: int = 0
    """Segments past their camera's retention."""
    without_event: int = 0
    """Segments of ``events`` cameras that overlap no event."""
    keys: list[str] = field(default_factory=list)
    more: bool = False
    """Stopped at the limit: another sweep should follow."""


def effective_days(camera_days: int | None, plan: Plan) -> int:
    """The camera's retention within its plan's limit."""
    limit = limits_for(plan).retention_days
    return limit if camera_days is None else min(camera_days, limit)


async def camera_retentions(session: AsyncSession) -> list[CameraRetention]:
    """Every camera's mode and effective retention (a space without owner: the free plan)."""
    owner = and_(SpaceMember.space_id == Camera.space_id, SpaceMember.role == SpaceRole.OWNER)
    rows = await session.execute(
        select(Camera.id, Camera.recording_mode, Camera.retention_days, User.plan)
        .outerjoin(SpaceMember, owner)
        .outerjoin(User, User.id == SpaceMember.user_id)
        .order_by(Camera.id)
    )
    return [
        CameraRetention(
            camera_id=row.id,
            mode=RecordingMode(row.recording_mode),
            days=effective_days(row.retention_days, Plan(row.plan or Plan.FREE)),
        )
        for row in rows
    ]


async def _expired(
    session: AsyncSession, camera: CameraRetention, now: datetime, limit: int
) -> list[tuple[str, str]]:
    cutoff = now - timedelta(days=camera.days)
    rows = await session.execute(
        select(RecordingSegment.id, RecordingSegment.object_key)
        .where(
            RecordingSegment.camera_id == camera.camera_id,
            RecordingSegment.started_at < cutoff,
            RecordingSegment.ended_at <= cutoff,
        )
        .order_by(RecordingSegment.started_at)
        .limit(limit)
    )
    return [(row.id, row.object_key) for row in rows]


def _keep_windows(
    events: Sequence[tuple[datetime, datetime | None]], now: datetime
) -> list[tuple[datetime, datetime]]:
    """Merged, padded time windows of events (an ongoing event runs until ``now``)."""
    windows: list[tuple[datetime, datetime]] = []
    for started, ended in sorted(events, key=lambda pair: pair[0]):
        low, high = started - EVENT_PAD, (ended or now) + EVENT_PAD
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], high))
        else:
            windows.append((low, high))
    return windows


def overlaps_any(windows: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    """Whether [start, end] meets one of the sorted, disjoint ``windows``."""
    index = bisect.bisect_left([window[1] for window in windows], start)
    return index < len(windows) and windows[index][0] <= end


async def _without_event(
    session: AsyncSession, camera: CameraRetention, now: datetime, limit: int
) -> list[tuple[str, str]]:
    upper = now - EVENTS_GRACE
    segments = (
        await session.execute(
            select(
                RecordingSegment.id,
                RecordingSegment.object_key,
                RecordingSegment.started_at,
                RecordingSegment.ended_at,
            )
            .where(
                RecordingSegment.camera_id == camera.camera_id,
                RecordingSegment.started_at >= upper - EVENTS_JUDGE_WINDOW,
                RecordingSegment.started_at < upper,
            )
            .order_by(RecordingSegment.started_at)
        )
    ).all()
    if not segments:
        return []
    first = segments[0].started_at
    last = max(segment.ended_at for segment in segments)
    events = await session.execute(
        select(Event.started_at, Event.ended_at).where(
            Event.camera_id == camera.camera_id,
            Event.kind.in_(_EVENT_KINDS),
            Event.started_at >= first - EVENT_PAD - EVENT_LONGEST,
            Event.started_at <= last + EVENT_PAD,
            or_(Event.ended_at.is_(None), Event.ended_at >= first - EVENT_PAD),
        )
    )
    windows = _keep_windows([(row.started_at, row.ended_at) for row in events], now)
    unneeded = [
        (segment.id, segment.object_key)
        for segment in segments
        if not overlaps_any(windows, segment.started_at, segment.ended_at)
    ]
    return unneeded[:limit]


async def sweep(
    session: AsyncSession, *, now: datetime | None = None, limit: int = ROWS_PER_RUN
) -> SweepResult:
    """Delete the rows of expired (and unneeded ``events``-mode) segments, at most ``limit``,
    and queue the deletion of their objects; all within ``session``'s transaction."""
    now = now or utcnow()
    result = SweepResult()
    doomed: dict[str, str] = {}
    for camera in await camera_retentions(session):
        room = limit - len(doomed)
        if room <= 0:
            result.more = True
            break
        expired = await _expired(session, camera, now, room)
        doomed.update(expired)
        result.expired += len(expired)
        if camera.mode == RecordingMode.EVENTS and len(doomed) < limit:
            extra = [
                pair
                for pair in await _without_event(session, camera, now, limit)
                if pair[0] not in doomed
            ][: limit - len(doomed)]
            doomed.update(extra)
            result.without_event += len(extra)
        if len(doomed) >= limit:
            result.more = True
    ids = list(doomed)
    for start in range(0, len(ids), _CHUNK):
        await session.execute(
            delete(RecordingSegment).where(RecordingSegment.id.in_(ids[start : start + _CHUNK]))
        )
    result.keys = list(doomed.values())
    for start in range(0, len(result.keys), KEYS_PER_MESSAGE):
        enqueue(
            session, DELETE_OBJECTS_TOPIC, {"keys": result.keys[start : start + KEYS_PER_MESSAGE]}
        )
    return result


@tasks.task(RETENTION_TOPIC)
async def retention(ctx: TaskContext, message: Message) -> None:
    """Sweep once; queue a follow-up sweep when this one stopped at its limit."""
    result = await sweep(ctx.session, limit=ROWS_PER_RUN)
    if result.more:
        enqueue(ctx.session, RETENTION_TOPIC, {"continued": True})
    if result.keys:
        logger.info(
            "recordings.retention",
            expired=result.expired,
            without_event=result.without_event,
            more=result.more,
        )


def _is_recording_key(key: str) -> bool:
    parts = key.split("/")
    return len(parts) == 6 and parts[0] == "spaces" and parts[4] == "recordings"


@tasks.task(DELETE_OBJECTS_TOPIC)
async def delete_objects(ctx: TaskContext, message: Message) -> None:
    """Delete the recording objects listed in ``payload["keys"]`` (missing ones are fine)."""
    keys = [str(key) for key in message.payload.get("keys", [])]
    valid = [key for key in keys if _is_recording_key(key)]
    if len(valid) != len(keys):
        logger.warning("recordings.delete_refused", refused=len(keys) - len(valid))
    if valid:
        await ctx.infra.storage.delete(*valid)
