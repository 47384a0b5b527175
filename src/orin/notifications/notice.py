"""What a delivery says and where it goes: the contract between the worker and the senders.

The notification worker renders one `Notice` per delivery (a single catch, or a digest of the
catches held during quiet hours) and hands it to the channel's sender with a target. Senders
report failures as `DeliveryError`s: `TransientDeliveryError` is retried with backoff (5xx,
timeouts, connection errors, 429), `PermanentDeliveryError` is not (4xx), and `TargetGone`
(an expired or unknown push subscription or device token) also removes the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeVar

NoticeKind = Literal["catch", "digest"]


@dataclass(frozen=True)
class CatchSummary:
    """One catch as notifications show it."""

    event_id: str
    guard_id: str
    guard_name: str
    camera_id: str
    camera_name: str
    space_id: str
    space_name: str
    label: str
    confidence: float
    severity: str
    occurred_at: datetime
    link: str
    """The event's page in the web app (absolute URL)."""
    snapshot_url: str | None = None
    """Signed, absolute URL of the snapshot; None when there is none."""


@dataclass(frozen=True)
class Notice:
    """One delivery's content, rendered once and formatted by each channel."""

    key: str
    """Idempotency key, stable across retries of the same delivery (the notification id)."""
    kind: NoticeKind
    title: str
    body: str
    link: str
    catches: tuple[CatchSummary, ...]
    severity: str
    snapshot: bytes | None = None
    """JPEG of the (first) catch, attached to mail; None when not loaded."""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebPushTarget:
    """A browser's push subscription (PushSubscription.toJSON())."""

    endpoint: str
    p256dh: str
    auth: str
    pinned_hosts: tuple[str, ...] = ()
    """The addresses the endpoint's host was checked at before this delivery: the POST
    connects to these (see `WebhookTarget.pinned_hosts`)."""


@dataclass(frozen=True)
class FcmTarget:
    """A native app's FCM registration token."""

    token: str


@dataclass(frozen=True)
class EmailTarget:
    address: str
    name: str = ""


@dataclass(frozen=True)
class SmsTarget:
    number: str
    """E.164, e.g. +14155550100."""


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str
    """Shared secret for the HMAC-SHA256 signature."""
    pinned_hosts: tuple[str, ...] = ()
    """The addresses the URL's host was checked at (`check_webhook_url`), in the resolver's
    order: the POST connects to the first that answers, so DNS cannot answer differently
    between the check and the connection. Empty: connect to the URL's host as it resolves."""


Target = WebPushTarget | FcmTarget | EmailTarget | SmsTarget | WebhookTarget
T_contra = TypeVar("T_contra", contravariant=True)


class DeliveryError(Exception):
    """A delivery failed; ``transient`` says whether trying again later may succeed."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        """The provider's HTTP status (or SMTP code) when it answered one."""


class TransientDeliveryError(DeliveryError):
    """5xx, 429, timeouts, connection failures: retry with backoff."""

    transient = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s
        """The provider's Retry-After, when it sent one."""


class PermanentDeliveryError(DeliveryError):
    """4xx and other answers that no retry can fix: recorded as failed at once."""


class TargetGone(PermanentDeliveryError):
    """The push subscription or device token no longer exists: the target is removed."""


class Sender(Protocol[T_contra]):
    """Delivers notices to one kind of target."""

    channel: str

    async def send(self, target: T_contra, notice: Notice) -> str | None:
        """Deliver ``notice``; returns the provider's message id when it gives one."""
        ...


SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
"""Guard severities from quiet to loud."""


def most_severe(severities: Iterable[str]) -> str:
    """The loudest of ``severities`` (``warning`` when there are none)."""
    return max(severities, key=lambda name: SEVERITY_RANK.get(name, 1), default="warning")
