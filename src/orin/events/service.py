"""Recording events (one or in batches) and reviewing catches. Never commits.

Each event carries a ``search_text`` (label, attribute values, zone, camera and guard names,
notes) and its embedding, so text search can rank it; see `search_text_for`.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Table, Text, bindparam, cast, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.errors import Conflict
from orin.events.embeddings import EmbeddingCache, text_embeddings
from orin.guards.tuning import with_feedback
from orin.models.base import new_id, utcnow
from orin.models.camera import Camera
from orin.models.event import EMBEDDING_DIM, Event, EventKind, ReviewState
from orin.models.guard import Guard

SYSTEM_SUBJECTS: Mapping[EventKind, str] = {
    EventKind.CAMERA_OFFLINE: "camera offline",
    EventKind.CAMERA_ONLINE: "camera back online",
    EventKind.MOTION: "motion",
}
"""What a system event is called in its search text (it has no label)."""

TRANSITIONS: Mapping[ReviewState, frozenset[ReviewState]] = {
    ReviewState.NEW: frozenset(
        {ReviewState.SEEN, ReviewState.CONFIRMED, ReviewState.FALSE_ALARM, ReviewState.RESOLVED}
    ),
    ReviewState.SEEN: frozenset(
        {ReviewState.CONFIRMED, ReviewState.FALSE_ALARM, ReviewState.RESOLVED}
    ),
    ReviewState.CONFIRMED: frozenset({ReviewState.RESOLVED}),
    ReviewState.FALSE_ALARM: frozenset({ReviewState.RESOLVED}),
    ReviewState.RESOLVED: frozenset(),
}
"""Review states a catch may move to from each state (staying put is always allowed)."""

_MAX_ATTRIBUTE_WORDS = 12


class InvalidReviewTransition(Conflict):
    type_slug = "invalid-review-transition"
    title = "Review state cannot change that way"


class NotReviewable(Conflict):
    type_slug = "not-reviewable"
    title = "Only catches are reviewed"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    """One event to record; the fields of `record_event`."""

    space_id: str
    camera_id: str
    kind: EventKind
    started_at: datetime
    ended_at: datetime | None = None
    guard_id: str | None = None
    label: str | None = None
    confidence: float | None = None
    zone: str | None = None
    track_id: str | None = None
    attributes: Mapping[str, Any] | None = None
    snapshot_key: str | None = None
    thumbnail_key: str | None = None
    clip_key: str | None = None
    event_id: str | None = None


def _attribute_words(attributes: Mapping[str, Any]) -> list[str]:
    words: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, str | int | float):
            text = str(value).strip()
            if text:
                words.append(text[:60])
        elif isinstance(value, list | tuple):
            for item in value:
                if not isinstance(item, list | tuple | dict):
                    add(item)

    for value in attributes.values():
        add(value)
    return words[:_MAX_ATTRIBUTE_WORDS]


def search_text_for(
    *,
    kind: EventKind,
    label: str | None,
    attributes: Mapping[str, Any] | None,
    camera_name: str,
    zone: str | None,
    guard_name: str | None,
    notes: str = "",
) -> str:
    """The text an event is searched by, e.g.
    ``"dog: brown dog in Lawn on the Back yard camera (Pets on the lawn). <notes>"``.

    The label leads and is repeated with the attribute values: MiniLM weighs the start of a
    short text most, and this shape separated labels best in our measurements."""
    subject = label or SYSTEM_SUBJECTS.get(kind, kind.value.replace("_", " "))
    described = " ".join([*_attribute_words(attributes or {}), subject])
    text = f"{subject}: {described}"
    if zone:
        text += f" in {zone}"
    text += f" on the {camera_name} camera"
    if guard_name:
        text += f" ({guard_name})"
    if notes.strip():
        text += f". {notes.strip()}"
    return text


def _check(item: NewEvent) -> None:
    if item.started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    if item.ended_at is not None and item.ended_at < item.started_at:
        raise ValueError("ended_at is before started_at")
    if item.confidence is not None and not 0.0 <= item.confidence <= 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if item.kind != EventKind.CATCH and item.guard_id is not None:
        raise ValueError("only catches come from a guard")


async def _names(
    session: AsyncSession, items: Sequence[NewEvent]
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """``{camera_id: (space_id, name)}`` and ``{guard_id: (space_id, name)}`` of the items."""
    camera_ids = {item.camera_id for item in items}
    guard_ids = {item.guard_id for item in items if item.guard_id is not None}
    cameras = {
        row.id: (row.space_id, row.name)
        for row in await session.execute(
            select(Camera.id, Camera.space_id, Camera.name).where(Camera.id.in_(camera_ids))
        )
    }
    guards: dict[str, tuple[str, str]] = {}
    if guard_ids:
        guards = {
            row.id: (row.space_id, row.name)
            for row in await session.execute(
                select(Guard.id, Guard.space_id, Guard.name).where(Guard.id.in_(guard_ids))
            )
        }
    return cameras, guards


async def _rows(
    session: AsyncSession, items: Sequence[NewEvent], embeddings: EmbeddingCache
) -> list[dict[str, Any]]:
    cameras, guards = await _names(session, items)
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for item in items:
        _check(item)
        camera = cameras.get(item.camera_id)
        if camera is None or camera[0] != item.space_id:
            raise ValueError(f"camera {item.camera_id} is not in space {item.space_id}")
        guard = guards.get(item.guard_id) if item.guard_id is not None else None
        if item.guard_id is not None and (guard is None or guard[0] != item.space_id):
            raise ValueError(f"guard {item.guard_id} is not in space {item.space_id}")
        rows.append(
            {
                "id": item.event_id or new_id(),
                "started_at": item.started_at,
                "ended_at": item.ended_at,
                "space_id": item.space_id,
                "camera_id": item.camera_id,
                "guard_id": item.guard_id,
                "kind": item.kind,
                "label": item.label,
                "confidence": item.confidence,
                "zone": item.zone,
                "track_id": item.track_id,
                "snapshot_key": item.snapshot_key,
                "thumbnail_key": item.thumbnail_key,
                "clip_key": item.clip_key,
                "attributes": dict(item.attributes or {}),
                "review_state": ReviewState.NEW if item.kind == EventKind.CATCH else None,
                "notes": "",
                "search_text": search_text_for(
                    kind=item.kind,
                    label=item.label,
                    attributes=item.attributes,
                    camera_name=camera[1],
                    zone=item.zone,
                    guard_name=guard[1] if guard else None,
                ),
                "created_at": now,
            }
        )
    vectors = await embeddings.embed([row["search_text"] for row in rows])
    for row, vector in zip(rows, vectors, strict=True):
        row["embedding"] = vector
    return rows


async def record_event(
    session: AsyncSession,
    *,
    space_id: str,
    camera_id: str,
    kind: EventKind,
    started_at: datetime,
    ended_at: datetime | None = None,
    guard_id: str | None = None,
    label: str | None = None,
    confidence: float | None = None,
    zone: str | None = None,
    track_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    snapshot_key: str | None = None,
    thumbnail_key: str | None = None,
    clip_key: str | None = None,
    event_id: str | None = None,
    embeddings: EmbeddingCache = text_embeddings,
) -> Event:
    """Record one event in the session's transaction and return it (flushed).

    Catches start ``new``; system events have no review state. Raises `ValueError` for
    inconsistent input (a camera or guard of another space, a naive time, ...)."""
    item = NewEvent(
        space_id=space_id,
        camera_id=camera_id,
        kind=kind,
        started_at=started_at,
        ended_at=ended_at,
        guard_id=guard_id,
        label=label,
        confidence=confidence,
        zone=zone,
        track_id=track_id,
        attributes=attributes,
        snapshot_key=snapshot_key,
        thumbnail_key=thumbnail_key,
        clip_key=clip_key,
        event_id=event_id,
    )
    (row,) = await _rows(session, [item], embeddings)
    event = Event(**row)
    session.add(event)
    await session.flush()
    return event


async def record_events(
    session: AsyncSession,
    items: Sequence[NewEvent],
    *,
    embeddings: EmbeddingCache = text_embeddings,
) -> list[str]:
    """Record many events with one embedding run for their distinct texts and one
    executemany insert; returns their ids in order. Nothing is added to the identity map."""
    if not items:
        return []
    rows = await _rows(session, items, embeddings)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_POSTGRES_INSERT, _with_vector_text(rows))
    else:
        await session.execute(insert(Event), rows)
    return [str(row["id"]) for row in rows]


# pgvector's bind processor writes each vector as text, ~0.25 ms a row in Python; texts (and so
# vectors) repeat a lot, so a batch sends each distinct vector's text form, written once.
_POSTGRES_INSERT = insert(typing.cast(Table, Event.__table__)).values(
    embedding=cast(bindparam("embedding_text", type_=Text), VECTOR(EMBEDDING_DIM))
)


def _with_vector_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    texts: dict[str, str] = {}
    converted = []
    for row in rows:
        search_text = row["search_text"]
        if search_text not in texts:
            vector = row["embedding"].tolist()
            texts[search_text] = "[" + ",".join(map(repr, vector)) + "]"
        converted.append(
            {key: value for key, value in row.items() if key != "embedding"}
            | {"embedding_text": texts[search_text]}
        )
    return converted


async def refresh_search(
    session: AsyncSession, event: Event, *, embeddings: EmbeddingCache = text_embeddings
) -> None:
    """Rebuild the event's search text and embedding (after its notes changed)."""
    camera_name = await session.scalar(select(Camera.name).where(Camera.id == event.camera_id))
    guard_name = None
    if event.guard_id is not None:
        guard_name = await session.scalar(select(Guard.name).where(Guard.id == event.guard_id))
    event.search_text = search_text_for(
        kind=EventKind(event.kind),
        label=event.label,
        attributes=event.attributes,
        camera_name=camera_name or "",
        zone=event.zone,
        guard_name=guard_name,
        notes=event.notes,
    )
    event.embedding = await embeddings.embed_one(event.search_text)


