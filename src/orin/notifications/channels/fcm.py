"""Firebase Cloud Messaging (HTTP v1) to the native apps' registration tokens.

Authentication is the OAuth 2.0 service-account flow (RFC 7523): the sender signs a one-hour
RS256 JWT with the service account's key (``iss`` = its e-mail, ``scope`` = FCM's,
``aud`` = the token endpoint), trades it at the token endpoint for an access token, and keeps
that token until five minutes before ``expires_in``. A 401 from FCM means the token was
revoked or expired early: the sender fetches a new one and tries once more.

Each notice becomes one ``projects/{project}/messages:send`` call with a ``notification``
(title, body, snapshot as ``image``) and string-only ``data`` for the app (``type``, ``key``,
``url``, ``severity``, ``event_ids`` comma-separated, ``event_count``). Android gets
``priority`` and a ``collapse_key`` / notification ``tag`` derived from the notice key, APNs
the matching ``apns-priority`` and ``apns-collapse-id``, so a retried delivery replaces the
first one on the device. FCM caps notification plus data at 4096 bytes; long digests keep
their first event ids.

Errors follow the FCM v1 reference: ``UNREGISTERED`` (404) and an ``INVALID_ARGUMENT`` about
the token mean the token is gone; 429, 5xx, ``UNAVAILABLE``, ``INTERNAL`` and
``QUOTA_EXCEEDED`` are retried (honouring ``Retry-After``); the rest, ``SENDER_ID_MISMATCH``
and ``THIRD_PARTY_AUTH_ERROR`` among them, are permanent. Signing a JWT takes about a
millisecond once an hour, so it runs inline.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from orin.config import NotifySettings
from orin.notifications.channels.http_headers import (
    PushContent,
    fit_push_content,
    retry_after_s,
)
from orin.notifications.channels.webpush import push_topic
from orin.notifications.notice import (
    FcmTarget,
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
)

logger = structlog.get_logger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
ASSERTION_TTL_S = 3600
"""Google accepts assertions valid for at most an hour."""
TOKEN_REFRESH_MARGIN_S = 300.0
MAX_PAYLOAD_BYTES = 4096
"""FCM's limit on a message's notification and data together."""
TRANSIENT_CODES = frozenset({"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"})
_ERROR_TEXT_LIMIT = 200


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a Google service-account key file the sender uses."""

    project_id: str
    client_email: str
    private_key: rsa.RSAPrivateKey
    private_key_id: str | None
    token_uri: str

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        """Parse the key file's JSON; raises `ValueError` when a needed field is missing."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError("the FCM service account is not valid JSON") from exc
        if not isinstance(document, dict):
            raise ValueError("the FCM service account must be a JSON object")
        fields: dict[str, str] = {}
        for name in ("project_id", "client_email", "private_key"):
            value = document.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"the FCM service account has no {name}")
            fields[name] = value
        try:
            key = serialization.load_pem_private_key(fields["private_key"].encode(), None)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"the FCM service account's private_key is not a PEM key ({type(exc).__name__})"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the FCM service account's private_key must be an RSA key")
        key_id = document.get("private_key_id")
        token_uri = document.get("token_uri")
        return cls(
            project_id=fields["project_id"],
            client_email=fields["client_email"],
            private_key=key,
            private_key_id=key_id if isinstance(key_id, str) and key_id else None,
            token_uri=token_uri if isinstance(token_uri, str) and token_uri else DEFAULT_TOKEN_URI,
        )


@dataclass(frozen=True)
class _FcmError:
    status: str
    """The Google API status (``NOT_FOUND``, ``INVALID_ARGUMENT``, ``UNAVAILABLE``, …)."""
    code: str
    """FCM's own ``errorCode`` from the ``FcmError`` detail, when given."""
    message: str
    about_token: bool
    """A ``BadRequest`` field violation (or the message) names the registration token."""


def _parse_error(response: httpx.Response) -> _FcmError:
    try:
        document = response.json()
    except ValueError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        text = response.text.strip()[:_ERROR_TEXT_LIMIT] or response.reason_phrase
        return _FcmError("", "", text, about_token=False)
    code = ""
    about_token = False
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.firebase.fcm.v1.FcmError"):
            code = str(detail.get("errorCode", ""))
        elif kind.endswith("google.rpc.BadRequest"):
            violations = detail.get("fieldViolations")
            for violation in violations if isinstance(violations, list) else []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    about_token = True
    message = str(error.get("message", ""))[:_ERROR_TEXT_LIMIT]
    about_token = about_token or "registration token" in message.lower()
    return _FcmError(str(error.get("status", "")), code, message, about_token)


def _message_parts(notice: Notice, content: PushContent) -> tuple[dict[str, str], dict[str, str]]:
    """The ``notification`` and ``data`` objects of a message saying ``content``."""
    notification = {"title": content.title, "body": content.body}
    image = notice.catches[0].snapshot_url if notice.catches else None
    if image:
        notification["image"] = image
    data = {
        "type": notice.kind,
        "key": notice.key,
        "url": notice.link,
        "severity": notice.severity,
        "event_ids": ",".join(content.event_ids),
        "event_count": str(len(notice.catches)),
    }
    return notification, data


