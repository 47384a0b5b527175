"""A local fake of Google's OAuth token endpoint and the FCM HTTP v1 send API.

`FcmServer` generates an RSA key pair and hands out a service-account JSON whose
``token_uri`` points at its own ``/token``. The token endpoint checks what Google checks in
an RFC 7523 assertion: ``grant_type``, the RS256 signature by the account's key (and ``kid``),
``iss``, ``aud`` = the token URL, the firebase.messaging ``scope``, ``iat`` not in the future
and ``exp`` at most an hour after it; it answers ``invalid_grant`` otherwise and issues
access tokens that expire after `FcmServer.token_lifetime_s`.

``POST /v1/projects/{project}/messages:send`` checks the Bearer token (401 UNAUTHENTICATED),
the project (403 PERMISSION_DENIED) and the body as FCM's JSON mapping does: unknown fields
and wrong types are 400 INVALID_ARGUMENT with a ``BadRequest`` field violation, exactly one of
token/topic/condition, ``data`` values strings only, notification plus data within 4096
bytes. Registration tokens come from `FcmServer.register_device`: an unknown token is
400 INVALID_ARGUMENT on ``message.token``, an unregistered one 404 ``UNREGISTERED``. Errors are
answered in Google's shape, with the ``FcmError`` detail; `fail_next` scripts them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.services import free_port

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_PAYLOAD_BYTES = 4096
MAX_ASSERTION_LIFETIME_S = 3600
CLOCK_SKEW_S = 60
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

_TARGETS = ("token", "topic", "condition")
_MESSAGE_FIELDS = frozenset(
    {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "fcmOptions"}
    | set(_TARGETS)
)
_NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
_ANDROID_FIELDS = frozenset(
    {
        "collapse_key",
        "collapseKey",
        "priority",
        "ttl",
        "restricted_package_name",
        "restrictedPackageName",
        "data",
        "notification",
        "fcm_options",
        "fcmOptions",
        "direct_boot_ok",
        "directBootOk",
    }
)
_ANDROID_NOTIFICATION_FIELDS = frozenset(
    {
        "title",
        "body",
        "icon",
        "color",
        "sound",
        "tag",
        "click_action",
        "clickAction",
        "body_loc_key",
        "title_loc_key",
        "channel_id",
        "channelId",
        "ticker",
        "sticky",
        "image",
        "notification_priority",
        "notificationPriority",
        "default_sound",
        "defaultSound",
        "visibility",
        "notification_count",
        "notificationCount",
    }
)
_ANDROID_PRIORITIES = frozenset({"normal", "high", "NORMAL", "HIGH"})
_APNS_FIELDS = frozenset({"headers", "payload", "fcm_options", "fcmOptions"})
_WEBPUSH_FIELDS = frozenset({"headers", "data", "notification", "fcm_options", "fcmOptions"})


class FcmRejected(Exception):
    """A request FCM refuses, answered in Google's error shape."""

    def __init__(
        self,
        http_status: int,
        status: str,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message
        self.code = code
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        details: list[dict[str, Any]] = []
        if self.code is not None:
            details.append({"@type": FCM_ERROR_TYPE, "errorCode": self.code})
        if self.field is not None:
            details.append(
                {
                    "@type": BAD_REQUEST_TYPE,
                    "fieldViolations": [{"field": self.field, "description": self.message}],
                }
            )
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.status,
        }
        if details:
            error["details"] = details
        return web.json_response({"error": error}, status=self.http_status, headers=self.headers)


def _invalid(message: str, field: str) -> FcmRejected:
    return FcmRejected(400, "INVALID_ARGUMENT", message, code="INVALID_ARGUMENT", field=field)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"Invalid value at '{path}', expected an object", path)
    return value


