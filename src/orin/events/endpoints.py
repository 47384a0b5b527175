"""`/api/v1/events*`: list, search, read and review events, and count them over time."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from orin.access import Capability, camera_for, space_for
from orin.audit import audit_event
from orin.auth.deps import ClientDep, CurrentUser
from orin.deps import PubSubDep, SessionDep, SettingsDep, StorageDep
from orin.errors import BadRequest
from orin.events import service
from orin.events.queries import EventFilters, check_filters, event_for, list_events
from orin.events.schemas import (
    EventDetail,
    EventOut,
    EventReview,
    EventStatsOut,
    StatsBucketOut,
    event_out,
)
from orin.events.search import search_events
from orin.events.stats import Bucket, Dimension, event_stats
from orin.models.base import utcnow
from orin.models.event import Event, EventKind, ReviewState
from orin.pagination import (
    MAX_LIMIT,
    InvalidCursor,
    Page,
    decode_cursor,
    encode_cursor,
    parse_cursor_time,
)
from orin.problems import problem_responses
from orin.realtime.publisher import event_data, publish_after_commit
from orin.security.ratelimit import ApiRateLimit

router = APIRouter(
    prefix="/api/v1/events",
    tags=["events"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)

IdParam = Annotated[str | None, Query(min_length=1, max_length=32)]


async def event_detail(event: Event, storage: StorageDep, settings: SettingsDep) -> EventDetail:
    ttl = settings.storage.url_ttl_s
    urls: dict[str, str | None] = {}
    for name, key in (
        ("snapshot_url", event.snapshot_key),
        ("thumbnail_url", event.thumbnail_key),
        ("clip_url", event.clip_key),
    ):
        urls[name] = None if key is None else await storage.signed_url(key, expires_in_s=ttl)
    expires = utcnow() + timedelta(seconds=ttl) if any(urls.values()) else None
    return EventDetail(
        **event_out(event).model_dump(),
        snapshot_url=urls["snapshot_url"],
        thumbnail_url=urls["thumbnail_url"],
        clip_url=urls["clip_url"],
        urls_expire_at=expires,
    )


def _search_fingerprint(query: str, filters: EventFilters) -> str:
    raw = json.dumps([query, filters.fingerprint()], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@router.get("", operation_id="events_list", responses=problem_responses(400, 404, 422))
async def list_events_endpoint(
    user: CurrentUser,
    db: SessionDep,
    space_id: IdParam = None,
    camera_id: IdParam = None,
    guard_id: IdParam = None,
    label: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    kind: EventKind | None = None,
    review_state: ReviewState | None = None,
    since: Annotated[AwareDatetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Started before.")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Text search: results ranked by similarity (offset pages, see docs).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[EventOut]:
    """The caller's events, newest first, narrowed by the filters. A space, camera or guard
    the caller cannot see is a 404. With `q`, events matching the text, best first."""
    filters = EventFilters(
        space_id=space_id,
        camera_id=camera_id,
        guard_id=guard_id,
        label=label,
        kind=kind,
        review_state=review_state,
        since=since,
        until=until,
    )
    await check_filters(db, user.id, filters)
    if q is not None and q.strip():
        return await _search_page(db, user.id, filters, q.strip(), limit, cursor)
    after = None
    if cursor:
        values = decode_cursor(cursor, ("at", "id"))
        after = (parse_cursor_time(values["at"]), str(values["id"]))
    events, next_key = await list_events(db, user.id, filters, limit=limit, after=after)
    next_cursor = None
    if next_key is not None:
        next_cursor = encode_cursor({"at": next_key[0].isoformat(), "id": next_key[1]})
    return Page[EventOut](items=[event_out(event) for event in events], next_cursor=next_cursor)


async def _search_page(
    db: SessionDep,
    user_id: str,
    filters: EventFilters,
    query: str,
    limit: int,
    cursor: str | None,
) -> Page[EventOut]:
    fingerprint = _search_fingerprint(query, filters)
    offset = 0
    if cursor:
        values = decode_cursor(cursor, ("o", "h"))
        offset = values["o"]
        if values["h"] != fingerprint or not isinstance(offset, int) or offset < 0:
            raise InvalidCursor("the cursor belongs to another search")
    hits, more = await search_events(db, user_id, filters, query, limit=limit, offset=offset)
    next_cursor = encode_cursor({"o": offset + limit, "h": fingerprint}) if more else None
    return Page[EventOut](
        items=[event_out(hit.event, hit.score) for hit in hits], next_cursor=next_cursor
    )


@router.get("/stats", operation_id="events_stats", responses=problem_responses(400, 404, 422))
async def stats(
    user: CurrentUser,
    db: SessionDep,
    space_id: Annotated[str, Query(min_length=1, max_length=32)],
    bucket: Bucket = "hour",
    by: Dimension | None = None,
    kind: EventKind | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> EventStatsOut:
    """Event counts per hour or day in the space's time zone (DST-aware), from the start of
    the bucket holding `since` (default: a day of hours, or 30 days) to `until` (now)."""
    access = await space_for(db, user.id, space_id)
    result = await event_stats(
        db, access.space, bucket=bucket, since=since, until=until, by=by, kind=kind
    )
    return EventStatsOut(
        space_id=space_id,
        timezone=result.timezone,
        bucket=result.bucket,
        by=result.by,
        since=result.since,
        until=result.until,
        total=result.total,
        buckets=[
            StatsBucketOut(start=b.start, end=b.end, total=b.total, counts=b.counts)
            for b in result.buckets
        ],
        names=result.names,
    )


@router.get("/{event_id}", operation_id="events_get", responses=problem_responses(404))
async def get_event(
    event_id: str,
    user: CurrentUser,
    db: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> EventDetail:
    """One event with short-lived signed URLs of its snapshot, thumbnail and clip."""
    return await event_detail(await event_for(db, user.id, event_id), storage, settings)


@router.patch(
    "/{event_id}", operation_id="events_review", responses=problem_responses(403, 404, 409, 422)
)
async def review_event(
    event_id: str,
    body: EventReview,
    user: CurrentUser,
    db: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    client: ClientDep,
    pubsub: PubSubDep,
) -> EventDetail:
    """Review a catch (`review_state`) and/or set its notes; needs the review capability on
    its camera. An invalid move (back to `new`, from `resolved`, ...) or reviewing a system
    event is a 409."""
    if body.review_state is None and body.notes is None:
        raise BadRequest("give `review_state`, `notes` or both")
    event = await event_for(db, user.id, event_id, for_update=True)
    await camera_for(db, user.id, event.camera_id, Capability.REVIEW)
    change = await service.review_event(
        db, event, reviewer_id=user.id, review_state=body.review_state, notes=body.notes
    )
    if change.changed:
        await audit_event(
            db,
            client,
            action="event.reviewed",
            actor_id=user.id,
            target_type="event",
            target_id=event.id,
            details={
                "from": change.before,
                "to": change.after,
                "notes_changed": change.notes_changed,
            },
        )
        publish_after_commit(
            db,
            pubsub,
            "event.updated",
            space_id=event.space_id,
            camera_id=event.camera_id,
            data=event_data(event),
        )
    return await event_detail(event, storage, settings)
