"""Worker side of catches: record the event once, then cut its clip from the recordings.

`vision.catch` records the event under the id the ingest node derived from the match (an
existing row means a redelivery: nothing more happens) and queues `vision.clip`, delayed until
the post-roll has been recorded and uploaded. `vision.clip` gathers the recording segments
around the catch from object storage, joins and trims them with FFmpeg (stream copy) into an
MP4 beside the snapshot; while segments are still missing it re-queues itself, and after
``vision.clip_wait_s`` it cuts what there is (or gives up when there is nothing).

`vision.clip` runs its own transactions (`orin.runtime.tasks`): it reads the event and its
segments, cuts and uploads the clip with no transaction open (on SQLite one would hold the
write lock for the whole cut), then records the clip on the event.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Message
from orin.events.service import record_event
from orin.media.keys import event_media_key
from orin.models.base import utcnow
from orin.models.camera import Camera
from orin.models.event import Event, EventKind
from orin.models.guard import Guard
from orin.models.recording import RecordingSegment
from orin.models.track import Track
from orin.notifications.planner import CATCH as NOTIFY_CATCH
from orin.outbox import enqueue
from orin.outbox.consumer import claim_message, was_handled
from orin.realtime.protocol import UpdateType
from orin.realtime.publisher import event_data, publish_after_commit
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.tasks import OwnTransactionsContext, TaskContext, tasks
from orin.streaming.probe import run_tool
from orin.vision.catches import CATCH

logger = structlog.get_logger(__name__)

CLIP = "vision.clip"
"""Make a catch's clip (payload: event_id, started_at, attempt)."""
TRACK_RETENTION = "vision.track_retention"
"""Sent hourly by the scheduler: delete stored tracks past `vision.track_retention_days`."""
CLIP_RETRY_S = 5.0
CLIP_NAME = "clip.mp4"
FFMPEG_TIMEOUT_S = 120.0


@tasks.task(CATCH)
async def record_catch(ctx: TaskContext, message: Message) -> None:
    """Record the catch unless it already exists; queue its clip."""
    payload = message.payload
    event_id = str(payload["event_id"])
    started_at = datetime.fromisoformat(str(payload["at"]))
    session = ctx.session
    if await session.get(Event, (event_id, started_at)) is not None:
        logger.info("vision.catch_duplicate", event_id=event_id)
        return
    guard_exists = await session.scalar(select(Guard.id).where(Guard.id == payload["guard_id"]))
    camera_exists = await session.scalar(select(Camera.id).where(Camera.id == payload["camera_id"]))
    if guard_exists is None or camera_exists is None:
        logger.info("vision.catch_orphaned", event_id=event_id)  # deleted meanwhile
        return
    attributes: dict[str, Any] = {
        "box": payload["box"],
        "dwell_s": payload["dwell_s"],
        "count": payload["count"],
    }
    event = await record_event(
        session,
        event_id=event_id,
        space_id=str(payload["space_id"]),
        camera_id=str(payload["camera_id"]),
        guard_id=str(payload["guard_id"]),
        kind=EventKind.CATCH,
        started_at=started_at,
        label=str(payload["label"]),
        confidence=float(payload["confidence"]),
        zone=payload.get("zone"),
        track_id=str(payload["track_id"]),
        attributes=attributes,
        snapshot_key=str(payload["snapshot_key"]),
        thumbnail_key=str(payload["thumbnail_key"]),
    )
    announce(ctx.session, ctx.infra, event, "event.created")
    enqueue(session, NOTIFY_CATCH, {"event_id": event_id, "started_at": started_at.isoformat()})
    settings = ctx.infra.settings
    delay = settings.vision.clip_post_roll_s + settings.ingest.record_segment_s + 2.0
    enqueue(
        session,
        CLIP,
        {"event_id": event_id, "started_at": started_at.isoformat(), "attempt": 1},
        delay_s=delay,
    )
    logger.info("vision.catch_recorded", event_id=event_id, guard=payload["guard_id"])


def announce(session: AsyncSession, infra: Infrastructure, event: Event, kind: UpdateType) -> None:
    """Tell live views about the catch once ``session``'s transaction commits."""
    publish_after_commit(
        session,
        infra.cache.pubsub,
        kind,
        space_id=event.space_id,
        camera_id=event.camera_id,
        data=event_data(event),
    )


@dataclass(frozen=True, slots=True)
class _Segment:
    """What the cut needs of a recording segment (read before the transaction ends)."""

    object_key: str
    started_at: datetime
    ended_at: datetime


