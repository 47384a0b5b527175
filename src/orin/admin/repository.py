"""Every query of the admin views: platform-wide counts, heartbeats, sizes and accounts.

Counts are grouped in the database and only the groups travel. Time series are grouped by
whole buckets since the epoch (`epoch_seconds` is the one spelling that differs between SQLite
and PostgreSQL); the caller folds and zero-fills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from orin.admin.accounts import disabled_clause
from orin.models.auth_session import AuthSession
from orin.models.camera import Camera
from orin.models.event import Event, EventKind, ReviewState
from orin.models.guard import Guard
from orin.models.notification import Notification
from orin.models.process_heartbeat import ProcessHeartbeat
from orin.models.recording import RecordingSegment
from orin.models.user import User, UserRole
from orin.pagination import oldest_first

REVIEWED_STATES = (ReviewState.CONFIRMED, ReviewState.FALSE_ALARM, ReviewState.RESOLVED)
"""Review states that are a verdict (``seen`` is not)."""


def dialect_of(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def epoch_seconds(column: InstrumentedAttribute[datetime], dialect: str) -> ColumnElement[int]:
    """Whole seconds since the epoch of a UTC time column."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    # SQLite stores UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"), which strftime reads as UTC.
    return cast(func.strftime("%s", column), Integer)


# --- analytics ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserCounts:
    total: int
    active: int
    disabled: int
    admins: int
    by_plan: dict[str, int]


async def user_counts(db: AsyncSession, active_since: datetime) -> UserCounts:
    by_plan = {
        str(plan): int(count)
        for plan, count in await db.execute(select(User.plan, func.count()).group_by(User.plan))
    }
    flags = (
        await db.execute(
            select(
                func.count(case((disabled_clause(), 1))),
                func.count(case((User.role == UserRole.ADMIN, 1))),
            )
        )
    ).one()
    active = await db.scalar(
        select(func.count(func.distinct(AuthSession.user_id))).where(
            AuthSession.last_seen_at >= active_since
        )
    )
    return UserCounts(
        total=sum(by_plan.values()),
        active=int(active or 0),
        disabled=int(flags[0]),
        admins=int(flags[1]),
        by_plan=by_plan,
    )


async def camera_counts(db: AsyncSession) -> tuple[dict[str, int], int]:
    """Cameras per status, and how many are enabled."""
    by_status: dict[str, int] = {}
    enabled = 0
    rows = await db.execute(
        select(Camera.status, Camera.enabled, func.count()).group_by(Camera.status, Camera.enabled)
    )
    for status, is_enabled, count in rows:
        by_status[str(status)] = by_status.get(str(status), 0) + int(count)
        if is_enabled:
            enabled += int(count)
    return by_status, enabled