@dataclass(frozen=True, slots=True)
class ReviewChange:
    """What a review changed: the state before and after, and whether the notes changed."""

    before: ReviewState | None
    after: ReviewState | None
    notes_changed: bool

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.notes_changed


def check_transition(before: ReviewState, after: ReviewState) -> None:
    """Raise `InvalidReviewTransition` unless a catch may go from ``before`` to ``after``."""
    if after != before and after not in TRANSITIONS[before]:
        allowed = sorted(state.value for state in TRANSITIONS[before])
        raise InvalidReviewTransition(
            f"a catch cannot go from `{before.value}` to `{after.value}`"
            + (f"; from `{before.value}` it may go to {', '.join(allowed)}" if allowed else ""),
            extra={"from": before.value, "to": after.value, "allowed": allowed},
        )


async def review_event(
    session: AsyncSession,
    event: Event,
    *,
    reviewer_id: str,
    review_state: ReviewState | None = None,
    notes: str | None = None,
    embeddings: EmbeddingCache = text_embeddings,
) -> ReviewChange:
    """Move a catch's review state and/or set its notes (re-embedding the search text).

    System events take notes but no review state (`NotReviewable`, 409); a move outside
    `TRANSITIONS` is `InvalidReviewTransition` (409)."""
    before = None if event.review_state is None else ReviewState(event.review_state)
    after = before
    if review_state is not None:
        if event.kind != EventKind.CATCH or before is None:
            raise NotReviewable("system events (camera offline/online, motion) have no review")
        check_transition(before, review_state)
        after = review_state
    change = ReviewChange(before, after, notes is not None and notes != event.notes)
    if not change.changed:
        return change
    event.review_state = after
    if change.notes_changed and notes is not None:
        event.notes = notes
        await refresh_search(session, event, embeddings=embeddings)
    event.reviewed_by = reviewer_id
    event.reviewed_at = utcnow()
    if after != before and after in (ReviewState.CONFIRMED, ReviewState.FALSE_ALARM):
        await _teach_guard(session, event, confirmed=after == ReviewState.CONFIRMED)
    await session.flush()
    return change


async def _teach_guard(session: AsyncSession, event: Event, *, confirmed: bool) -> None:
    """Feed a confirmed / false-alarm review back into its guard's thresholds
    (`orin.guards.tuning`)."""
    if event.guard_id is None or event.label is None or event.confidence is None:
        return
    guard = await session.get(Guard, event.guard_id, with_for_update=True)
    if guard is None:
        return
    guard.tuning = with_feedback(
        guard.tuning or {}, event.label, event.zone, event.confidence, confirmed
    )
