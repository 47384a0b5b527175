"""Notification endpoints: the caller's deliveries, push subscriptions, Web Push key and the
webhook signing secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy import delete, select

from orin.auth.deps import CurrentUser
from orin.deps import SessionDep, SettingsDep, get_secret
from orin.errors import NotFound
from orin.models.base import utcnow
from orin.models.notification import Notification, NotificationStatus, PushKind, PushSubscription
from orin.notifications.channels.webpush import vapid_public_key
from orin.notifications.schemas import (
    FcmSubscriptionIn,
    NotificationOut,
    PushKey,
    PushSubscriptionIn,
    PushSubscriptionOut,
    WebhookSecret,
)
from orin.notifications.webhooks import check_webhook_url, webhook_secret
from orin.pagination import Page, decode_cursor, encode_cursor, parse_cursor_time
from orin.problems import problem_responses
from orin.security.ratelimit import ApiRateLimit

router = APIRouter(
    prefix="/api/v1",
    tags=["notifications"],
    dependencies=[Depends(ApiRateLimit)],
    responses=problem_responses(401, 429),
)

MAX_SUBSCRIPTIONS = 20
"""Push subscriptions a user keeps; the least recently used go first."""
MAX_LIMIT = 200


def _subscription_out(row: PushSubscription) -> PushSubscriptionOut:
    endpoint = row.endpoint if row.kind == PushKind.WEBPUSH else f"{row.endpoint[:12]}…"
    return PushSubscriptionOut(
        id=row.id,
        kind=row.kind,
        endpoint=endpoint,
        user_agent=row.user_agent,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


@router.get("/notifications", operation_id="notifications_list")
async def list_notifications(
    user: CurrentUser,
    db: SessionDep,
    status_: Annotated[NotificationStatus | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[NotificationOut]:
    """The caller's deliveries, newest first."""
    query = select(Notification).where(Notification.user_id == user.id)
    if status_ is not None:
        query = query.where(Notification.status == status_)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    if cursor:
        values = decode_cursor(cursor, ("at", "id"))
        at, last_id = parse_cursor_time(values["at"]), str(values["id"])
        query = query.where(
            (Notification.created_at < at)
            | ((Notification.created_at == at) & (Notification.id < last_id))
        )
    rows = list(
        await db.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"at": rows[-1].created_at.isoformat(), "id": rows[-1].id})
    items = [
        NotificationOut(
            id=row.id,
            kind=row.kind,
            channel=row.channel,
            status=row.status,
            severity=row.severity,
            event_id=row.event_id,
            guard_id=row.guard_id,
            camera_id=row.camera_id,
            digest_id=row.digest_id,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            next_attempt_at=row.next_attempt_at,
        )
        for row in rows
    ]
    return Page[NotificationOut](items=items, next_cursor=next_cursor)


@router.get("/notifications/push-key", operation_id="notifications_push_key")
async def push_key(user: CurrentUser, settings: SettingsDep) -> PushKey:
    """The Web Push application server key the web app subscribes with."""
    del user
    return PushKey(public_key=vapid_public_key(settings.notify))


@router.get("/user/me/webhook-secret", operation_id="user_webhook_secret")
async def get_webhook_secret(
    user: CurrentUser, secret: Annotated[bytes, Depends(get_secret)]
) -> WebhookSecret:
    """The secret that signs the caller's webhooks."""
    return WebhookSecret(secret=webhook_secret(secret, user.id))


@router.get("/user/me/push-subscriptions", operation_id="user_push_subscriptions")
async def list_push_subscriptions(user: CurrentUser, db: SessionDep) -> list[PushSubscriptionOut]:
    """The caller's browsers and devices that receive push notifications."""
    rows = await db.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user.id)
        .order_by(PushSubscription.created_at)
    )
    return [_subscription_out(row) for row in rows]


@router.post(
    "/user/me/push-subscriptions",
    operation_id="user_add_push_subscription",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(422),
)
async def add_push_subscription(
    body: PushSubscriptionIn,
    user: CurrentUser,
    db: SessionDep,
    settings: SettingsDep,
    response: Response,
    user_agent: Annotated[str, Header(max_length=1000)] = "",
) -> PushSubscriptionOut:
    """Register this browser's Web Push subscription or this app's FCM token (idempotent:
    the same endpoint again updates its keys and answers 200)."""
    if isinstance(body, FcmSubscriptionIn):
        kind, endpoint, p256dh, auth = PushKind.FCM, body.token, "", ""
    else:
        await check_webhook_url(body.endpoint, settings.notify, what="push endpoint")
        kind, endpoint = PushKind.WEBPUSH, body.endpoint
        p256dh, auth = body.keys.p256dh, body.keys.auth
    row = await db.scalar(
        select(PushSubscription).where(
            PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint
        )
    )
    if row is None:
        await _trim(db, user.id)
        row = PushSubscription(user_id=user.id, kind=kind, endpoint=endpoint, created_at=utcnow())
        db.add(row)
    else:
        response.status_code = status.HTTP_200_OK
    row.kind, row.p256dh, row.auth = kind, p256dh, auth
    row.user_agent = user_agent[:300]
    await db.flush()
    return _subscription_out(row)


async def _trim(db: SessionDep, user_id: str) -> None:
    """Keep at most `MAX_SUBSCRIPTIONS - 1` older subscriptions (room for the new one)."""
    rows = list(
        await db.scalars(
            select(PushSubscription.id)
            .where(PushSubscription.user_id == user_id)
            .order_by(
                PushSubscription.last_used_at.desc().nulls_last(),
                PushSubscription.created_at.desc(),
            )
            .offset(MAX_SUBSCRIPTIONS - 1)
        )
    )
    if rows:
        await db.execute(delete(PushSubscription).where(PushSubscription.id.in_(rows)))


@router.delete(
    "/user/me/push-subscriptions/{subscription_id}",
    operation_id="user_remove_push_subscription",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
async def remove_push_subscription(subscription_id: str, user: CurrentUser, db: SessionDep) -> None:
    """Stop push notifications to one browser or device."""
    result = await db.execute(
        delete(PushSubscription).where(
            PushSubscription.id == subscription_id, PushSubscription.user_id == user.id
        )
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound("no such push subscription")
