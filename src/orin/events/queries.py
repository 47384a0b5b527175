"""Reading events for a caller: filters, keyset pages newest first, lookups by id.

Every query is scoped with `orin.access.event_scope`. A page is ordered by
``(started_at desc, id desc)`` and continues strictly after the last row of the page before,
so paging never repeats or skips an event that existed when paging began; events recorded
meanwhile with a later start appear before the first page, never in the middle.

Without a space, camera or guard filter, the caller's events are read as one index range per
space (and per camera shared with them), each limited to the page size, and merged: the
``(space_id, started_at, id)`` index then serves the newest-first order directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, defer

from orin.access import camera_for, event_scope, guard_for, space_for, visible_space_ids
from orin.access.resolve import visible_camera_ids
from orin.errors import BadRequest, NotFound
from orin.models.camera import Camera
from orin.models.event import Event, EventKind, ReviewState

NEWEST_FIRST = (Event.started_at.desc(), Event.id.desc())
MAX_BRANCHES = 32
"""Spaces plus shared cameras read as separate index ranges; beyond this, one scoped scan."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilters:
    """What a list or search is narrowed to; every field optional."""

    space_id: str | None = None
    camera_id: str | None = None
    guard_id: str | None = None
    label: str | None = None
    kind: EventKind | None = None
    review_state: ReviewState | None = None
    since: datetime | None = None
    """Events starting at or after this time."""
    until: datetime | None = None
    """Events starting before this time."""

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filters as SQL conditions (without the caller's scope)."""
        conditions: list[ColumnElement[bool]] = []
        if self.space_id is not None:
            conditions.append(Event.space_id == self.space_id)
        if self.camera_id is not None:
            conditions.append(Event.camera_id == self.camera_id)
        if self.guard_id is not None:
            conditions.append(Event.guard_id == self.guard_id)
        if self.label is not None:
            conditions.append(Event.label == self.label)
        if self.kind is not None:
            conditions.append(Event.kind == self.kind)
        if self.review_state is not None:
            conditions.append(Event.review_state == self.review_state)
        if self.since is not None:
            conditions.append(Event.started_at >= self.since)
        if self.until is not None:
            conditions.append(Event.started_at < self.until)
        return conditions

    def fingerprint(self) -> dict[str, Any]:
        """The filters as JSON-ready values (for cursors that must match their query)."""
        values: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            values[item.name] = value.isoformat() if isinstance(value, datetime) else value
        return values


async def check_filters(db: AsyncSession, user_id: str, filters: EventFilters) -> None:
    """404 when a named space, camera or guard is not visible to the caller; 400 when the
    time range is empty."""
    if filters.since is not None and filters.until is not None and filters.since >= filters.until:
        raise BadRequest("`since` must be before `until`")
    if filters.space_id is not None:
        await space_for(db, user_id, filters.space_id)
    if filters.camera_id is not None:
        await camera_for(db, user_id, filters.camera_id)
    if filters.guard_id is not None:
        await guard_for(db, user_id, filters.guard_id)


async def index_ranges(
    db: AsyncSession, user_id: str, filters: EventFilters
) -> list[ColumnElement[bool]]:
    """Conditions each served by one index range, together covering the caller's events
    (empty when the caller sees none)."""
    if filters.camera_id is not None:
        return [Event.camera_id == filters.camera_id]
    if filters.space_id is not None:
        return [Event.space_id == filters.space_id]
    if filters.guard_id is not None:
        return [Event.guard_id == filters.guard_id]
    spaces = list(await db.scalars(visible_space_ids(user_id)))
    shared = list(
        await db.scalars(
            select(Camera.id).where(
                Camera.id.in_(visible_camera_ids(user_id)),
                Camera.space_id.not_in(visible_space_ids(user_id)),
            )
        )
    )
    if len(spaces) + len(shared) > MAX_BRANCHES:
        return [event_scope(user_id)]
    return [Event.space_id == space for space in spaces] + [
        Event.camera_id == camera for camera in shared
    ]


def _conditions(
    user_id: str, filters: EventFilters, after: tuple[datetime, str] | None
) -> list[ColumnElement[bool]]:
    conditions = [event_scope(user_id), *filters.conditions()]
    if after is not None:
        at, event_id = after
        conditions.append(
            tuple_(Event.started_at, Event.id)
            < tuple_(literal(at, Event.started_at.type), literal(event_id, Event.id.type))
        )
    return conditions


def newest(
    user_id: str,
    filters: EventFilters,
    ranges: list[ColumnElement[bool]],
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> Subquery:
    """``columns`` of the caller's ``limit`` newest events matching the filters, strictly
    after ``after``: one limited index range per condition of ``ranges``, merged."""
    conditions = _conditions(user_id, filters, after)
    parts = [
        select(*columns).where(condition, *conditions).order_by(*NEWEST_FIRST).limit(limit)
        for condition in ranges
    ]
    if len(parts) == 1:
        return parts[0].subquery()
    merged = union_all(*(select(*part.subquery().c) for part in parts)).subquery()
    return (
        select(*merged.c)
        .order_by(merged.c.started_at.desc(), merged.c.id.desc())
        .limit(limit)
        .subquery()
    )


def list_statement(
    user_id: str,
    filters: EventFilters,
    ranges: list[ColumnElement[bool]],
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> Select[Event]:
    """The page query: ``limit`` events newest first, strictly after ``after``."""
    if len(ranges) == 1:
        statement = select(Event).where(ranges[0], *_conditions(user_id, filters, after))
    else:
        top = newest(
            user_id, filters, ranges, (Event.id, Event.started_at), limit=limit, after=after
        )
        statement = select(Event).join(
            top, and_(Event.id == top.c.id, Event.started_at == top.c.started_at)
        )
    return (
        statement.options(defer(Event.embedding, raiseload=True))
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )


async def list_events(
    db: AsyncSession,
    user_id: str,
    filters: EventFilters,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[Event], tuple[datetime, str] | None]:
    """One page of the caller's events and the key to continue after (None on the last)."""
    ranges = await index_ranges(db, user_id, filters)
    if not ranges:
        return [], None
    statement = list_statement(user_id, filters, ranges, limit=limit + 1, after=after)
    events = list(await db.scalars(statement))
    if len(events) <= limit:
        return events, None
    events = events[:limit]
    return events, (events[-1].started_at, events[-1].id)


async def event_for(
    db: AsyncSession, user_id: str, event_id: str, *, for_update: bool = False
) -> Event:
    """The event if the caller may see it; `NotFound` otherwise (ids are unique on their
    own, so the partition key is not needed)."""
    if len(event_id) > 32:
        raise NotFound("no such event")
    statement = (
        select(Event)
        .where(Event.id == event_id, event_scope(user_id))
        .options(defer(Event.embedding, raiseload=not for_update))
    )
    if for_update:
        statement = statement.with_for_update()
    event = await db.scalar(statement)
    if event is None:
        raise NotFound("no such event")
    return event
