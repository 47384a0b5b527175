"""Recorded segments as continuous spans and as an HLS VOD playlist (pure functions).

Segment starts come from their file names (whole UTC seconds), so neighbours may seem up to a
second apart or overlapping: a gap of at most `CONTIGUOUS_GAP_S` still counts as continuous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

CONTIGUOUS_GAP_S = 2.0
"""Largest hole between two segments that still reads as continuous recording."""

MEDIA_TYPE = "application/vnd.apple.mpegurl"


class Timed(Protocol):
    """What spans need of a segment."""

    @property
    def started_at(self) -> datetime: ...

    @property
    def ended_at(self) -> datetime: ...

    @property
    def duration_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of continuous recording."""

    started_at: datetime
    ended_at: datetime
    duration_s: float
    """Seconds of video in it (the sum of its segments' durations)."""
    segments: int


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """One segment of a playlist: when it starts, how long it lasts, and where to fetch it."""

    started_at: datetime
    duration_s: float
    uri: str

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_s)


def contiguous(previous_end: datetime, next_start: datetime) -> bool:
    """Whether a segment starting at ``next_start`` continues one ending at ``previous_end``."""
    return (next_start - previous_end).total_seconds() <= CONTIGUOUS_GAP_S


def spans(segments: Sequence[Timed]) -> list[Span]:
    """Merge segments (sorted by start) into continuous spans."""
    merged: list[Span] = []
    for segment in segments:
        last = merged[-1] if merged else None
        if last is not None and contiguous(last.ended_at, segment.started_at):
            merged[-1] = Span(
                started_at=last.started_at,
                ended_at=max(last.ended_at, segment.ended_at),
                duration_s=last.duration_s + segment.duration_s,
                segments=last.segments + 1,
            )
        else:
            merged.append(
                Span(segment.started_at, segment.ended_at, segment.duration_s, segments=1)
            )
    return merged


def _program_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def vod_playlist(entries: Sequence[PlaylistEntry], *, timestamps_continue: bool = False) -> str:
    """An HLS VOD playlist of ``entries`` (sorted by start, at least one).

    Each entry carries its wall-clock start (``#EXT-X-PROGRAM-DATE-TIME``). A discontinuity
    is marked before a segment that does not continue the previous one in time, and before
    every segment unless ``timestamps_continue``: the ingest restarts each recording segment's
    timestamps (``-reset_timestamps 1``), which HLS counts as a discontinuity (RFC 8216
    4.3.2.3).
    """
    if not entries:
        raise ValueError("a VOD playlist needs at least one segment")
    target = max(1, math.ceil(max(entry.duration_s for entry in entries)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    previous: PlaylistEntry | None = None
    for entry in entries:
        if previous is not None and (
            not timestamps_continue or not contiguous(previous.ended_at, entry.started_at)
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_program_time(entry.started_at)}")
        lines.append(f"#EXTINF:{entry.duration_s:.3f},")
        lines.append(entry.uri)
        previous = entry
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
