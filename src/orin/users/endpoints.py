"""`/api/v1/user/me*`: the caller's profile, preferences, plan and signed-in sessions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from orin.audit import record
from orin.auth.deps import AuthContextDep, CallerDep, ClientDep, CurrentUser, EmailNotVerified
from orin.auth.schemas import SessionOut, UserOut
from orin.auth.service import auth_service
from orin.deps import SessionDep, SettingsDep
from orin.models.user import User
from orin.notifications.readiness import not_ready
from orin.notifications.webhooks import check_webhook_url
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit
from orin.users.plans import limits_for
from orin.users.schemas import (
    CLEARABLE_PREFERENCES,
    Channel,
    ChannelNotReady,
    Preferences,
    PreferencesUpdate,
    Subscription,
)

_READY_WITH = {Channel.SMS: ("sms_number", "SMS"), Channel.WEBHOOK: ("webhook_url", "webhook")}
"""The preference that makes a channel ready, and the channel's name in messages."""

router = APIRouter(
    prefix="/api/v1/user",
    tags=["user"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, max_length=200, description="Name shown in the app.")


class RevokedCount(BaseModel):
    revoked: int = Field(description="How many sessions were signed out.")


def to_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        display_name=user.display_name,
        role=user.role,
        plan=user.plan,
        created_at=user.created_at,
    )


@router.get("/me", operation_id="user_me")
async def me(user: CurrentUser) -> UserOut:
    """The signed-in user."""
    return to_out(user)


@router.patch("/me", operation_id="user_update_me", responses=problem_responses(422))
async def update_me(body: ProfileUpdate, user: CurrentUser, db: SessionDep) -> UserOut:
    """Change the profile."""
    if body.display_name is not None:
        user.display_name = body.display_name.strip()
    await db.flush()
    return to_out(user)


def preferences_of(user: User) -> Preferences:
    """The stored preferences, with defaults for anything never set."""
    return Preferences.model_validate(user.preferences or {})


@router.get("/me/preferences", operation_id="user_preferences")
async def get_preferences(user: CurrentUser) -> Preferences:
    """Time zone, locale, quiet hours and notification channels."""
    return preferences_of(user)


@router.patch(
    "/me/preferences",
    operation_id="user_update_preferences",
    responses=problem_responses(403, 422),
)
async def update_preferences(
    body: PreferencesUpdate,
    user: CurrentUser,
    db: SessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Preferences:
    """Change some preferences (null clears `sms_number` and `webhook_url`); email
    notifications need a verified address, SMS a number, webhooks a URL the server may reach."""
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True).items()
        if value is not None or name in CLEARABLE_PREFERENCES
    }
    merged = Preferences.model_validate({**preferences_of(user).model_dump(), **changes})
    for channel in merged.channels:
        if not_ready(user, merged, channel) is None:
            continue
        if channel is Channel.EMAIL:
            raise EmailNotVerified(
                "verify your email address before turning on email notifications"
            )
        field, name = _READY_WITH[channel]
        raise ChannelNotReady(f"set `{field}` to turn on {name} notifications")
    if "webhook_url" in changes and merged.webhook_url is not None:
        await check_webhook_url(merged.webhook_url, settings.notify)
    user.preferences = merged.model_dump(mode="json")
    await record(
        db,
        action="user.preferences_changed",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=client.ip,
        user_agent=client.user_agent,
        details={"fields": sorted(changes)},
    )
    return merged


@router.get("/me/subscription", operation_id="user_subscription")
async def subscription(user: CurrentUser) -> Subscription:
    """The account's plan and its limits."""
    return Subscription(plan=user.plan, limits=limits_for(user.plan))


@router.get("/me/sessions", operation_id="user_sessions")
async def sessions(caller: CallerDep, db: SessionDep) -> list[SessionOut]:
    """Devices signed in to this account, most recently used first."""
    rows = await auth_service.list_sessions(db, caller.user.id)
    return [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == caller.claims.session_id,
        )
        for row in rows
    ]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="user_revoke_session",
    responses=problem_responses(404),
)
async def revoke_session(
    session_id: str, caller: CallerDep, db: SessionDep, ctx: AuthContextDep, client: ClientDep
) -> None:
    """Sign one session out; its tokens stop working at once."""
    await auth_service.revoke_session(
        db, ctx, user_id=caller.user.id, session_id=session_id, client=client
    )


@router.delete("/me/sessions", operation_id="user_revoke_other_sessions")
async def revoke_other_sessions(
    caller: CallerDep,
    db: SessionDep,
    ctx: AuthContextDep,
    client: ClientDep,
    scope: str = Query("others", pattern="^others$", description="Only `others` for now."),
) -> RevokedCount:
    """Sign out every other session of this account."""
    count = await auth_service.revoke_other_sessions(
        db, ctx, user_id=caller.user.id, keep_session_id=caller.claims.session_id, client=client
    )
    return RevokedCount(revoked=count)
