"""Event counts per hour or day in a space's time zone, optionally split by label, camera or
guard.

The database groups by UTC quarter-hour (every UTC offset in use is a multiple of 15 minutes),
and the quarters are folded into local hours or days here, with one code path for both
databases. A local hour is identified by the instant it starts, so the hour repeated when
clocks go back is two buckets (``02:00+02:00`` and ``02:00+01:00``); a local day is its
calendar date, 23 or 25 hours long across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    SQLColumnExpression,
    String,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from orin.errors import BadRequest
from orin.models.camera import Camera
from orin.models.event import Event, EventKind
from orin.models.guard import Guard
from orin.models.space import Space

Bucket = Literal["hour", "day"]
Dimension = Literal["label", "camera", "guard"]

QUARTER = timedelta(minutes=15)
MAX_BUCKETS: dict[Bucket, int] = {"hour": 24 * 62, "day": 400}
"""Longest ranges: 62 days of hours, 400 days."""
DEFAULT_RANGE: dict[Bucket, timedelta] = {"hour": timedelta(days=1), "day": timedelta(days=30)}


@dataclass(slots=True)
class StatsBucket:
    start: datetime
    """Local start, with the offset in force then."""
    end: datetime
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class EventStats:
    timezone: str
    bucket: Bucket
    by: Dimension | None
    since: datetime
    until: datetime
    total: int
    buckets: list[StatsBucket]
    names: dict[str, str]
    """Camera or guard names by id, when split by camera or guard."""


def bucket_start(instant: datetime, zone: ZoneInfo, bucket: Bucket) -> datetime:
    """The UTC instant at which the local hour or day holding ``instant`` starts."""
    local = instant.astimezone(zone)
    if bucket == "hour":
        start = instant - timedelta(
            minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
        return start.astimezone(UTC)
    return datetime.combine(local.date(), time(), tzinfo=zone).astimezone(UTC)


def bucket_end(start: datetime, zone: ZoneInfo, bucket: Bucket) -> datetime:
    """The UTC instant at which the bucket starting at ``start`` ends."""
    if bucket == "hour":
        return start + timedelta(hours=1)
    next_day = start.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(next_day, time(), tzinfo=zone).astimezone(UTC)


def _floor_quarter(instant: datetime) -> datetime:
    seconds = int(instant.timestamp())
    return datetime.fromtimestamp(seconds - seconds % 900, UTC)


def _quarter_column(dialect: str) -> ColumnElement[int]:
    """Seconds since the epoch // 900 of ``started_at``."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", Event.started_at) / 900), BigInteger)
    return cast(func.strftime("%s", Event.started_at), Integer) // 900


def _dimension_column(by: Dimension) -> SQLColumnExpression[str | None]:
    if by == "label":
        return Event.label
    if by == "camera":
        return Event.camera_id
    return Event.guard_id


async def _names(db: AsyncSession, space_id: str, by: Dimension | None) -> dict[str, str]:
    if by == "camera":
        rows = await db.execute(select(Camera.id, Camera.name).where(Camera.space_id == space_id))
    elif by == "guard":
        rows = await db.execute(select(Guard.id, Guard.name).where(Guard.space_id == space_id))
    else:
        return {}
    return {row.id: row.name for row in rows}


def _range(
    since: datetime | None, until: datetime | None, bucket: Bucket, now: datetime
) -> tuple[datetime, datetime]:
    until = (until or now).astimezone(UTC)
    since = (since or until - DEFAULT_RANGE[bucket]).astimezone(UTC)
    if since >= until:
        raise BadRequest("`since` must be before `until`")
    longest = (
        timedelta(hours=MAX_BUCKETS["hour"])
        if bucket == "hour"
        else timedelta(days=MAX_BUCKETS["day"])
    )
    if until - since > longest:
        raise BadRequest(
            f"at most {MAX_BUCKETS[bucket]} {bucket}s per request; narrow `since`..`until`"
        )
    return since, until


async def event_stats(
    db: AsyncSession,
    space: Space,
    *,
    bucket: Bucket,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Dimension | None = None,
    kind: EventKind | None = None,
    now: datetime | None = None,
) -> EventStats:
    """Counts of the space's events per local ``bucket`` from the start of the bucket holding
    ``since`` to ``until`` (default: the last day of hours or 30 days), every bucket listed."""
    zone = ZoneInfo(space.timezone)
    since, until = _range(since, until, bucket, now or datetime.now(UTC))
    since = bucket_start(since, zone, bucket)

    buckets: dict[datetime, StatsBucket] = {}
    quarter = _floor_quarter(since)
    while quarter < until:
        start = bucket_start(quarter, zone, bucket)
        if start not in buckets:
            buckets[start] = StatsBucket(
                start=start.astimezone(zone), end=bucket_end(start, zone, bucket).astimezone(zone)
            )
        quarter += QUARTER

    quarter_column = _quarter_column(db.get_bind().dialect.name).label("quarter")
    dimension = _dimension_column(by) if by else literal(None, String)
    conditions = [Event.space_id == space.id, Event.started_at >= since, Event.started_at < until]
    if kind is not None:
        conditions.append(Event.kind == kind)
    rows = await db.execute(
        select(quarter_column, dimension, func.count())
        .where(*conditions)
        .group_by(quarter_column, *([dimension] if by else []))
    )
    total = 0
    for row in rows:
        instant = datetime.fromtimestamp(int(row[0]) * 900, UTC)
        count = int(row[-1])
        target = buckets.get(bucket_start(instant, zone, bucket))
        if target is None:  # cannot happen: every quarter in range was listed
            continue
        target.total += count
        total += count
        key = row[1]
        if key is not None:
            target.counts[str(key)] = target.counts.get(str(key), 0) + count
    return EventStats(
        timezone=space.timezone,
        bucket=bucket,
        by=by,
        since=since.astimezone(zone),
        until=until.astimezone(zone),
        total=total,
        buckets=list(buckets.values()),
        names=await _names(db, space.id, by),
    )
