"""Worker side of catches: record the event once, then cut its clip from the recordings.

`vision.catch` records the event under the id the ingest node derived from the match (an
existing row means a redelivery: nothing more happens) and queues `vision.clip`, delayed until
the post-roll has been recorded and uploaded. `vision.clip` gathers the recording segments
around the catch from object storage, joins and trims them with FFmpeg (stream copy) into an
MP4 beside the snapshot; while segments are still missing it re-queues itself, and after
``vision.clip_wait_s`` it cuts what there is (or gives up when there is nothing).
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select

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
from orin.realtime.protocol import UpdateType
from orin.realtime.publisher import event_data, publish_after_commit
from orin.runtime.tasks import TaskContext, tasks
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
    announce(ctx, event, "event.created")
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


def announce(ctx: TaskContext, event: Event, kind: UpdateType) -> None:
    """Tell live views about the catch once this task's transaction commits."""
    publish_after_commit(
        ctx.session,
        ctx.infra.cache.pubsub,
        kind,
        space_id=event.space_id,
        camera_id=event.camera_id,
        data=event_data(event),
    )


@tasks.task(CLIP)
async def make_clip(ctx: TaskContext, message: Message) -> None:
    """Cut the catch's clip from stored recording segments (see the module docstring)."""
    payload = message.payload
    started_at = datetime.fromisoformat(str(payload["started_at"]))
    event = await ctx.session.get(Event, (str(payload["event_id"]), started_at))
    if event is None or event.clip_key is not None:
        return
    vision = ctx.infra.settings.vision
    begin = started_at - timedelta(seconds=vision.clip_pre_roll_s)
    end = started_at + timedelta(seconds=vision.clip_post_roll_s)
    segments = list(
        await ctx.session.scalars(
            select(RecordingSegment)
            .where(
                RecordingSegment.camera_id == event.camera_id,
                RecordingSegment.ended_at > begin,
                RecordingSegment.started_at < end,
            )
            .order_by(RecordingSegment.started_at)
        )
    )
    complete = bool(segments) and segments[-1].ended_at >= end
    waited_out = utcnow() - started_at > timedelta(seconds=vision.clip_wait_s)
    if not complete and not waited_out:
        enqueue(
            ctx.session,
            CLIP,
            {**payload, "attempt": int(payload.get("attempt", 1)) + 1},
            delay_s=CLIP_RETRY_S,
        )
        return
    if not segments:
        logger.warning("vision.clip_no_recording", event_id=event.id)
        return
    data = await _cut_clip(ctx, segments, begin, end)
    key = event_media_key(event.space_id, event.camera_id, event.id, CLIP_NAME)
    await ctx.infra.storage.put(key, data, content_type="video/mp4")
    event.clip_key = key
    event.ended_at = max(event.ended_at or started_at, min(end, segments[-1].ended_at))
    announce(ctx, event, "event.updated")
    logger.info("vision.clip_stored", event_id=event.id, segments=len(segments), bytes=len(data))


async def _cut_clip(
    ctx: TaskContext, segments: list[RecordingSegment], begin: datetime, end: datetime
) -> bytes:
    """Join the segments (MPEG-TS, stream copy) and keep ``begin`` to ``end`` as MP4."""
    ffmpeg = ctx.infra.settings.ingest.ffmpeg
    with tempfile.TemporaryDirectory(prefix="orin-clip-") as tmp:
        folder = Path(tmp)
        lines = []
        for index, segment in enumerate(segments):
            path = folder / f"{index:04d}.ts"
            data = await ctx.infra.storage.get(segment.object_key)
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
