"""`/api/v1/guards*`: compile instructions, guards and their cameras, pause/resume, stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import select

from orin.access import Capability, guard_for, space_for, visible_space_ids
from orin.audit import audit_event
from orin.auth.deps import ClientDep, CurrentUser
from orin.deps import PubSubDep, SessionDep
from orin.errors import Conflict
from orin.guards import service
from orin.guards.rule import Rule
from orin.guards.schemas import (
    BacktestCatch,
    BacktestIn,
    BacktestOut,
    Explanation,
    GuardCamerasIn,
    GuardIn,
    GuardOut,
    GuardStats,
    GuardUpdate,
    ValidateIn,
    ValidateOut,
)
from orin.models.camera import Camera
from orin.models.guard import Guard, GuardCamera, GuardState
from orin.models.space import Space
from orin.pagination import MAX_LIMIT, Page, next_cursor, oldest_first
from orin.problems import problem_responses
from orin.realtime.publisher import publish_after_commit
from orin.security.ratelimit import ApiRateLimit
from orin.vision.backtest import backtest, match_time
from orin.vision.watch import camera_geometry, guard_spec

router = APIRouter(
    prefix="/api/v1/guards",
    tags=["guards"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)


async def guard_out(db: SessionDep, guard: Guard) -> GuardOut:
    return guard_view(guard, await service.camera_ids_of(db, guard.id))


def guard_view(guard: Guard, camera_ids: list[str]) -> GuardOut:
    return GuardOut(
        id=guard.id,
        space_id=guard.space_id,
        name=guard.name,
        instruction=guard.instruction,
        rule=None if guard.rule is None else Rule.model_validate(guard.rule),
        rule_edited=guard.rule_edited,
        state=guard.state,
        invalid_reason=guard.invalid_reason,
        explanation=Explanation.model_validate(guard.explanation or {}),
        camera_ids=camera_ids,
        created_at=guard.created_at,
        updated_at=guard.updated_at,
    )


def _announced(db: SessionDep, pubsub: PubSubDep, action: str, out: GuardOut) -> GuardOut:
    """Tell the space's realtime subscribers (``guard.updated``) once the change commits."""
    publish_after_commit(
        db,
        pubsub,
        "guard.updated",
        space_id=out.space_id,
        data={"action": action, "guard": out.model_dump(mode="json")},
    )
    return out


@router.post("/validate", operation_id="guards_validate", responses=problem_responses(404, 422))
async def validate(body: ValidateIn, user: CurrentUser, db: SessionDep) -> ValidateOut:
    """Compile an instruction and say what the guard would and would not do. With a space,
    zone names are its cameras' (or `camera_ids`') and the schedule reads in its time zone."""
    timezone, zones = "UTC", []
    if body.space_id is not None:
        access = await space_for(db, user.id, body.space_id)
        timezone = access.space.timezone
        zones = service.zone_names_of(
            await service.cameras_in_space(db, body.space_id, body.camera_ids)
        )
    compilation = await service.compile_for(body.instruction, zones)
    return ValidateOut(
        **service.explanation_of(compilation).model_dump(),
        status=compilation.status,
        rule=compilation.rule,
        reason=compilation.reason,
        timezone=timezone,
        zones_known=zones,
    )


