"""Webhook notifications: a signed JSON POST to a URL the user registered.

The request body is JSON::

    {"type": "catch" | "digest", "id": "<notice key>", "created_at": "<ISO 8601, UTC>",
     "title": ..., "body": ..., "link": ..., "severity": ...,
     "catches": [{"event_id", "guard": {"id", "name"}, "camera": {"id", "name"},
                  "space": {"id", "name"}, "label", "confidence", "severity",
                  "occurred_at", "link", "snapshot_url"}]}

and the headers are:

``X-ORIN-Event-Id``
    The notice key. It is the same on every retry of one delivery, so a receiver that has
    already handled an id answers 2xx again and does nothing else.
``X-ORIN-Timestamp``
    Unix seconds when this attempt was signed.
``X-ORIN-Signature``
    ``sha256=<hex>``: HMAC-SHA256, keyed with the target's secret, of
    ``f"{timestamp}.".encode() + raw_body``. Receivers check it with `verify_signature`
    (constant-time, and a timestamp older or newer than five minutes is refused, so a captured
    request cannot be replayed later).

Answers: 2xx delivered; 410 Gone removes the target (`TargetGone`); 408, 429, 5xx, timeouts
and connection failures are retried (`TransientDeliveryError`, honouring ``Retry-After``);
redirects are not followed and, like every other answer, fail for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from orin.notifications.channels.http_headers import retry_after_s, send_pinned
from orin.notifications.notice import (
    CatchSummary,
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
    WebhookTarget,
)

logger = structlog.get_logger(__name__)

USER_AGENT = "ORIN-Webhook/1"
EVENT_ID_HEADER = "X-ORIN-Event-Id"
TIMESTAMP_HEADER = "X-ORIN-Timestamp"
SIGNATURE_HEADER = "X-ORIN-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_S = 300
"""How far a signature's timestamp may be from the receiver's clock."""
_ERROR_EXCERPT_BYTES = 512
"""How much of a failed answer's body goes into the error message."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-ORIN-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the ``X-ORIN-Signature`` header) signs ``body`` (the raw request
    bytes, before any JSON parsing) at ``timestamp`` (the ``X-ORIN-Timestamp`` header) with
    ``secret``, and ``timestamp`` lies within ``tolerance_s`` of ``now`` (Unix seconds,
    default the current time). The comparison takes constant time."""
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    if not signature.startswith(SIGNATURE_PREFIX):
        return False
    expected = sign(secret, sent_at, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _catch_json(catch: CatchSummary) -> dict[str, Any]:
    occurred_at = catch.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return {
        "event_id": catch.event_id,
        "guard": {"id": catch.guard_id, "name": catch.guard_name},
        "camera": {"id": catch.camera_id, "name": catch.camera_name},
        "space": {"id": catch.space_id, "name": catch.space_name},
        "label": catch.label,
        "confidence": catch.confidence,
        "severity": catch.severity,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "link": catch.link,
        "snapshot_url": catch.snapshot_url,
    }


def payload(notice: Notice, *, created_at: datetime | None = None) -> dict[str, Any]:
    """The JSON document posted for ``notice``."""
    return {
        "type": notice.kind,
        "id": notice.key,
        "created_at": (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "title": notice.title,
        "body": notice.body,
        "link": notice.link,
        "severity": notice.severity,
        "catches": [_catch_json(catch) for catch in notice.catches],
    }


class WebhookSender:
    """Posts signed JSON to webhook targets with httpx (redirects are never followed).

    Pass ``client`` to share a connection pool (redirects stay unfollowed whatever its
    setting); without one the sender makes its own, which `aclose` closes.
    """

    channel = "webhook"

    def __init__(self, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self.timeout_s = timeout_s
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, trust_env=False
        )

    async def aclose(self) -> None:
        """Close the HTTP client when the sender made it."""
        if self._own_client:
            await self._client.aclose()

    async def send(self, target: WebhookTarget, notice: Notice) -> str | None:
        """POST ``notice`` to ``target.url``; returns None (receivers give no message id)."""
        body = json.dumps(payload(notice), separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: notice.key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(target.secret, timestamp, body),
        }
        try:
            request = self._client.build_request(
                "POST", target.url, content=body, headers=headers, timeout=self.timeout_s
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise PermanentDeliveryError(f"invalid webhook URL: {exc}") from exc
        try:
            response = await send_pinned(
                self._client, request, target.pinned_hosts, stream=True, follow_redirects=False
            )
        except httpx.UnsupportedProtocol as exc:
            raise PermanentDeliveryError(f"invalid webhook URL: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(
                f"webhook timed out after {self.timeout_s}s: {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"cannot reach the webhook: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            status = response.status_code
            if response.is_success:
                logger.info("notifications.webhook.sent", key=notice.key, status=status)
                return None
            excerpt = await _excerpt(response)
        finally:
            await response.aclose()
        raise _error_for(status, excerpt, response.headers.get("Retry-After"))


async def _excerpt(response: httpx.Response) -> str:
    """The start of a failed answer's body, for the error message (never all of it)."""
    data = b""
    try:
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= _ERROR_EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass
    return _excerpt_text(data)


def _excerpt_text(data: bytes) -> str:
    text = " ".join(data[:_ERROR_EXCERPT_BYTES].decode("utf-8", "replace").split())
    return f": {text}" if text else ""


def _error_for(status: int, excerpt: str, retry_after: str | None) -> Exception:
    message = f"webhook answered {status}{excerpt}"
    if status == 410:
        return TargetGone(message, status=status)
    if status in (408, 429) or status >= 500:
        return TransientDeliveryError(
            message, status=status, retry_after_s=retry_after_s(retry_after)
        )
    if 300 <= status < 400:
        return PermanentDeliveryError(
            f"webhook answered a redirect ({status}); redirects are not followed", status=status
        )
    return PermanentDeliveryError(message, status=status)


__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_AGENT",
    "WebhookSender",
    "payload",
    "sign",
    "verify_signature",
]
