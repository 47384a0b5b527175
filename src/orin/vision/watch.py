"""What one camera is watched for: its active guards, zones, masks and space clock.

Loaded from the database by the ingest node (and reloaded every few seconds, so a new guard,
a pause or learnt thresholds apply without restarting the camera); also used by backtests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.cameras.geometry import Point, PrivacyMask, Zone
from orin.guards.rule import Rule
from orin.models.camera import Camera
from orin.models.guard import Guard, GuardCamera, GuardState
from orin.models.space import Space
from orin.vision.evaluate import GuardSpec


@dataclass(frozen=True, slots=True)
class CameraWatch:
    """Everything guard evaluation needs about one camera."""

    camera_id: str
    space_id: str
    zones: tuple[Zone, ...] = ()
    masks: tuple[tuple[Point, ...], ...] = ()
    guards: tuple[GuardSpec, ...] = field(default=())

    @property
    def wanted_labels(self) -> frozenset[str]:
        """Object labels any active guard of the camera looks for."""
        return frozenset(str(kind) for guard in self.guards for kind in guard.rule.objects)


def guard_spec(guard: Guard, space: Space, *, rule: Rule | None = None) -> GuardSpec | None:
    """The evaluable form of a guard (None when its stored rule is missing or invalid);
    ``rule`` replaces the stored one (backtest what-ifs)."""
    if rule is None:
        if guard.rule is None:
            return None
        try:
            rule = Rule.model_validate(guard.rule)
        except ValidationError:
            return None
    location = (
        (space.latitude, space.longitude)
        if space.latitude is not None and space.longitude is not None
        else None
    )
    return GuardSpec(
        guard_id=guard.id,
        rule=rule,
        tuning=dict(guard.tuning or {}),
        timezone=ZoneInfo(space.timezone),
        location=location,
    )


def camera_geometry(camera: Camera) -> tuple[tuple[Zone, ...], tuple[tuple[Point, ...], ...]]:
    """The camera's zones and privacy-mask outlines, validated."""
    zones = tuple(Zone.model_validate(zone) for zone in camera.zones or [])
    masks = tuple(
        tuple(PrivacyMask.model_validate(mask).polygon) for mask in camera.privacy_masks or []
    )
    return zones, masks


async def load_watch(session: AsyncSession, camera_id: str) -> CameraWatch | None:
    """The camera's watch, or None when the camera is gone."""
    row = (
        await session.execute(
            select(Camera, Space)
            .join(Space, Space.id == Camera.space_id)
            .where(Camera.id == camera_id)
        )
    ).first()
    if row is None:
        return None
    camera, space = row
    guards = await session.scalars(
        select(Guard)
        .join(GuardCamera, GuardCamera.guard_id == Guard.id)
        .where(GuardCamera.camera_id == camera_id, Guard.state == GuardState.ACTIVE)
        .order_by(Guard.created_at, Guard.id)
    )
    specs = tuple(spec for guard in guards if (spec := guard_spec(guard, space)) is not None)
    zones, masks = camera_geometry(camera)
    return CameraWatch(camera.id, camera.space_id, zones, masks, specs)


async def watched_camera_ids(session: AsyncSession) -> set[str]:
    """Cameras with at least one active guard (only these decode detect frames)."""
    rows = await session.scalars(
        select(GuardCamera.camera_id)
        .join(Guard, Guard.id == GuardCamera.guard_id)
        .where(Guard.state == GuardState.ACTIVE)
        .distinct()
    )
    return set(rows)