async def guard_counts(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(select(Guard.state, func.count()).group_by(Guard.state))
    return {str(state): int(count) for state, count in rows}


class Part(IntEnum):
    """Which stretch of time a `CatchBucket` belongs to."""

    LAST_HOUR = 0
    """Minute buckets from ``hour_start``."""
    WINDOW = 1
    """``step_s`` buckets from ``since`` to ``hour_start``."""
    EARLIER = 2
    """Day buckets before ``since``."""


@dataclass(frozen=True, slots=True)
class CatchBucket:
    """Catches that started in one bucket, and how those were reviewed."""

    part: Part
    start_s: int
    """Seconds since the epoch at which the bucket starts."""
    width_s: int
    count: int
    reviewed: int
    false_alarms: int


async def catch_buckets(
    db: AsyncSession,
    *,
    scan_since: datetime,
    since: datetime,
    hour_start: datetime,
    until: datetime,
    step_s: int,
) -> list[CatchBucket]:
    """Catches from ``scan_since`` to ``until`` in one pass, grouped by minute from
    ``hour_start``, by ``step_s`` from ``since``, and by UTC day before that.

    Each catch lands in exactly one bucket, and since every width divides the next one, the
    caller folds the fine buckets into the coarse series. One scan of the range (on PostgreSQL
    only the monthly partitions it touches), and at most a few hundred rows come back.
    """
    part = case(
        (Event.started_at >= hour_start, Part.LAST_HOUR.value),
        (Event.started_at >= since, Part.WINDOW.value),
        else_=Part.EARLIER.value,
    )
    # Widths are inlined: a bound parameter in a GROUP BY expression would not match the
    # same expression in the select list on PostgreSQL.
    width = case(
        (Event.started_at >= hour_start, literal_column("60")),
        (Event.started_at >= since, literal_column(str(int(step_s)))),
        else_=literal_column("86400"),
    )
    inner = (
        select(
            part.label("part"),
            width.label("width"),
            epoch_seconds(Event.started_at, dialect_of(db)).label("epoch"),
            Event.review_state,
        )
        .where(
            Event.kind == EventKind.CATCH,
            Event.started_at >= scan_since,
            Event.started_at < until,
        )
        .subquery()
    )
    bucket = inner.c.epoch // inner.c.width
    rows = await db.execute(
        select(
            inner.c.part,
            inner.c.width,
            bucket,
            func.count(),
            func.count(case((inner.c.review_state.in_(REVIEWED_STATES), 1))),
            func.count(case((inner.c.review_state == ReviewState.FALSE_ALARM, 1))),
        ).group_by(inner.c.part, inner.c.width, bucket)
    )
    return [
        CatchBucket(
            part=Part(int(p)),
            start_s=int(b) * int(w),
            width_s=int(w),
            count=int(c),
            reviewed=int(r),
            false_alarms=int(f),
        )
        for p, w, b, c, r, f in rows
    ]


async def notification_counts(
    db: AsyncSession, since: datetime | None = None
) -> dict[tuple[str, str], int]:
    """Deliveries per (channel, status), created since ``since`` (all when None)."""
    statement = select(Notification.channel, Notification.status, func.count()).group_by(
        Notification.channel, Notification.status
    )
    if since is not None:
        statement = statement.where(Notification.created_at >= since)
    return {(str(ch), str(st)): int(count) for ch, st, count in await db.execute(statement)}


async def event_counts_by_kind(db: AsyncSession) -> dict[str, int]:
    """Stored events per kind: a scan of the whole table, so callers keep it infrequent."""
    rows = await db.execute(select(Event.kind, func.count()).group_by(Event.kind))
    return {str(kind): int(count) for kind, count in rows}


# --- system ------------------------------------------------------------------------------------


async def heartbeats(db: AsyncSession) -> Sequence[ProcessHeartbeat]:
    statement = select(ProcessHeartbeat).order_by(
        ProcessHeartbeat.role, ProcessHeartbeat.hostname, ProcessHeartbeat.pid
    )
    return (await db.scalars(statement)).all()


async def recording_totals(db: AsyncSession) -> tuple[int, int]:
    """``(bytes, objects)`` of the recording segments the database knows of."""
    row = (
        await db.execute(
            select(func.coalesce(func.sum(RecordingSegment.size_bytes), 0), func.count())
        )
    ).one()
    return int(row[0]), int(row[1])


async def database_size(db: AsyncSession) -> int | None:
    """Bytes the database takes: ``pg_database_size`` or SQLite's page count times page size."""
    if dialect_of(db) == "postgresql":
        statement = text("SELECT pg_database_size(current_database())")
    else:
        statement = text(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )
    value = await db.scalar(statement)
    return None if value is None else int(value)


# --- accounts ----------------------------------------------------------------------------------


async def list_users(
    db: AsyncSession, *, email: str | None, limit: int, cursor: str | None
) -> Sequence[User]:
    """Accounts oldest first, ``limit + 1`` of them (see `orin.pagination.oldest_first`),
    whose email address contains ``email`` (any case)."""
    statement = select(User)
    if email:
        statement = statement.where(func.lower(User.email).contains(email.lower(), autoescape=True))
    statement = oldest_first(
        statement, created=User.created_at, key=User.id, limit=limit, cursor=cursor
    )
    return (await db.scalars(statement)).all()


async def last_seen(db: AsyncSession, user_ids: Sequence[str]) -> dict[str, datetime]:
    """Each user's latest session activity (users without sessions left out)."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(AuthSession.user_id, func.max(AuthSession.last_seen_at))
        .where(AuthSession.user_id.in_(user_ids))
        .group_by(AuthSession.user_id)
    )
    return {user_id: at for user_id, at in rows if at is not None}
