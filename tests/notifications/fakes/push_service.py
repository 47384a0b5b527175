"""A local Web Push service that checks requests as the browsers' push services do.

It plays the browser too: `PushService.subscribe` makes a subscription the way a user agent
does (a P-256 key pair and a 16-byte auth secret) and returns the `WebPushTarget` the
application server stores. A push to ``/push/<id>`` is checked in the order the real services
use: unknown (404) or expired (410) subscription, the ``TTL`` header (400), the VAPID
``Authorization`` (RFC 8292: ES256 signature by ``k``, ``aud`` = this origin, ``exp`` in the
future and at most 24 hours ahead, ``sub`` a mailto: or https: URL; 401 otherwise, 403 when
``k`` is not the key the subscription was made with), ``Urgency`` and ``Topic`` syntax (400),
``Content-Encoding: aes128gcm`` (400) and the 4096-byte body limit (413). The body is then
decrypted with the subscription's private key and auth secret by this module's own RFC 8291
code (independent of the sender's library) and must be one record (400 otherwise).

Accepted messages are answered 201 with a ``Location`` and kept in `PushService.messages`.
A subscription marked offline keeps its messages pending, where a new message with the same
``Topic`` replaces the pending one (RFC 8030 section 5.4). `answer_next` scripts errors.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orin.notifications.notice import WebPushTarget
from tests.fixtures.services import free_port

MAX_BODY_BYTES = 4096
MAX_VAPID_EXP_S = 24 * 3600
CLOCK_SKEW_S = 60
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hkdf(secret: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


class Rejected(Exception):
    """A request the push service refuses, with the status it answers."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def decrypt_aes128gcm(
    body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes
) -> tuple[bytes, int]:
    """The plaintext of a Web Push message (RFC 8291) and its record size.

    Raises `Rejected` (400) when the coding header, the key agreement or the tag is wrong, or
    when the message is not a single record.
    """
    if len(body) < 21:
        raise Rejected(400, "aes128gcm body shorter than its header")
    salt = body[:16]
    (record_size,) = struct.unpack("!L", body[16:20])
    key_id_length = body[20]
    if key_id_length != 65:
        raise Rejected(400, f"keyid must be the 65-byte sender key, got {key_id_length} bytes")
    sender_point = body[21:86]
    ciphertext = body[86:]
    if record_size < 18:
        raise Rejected(400, f"record size {record_size} is too small")
    if len(ciphertext) > record_size:
        raise Rejected(400, "a push message must be one record (RFC 8291 section 4)")
    if len(ciphertext) < 17:
        raise Rejected(400, "record shorter than the GCM tag")
    try:
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
    except ValueError as exc:
        raise Rejected(400, "keyid is not a P-256 point") from exc
    shared = private_key.exchange(ec.ECDH(), sender_key)
    receiver_point = _point(private_key.public_key())
    key_info = b"WebPush: info\x00" + receiver_point + sender_point
    ikm = _hkdf(shared, salt=auth_secret, info=key_info, length=32)
    content_key = _hkdf(ikm, salt=salt, info=b"Content-Encoding: aes128gcm\x00", length=16)
    nonce = _hkdf(ikm, salt=salt, info=b"Content-Encoding: nonce\x00", length=12)
    try:
        padded = AESGCM(content_key).decrypt(nonce, ciphertext, None)
    except InvalidTag as exc:
        raise Rejected(400, "decryption failed: wrong keys or corrupted body") from exc
    content = padded.rstrip(b"\x00")
    if not content or content[-1] != 2:
        raise Rejected(400, "the last record must end with the 0x02 delimiter")
    return content[:-1], record_size


@dataclass(frozen=True)
class PushMessage:
    """One accepted push: what the browser's service worker would read, and how it came."""

    id: str
    subscription_id: str
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    ttl: int
    urgency: str
    topic: str | None
    payload: bytes
    claims: dict[str, Any]
    """The verified VAPID JWT claims."""
    vapid_key: str
    """The ``k`` parameter: the application server's public key."""
    authorization: str
    record_size: int
    body_size: int

    def json(self) -> Any:
        """The decrypted payload parsed as JSON."""
        return orjson.loads(self.payload)


