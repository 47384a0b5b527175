"""Wire formats of notifications and push subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

from orin.models.notification import NotificationStatus


def _push_endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("a push service URL (https)")
    return value


class WebPushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: str = Field(min_length=80, max_length=120, pattern=r"^[A-Za-z0-9_\-]+=*$")
    auth: str = Field(min_length=16, max_length=40, pattern=r"^[A-Za-z0-9_\-]+=*$")


class WebPushSubscriptionIn(BaseModel):
    """A browser's `PushSubscription.toJSON()`, as the service worker got it."""

    model_config = ConfigDict(extra="ignore")  # browsers add expirationTime and more

    kind: Literal["webpush"] = "webpush"
    endpoint: Annotated[str, Field(max_length=1000), AfterValidator(_push_endpoint)]
    keys: WebPushKeys


class FcmSubscriptionIn(BaseModel):
    """A native app's FCM registration token."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fcm"]
    token: str = Field(min_length=20, max_length=1000, pattern=r"^[A-Za-z0-9_\-:.]+$")


def _push_kind(value: object) -> str:
    """The subscription's kind; a browser's `toJSON()` has none and means Web Push."""
    if isinstance(value, dict):
        return str(value.get("kind", "webpush"))
    return str(getattr(value, "kind", "webpush"))


PushSubscriptionIn = Annotated[
    Annotated[WebPushSubscriptionIn, Tag("webpush")] | Annotated[FcmSubscriptionIn, Tag("fcm")],
    Discriminator(_push_kind),
]


class PushSubscriptionOut(BaseModel):
    id: str
    kind: str
    endpoint: str = Field(description="The push service URL; for FCM, the token's first 12 chars.")
    user_agent: str
    created_at: datetime
    last_used_at: datetime | None


class PushKey(BaseModel):
    public_key: str | None = Field(
        description="VAPID application server key (base64url) for `pushManager.subscribe`; "
        "null when this server has no Web Push key."
    )


class WebhookSecret(BaseModel):
    secret: str = Field(
        description="Verify `X-ORIN-Signature: sha256=<hex>` as HMAC-SHA256 of "
        "`<X-ORIN-Timestamp>.<body>` with this secret."
    )


class NotificationOut(BaseModel):
    """One delivery to the caller."""

    id: str
    kind: str
    channel: str
    status: NotificationStatus
    severity: str
    event_id: str | None
    guard_id: str | None
    camera_id: str | None
    digest_id: str | None
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