def _counted(parts: tuple[dict[str, str], dict[str, str]]) -> bytes:
    """What counts against the payload limit: the two objects as JSON."""
    return orjson.dumps(parts[0]) + orjson.dumps(parts[1])


def build_message(token: str, notice: Notice, *, limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """The FCM v1 ``message`` for one device; notification plus data stay within ``limit``
    (shortened as `fit_push_content` says)."""
    critical = notice.severity == "critical"
    collapse = push_topic(notice.key)
    full = PushContent([catch.event_id for catch in notice.catches], notice.body, notice.title)
    content = fit_push_content(lambda c: _counted(_message_parts(notice, c)), full, limit)
    if content is None:
        raise PermanentDeliveryError(f"the notice does not fit a {limit}-byte FCM message")
    notification, data = _message_parts(notice, content)
    return {
        "token": token,
        "notification": notification,
        "data": data,
        "android": {
            "priority": "high" if critical else "normal",
            "collapse_key": collapse,
            "notification": {"tag": collapse},
        },
        "apns": {
            "headers": {
                "apns-priority": "10" if critical else "5",
                "apns-collapse-id": collapse,
            }
        },
    }


class FcmSender:
    """Sends notices to FCM registration tokens (channel ``push``).

    ``client`` is shared and left open when given; otherwise the sender opens its own and
    `close` closes it. Every request carries ``settings.request_timeout_s``.
    """

    channel = "push"

    def __init__(
        self, settings: NotifySettings, *, client: httpx.AsyncClient | None = None
    ) -> None:
        secret = settings.fcm_service_account.get_secret_value()
        if not secret.strip():
            raise ValueError("no FCM service account is configured")
        self.account = ServiceAccount.from_json(secret)
        self.token_url = settings.fcm_token_url or self.account.token_uri
        self.send_url = (
            f"{settings.fcm_url.rstrip('/')}/v1/projects/{self.account.project_id}/messages:send"
        )
        self._timeout = httpx.Timeout(settings.request_timeout_s)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP client if this sender opened it."""
        if self._owns_client:
            await self._client.aclose()

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.account.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_url,
            "iat": now,
            "exp": now + ASSERTION_TTL_S,
        }
        headers = {"kid": self.account.private_key_id} if self.account.private_key_id else None
        return jwt.encode(claims, self.account.private_key, algorithm="RS256", headers=headers)

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A valid OAuth access token, from the cache unless it expires soon or is
        ``rejected`` (the one FCM just answered 401 to)."""
        async with self._token_lock:
            if (
                self._token is not None
                and self._token != rejected
                and time.monotonic() < self._token_expires_at
            ):
                return self._token
            self._token = None
            token, lifetime_s = await self._fetch_token()
            margin = min(TOKEN_REFRESH_MARGIN_S, lifetime_s / 2)
            self._token = token
            self._token_expires_at = time.monotonic() + lifetime_s - margin
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": self._assertion()}
        try:
            response = await self._client.post(self.token_url, data=form, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError("the OAuth token endpoint timed out") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"the OAuth token endpoint is unreachable: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if status != 200:
            detail = f"the OAuth token endpoint answered {status}: {response.text[:200]}"
            if status in (408, 429) or status >= 500:
                raise TransientDeliveryError(
                    detail,
                    status=status,
                    retry_after_s=retry_after_s(response.headers.get("Retry-After")),
                )
            raise PermanentDeliveryError(detail, status=status)
        try:
            document = response.json()
            token = document["access_token"]
            lifetime_s = float(document.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TransientDeliveryError(
                "the OAuth token endpoint answered without an access token", status=status
            ) from exc
        if not isinstance(token, str) or not token:
            raise TransientDeliveryError("the OAuth token endpoint answered an empty token")
        logger.info("fcm.token_refreshed", expires_in_s=lifetime_s)
        return token, lifetime_s

    async def _post(self, token: str, body: bytes) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            return await self._client.post(
                self.send_url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError("FCM timed out") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"FCM is unreachable: {type(exc).__name__}") from exc

    async def send(self, target: FcmTarget, notice: Notice) -> str | None:
        """Send ``notice`` to the device; returns FCM's message name."""
        body = orjson.dumps({"message": build_message(target.token, notice)})
        token = await self.access_token()
        response = await self._post(token, body)
        if response.status_code == 401 and _parse_error(response).code != "THIRD_PARTY_AUTH_ERROR":
            token = await self.access_token(rejected=token)
            response = await self._post(token, body)
        status = response.status_code
        if status == 200:
            try:
                name = response.json().get("name")
            except (ValueError, AttributeError):
                name = None
            logger.debug("fcm.sent", key=notice.key)
            return name if isinstance(name, str) else None
        error = _parse_error(response)
        detail = f"FCM answered {status} {error.code or error.status}: {error.message}"
        if error.code == "UNREGISTERED" or status == 404:
            raise TargetGone(detail, status=status)
        if status == 400 and "INVALID_ARGUMENT" in (error.code, error.status) and error.about_token:
            raise TargetGone(detail, status=status)
        if (
            status in (408, 429)
            or status >= 500
            or error.code in TRANSIENT_CODES
            or error.status in TRANSIENT_CODES
        ):
            raise TransientDeliveryError(
                detail,
                status=status,
                retry_after_s=retry_after_s(response.headers.get("Retry-After")),
            )
        raise PermanentDeliveryError(detail, status=status)