@router.get("", operation_id="guards_list", responses=problem_responses(400))
async def list_guards(
    user: CurrentUser,
    db: SessionDep,
    space_id: Annotated[str | None, Query(max_length=32)] = None,
    state: GuardState | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[GuardOut]:
    """Guards of the caller's spaces, oldest first."""
    query = select(Guard).where(Guard.space_id.in_(visible_space_ids(user.id)))
    if space_id is not None:
        query = query.where(Guard.space_id == space_id)
    if state is not None:
        query = query.where(Guard.state == state)
    statement = oldest_first(
        query, created=Guard.created_at, key=Guard.id, limit=limit, cursor=cursor
    )
    guards = list(await db.scalars(statement))
    cameras = await service.camera_ids_by_guard(db, [guard.id for guard in guards[:limit]])
    items = [guard_view(guard, cameras[guard.id]) for guard in guards[:limit]]
    return Page[GuardOut](items=items, next_cursor=next_cursor(items, len(guards), limit))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="guards_create",
    responses=problem_responses(402, 403, 404, 422),
)
async def create_guard(
    body: GuardIn, user: CurrentUser, db: SessionDep, client: ClientDep, pubsub: PubSubDep
) -> GuardOut:
    """Create a guard from an instruction (or a hand-written rule) on cameras of one space.

    An instruction that cannot be compiled still makes a guard, in state `invalid` with the
    reason, so it can be fixed; a hand-written rule naming unknown zones is refused (422).
    """
    access = await space_for(db, user.id, body.space_id, Capability.MANAGE)
    await service.check_guard_limit(db, access.space)
    cameras = await service.cameras_in_space(db, body.space_id, body.camera_ids)
    scope = cameras or await service.cameras_in_space(db, body.space_id, None)
    guard = Guard(space_id=body.space_id, name=body.name, created_by=user.id)
    await service.apply_instruction(
        guard, body.instruction, service.zone_names_of(scope), body.rule
    )
    db.add(guard)
    await db.flush()
    await service.set_cameras(db, guard, cameras)
    await audit_event(
        db,
        client,
        action="guard.created",
        actor_id=user.id,
        target_type="guard",
        target_id=guard.id,
        details={"space_id": guard.space_id, "state": guard.state},
    )
    return _announced(db, pubsub, "created", await guard_out(db, guard))


@router.get("/{guard_id}", operation_id="guards_get", responses=problem_responses(404))
async def get_guard(guard_id: str, user: CurrentUser, db: SessionDep) -> GuardOut:
    guard, _ = await guard_for(db, user.id, guard_id)
    return await guard_out(db, guard)


async def _zone_scope(db: SessionDep, guard: Guard) -> list[str]:
    attached = await service.camera_ids_of(db, guard.id)
    cameras = await service.cameras_in_space(db, guard.space_id, attached or None)
    return service.zone_names_of(cameras)


@router.patch(
    "/{guard_id}", operation_id="guards_update", responses=problem_responses(403, 404, 422)
)
async def update_guard(
    guard_id: str,
    body: GuardUpdate,
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
    pubsub: PubSubDep,
) -> GuardOut:
    """Rename; change the instruction (recompiled); or replace the rule by hand."""
    guard, _ = await guard_for(db, user.id, guard_id, Capability.MANAGE)
    if body.name is not None:
        guard.name = body.name
    if body.instruction is not None or body.rule is not None:
        instruction = body.instruction if body.instruction is not None else guard.instruction
        await service.apply_instruction(guard, instruction, await _zone_scope(db, guard), body.rule)
    await db.flush()
    await audit_event(
        db,
        client,
        action="guard.updated",
        actor_id=user.id,
        target_type="guard",
        target_id=guard.id,
        details={"fields": sorted(body.model_dump(exclude_unset=True)), "state": guard.state},
    )
    return _announced(db, pubsub, "updated", await guard_out(db, guard))


@router.delete(
    "/{guard_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="guards_delete",
    responses=problem_responses(403, 404),
)
async def delete_guard(
    guard_id: str, user: CurrentUser, db: SessionDep, client: ClientDep, pubsub: PubSubDep
) -> None:
    """Delete the guard; its past catches stay (without the guard)."""
    guard, _ = await guard_for(db, user.id, guard_id, Capability.MANAGE)
    publish_after_commit(
        db,
        pubsub,
        "guard.updated",
        space_id=guard.space_id,
        data={"action": "deleted", "guard": {"id": guard.id, "space_id": guard.space_id}},
    )
    await db.delete(guard)
    await audit_event(
        db,
        client,
        action="guard.deleted",
        actor_id=user.id,
        target_type="guard",
        target_id=guard_id,
    )


@router.put(
    "/{guard_id}/cameras",
    operation_id="guards_set_cameras",
    responses=problem_responses(403, 404, 422),
)
async def set_cameras(
    guard_id: str,
    body: GuardCamerasIn,
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
    pubsub: PubSubDep,
) -> GuardOut:
    """Attach the guard to exactly these cameras of its space."""
    guard, _ = await guard_for(db, user.id, guard_id, Capability.MANAGE)
    cameras = await service.cameras_in_space(db, guard.space_id, body.camera_ids)
    await service.set_cameras(db, guard, cameras)
    await audit_event(
        db,
        client,
        action="guard.cameras_changed",
        actor_id=user.id,
        target_type="guard",
        target_id=guard_id,
        details={"cameras": sorted(c.id for c in cameras)},
    )
    return _announced(db, pubsub, "cameras_changed", await guard_out(db, guard))


