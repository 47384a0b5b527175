"""The admin views' rules: figures folded into zero-filled series, system health, accounts.

Like every service it never commits; the request does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from orin.admin import repository
from orin.admin.accounts import is_disabled, set_disabled
from orin.admin.repository import CatchBucket, Part
from orin.admin.schemas import (
    AdminUserOut,
    AdminUserUpdate,
    Analytics,
    Bucket,
    CameraFigures,
    CatchFigures,
    ChannelOutcomes,
    DatabaseOut,
    GuardFigures,
    ProcessOut,
    QueueOut,
    Series,
    StorageOut,
    SystemStatus,
    UserFigures,
)
from orin.audit import audit_event
from orin.auth.email_flows import revoke_all_sessions
from orin.auth.service import AuthContext, ClientInfo
from orin.bus.base import Bus
from orin.config import Settings
from orin.errors import Conflict, NotFound
from orin.models.camera import CameraStatus
from orin.models.guard import GuardState
from orin.models.notification import NotificationStatus
from orin.models.user import Plan, User
from orin.pagination import Page, next_cursor
from orin.runtime.heartbeat import HEARTBEAT_EVERY_S
from orin.runtime.tasks import tasks
from orin.users.schemas import Channel

logger = structlog.get_logger(__name__)

MINUTE = 60
DAY = 86400
WINDOW_PATTERN = re.compile(r"^([1-9][0-9]{0,3})([hd])$")
MIN_WINDOW_S = 3600
MAX_WINDOW_S = 30 * DAY
SERIES_STEPS_S = (60, 300, 900, 1800, 3600, 10800, 21600, 43200, DAY)
"""Bucket widths a window series may use: all multiples of a minute, aligned on the epoch."""
MAX_SERIES_POINTS = 360
PER_MINUTE_POINTS = 60
PER_DAY_POINTS = 30
ALIVE_AFTER_S = 3 * HEARTBEAT_EVERY_S
"""A process is alive while its last heartbeat is younger than three heartbeat intervals (two
beats may be missed, e.g. while the database is briefly unreachable)."""
QUEUE_DEPTHS_TIMEOUT_S = 5.0
STORAGE_METHOD = (
    "sum of the recording segment sizes the database records (no listing of the store); "
    "snapshots, thumbnails, clips and exports are not counted"
)


def parse_window(value: str) -> int:
    """Seconds in a window like ``24h`` or ``7d``; `ValueError` outside 1 hour to 30 days."""
    match = WINDOW_PATTERN.match(value)
    if match is None:
        raise ValueError("a number of hours or days, like `24h` or `7d`")
    seconds = int(match.group(1)) * (3600 if match.group(2) == "h" else DAY)
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValueError("from `1h` to `30d`")
    return seconds


def check_window(value: str) -> str:
    """Validator for the ``window`` query parameter (a bad one is a 422)."""
    parse_window(value)
    return value


def series_step(window_s: int) -> int:
    """The narrowest bucket giving at most `MAX_SERIES_POINTS` buckets over the window."""
    for step in SERIES_STEPS_S:
        if -(-window_s // step) <= MAX_SERIES_POINTS:
            return step
    return SERIES_STEPS_S[-1]


def fold(buckets: Iterable[CatchBucket], *, step_s: int, first: int, last: int) -> Series:
    """Catch buckets folded into series buckets ``first``..``last`` (indexes of ``step_s``-wide
    buckets since the epoch), every one listed. Buckets wider than ``step_s`` are left out."""
    totals = [0] * (last - first + 1)
    for bucket in buckets:
        if bucket.width_s > step_s:
            continue
        index = bucket.start_s // step_s - first
        if 0 <= index < len(totals):
            totals[index] += bucket.count
    return Series(
        bucket_s=step_s,
        total=sum(totals),
        buckets=[
            Bucket(start=datetime.fromtimestamp((first + offset) * step_s, UTC), count=count)
            for offset, count in enumerate(totals)
        ],
    )


def _zero_filled(counts: Mapping[str, int], names: Iterable[str]) -> dict[str, int]:
    filled = dict.fromkeys(names, 0)
    for name, count in counts.items():
        filled[name] = filled.get(name, 0) + count
    return filled


def _outcomes(counts: Mapping[tuple[str, str], int]) -> list[ChannelOutcomes]:
    channels = sorted({str(channel) for channel in Channel} | {ch for ch, _ in counts})
    statuses = [str(status) for status in NotificationStatus]
    out = []
    for channel in channels:
        by_status = _zero_filled(
            {status: count for (ch, status), count in counts.items() if ch == channel}, statuses
        )
        out.append(
            ChannelOutcomes(channel=channel, total=sum(by_status.values()), by_status=by_status)
        )
    return out


def user_out(user: User, last_seen_at: datetime | None) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        plan=user.plan,
        email_verified=user.email_verified_at is not None,
        mfa_enabled=user.mfa_enabled_at is not None,
        disabled=is_disabled(user),
        created_at=user.created_at,
        last_seen_at=last_seen_at,
    )


class AdminService:
    """Figures, health and account administration for the admin role."""

    async def analytics(
        self, db: AsyncSession, *, window: str, now: datetime | None = None
    ) -> Analytics:
        """Platform figures over ``window`` (``24h``, ``7d``, …), with catch series.

        The window's start is rounded down to its series' bucket, so the series and every
        figure "in the window" cover the very same time.
        """
        now = (now or datetime.now(UTC)).astimezone(UTC)
        window_s = parse_window(window)
        step = series_step(window_s)
        now_s = int(now.timestamp())
        window_first = (now_s - window_s) // step
        since = datetime.fromtimestamp(window_first * step, UTC)
        last_minute = now_s // MINUTE
        hour_first = last_minute - PER_MINUTE_POINTS + 1
        day_first = now_s // DAY - PER_DAY_POINTS + 1
        buckets = await repository.catch_buckets(
            db,
            scan_since=min(since, datetime.fromtimestamp(day_first * DAY, UTC)),
            since=since,
            hour_start=datetime.fromtimestamp(hour_first * MINUTE, UTC),
            until=datetime.fromtimestamp((last_minute + 1) * MINUTE, UTC),
            step_s=step,
        )
        in_window = [bucket for bucket in buckets if bucket.part != Part.EARLIER]
        reviewed = sum(bucket.reviewed for bucket in in_window)
        false_alarms = sum(bucket.false_alarms for bucket in in_window)

        users = await repository.user_counts(db, since)
        cameras, enabled = await repository.camera_counts(db)
        cameras = _zero_filled(cameras, (str(status) for status in CameraStatus))
        guards = _zero_filled(
            await repository.guard_counts(db), (str(state) for state in GuardState)
        )
        online = cameras[CameraStatus.ONLINE]
        return Analytics(
            generated_at=now,
            window=window,
            window_s=window_s,
            since=since,
            users=UserFigures(
                total=users.total,
                active=users.active,
                disabled=users.disabled,
                admins=users.admins,
                by_plan={
                    Plan(name): count
                    for name, count in _zero_filled(
                        users.by_plan, (str(plan) for plan in Plan)
                    ).items()
                },
            ),
            cameras=CameraFigures(
                total=sum(cameras.values()),
                enabled=enabled,
                online=online,
                offline=sum(cameras.values()) - online,
                by_status=cameras,
            ),
            guards=GuardFigures(
                total=sum(guards.values()), active=guards[GuardState.ACTIVE], by_state=guards
            ),
            catches=CatchFigures(
                in_window=sum(bucket.count for bucket in in_window),
                per_minute=fold(buckets, step_s=MINUTE, first=hour_first, last=last_minute),
                over_window=fold(buckets, step_s=step, first=window_first, last=now_s // step),
                per_day=fold(buckets, step_s=DAY, first=day_first, last=now_s // DAY),
                reviewed=reviewed,
                false_alarms=false_alarms,
                false_alarm_rate=false_alarms / reviewed if reviewed else None,
            ),
            notifications=_outcomes(await repository.notification_counts(db, since)),
        )

    async def system(
        self,
        db: AsyncSession,
        *,
        bus: Bus,
        settings: Settings,
        now: datetime | None = None,
    ) -> SystemStatus:
        """Processes by heartbeat, queue depths from the bus, storage and database sizes."""
        now = now or datetime.now(UTC)
        processes = []
        for row in await repository.heartbeats(db):
            age = (now - row.seen_at).total_seconds()
            processes.append(
                ProcessOut(
                    process_id=row.process_id,
                    role=row.role,
                    hostname=row.hostname,
                    pid=row.pid,
                    version=row.version,
                    started_at=row.started_at,
                    last_heartbeat_at=row.seen_at,
                    seconds_since_heartbeat=round(max(0.0, age), 3),
                    alive=age < ALIVE_AFTER_S,
                )
            )
        queues: list[QueueOut] = []
        queues_error = None
        try:
            async with asyncio.timeout(QUEUE_DEPTHS_TIMEOUT_S):
                depths = await bus.queue_depths(tasks.queues)
        except Exception as exc:
            logger.warning("admin.queue_depths_failed", error=str(exc))
            queues_error = str(exc) or type(exc).__name__
        else:
            queues = queue_rows(depths)
        recorded_bytes, recorded_objects = await repository.recording_totals(db)
        try:
            size = await repository.database_size(db)
        except Exception as exc:  # a managed database may refuse the size function
            logger.warning("admin.database_size_failed", error=str(exc))
            size = None
        return SystemStatus(
            checked_at=now,
            heartbeat_interval_s=HEARTBEAT_EVERY_S,
            alive_threshold_s=ALIVE_AFTER_S,
            processes=processes,
            queues=queues,
            queues_error=queues_error,
            storage=StorageOut(
                backend="s3" if settings.s3.endpoint else "local",
                recordings_bytes=recorded_bytes,
                recordings_objects=recorded_objects,
                method=STORAGE_METHOD,
            ),
            database=DatabaseOut(backend=repository.dialect_of(db), size_bytes=size),
        )

    async def list_users(
        self, db: AsyncSession, *, email: str | None, limit: int, cursor: str | None
    ) -> Page[AdminUserOut]:
        """Accounts oldest first, filtered by a part of their email address."""
        rows = await repository.list_users(db, email=email, limit=limit, cursor=cursor)
        page = list(rows[:limit])
        seen = await repository.last_seen(db, [user.id for user in page])
        return Page[AdminUserOut](
            items=[user_out(user, seen.get(user.id)) for user in page],
            next_cursor=next_cursor(page, len(rows), limit),
        )

    async def get_user(self, db: AsyncSession, user_id: str) -> User:
        user = await db.get(User, user_id)
        if user is None:
            raise NotFound("no such account")
        return user

    async def update_user(
        self,
        db: AsyncSession,
        ctx: AuthContext,
        *,
        admin: User,
        user_id: str,
        change: AdminUserUpdate,
        client: ClientInfo,
    ) -> AdminUserOut:
        """Disable or enable an account, or change its plan; each change audited.

        Disabling revokes every session of the account (its access and refresh tokens stop
        working at once, on every replica) and refuses its password sign-ins; asking again
        revokes sessions opened since. An admin cannot disable their own account (409).
        """
        user = await self.get_user(db, user_id)
        if change.disabled and user.id == admin.id:
            raise Conflict("you cannot disable your own account; ask another admin")
        if change.disabled is not None:
            was_disabled = is_disabled(user)
            if was_disabled != change.disabled:
                set_disabled(user, change.disabled)
            revoked = 0
            if change.disabled:
                revoked = await revoke_all_sessions(db, ctx, user.id, "disabled_by_admin")
            if was_disabled != change.disabled or revoked:
                await audit_event(
                    db,
                    client,
                    action="admin.user_disabled" if change.disabled else "admin.user_enabled",
                    actor_id=admin.id,
                    target_type="user",
                    target_id=user.id,
                    details={"sessions_revoked": revoked} if change.disabled else None,
                )
                logger.info(
                    "admin.user_disabled" if change.disabled else "admin.user_enabled",
                    user_id=user.id,
                    admin_id=admin.id,
                    sessions_revoked=revoked,
                )
        if change.plan is not None and change.plan != user.plan:
            previous = user.plan
            user.plan = change.plan
            await audit_event(
                db,
                client,
                action="admin.user_plan_changed",
                actor_id=admin.id,
                target_type="user",
                target_id=user.id,
                details={"from": str(previous), "to": str(change.plan)},
            )
        await db.flush()
        seen = await repository.last_seen(db, [user.id])
        return user_out(user, seen.get(user.id))


def queue_rows(depths: Mapping[str, int]) -> list[QueueOut]:
    """`Bus.queue_depths` (``<queue>`` and ``<queue>.dlq``) as one row per queue."""
    names = sorted({name.removesuffix(".dlq") for name in depths})
    return [
        QueueOut(name=name, depth=depths.get(name, 0), dead_letters=depths.get(f"{name}.dlq", 0))
        for name in names
    ]


admin_service = AdminService()