@tasks.own_transactions(CLIP)
async def make_clip(ctx: OwnTransactionsContext, message: Message) -> None:
    """Cut the catch's clip from stored recording segments (see the module docstring)."""
    payload = message.payload
    started_at = datetime.fromisoformat(str(payload["started_at"]))
    event_key = (str(payload["event_id"]), started_at)
    database = ctx.infra.database
    vision = ctx.infra.settings.vision
    begin = started_at - timedelta(seconds=vision.clip_pre_roll_s)
    end = started_at + timedelta(seconds=vision.clip_post_roll_s)
    async with database.reading() as session:
        if await was_handled(session, ctx.consumer, message.id):
            return
        event = await session.get(Event, event_key)
        if event is None or event.clip_key is not None:
            return  # deleted, or a repeat of a job that stored the clip
        space_id, camera_id = event.space_id, event.camera_id
        rows = await session.scalars(
            select(RecordingSegment)
            .where(
                RecordingSegment.camera_id == camera_id,
                RecordingSegment.ended_at > begin,
                RecordingSegment.started_at < end,
            )
            .order_by(RecordingSegment.started_at)
        )
        segments = [_Segment(row.object_key, row.started_at, row.ended_at) for row in rows]
    complete = bool(segments) and segments[-1].ended_at >= end
    waited_out = utcnow() - started_at > timedelta(seconds=vision.clip_wait_s)
    if not complete and not waited_out:
        async with database.transaction() as session:
            if await claim_message(session, ctx.consumer, message.id):
                attempt = int(payload.get("attempt", 1)) + 1
                enqueue(session, CLIP, {**payload, "attempt": attempt}, delay_s=CLIP_RETRY_S)
        return
    if not segments:
        logger.warning("vision.clip_no_recording", event_id=event_key[0])
        return
    data = await _cut_clip(ctx.infra, segments, begin, end)
    key = event_media_key(space_id, camera_id, event_key[0], CLIP_NAME)
    await ctx.infra.storage.put(key, data, content_type="video/mp4")
    async with database.transaction() as session:
        if not await claim_message(session, ctx.consumer, message.id):
            return  # a repeat stored the same clip under the same key
        event = await session.get(Event, event_key)
        if event is not None and event.clip_key is None:
            event.clip_key = key
            event.ended_at = max(event.ended_at or started_at, min(end, segments[-1].ended_at))
            announce(session, ctx.infra, event, "event.updated")
    if event is None:  # the catch was deleted during the cut: its clip goes with it
        await ctx.infra.storage.delete(key)
        return
    logger.info(
        "vision.clip_stored", event_id=event_key[0], segments=len(segments), bytes=len(data)
    )


async def _cut_clip(
    infra: Infrastructure, segments: list[_Segment], begin: datetime, end: datetime
) -> bytes:
    """Join the segments (MPEG-TS, stream copy) and keep ``begin`` to ``end`` as MP4."""
    ffmpeg = infra.settings.ingest.ffmpeg
    with tempfile.TemporaryDirectory(prefix="orin-clip-") as tmp:
        folder = Path(tmp)
        lines = []
        for index, segment in enumerate(segments):
            path = folder / f"{index:04d}.ts"
            data = await infra.storage.get(segment.object_key)
            await asyncio.to_thread(path.write_bytes, data)
            lines.append(f"file '{path.name}'")
        (folder / "list.txt").write_text("\n".join(lines) + "\n")
        offset = max(0.0, (begin - segments[0].started_at).total_seconds())
        duration = (end - max(begin, segments[0].started_at)).total_seconds()
        out = folder / CLIP_NAME
        argv = [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(folder / "list.txt"),
            "-ss",
            f"{offset:.3f}",
            "-t",
            f"{duration:.3f}",
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(out),
        ]
        run = await run_tool(argv, timeout_s=FFMPEG_TIMEOUT_S)
        if run.timed_out or run.returncode != 0 or not out.exists():
            detail = "timed out" if run.timed_out else run.stderr.decode(errors="replace")[-300:]
            raise RuntimeError(f"clip cut failed: {detail}")
        return await asyncio.to_thread(out.read_bytes)


@tasks.task(TRACK_RETENTION)
async def delete_old_tracks(ctx: TaskContext, message: Message) -> None:
    """Delete stored tracks not seen for `vision.track_retention_days` days."""
    days = ctx.infra.settings.vision.track_retention_days
    cutoff = utcnow() - timedelta(days=days)
    result = await ctx.session.execute(delete(Track).where(Track.last_seen < cutoff))
    logger.info("vision.tracks_deleted", rows=getattr(result, "rowcount", None))
