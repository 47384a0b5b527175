"""Web Push to browsers: RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID.

A browser's `PushSubscription` names an endpoint at its vendor's push service (FCM for
Chrome, autopush for Firefox, web.push.apple.com for Safari, WNS for Edge) and two keys: the
user agent's P-256 public key (``p256dh``) and a 16-byte authentication secret (``auth``).

Choices, and why:

- The payload is encrypted with ``aes128gcm`` (RFC 8188 as profiled by RFC 8291) in a single
  record, as RFC 8291 requires; ``http_ece`` does the encryption with a fresh ephemeral key
  per message. The push service caps the body at 4096 octets, which leaves 3993 octets of
  JSON after the 86-octet coding header, the padding delimiter and the 16-octet tag.
- The VAPID ``Authorization: vapid t=<JWT>,k=<public key>`` header is signed by ``py_vapid``
  with ``aud`` = the endpoint's origin and ``exp`` 12 hours ahead (RFC 8292 caps it at 24).
  One token per push service origin is reused until an hour before it expires: Apple asks
  senders not to sign a new one more than once an hour.
- ``Topic`` is derived from the notice key, so a retried delivery replaces the undelivered
  copy of the same notice at the push service instead of queueing a second alert.
- ``Urgency: high`` for critical notices wakes a sleeping phone at once; ``normal`` otherwise.
- The request goes out on ``httpx.AsyncClient``. Encrypting and signing take well under a
  millisecond of CPU, so they run inline rather than in a thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

import http_ece  # type: ignore[import-untyped]  # no type information shipped
import httpx
import orjson
import structlog
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import (  # type: ignore[import-untyped]  # no type information shipped
    Vapid02,
    VapidException,
)

from orin.config import NotifySettings
from orin.notifications.channels.http_headers import (
    ELLIPSIS,
    PushContent,
    fit_push_content,
    retry_after_s,
    send_pinned,
)
from orin.notifications.notice import (
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
    WebPushTarget,
)

logger = structlog.get_logger(__name__)

MAX_BODY_BYTES = 4096
"""What every push service accepts at least (RFC 8291 section 4); larger bodies get 413."""
CODING_HEADER_BYTES = 16 + 4 + 1 + 65
"""aes128gcm header: salt, record size, key id length, sender's uncompressed P-256 key."""
MAX_PAYLOAD_BYTES = MAX_BODY_BYTES - CODING_HEADER_BYTES - 1 - 16
"""Largest plaintext that fits one record: the body less header, delimiter and GCM tag."""
RECORD_SIZE = MAX_BODY_BYTES
VAPID_TOKEN_TTL_S = 12 * 3600
VAPID_TOKEN_REFRESH_S = 3600
"""Sign a new token when the cached one has less than this left."""
DEFAULT_TTL_S = 12 * 3600
"""How long a push service keeps a notice for a device that is offline."""
TOPIC_LENGTH = 32
_MAX_CACHED_AUDIENCES = 64
_ERROR_TEXT_LIMIT = 200


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding, as Web Push keys are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode URL-safe or standard base64, padded or not (browsers and libraries differ)."""
    cleaned = "".join(text.split()).replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def load_vapid_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """The VAPID signing key from PEM, raw base64url (the 32-byte scalar) or base64 DER.

    Raises `ValueError` when the text is none of these or not a P-256 key.
    """
    text = value.strip()
    if not text:
        raise ValueError("no VAPID private key is configured")
    try:
        if text.startswith("-----BEGIN"):
            key: object = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        # Not chained: the library's message may quote key material.
        raise ValueError(
            f"the VAPID private key is not a PEM, raw base64url or DER key ({type(exc).__name__})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the VAPID private key must be a P-256 (prime256v1) EC key")
    return key


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public half as the browser's ``applicationServerKey``: base64url uncompressed point."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(point)


def vapid_public_key(settings: NotifySettings) -> str | None:
    """The application server key the web app subscribes with; None when Web Push is off."""
    secret = settings.vapid_private_key.get_secret_value()
    if not secret.strip():
        return None
    return application_server_key(load_vapid_private_key(secret))


def push_topic(key: str) -> str:
    """The ``Topic`` for a notice key: 32 URL-safe base64 characters (RFC 8030 section 5.4)."""
    return b64url_encode(hashlib.sha256(key.encode()).digest()[:24])


def _payload_document(notice: Notice, content: PushContent) -> bytes:
    document: dict[str, Any] = {
        "type": notice.kind,
        "title": content.title,
        "body": content.body,
        "url": notice.link,
        "key": notice.key,
        "severity": notice.severity,
    }
    image = notice.catches[0].snapshot_url if notice.catches else None
    if image:
        document["image"] = image
    document["event_ids"] = list(content.event_ids)
    document["event_count"] = len(notice.catches)
    return orjson.dumps(document)


def _truncated(text: str, keep: int) -> str:
    return text if len(text) <= keep else text[: max(0, keep - 1)] + ELLIPSIS


def build_payload(notice: Notice, *, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The JSON the service worker reads, at most ``limit`` bytes.

    ``{"type", "title", "body", "url", "key", "severity", "image"?, "event_ids",
    "event_count"}``: ``image`` (the first catch's snapshot) is left out when there is none;
    a long digest keeps only its first event ids (``event_count`` still says how many there
    were, at least one is kept), then a body (or title) still too long is cut with an
    ellipsis (`fit_push_content`).
    """
    full = PushContent([catch.event_id for catch in notice.catches], notice.body, notice.title)
    content = fit_push_content(lambda c: _payload_document(notice, c), full, limit)
    if content is None:
        raise PermanentDeliveryError(f"the notice does not fit a {limit}-byte push payload")
    return _payload_document(notice, content)


