"""Catches as notifications show them: names instead of ids, links, signed snapshot URLs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.config import Settings
from orin.mail.templates import app_base_url
from orin.models.camera import Camera
from orin.models.event import Event
from orin.models.guard import Guard
from orin.models.space import Space
from orin.notifications.notice import CatchSummary
from orin.storage.base import ObjectStorage

EVENTS_PATH = "/events"


def events_link(settings: Settings) -> str:
    """The web app's events page."""
    return f"{app_base_url(settings)}{EVENTS_PATH}"


def event_link(settings: Settings, event_id: str) -> str:
    """The web app's page of one event."""
    return f"{events_link(settings)}/{event_id}"


async def summarise(
    session: AsyncSession,
    events: Sequence[Event],
    *,
    settings: Settings,
    storage: ObjectStorage,
) -> list[CatchSummary]:
    """One summary per event (in order); names are loaded in three queries, not per event."""
    camera_ids = {event.camera_id for event in events}
    guard_ids = {event.guard_id for event in events if event.guard_id}
    space_ids = {event.space_id for event in events}
    camera_rows = await session.execute(
        select(Camera.id, Camera.name).where(Camera.id.in_(camera_ids))
    )
    cameras: dict[str, str] = {row.id: row.name for row in camera_rows}
    guards = {
        row.id: row for row in await session.scalars(select(Guard).where(Guard.id.in_(guard_ids)))
    }
    space_rows = await session.execute(select(Space.id, Space.name).where(Space.id.in_(space_ids)))
    spaces: dict[str, str] = {row.id: row.name for row in space_rows}
    ttl = settings.notify.snapshot_url_ttl_s
    summaries: list[CatchSummary] = []
    for event in events:
        guard = guards.get(event.guard_id or "")
        snapshot_url = (
            await storage.signed_url(event.snapshot_key, expires_in_s=ttl)
            if event.snapshot_key
            else None
        )
        summaries.append(
            CatchSummary(
                event_id=event.id,
                guard_id=event.guard_id or "",
                guard_name=guard.name if guard else "a deleted guard",
                camera_id=event.camera_id,
                camera_name=cameras.get(event.camera_id, "a camera"),
                space_id=event.space_id,
                space_name=spaces.get(event.space_id, ""),
                label=event.label or "object",
                confidence=event.confidence or 0.0,
                severity=str((guard.rule or {}).get("severity", "warning")) if guard else "warning",
                occurred_at=event.started_at,
                link=event_link(settings, event.id),
                snapshot_url=snapshot_url,
            )
        )
    return summaries
