"""Backtests: what a guard would have caught over a past window, from stored tracks.

Tracks saved by the pipeline (`orin.models.track.Track`, about two samples a second) are
replayed in time order through the same `CameraEvaluator` the live pipeline uses, so zones,
schedule, dwell, left objects, counts, learnt thresholds and cooldown behave as they would
have. Differences from live, by design: an object's confidence is its track's final aggregated
confidence (live, it grows as frames add up), and objects are seen at the saved samples only.
Nothing is recorded and nobody is notified.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.cameras.geometry import Zone
from orin.models.track import Track
from orin.vision.evaluate import LEFT_OBJECT_WARMUP_S, CameraEvaluator, GuardSpec, Match, ObjectView

MAX_TRACKS = 20_000
"""Tracks replayed per camera at most (the newest are dropped beyond it: `truncated`)."""
VISIBLE_GAP_S = 1.5
"""An object stays in view this long after a sample (samples are ~0.5 s apart)."""


@dataclass(frozen=True, slots=True)
class BacktestResult:
    matches: list[tuple[str, Match]]
    """(camera id, match) in time order."""
    tracks: int
    truncated: bool


def _samples(track: Track) -> Iterator[tuple[float, str, ObjectView]]:
    start = track.first_seen.timestamp()
    stationary = track.stationary_since.timestamp() if track.stationary_since else None
    for sample in track.path:
        offset, x1, y1, x2, y2 = (float(value) for value in sample[:5])
        yield (
            start + offset,
            track.id,
            ObjectView(
                track_id=track.id,
                label=track.label,
                confidence=track.confidence,
                box=(x1, y1, x2, y2),
                first_seen=start,
                stationary_since=stationary
                if stationary is not None and start + offset >= stationary
                else None,
            ),
        )


def replay(
    guard: GuardSpec, zones: Sequence[Zone], tracks: Sequence[Track], begin: datetime
) -> list[Match]:
    """The guard's matches over ``tracks`` of one camera (sorted by ``first_seen``)."""
    evaluator = CameraEvaluator(zones, started_at=begin.timestamp() - LEFT_OBJECT_WARMUP_S)
    visible: dict[str, tuple[float, ObjectView]] = {}
    matches: list[Match] = []
    timeline = heapq.merge(*(_samples(track) for track in tracks), key=lambda item: item[0])
    pending_t: float | None = None
    for t, track_id, view in timeline:
        if pending_t is not None and t > pending_t:
            matches.extend(_step(evaluator, guard, visible, pending_t))
        visible[track_id] = (t, view)
        pending_t = t
    if pending_t is not None:
        matches.extend(_step(evaluator, guard, visible, pending_t))
    return matches


def _step(
    evaluator: CameraEvaluator,
    guard: GuardSpec,
    visible: dict[str, tuple[float, ObjectView]],
    now: float,
) -> list[Match]:
    gone = [key for key, (seen, _) in visible.items() if now - seen > VISIBLE_GAP_S]
    for key in gone:
        del visible[key]
    evaluator.forget(gone)
    return evaluator.evaluate([guard], [view for _, view in visible.values()], now)


async def backtest(
    session: AsyncSession,
    guard: GuardSpec,
    cameras: Sequence[tuple[str, Sequence[Zone]]],
    begin: datetime,
    end: datetime,
) -> BacktestResult:
    """Replay each camera's tracks that started in [begin, end) through ``guard``."""
    found: list[tuple[str, Match]] = []
    replayed = 0
    truncated = False
    for camera_id, zones in cameras:
        tracks = list(
            await session.scalars(
                select(Track)
                .where(
                    Track.camera_id == camera_id,
                    Track.first_seen >= begin,
                    Track.first_seen < end,
                )
                .order_by(Track.first_seen, Track.id)
                .limit(MAX_TRACKS + 1)
            )
        )
        if len(tracks) > MAX_TRACKS:
            truncated = True
            tracks = tracks[:MAX_TRACKS]
        replayed += len(tracks)
        found.extend((camera_id, match) for match in replay(guard, zones, tracks, begin))
    found.sort(key=lambda item: item[1].at)
    return BacktestResult(found, replayed, truncated)


def match_time(match: Match) -> datetime:
    return datetime.fromtimestamp(match.at, UTC)