async def _set_state(
    guard_id: str,
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
    pubsub: PubSubDep,
    state: GuardState,
) -> GuardOut:
    guard, _ = await guard_for(db, user.id, guard_id, Capability.MANAGE)
    if guard.state == GuardState.INVALID:
        raise Conflict(f"the guard is invalid: {guard.invalid_reason}; fix its instruction first")
    guard.state = state
    await db.flush()
    action = "guard.paused" if state == GuardState.PAUSED else "guard.resumed"
    await audit_event(
        db, client, action=action, actor_id=user.id, target_type="guard", target_id=guard_id
    )
    return _announced(db, pubsub, action.removeprefix("guard."), await guard_out(db, guard))


@router.post(
    "/{guard_id}/pause", operation_id="guards_pause", responses=problem_responses(403, 404, 409)
)
async def pause_guard(
    guard_id: str, user: CurrentUser, db: SessionDep, client: ClientDep, pubsub: PubSubDep
) -> GuardOut:
    """Stop catching until resumed."""
    return await _set_state(guard_id, user, db, client, pubsub, GuardState.PAUSED)


@router.post(
    "/{guard_id}/resume", operation_id="guards_resume", responses=problem_responses(403, 404, 409)
)
async def resume_guard(
    guard_id: str, user: CurrentUser, db: SessionDep, client: ClientDep, pubsub: PubSubDep
) -> GuardOut:
    """Catch again."""
    return await _set_state(guard_id, user, db, client, pubsub, GuardState.ACTIVE)


@router.get("/{guard_id}/stats", operation_id="guards_stats", responses=problem_responses(404))
async def guard_stats(guard_id: str, user: CurrentUser, db: SessionDep) -> GuardStats:
    """Catches, review outcomes, false-alarm rate, and learnt thresholds."""
    guard, _ = await guard_for(db, user.id, guard_id)
    return await service.guard_stats(db, guard)


class GuardHasNoRule(Conflict):
    type_slug = "guard-has-no-rule"
    title = "Guard has no rule"


@router.post(
    "/{guard_id}/backtest",
    operation_id="guards_backtest",
    responses=problem_responses(404, 409, 422),
)
async def backtest_guard(
    guard_id: str, body: BacktestIn, user: CurrentUser, db: SessionDep
) -> BacktestOut:
    """What the guard (or ``rule``, a what-if) would have caught over a past window, replayed
    from stored tracks; nothing is recorded and nobody is notified."""
    guard, _ = await guard_for(db, user.id, guard_id)
    if body.rule is not None:
        guard_rule = body.rule.model_dump(mode="json")
    elif guard.rule is not None:
        guard_rule = guard.rule
    else:
        raise GuardHasNoRule("the guard has no valid rule; pass `rule` to try one")
    space = await db.get(Space, guard.space_id)
    assert space is not None
    spec = guard_spec(guard, space, rule=Rule.model_validate(guard_rule))
    assert spec is not None
    camera_ids = list(
        await db.scalars(select(GuardCamera.camera_id).where(GuardCamera.guard_id == guard.id))
    )
    if body.camera_ids is not None:
        camera_ids = [camera_id for camera_id in camera_ids if camera_id in set(body.camera_ids)]
    cameras = list(
        await db.scalars(select(Camera).where(Camera.id.in_(camera_ids)).order_by(Camera.id))
    )
    result = await backtest(
        db,
        spec,
        [(camera.id, camera_geometry(camera)[0]) for camera in cameras],
        body.start,
        body.end,
    )
    return BacktestOut(
        guard_id=guard.id,
        start=body.start,
        end=body.end,
        tracks_replayed=result.tracks,
        truncated=result.truncated,
        catches=[
            BacktestCatch(
                camera_id=camera_id,
                track_id=match.track_id,
                label=match.label,
                confidence=round(match.confidence, 4),
                zone=match.zone,
                at=match_time(match),
                dwell_s=match.dwell_s,
                count=match.count,
            )
            for camera_id, match in result.matches
        ],
    )
