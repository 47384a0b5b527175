"""Request and response bodies of the events API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orin.events.stats import Bucket, Dimension
from orin.models.event import Event, EventKind, ReviewState

NOTES_MAX = 2000


class EventOut(BaseModel):
    """An event as lists show it."""

    id: str
    space_id: str
    camera_id: str
    guard_id: str | None
    kind: EventKind
    label: str | None
    confidence: float | None
    zone: str | None
    track_id: str | None
    started_at: datetime
    ended_at: datetime | None
    attributes: dict[str, Any]
    review_state: ReviewState | None = Field(description="Catches only; null for system events.")
    notes: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime
    has_snapshot: bool
    has_thumbnail: bool
    has_clip: bool
    score: float | None = Field(
        None, description="Text search only: similarity to the query (0..1), best first."
    )


def event_out(event: Event, score: float | None = None) -> EventOut:
    """The API shape of a stored event (also what live `event.*` updates carry)."""
    return EventOut(
        id=event.id,
        space_id=event.space_id,
        camera_id=event.camera_id,
        guard_id=event.guard_id,
        kind=event.kind,
        label=event.label,
        confidence=event.confidence,
        zone=event.zone,
        track_id=event.track_id,
        started_at=event.started_at,
        ended_at=event.ended_at,
        attributes=event.attributes or {},
        review_state=event.review_state,
        notes=event.notes,
        reviewed_by=event.reviewed_by,
        reviewed_at=event.reviewed_at,
        created_at=event.created_at,
        has_snapshot=event.snapshot_key is not None,
        has_thumbnail=event.thumbnail_key is not None,
        has_clip=event.clip_key is not None,
        score=score,
    )


class EventDetail(EventOut):
    """An event with signed media URLs (short-lived; fetch the event again for new ones)."""

    snapshot_url: str | None
    thumbnail_url: str | None
    clip_url: str | None
    urls_expire_at: datetime | None


class EventReview(BaseModel):
    """Review a catch and/or change its notes; give at least one field."""

    model_config = ConfigDict(extra="forbid")

    review_state: ReviewState | None = Field(
        None,
        description=(
            "new → seen → confirmed | false_alarm | resolved; new may skip seen; confirmed "
            "and false_alarm may become resolved. Never back to new."
        ),
    )
    notes: str | None = Field(None, max_length=NOTES_MAX, description="Free text, searchable.")


class StatsBucketOut(BaseModel):
    start: datetime = Field(description="Local start of the bucket, with its UTC offset.")
    end: datetime
    total: int
    counts: dict[str, int] = Field(
        description="Per label, camera id or guard id (events without one are only in total)."
    )


class EventStatsOut(BaseModel):
    space_id: str
    timezone: str
    bucket: Bucket
    by: Dimension | None
    since: datetime
    until: datetime
    total: int
    buckets: list[StatsBucketOut]
    names: dict[str, str] = Field(description="Camera or guard names by id.")