def _known(value: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    for name in value:
        if name not in allowed:
            raise _invalid(
                f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': "
                "Cannot find field.",
                f"{path}.{name}" if path else name,
            )


def _strings(value: Any, path: str) -> dict[str, str]:
    mapping = _object(value, path)
    for name, item in mapping.items():
        if not isinstance(item, str):
            raise _invalid(
                f"Invalid value at '{path}[{name}].value' (TYPE_STRING), {orjson.dumps(item)!r}",
                f"{path}[{name}].value",
            )
    return mapping


def validate_message(message: dict[str, Any]) -> None:
    """Check an FCM v1 ``message`` as the API's JSON mapping does; raises `FcmRejected`."""
    _known(message, _MESSAGE_FIELDS, "message")
    targets = [name for name in _TARGETS if name in message]
    if not targets:
        raise _invalid("Recipient of the message is not set.", "message")
    if len(targets) > 1:
        raise _invalid(
            "Invalid value at 'message' (oneof), oneof field 'target' is already set.",
            f"message.{targets[1]}",
        )
    for name in targets:
        if not isinstance(message[name], str) or not message[name]:
            raise _invalid(f"Invalid value at 'message.{name}' (TYPE_STRING)", f"message.{name}")
    if "data" in message:
        _strings(message["data"], "message.data")
    if "notification" in message:
        notification = _strings(message["notification"], "message.notification")
        _known(notification, _NOTIFICATION_FIELDS, "message.notification")
    if "android" in message:
        android = _object(message["android"], "message.android")
        _known(android, _ANDROID_FIELDS, "message.android")
        priority = android.get("priority")
        if priority is not None and priority not in _ANDROID_PRIORITIES:
            raise _invalid(
                f"Invalid value at 'message.android.priority' "
                f"(type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "
                f"{priority!r}",
                "message.android.priority",
            )
        for name in ("collapse_key", "collapseKey"):
            if name in android and not isinstance(android[name], str):
                raise _invalid("collapse_key must be a string", f"message.android.{name}")
        if "notification" in android:
            note = _object(android["notification"], "message.android.notification")
            _known(note, _ANDROID_NOTIFICATION_FIELDS, "message.android.notification")
        if "data" in android:
            _strings(android["data"], "message.android.data")
    if "apns" in message:
        apns = _object(message["apns"], "message.apns")
        _known(apns, _APNS_FIELDS, "message.apns")
        if "headers" in apns:
            headers = _strings(apns["headers"], "message.apns.headers")
            if headers.get("apns-priority", "10") not in ("1", "5", "10"):
                raise _invalid("apns-priority must be 1, 5 or 10", "message.apns.headers")
            if len(headers.get("apns-collapse-id", "").encode()) > 64:
                raise _invalid("apns-collapse-id exceeds 64 bytes", "message.apns.headers")
        if "payload" in apns:
            _object(apns["payload"], "message.apns.payload")
    if "webpush" in message:
        webpush = _object(message["webpush"], "message.webpush")
        _known(webpush, _WEBPUSH_FIELDS, "message.webpush")
        for name in ("headers", "data"):
            if name in webpush:
                _strings(webpush[name], f"message.webpush.{name}")
    size = len(orjson.dumps(message.get("notification", {}))) + len(
        orjson.dumps(message.get("data", {}))
    )
    if size > MAX_PAYLOAD_BYTES:
        raise _invalid(f"Message is too big ({size} bytes)", "message")


@dataclass(frozen=True)
class FcmMessage:
    """One accepted send."""

    name: str
    project_id: str
    message: dict[str, Any]
    access_token: str


@dataclass(frozen=True)
class _Failure:
    rejected: FcmRejected
    delay_s: float


class FcmServer:
    """The fake token endpoint and FCM API on 127.0.0.1 (`start` / `stop`)."""

    project_id = "orin-test"
    client_email = "orin-push@orin-test.iam.gserviceaccount.com"

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token_url = f"{self.base_url}/token"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_id = secrets.token_hex(20)
        self.token_lifetime_s = 3599
        """``expires_in`` of the access tokens issued from now on."""
        self.token_requests: list[dict[str, Any]] = []
        """The verified claims of every accepted assertion, oldest first."""
        self.token_refusals: list[str] = []
        self.messages: list[FcmMessage] = []
        self.send_requests = 0
        self.rejections: list[tuple[int, str, str]] = []
        """Every refused send's HTTP status, Google status and message, oldest first."""
        self._access_tokens: dict[str, float] = {}
        self._devices: dict[str, bool] = {}
        self._send_script: deque[_Failure] = deque()
        self._token_script: deque[tuple[int, dict[str, Any]]] = deque()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def service_account(self, **overrides: str) -> dict[str, str]:
        """A service-account key file's content whose ``token_uri`` is this server."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        account = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_url,
        }
        account.update(overrides)
        return account

    def register_device(self) -> str:
        """A new registration token, as the app's ``getToken()`` would get."""
        token = f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"
        self._devices[token] = True
        return token

    def unregister_device(self, token: str) -> None:
        """The app was uninstalled: sends to ``token`` get 404 UNREGISTERED."""
        self._devices[token] = False

    def revoke_access_tokens(self) -> None:
        """Every issued access token stops working (401 until the sender gets a new one)."""
        self._access_tokens.clear()

    def fail_next(
        self,
        http_status: int,
        status: str,
        *,
        code: str | None = None,
        message: str = "scripted failure",
        count: int = 1,
        retry_after: str | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next ``count`` authenticated sends with this error (after ``delay_s``)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        for _ in range(count):
            rejected = FcmRejected(http_status, status, message, code=code, headers=headers)
            self._send_script.append(_Failure(rejected, delay_s))

    def fail_token_next(self, http_status: int, body: dict[str, Any], *, count: int = 1) -> None:
        """Answer the next ``count`` token requests with ``body``."""
        for _ in range(count):
            self._token_script.append((http_status, body))

    def reset(self) -> None:
        """Forget scripted failures and restore the default token lifetime."""
        self._send_script.clear()
        self._token_script.clear()
        self.token_lifetime_s = 3599

    def messages_to(self, token: str) -> list[FcmMessage]:
        return [m for m in self.messages if m.message.get("token") == token]

    def _refuse_token(self, description: str, error: str = "invalid_grant") -> web.Response:
        self.token_refusals.append(description)
        return web.json_response({"error": error, "error_description": description}, status=400)

    async def _token(self, request: web.Request) -> web.Response:
        if self._token_script:
            http_status, body = self._token_script.popleft()
            self.token_refusals.append(f"scripted {http_status}")
            return web.json_response(body, status=http_status)
        if request.content_type != "application/x-www-form-urlencoded":
            return self._refuse_token("Bad Request", "invalid_request")
        form = await request.post()
        grant_type = form.get("grant_type")
        if grant_type != JWT_BEARER_GRANT:
            return self._refuse_token(
                f"Invalid grant_type: {grant_type!s:.100}", "unsupported_grant_type"
            )
        assertion = form.get("assertion")
        if not isinstance(assertion, str) or not assertion:
            return self._refuse_token("Missing required parameter: assertion", "invalid_request")
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") != "RS256":
                return self._refuse_token("Invalid JWT: algorithm must be RS256")
            if header.get("kid") not in (None, self.private_key_id):
                return self._refuse_token("Invalid JWT Signature.")
            claims = jwt.decode(
                assertion,
                key=self.private_key.public_key(),
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp", "scope"]},
            )
        except jwt.InvalidSignatureError:
            return self._refuse_token("Invalid JWT Signature.")
        except jwt.InvalidTokenError as exc:
            return self._refuse_token(f"Invalid JWT: {exc}")
        now = time.time()
        issued_at, expires_at = float(claims["iat"]), float(claims["exp"])
        if issued_at > now + CLOCK_SKEW_S:
            return self._refuse_token(
                "Invalid JWT: Token must be a short-lived token and in a "
                "reasonable timeframe. Check your iat and exp values"
            )
        if expires_at - issued_at > MAX_ASSERTION_LIFETIME_S:
            return self._refuse_token("Invalid JWT: exp is more than an hour after iat")
        if FCM_SCOPE not in str(claims["scope"]).split():
            return self._refuse_token(
                "Invalid OAuth scope or ID token audience provided.", "invalid_scope"
            )
        self.token_requests.append(claims)
        token = f"ya29.{secrets.token_urlsafe(48)}"
        lifetime = self.token_lifetime_s
        self._access_tokens[token] = time.monotonic() + lifetime
        return web.json_response(
            {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
        )

    async def _send(self, request: web.Request) -> web.Response:
        self.send_requests += 1
        body = await request.read()
        try:
            accepted = await self._check_send(request, body)
        except FcmRejected as rejected:
            self.rejections.append((rejected.http_status, rejected.status, rejected.message))
            return rejected.response()
        self.messages.append(accepted)
        return web.json_response({"name": accepted.name})

    async def _check_send(self, request: web.Request, body: bytes) -> FcmMessage:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expires_at = self._access_tokens.get(token) if scheme == "Bearer" else None
        if expires_at is None or time.monotonic() >= expires_at:
            raise FcmRejected(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        project = request.match_info["project"]
        if project != self.project_id:
            raise FcmRejected(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}'",
            )
        if self._send_script:
            failure = self._send_script.popleft()
            if failure.delay_s:
                await asyncio.sleep(failure.delay_s)
            raise failure.rejected
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _invalid("Invalid JSON payload received.", "") from exc
        request_body = _object(document, "")
        _known(request_body, frozenset({"message", "validate_only", "validateOnly"}), "")
        if "message" not in request_body:
            raise _invalid("Request contains an invalid argument.", "message")
        message = _object(request_body["message"], "message")
        validate_message(message)
        device = message.get("token")
        if isinstance(device, str):
            registered = self._devices.get(device)
            if registered is None:
                raise _invalid(
                    "The registration token is not a valid FCM registration token",
                    "message.token",
                )
            if not registered:
                raise FcmRejected(
                    404, "NOT_FOUND", "Requested entity was not found.", code="UNREGISTERED"
                )
        name = f"projects/{self.project_id}/messages/0:{time.time_ns()}%{secrets.token_hex(8)}"
        return FcmMessage(name=name, project_id=project, message=message, access_token=token)