def _encrypt(payload: bytes, target: WebPushTarget) -> bytes:
    try:
        receiver = b64url_decode(target.p256dh)
        auth_secret = b64url_decode(target.auth)
        receiver_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), receiver)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise TargetGone("the push subscription's keys are not valid") from exc
    if len(auth_secret) != 16:
        raise TargetGone("the push subscription's auth secret is not 16 bytes")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(
        payload,
        private_key=ephemeral,
        dh=receiver_key,
        auth_secret=auth_secret,
        version="aes128gcm",
        rs=RECORD_SIZE,
    )
    assert isinstance(body, bytes)
    return body


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise TargetGone("the push subscription's endpoint is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def _describe(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return _truncated(text, _ERROR_TEXT_LIMIT) if text else response.reason_phrase


class WebPushSender:
    """Sends notices to browsers' push subscriptions (channel ``push``).

    ``client`` is shared and left open when given; otherwise the sender opens its own and
    `close` closes it. Every request carries ``settings.request_timeout_s``.
    """

    channel = "push"

    def __init__(
        self,
        settings: NotifySettings,
        *,
        client: httpx.AsyncClient | None = None,
        ttl_s: int = DEFAULT_TTL_S,
    ) -> None:
        key = load_vapid_private_key(settings.vapid_private_key.get_secret_value())
        self.public_key = application_server_key(key)
        """The application server key (base64url) that subscriptions must be made with."""
        self._vapid = Vapid02(private_key=key)
        self._subject = settings.vapid_subject
        self._timeout = httpx.Timeout(settings.request_timeout_s)
        self._ttl_s = ttl_s
        self._tokens: dict[str, tuple[str, float]] = {}
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self._timeout)
        # Sign once now so a bad subject fails at start-up, not at the first catch.
        self._sign("https://push.example.net", int(time.time()) + VAPID_TOKEN_TTL_S)
        host = self._subject.partition("@")[2]
        if host == "localhost" or host.endswith((".local", ".invalid", ".localhost")):
            # Apple's push service refuses tokens whose contact it cannot resolve.
            logger.warning("webpush.vapid_subject_unreachable", subject=self._subject)

    async def close(self) -> None:
        """Close the HTTP client if this sender opened it."""
        if self._owns_client:
            await self._client.aclose()

    def _sign(self, audience: str, expires_at: int) -> str:
        try:
            headers = self._vapid.sign({"aud": audience, "sub": self._subject, "exp": expires_at})
        except VapidException as exc:  # a `sub` that is not a mailto: or https: URL
            raise ValueError(f"cannot sign a VAPID token: {exc}") from exc
        return str(headers["Authorization"])

    def authorization(self, audience: str) -> str:
        """The VAPID ``Authorization`` value for a push service origin (cached per origin)."""
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is not None and cached[1] - now > VAPID_TOKEN_REFRESH_S:
            return cached[0]
        expires_at = int(now) + VAPID_TOKEN_TTL_S
        value = self._sign(audience, expires_at)
        if len(self._tokens) >= _MAX_CACHED_AUDIENCES:
            self._tokens.clear()
        self._tokens[audience] = (value, expires_at)
        return value

    async def send(self, target: WebPushTarget, notice: Notice) -> str | None:
        """Encrypt ``notice`` for the subscription and post it to its push service.

        Returns the push service's message URL (``Location``) when it gives one.
        """
        origin = _origin(target.endpoint)
        body = _encrypt(build_payload(notice), target)
        headers = {
            "Authorization": self.authorization(origin),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self._ttl_s),
            "Urgency": "high" if notice.severity == "critical" else "normal",
            "Topic": push_topic(notice.key),
        }
        request = self._client.build_request(
            "POST", target.endpoint, content=body, headers=headers, timeout=self._timeout
        )
        try:
            response = await send_pinned(self._client, request, target.pinned_hosts)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"push service {origin} timed out") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"push service {origin} unreachable: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            logger.debug("webpush.sent", origin=origin, status=status, key=notice.key)
            location: str | None = response.headers.get("Location")
            return location
        detail = f"push service {origin} answered {status}: {_describe(response)}"
        if status in (404, 410):
            raise TargetGone(detail, status=status)
        if status in (408, 429) or status >= 500:
            raise TransientDeliveryError(
                detail,
                status=status,
                retry_after_s=retry_after_s(response.headers.get("Retry-After")),
            )
        raise PermanentDeliveryError(detail, status=status)
