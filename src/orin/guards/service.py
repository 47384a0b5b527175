"""Guards: compiling instructions against the space's zones, attaching cameras, plan limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.errors import OrinError
from orin.guards.compiler import Compilation, compile_instruction
from orin.guards.rule import Rule, check_zones
from orin.guards.schemas import Explanation, GuardStats, UnderstoodOut
from orin.guards.tuning import thresholds as learnt_thresholds
from orin.models.base import utcnow
from orin.models.camera import Camera
from orin.models.event import Event, EventKind, ReviewState
from orin.models.guard import Guard, GuardCamera, GuardState
from orin.models.space import Space
from orin.spaces.service import check_owner_limit
from orin.text.embedding import default_embedder


class InvalidGuardInput(OrinError):
    status_code = 422
    type_slug = "invalid-guard"
    title = "Guard not accepted"


async def cameras_in_space(
    db: AsyncSession, space_id: str, camera_ids: Sequence[str] | None
) -> list[Camera]:
    """The space's cameras (or just ``camera_ids``, which must all be in it: 422 otherwise)."""
    statement = select(Camera).where(Camera.space_id == space_id).order_by(Camera.created_at)
    if camera_ids is None:
        return list(await db.scalars(statement))
    wanted = list(dict.fromkeys(camera_ids))
    found = list(await db.scalars(statement.where(Camera.id.in_(wanted))))
    missing = sorted(set(wanted) - {camera.id for camera in found})
    if missing:
        raise InvalidGuardInput(
            "these cameras are not in the guard's space: " + ", ".join(missing),
            extra={"cameras": missing},
        )
    return found


def zone_names_of(cameras: Sequence[Camera]) -> list[str]:
    """Zone names of the cameras, each once (first spelling kept, compared ignoring case)."""
    names: dict[str, str] = {}
    for camera in cameras:
        for zone in camera.zones:
            names.setdefault(str(zone["name"]).casefold(), str(zone["name"]))
    return list(names.values())


async def compile_for(text: str, zone_names: Sequence[str]) -> Compilation:
    """Compile off the event loop (the embedding model is CPU work)."""
    embedder = default_embedder()
    return await asyncio.to_thread(
        compile_instruction, text, zone_names=zone_names, embedder=embedder
    )


def explanation_of(compilation: Compilation) -> Explanation:
    return Explanation(
        understood=[
            UnderstoodOut(text=item.text, meaning=item.meaning, similarity=item.similarity)
            for item in compilation.understood
        ],
        not_understood=list(compilation.not_understood),
        warnings=list(compilation.warnings),
    )


def check_rule_zones(rule: Rule, zone_names: Sequence[str]) -> None:
    unknown = check_zones(rule, zone_names)
    if unknown:
        known = ", ".join(zone_names) or "none yet"
        raise InvalidGuardInput(
            f"the rule names zones its cameras do not have: {', '.join(unknown)} "
            f"(known zones: {known})",
            extra={"unknown_zones": unknown},
        )


async def apply_instruction(
    guard: Guard, instruction: str, zone_names: Sequence[str], edited_rule: Rule | None
) -> None:
    """Set the guard's instruction and rule: the hand-edited one when given, else compiled."""
    guard.instruction = instruction
    if edited_rule is not None:
        check_rule_zones(edited_rule, zone_names)
        guard.rule = edited_rule.model_dump(mode="json")
        guard.rule_edited = True
        guard.explanation = Explanation().model_dump(mode="json")
        guard.invalid_reason = ""
        if guard.state == GuardState.INVALID:
            guard.state = GuardState.ACTIVE
        return
    compilation = await compile_for(instruction, zone_names)
    guard.explanation = explanation_of(compilation).model_dump(mode="json")
    guard.rule_edited = False
    if compilation.status == "valid" and compilation.rule is not None:
        guard.rule = compilation.rule.model_dump(mode="json")
        guard.invalid_reason = ""
        if guard.state == GuardState.INVALID:
            guard.state = GuardState.ACTIVE
    else:
        guard.rule = None
        guard.state = GuardState.INVALID
        guard.invalid_reason = (compilation.reason or "the instruction could not be compiled")[:500]


async def check_guard_limit(db: AsyncSession, space: Space) -> None:
    """402 when the space owner's plan has no room for another guard."""
    await check_owner_limit(db, space.id, "guards", Guard.space_id)


async def camera_ids_of(db: AsyncSession, guard_id: str) -> list[str]:
    return (await camera_ids_by_guard(db, [guard_id]))[guard_id]


async def camera_ids_by_guard(db: AsyncSession, guard_ids: Sequence[str]) -> dict[str, list[str]]:
    """The sorted camera ids of each of ``guard_ids``, in one query."""
    found: dict[str, list[str]] = {guard_id: [] for guard_id in guard_ids}
    if guard_ids:
        rows = await db.execute(
            select(GuardCamera.guard_id, GuardCamera.camera_id)
            .where(GuardCamera.guard_id.in_(guard_ids))
            .order_by(GuardCamera.guard_id, GuardCamera.camera_id)
        )
        for guard_id, camera_id in rows:
            found[guard_id].append(camera_id)
    return found


async def set_cameras(db: AsyncSession, guard: Guard, cameras: Sequence[Camera]) -> None:
    """Attach exactly ``cameras``; the rule's zones must exist on at least one of them."""
    if guard.rule is not None and cameras:
        check_rule_zones(Rule.model_validate(guard.rule), zone_names_of(cameras))
    await db.execute(delete(GuardCamera).where(GuardCamera.guard_id == guard.id))
    for camera in cameras:
        db.add(GuardCamera(guard_id=guard.id, camera_id=camera.id))
    await db.flush()


async def guard_stats(db: AsyncSession, guard: Guard) -> GuardStats:
    now = utcnow()
    catches = (Event.guard_id == guard.id) & (Event.kind == EventKind.CATCH)
    by_review = {
        str(state): count
        for state, count in await db.execute(
            select(Event.review_state, func.count()).where(catches).group_by(Event.review_state)
        )
    }
    total = sum(by_review.values())

    async def since(delta: timedelta) -> int:
        value = await db.scalar(
            select(func.count()).select_from(Event).where(catches, Event.started_at >= now - delta)
        )
        return int(value or 0)

    reviewed = sum(
        by_review.get(state, 0)
        for state in (ReviewState.CONFIRMED, ReviewState.FALSE_ALARM, ReviewState.RESOLVED)
    )
    last = await db.scalar(select(func.max(Event.started_at)).where(catches))
    tuning: dict[str, Any] = guard.tuning or {}
    return GuardStats(
        catches=total,
        catches_24h=await since(timedelta(days=1)),
        catches_7d=await since(timedelta(days=7)),
        by_review=by_review,
        false_alarm_rate=(by_review.get(ReviewState.FALSE_ALARM, 0) / reviewed)
        if reviewed
        else None,
        last_catch_at=last,
        tuning=learnt_thresholds(Rule.model_validate(guard.rule), tuning) if guard.rule else {},
    )