@dataclass
class PushSubscription:
    """A subscription as the browser holds it (private key and auth secret included)."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    target: WebPushTarget
    application_server_key: str | None
    online: bool = True
    gone: bool = False
    delivered: list[PushMessage] = field(default_factory=list)
    pending: list[PushMessage] = field(default_factory=list)
    """Messages held while the browser is offline; a matching Topic replaces one."""


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: str
    delay_s: float


class PushService:
    """The fake push service on 127.0.0.1 (start with `start`, stop with `stop`).

    ``host`` is the name its endpoints and origin use (a real service's DNS name); it listens
    on 127.0.0.1 whatever the name, so a name nothing resolves needs a pinned sender.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.origin = f"http://{host}:{self.port}"
        self.subscriptions: dict[str, PushSubscription] = {}
        self.messages: list[PushMessage] = []
        self.rejections: list[tuple[int, str]] = []
        """Every refused request's status and reason, oldest first."""
        self.requests = 0
        self._script: deque[_Answer] = deque()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/push/{subscription_id}", self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PushService:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def subscribe(
        self, *, application_server_key: str | None = None, online: bool = True
    ) -> PushSubscription:
        """A new subscription, as ``pushManager.subscribe()`` would make; with
        ``application_server_key`` only pushes signed by that key are accepted."""
        subscription_id = secrets.token_urlsafe(16)
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = secrets.token_bytes(16)
        target = WebPushTarget(
            endpoint=f"{self.origin}/push/{subscription_id}",
            p256dh=_b64url(_point(private_key.public_key())),
            auth=_b64url(auth_secret),
        )
        subscription = PushSubscription(
            id=subscription_id,
            private_key=private_key,
            auth_secret=auth_secret,
            target=target,
            application_server_key=application_server_key,
            online=online,
        )
        self.subscriptions[subscription_id] = subscription
        return subscription

    def unsubscribe(self, subscription: PushSubscription) -> None:
        """Expire the subscription: pushes to it are answered 410 Gone."""
        subscription.gone = True

    def answer_next(
        self,
        status: int,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
        body: str = "",
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next ``count`` pushes with ``status`` (after ``delay_s``) whatever
        they carry; a 2xx ``status`` with a delay only holds the request, then checks it."""
        for _ in range(count):
            self._script.append(_Answer(status, dict(headers or {}), body, delay_s))

    def reset(self) -> None:
        """Forget scripted answers."""
        self._script.clear()

    def messages_for(self, subscription: PushSubscription) -> list[PushMessage]:
        """Every message accepted for ``subscription``, oldest first."""
        return [m for m in self.messages if m.subscription_id == subscription.id]

    async def _receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self._script:
            answer = self._script.popleft()
            if answer.delay_s:
                await asyncio.sleep(answer.delay_s)
            if not 200 <= answer.status < 300:
                self.rejections.append((answer.status, "scripted"))
                return web.Response(status=answer.status, headers=answer.headers, text=answer.body)
        try:
            message = self._accept(request, body)
        except Rejected as rejected:
            self.rejections.append((rejected.status, rejected.reason))
            error = {"code": rejected.status, "error": rejected.reason, "message": rejected.reason}
            return web.json_response(error, status=rejected.status)
        return web.Response(
            status=201,
            headers={"Location": f"{self.origin}/m/{message.id}", "TTL": str(message.ttl)},
        )

    def _accept(self, request: web.Request, body: bytes) -> PushMessage:
        subscription = self.subscriptions.get(request.match_info["subscription_id"])
        if subscription is None:
            raise Rejected(404, "no such subscription")
        if subscription.gone:
            raise Rejected(410, "the subscription has expired or was unsubscribed")
        headers = {name.lower(): value for name, value in request.headers.items()}
        ttl_text = headers.get("ttl")
        if ttl_text is None or not ttl_text.isdigit():
            raise Rejected(400, "missing or invalid TTL header")
        authorization = headers.get("authorization", "")
        claims, vapid_key = self._check_vapid(authorization)
        if (
            subscription.application_server_key is not None
            and vapid_key != subscription.application_server_key
        ):
            raise Rejected(403, "k is not the key the subscription was made with")
        urgency = headers.get("urgency", "normal")
        if urgency not in URGENCIES:
            raise Rejected(400, f"invalid Urgency {urgency!r}")
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not set(topic) <= _B64URL or not topic):
            raise Rejected(400, "Topic must be 1 to 32 URL-safe base64 characters")
        if not body:
            raise Rejected(400, "this fake expects every push to carry a payload")
        if headers.get("content-encoding") != "aes128gcm":
            raise Rejected(400, "Content-Encoding must be aes128gcm")
        if len(body) > MAX_BODY_BYTES:
            raise Rejected(413, f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
        payload, record_size = decrypt_aes128gcm(
            body, subscription.private_key, subscription.auth_secret
        )
        message = PushMessage(
            id=secrets.token_urlsafe(12),
            subscription_id=subscription.id,
            headers=headers,
            ttl=int(ttl_text),
            urgency=urgency,
            topic=topic,
            payload=payload,
            claims=claims,
            vapid_key=vapid_key,
            authorization=authorization,
            record_size=record_size,
            body_size=len(body),
        )
        self.messages.append(message)
        if subscription.online:
            subscription.delivered.append(message)
        else:
            if topic is not None:
                subscription.pending = [m for m in subscription.pending if m.topic != topic]
            subscription.pending.append(message)
        return message

    def _check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Rejected(401, "Authorization must use the vapid scheme (RFC 8292)")
        params: dict[str, str] = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            params[name.strip().lower()] = value.strip()
        token, key_text = params.get("t"), params.get("k")
        if not token or not key_text:
            raise Rejected(401, "vapid credentials need t= and k=")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), _unb64url(key_text)
            )
        except ValueError as exc:
            raise Rejected(401, "k is not an uncompressed P-256 point") from exc
        try:
            claims = jwt.decode(
                token,
                key=public_key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise Rejected(401, f"invalid VAPID token: {exc}") from exc
        if float(claims["exp"]) > time.time() + MAX_VAPID_EXP_S + CLOCK_SKEW_S:
            raise Rejected(401, "VAPID exp is more than 24 hours ahead")
        subject = str(claims["sub"])
        if not subject.startswith(("mailto:", "https:")):
            raise Rejected(401, "VAPID sub must be a mailto: or https: URL")
        return claims, key_text
