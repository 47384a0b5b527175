"""Saving tracks for backtests: ended tracks at once, active ones every `track_flush_s`.

Boxes are stored normalised to the frame, so a camera's detect resolution can change without
invalidating its history. Rows are upserted by id (one id per tracker track, kept by the
pipeline), so repeated flushes of a long track update one row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import structlog
from sqlalchemy import select

from orin.db import Database
from orin.models.base import new_id
from orin.models.track import Track as TrackRow
from orin.vision.tracker import Track

logger = structlog.get_logger(__name__)


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def track_values(track: Track, frame_w: int, frame_h: int, *, ended: bool) -> dict[str, object]:
    """The row fields of ``track`` (path relative to ``first_seen``, boxes normalised)."""
    path = [
        [
            round(t - track.first_seen, 2),
            round(x1 / frame_w, 4),
            round(y1 / frame_h, 4),
            round(x2 / frame_w, 4),
            round(y2 / frame_h, 4),
            round(confidence, 3),
        ]
        for t, x1, y1, x2, y2, confidence in track.path
    ]
    return {
        "label": track.label,
        "first_seen": _at(track.first_seen),
        "last_seen": _at(track.last_seen),
        "confidence": round(float(track.confidence), 4),
        "stationary_since": _at(track.stationary_since) if track.stationary_since else None,
        "hits": track.hits,
        "path": path,
        "ended": ended,
    }


class TrackStore:
    """Writes one camera's tracks."""

    def __init__(self, database: Database, camera_id: str, flush_s: float = 30.0) -> None:
        self.database = database
        self.camera_id = camera_id
        self.flush_s = flush_s
        self._last_flush = time.monotonic()
        self._pending: dict[str, tuple[Track, bool]] = {}
        """Row id → (track, ended): rows are built at flush time, not on every frame."""
        self.frame_size = (1, 1)

    async def save_active(
        self, tracks: Sequence[Track], ids: dict[str, str], *, force: bool = False
    ) -> None:
        """Remember the active tracks; write them when ``flush_s`` has passed (or ``force``)."""
        for track in tracks:
            self._pending[row_id_of(track.id, ids)] = (track, False)
        if force or time.monotonic() - self._last_flush >= self.flush_s:
            await self.flush()

    async def save_ended(self, tracks: Sequence[Track], ids: Mapping[str, str]) -> None:
        """Write ended tracks now (ids: tracker id → row id, created when missing)."""
        for track in tracks:
            self._pending[ids.get(track.id) or new_id()] = (track, True)
        await self.flush()

    async def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending = {
            row_id: track_values(track, *self.frame_size, ended=ended)
            for row_id, (track, ended) in self._pending.items()
        }
        self._pending = {}
        async with self.database.transaction() as session:
            existing = {
                row.id: row
                for row in await session.scalars(
                    select(TrackRow).where(TrackRow.id.in_(list(pending)))
                )
            }
            for row_id, values in pending.items():
                row = existing.get(row_id)
                if row is None:
                    session.add(TrackRow(id=row_id, camera_id=self.camera_id, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)


def row_id_of(track_id: str, ids: dict[str, str]) -> str:
    """The row id of a tracker id, made (and remembered in ``ids``) the first time."""
    row_id = ids.get(track_id)
    if row_id is None:
        row_id = ids[track_id] = new_id()
    return row_id
