"""Monthly partitions of the ``event`` table on PostgreSQL, created ahead of time.

``event`` is ``PARTITION BY RANGE (started_at)`` with one partition per UTC month
(``event_yYYYYmMM``) and a DEFAULT partition, ``event_default``, that catches anything outside
them. A missing month is created as a plain table, filled with that month's rows from the
default partition (which are then deleted there), and attached, all in the caller's
transaction: readers never see a row twice or miss one. A CHECK constraint matching the bounds
lets ``ATTACH PARTITION`` skip scanning the new table. On SQLite there is nothing to do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from orin.models.base import utcnow
from orin.models.event import Event

logger = structlog.get_logger(__name__)

PARENT = "event"
DEFAULT_PARTITION = "event_default"
_LOCK_KEY = 0x0E7E_1710
"""``pg_advisory_xact_lock`` key: one partition maintainer at a time."""


def partition_name(month: date) -> str:
    """``event_y2026m11`` for November 2026."""
    return f"event_y{month.year:04d}m{month.month:02d}"


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_to_ensure(now: datetime, months_ahead: int) -> list[date]:
    """First days of the UTC months from ``now``'s through ``months_ahead`` after it."""
    current = now.astimezone(UTC).date().replace(day=1)
    return [add_months(current, offset) for offset in range(months_ahead + 1)]


def _bound(month: date) -> str:
    return f"'{month:%Y-%m-%d} 00:00:00+00'"


async def ensure_month_partitions(
    db: AsyncSession | AsyncConnection, months_ahead: int = 1, *, now: datetime | None = None
) -> list[str]:
    """Create the missing monthly partitions from the current UTC month (of ``now``) through
    ``months_ahead`` months later, moving their rows out of the default partition. Runs in
    the caller's transaction (the caller commits); returns the names created. No-op on SQLite.
    """
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    if bind.dialect.name != "postgresql":
        return []
    if months_ahead < 0:
        raise ValueError("months_ahead must be 0 or more")
    await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    existing = set(
        (
            await db.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = CAST(:parent AS regclass)"
                ),
                {"parent": PARENT},
            )
        ).scalars()
    )
    created: list[str] = []
    for month in months_to_ensure(now or utcnow(), months_ahead):
        name = partition_name(month)
        if name in existing:
            continue
        moved = await _create_partition(db, name, month, add_months(month, 1))
        logger.info("events.partition_created", partition=name, moved_rows=moved)
        created.append(name)
    return created


async def _create_partition(
    db: AsyncSession | AsyncConnection, name: str, start: date, end: date
) -> int:
    # Names and bounds come from dates, never from input, so formatting them in is safe.
    low, high = _bound(start), _bound(end)
    in_range = f"started_at >= {low} AND started_at < {high}"
    columns = ", ".join(f'"{column.name}"' for column in Event.__table__.columns)
    statements = [
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)",
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK ({in_range})",
        # No new rows may land in the default partition while its rows of this month move.
        f"LOCK TABLE {DEFAULT_PARTITION} IN EXCLUSIVE MODE",
    ]
    for statement in statements:
        await db.execute(text(statement))
    moved = await db.execute(
        text(
            f"INSERT INTO {name} ({columns}) "
            f"SELECT {columns} FROM {DEFAULT_PARTITION} WHERE {in_range}"
        )
    )
    await db.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE {in_range}"))
    await db.execute(
        text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    )
    await db.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds"))
    return int(getattr(moved, "rowcount", 0) or 0)
