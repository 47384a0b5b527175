"""ORIN settings: one pydantic-settings root with a sub-model per area.

Every setting is read from the environment with the ``ORIN_`` prefix; a sub-model's field is
``ORIN_<AREA>_<FIELD>`` (``ORIN_API_PORT``, ``ORIN_DATABASE_URL``, ``ORIN_S3_ENDPOINT``). An
optional YAML file named by ``ORIN_CONFIG_FILE`` supplies defaults that the environment
overrides. Which adapter each port uses follows from the settings: a ``postgresql`` database
URL, a Redis URL, an AMQP URL and an S3 endpoint each switch one port to its scaled adapter.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from orin.vision.detectors.config import (
    DetectorConfig,
    OpenImagesSsdConfig,
    SsdCocoConfig,
)

ENV_PREFIX = "ORIN_"
CONFIG_FILE_ENV = "ORIN_CONFIG_FILE"


class Area(BaseModel):
    """Base of every settings sub-model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(Area):
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    public_url: str | None = Field(
        None,
        description="Base URL clients reach the API at, used in signed links; "
        "defaults to http://<host>:<port>.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS)."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )
    request_id_header: str = Field(
        "X-Request-ID", description="Header carrying the request id, read and echoed back."
    )


class DatabaseSettings(Area):
    url: str = Field(
        "",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path.db (embedded) or "
        "postgresql+asyncpg://user@host/db (scaled). Empty means <data_dir>/orin.db.",
    )
    pool_size: int = Field(10, ge=1, description="Connections kept open per process (PostgreSQL).")
    max_overflow: int = Field(10, ge=0, description="Extra connections allowed above pool_size.")
    pool_timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for a free connection.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Seconds to wait when connecting.")
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (async drivers only)"
            )
        return value


class RedisSettings(Area):
    url: str | None = Field(
        None,
        description="Redis URL (redis://host:6379/0) for cache, rate limits and pub/sub; "
        "unset keeps them in memory (embedded).",
    )
    key_prefix: str = Field("orin:", description="Prefix of every key ORIN writes to Redis.")

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None


class AmqpSettings(Area):
    url: str | None = Field(
        None,
        description="RabbitMQ URL (amqp://user:pass@host:5672/vhost) for the job and event bus; "
        "unset uses the in-process bus (embedded).",
    )
    exchange: str = Field("orin", description="Topic exchange every message is published to.")
    prefetch: int = Field(16, ge=1, description="Unacknowledged messages a consumer may hold.")
    max_retries: int = Field(
        5, ge=0, description="Times a failing message is retried before it goes to the DLQ."
    )
    retry_base_delay_s: float = Field(
        1.0, gt=0, description="Delay before the first retry; doubles on each later one."
    )
    retry_max_delay_s: float = Field(300.0, gt=0, description="Upper bound of one retry delay.")
    confirm_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for the broker to confirm a publish."
    )

    @field_validator("url")
    @classmethod
    def _amqp_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value or None


class S3Settings(Area):
    endpoint: str | None = Field(
        None,
        description="S3 API endpoint (http://127.0.0.1:8333); unset stores objects in a local "
        "folder (embedded).",
    )
    bucket: str = Field("orin", description="Bucket holding recordings, snapshots and clips.")
    region: str = Field("us-east-1", description="Region sent in request signatures.")
    access_key: str = Field("", description="Access key id for the S3 API.")
    secret_key: SecretStr = Field(SecretStr(""), description="Secret access key for the S3 API.")
    create_bucket: bool = Field(
        True, description="Create the bucket at start if it does not exist."
    )
    archive_after_days: int = Field(
        0,
        ge=0,
        description="Days before media under `spaces/` moves to `archive_storage_class`; 0 never.",
    )
    archive_storage_class: Literal[
        "GLACIER_IR", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER", "DEEP_ARCHIVE"
    ] = Field("GLACIER_IR", description="Storage class archived media moves to.")
    expire_after_days: int | None = Field(
        None,
        ge=1,
        description="Backstop expiry of media no row points to; keep it above every retention.",
    )


class StorageSettings(Area):
    local_dir: Path | None = Field(
        None, description="Folder of the local object store; defaults to <data_dir>/objects."
    )
    url_ttl_s: int = Field(
        900, ge=1, le=7 * 24 * 3600, description="Default lifetime of a signed URL in seconds."
    )


class OutboxSettings(Area):
    poll_interval_s: float = Field(
        0.5, gt=0, description="How often the relay looks for unsent rows when not nudged."
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="Rows the relay sends per batch.")
    retry_delay_s: float = Field(
        1.0, gt=0, description="Pause after the broker refused a batch, doubling up to 30 s."
    )
    sent_retention_h: int = Field(
        72, ge=1, description="Hours a sent row is kept before the scheduler deletes it."
    )


class SchedulerSettings(Area):
    lease_ttl_s: float = Field(
        15.0, gt=1, description="Seconds the leader's lease lasts without renewal."
    )
    tick_s: float = Field(1.0, gt=0, description="How often the scheduler checks for due jobs.")


class SupervisorSettings(Area):
    roles: list[str] = Field(
        default_factory=lambda: ["api", "worker", "scheduler", "ingest"],
        description="Roles `orin run --processes` starts as child processes.",
    )
    restart_delay_s: float = Field(
        1.0, gt=0, description="First pause before restarting a dead child; doubles to 30 s."
    )
    stop_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a child has to exit after SIGTERM before SIGKILL."
    )


class AuthSettings(Area):
    issuer: str = Field("orin", description="`iss` claim of access tokens.")
    audience: str = Field("orin-api", description="`aud` claim of access tokens.")
    access_token_ttl_s: int = Field(3600, ge=60, description="Lifetime of an access token.")
    refresh_token_ttl_s: int = Field(
        30 * 24 * 3600, ge=300, description="Lifetime of a refresh token (rotated on every use)."
    )
    refresh_reuse_grace_s: int = Field(
        10,
        ge=0,
        le=60,
        description=(
            "A refresh token presented again this soon after its exchange, from the session's "
            "own IP address and user agent, gets new tokens instead of revoking the session "
            "(the browser lost the answer by leaving the page mid-request); 0 turns it off."
        ),
    )
    signing_key_pem: SecretStr = Field(
        SecretStr(""),
        description="RSA private key (PEM) signing access tokens; generated and kept in the "
        "database when empty.",
    )
    bcrypt_rounds: int = Field(
        12, ge=4, le=15, description="bcrypt cost factor for password hashes (12 in production)."
    )
    password_min_length: int = Field(8, ge=8, description="Shortest password accepted.")
    password_min_score: int = Field(
        2, ge=0, le=4, description="Lowest zxcvbn strength score (0-4) accepted."
    )
    breached_check: bool = Field(
        True, description="Refuse passwords found in the breached-password range API."
    )
    breached_api_url: str = Field(
        "https://api.pwnedpasswords.com/range/",
        description="Base URL of a k-anonymity range API (first 5 SHA-1 hex chars appended).",
    )
    breached_timeout_s: float = Field(
        2.0, gt=0, description="Seconds to wait for the range API before the offline list."
    )
    cookie_secure: bool = Field(
        True, description="Mark the refresh cookie Secure (only sent over HTTPS)."
    )
    cookie_samesite: Literal["strict", "lax"] = Field(
        "strict", description="SameSite attribute of the refresh cookie."
    )
    session_cache_ttl_s: int = Field(
        300, ge=1, description="Seconds a session's state is cached before the database is asked."
    )
    lockout_threshold: int = Field(
        10, ge=1, description="Failed logins in a row that lock an account."
    )
    lockout_s: int = Field(900, ge=1, description="Seconds an account stays locked.")


class MailSettings(Area):
    smtp_host: str | None = Field(
        None,
        description="SMTP server for outgoing mail; unset writes each mail to "
        "<data_dir>/mail as an .eml file and logs it (embedded).",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str = Field("", description="SMTP user name (empty: no authentication).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (587), tls (implicit, 465) or none (local relays)."
    )
    smtp_timeout_s: float = Field(15.0, gt=0, description="Seconds to wait for the server.")
    sender: str = Field("ORIN <no-reply@orin.local>", description="From: of every mail.")
    verify_token_ttl_s: int = Field(
        48 * 3600, ge=60, description="Lifetime of an email verification link."
    )
    reset_token_ttl_s: int = Field(3600, ge=60, description="Lifetime of a password reset link.")
    app_url: str | None = Field(
        None,
        description="Base URL of the web app used in mailed links; defaults to the public URL.",
    )


class MfaSettings(Area):
    issuer: str = Field("ORIN", description="Issuer shown by authenticator apps.")
    challenge_ttl_s: int = Field(
        300, ge=30, description="Seconds to enter the code after the password was accepted."
    )
    recovery_codes: int = Field(10, ge=5, le=20, description="Recovery codes issued at enrolment.")


class OidcSettings(Area):
    """Providers are flat fields (``ORIN_OIDC_GOOGLE_CLIENT_ID``) so every setting keeps the
    one-level ``ORIN_<AREA>_<FIELD>`` form."""

    google_issuer: str | None = Field(
        None,
        description="Google's issuer (https://accounts.google.com; its discovery document is "
        "read); unset disables Sign in with Google.",
    )
    google_client_id: str = Field("", description="OAuth client id registered with Google.")
    google_client_secret: SecretStr = Field(SecretStr(""), description="Google client secret.")
    google_scopes: str = Field("openid email profile", description="Scopes asked of Google.")
    apple_issuer: str | None = Field(
        None,
        description="Apple's issuer (https://appleid.apple.com); unset disables Sign in with "
        "Apple.",
    )
    apple_client_id: str = Field("", description="Services ID registered with Apple.")
    apple_client_secret: SecretStr = Field(
        SecretStr(""), description="Apple client secret (the signed JWT Apple expects)."
    )
    apple_scopes: str = Field("openid email name", description="Scopes asked of Apple.")
    redirect_base_url: str | None = Field(
        None,
        description="Base URL providers redirect back to (<base>/api/v1/auth/oauth/<provider>/"
        "callback); defaults to the public URL.",
    )
    http_timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for a provider.")


class RateLimitSettings(Area):
    enabled: bool = Field(True, description="Apply rate limits (429 with Retry-After).")
    auth_per_ip: int = Field(
        20, ge=1, description="Auth requests (login, register, reset) per IP per minute."
    )
    auth_per_account: int = Field(
        10, ge=1, description="Login attempts per account (email) per minute."
    )
    api_per_user: int = Field(600, ge=1, description="API requests per user per minute.")
    api_per_ip: int = Field(1200, ge=1, description="API requests per IP per minute.")


class SecurityHeaderSettings(Area):
    hsts: bool = Field(
        False, description="Send Strict-Transport-Security (enable when served over TLS)."
    )
    content_security_policy: str = Field(
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'",
        description="Content-Security-Policy sent with every response.",
    )


class CameraSettings(Area):
    allowed_networks: list[str] = Field(
        default_factory=list,
        description=(
            "CIDR ranges cameras may live in although they are private, loopback or link-local "
            '(the SSRF policy refuses those otherwise), e.g. `["192.168.1.0/24"]`.'
        ),
    )
    dns_timeout_s: float = Field(
        3.0, gt=0, le=30, description="How long resolving a camera's host name may take."
    )


class IngestSettings(Area):
    ffmpeg: str = Field("ffmpeg", description="FFmpeg executable (a name on PATH or a path).")
    ffprobe: str = Field("ffprobe", description="ffprobe executable (a name on PATH or a path).")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP transport; TCP survives lossy networks and NAT better."
    )
    io_timeout_s: float = Field(
        5.0, gt=0, le=120, description="A camera silent this long is treated as disconnected."
    )
    hls_segment_s: float = Field(
        1.0, ge=0.5, le=10, description="Target live HLS segment length (cut at key frames)."
    )
    hls_list_size: int = Field(6, ge=3, le=60, description="Segments in the live playlist.")
    record_segment_s: int = Field(
        10, ge=2, le=600, description="Length of recording segments uploaded to storage."
    )
    backoff_base_s: float = Field(1.0, gt=0, description="First reconnect delay.")
    backoff_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay.")
    stop_timeout_s: float = Field(
        5.0, gt=0, description="Wait after SIGTERM before FFmpeg is killed."
    )
    lease_ttl_s: float = Field(
        15.0, ge=2, description="Camera lease lifetime; another ingest node takes over after it."
    )
    offline_after_s: float = Field(
        3.0,
        ge=0,
        description="A lost camera must stay lost this long before `camera_offline` is recorded.",
    )
    max_cameras: int = Field(64, ge=1, description="Cameras one ingest process runs at most.")
    live_dir: str = Field("", description="Live HLS folder; empty: `<data_dir>/live`.")
    demo_camera: bool = Field(
        True,
        description="Add a demo camera (OpenCV's `vtest.avi`, looped) to each user's first space.",
    )
    demo_source: str = Field(
        "",
        description="Video for the demo camera; empty: `vtest.avi` from Debian's `opencv-doc`.",
    )
    live_url_ttl_s: int = Field(
        3600, ge=30, le=86_400, description="How long a signed live playlist URL works."
    )


def _default_detectors() -> dict[str, DetectorConfig]:
    return {"coco": SsdCocoConfig(), "packages": OpenImagesSsdConfig()}


class VisionSettings(Area):
    enabled: bool = Field(True, description="Run the detection pipeline on ingest nodes.")
    detect_fps: float = Field(5.0, gt=0, le=30, description="Frames per second decoded for AI.")
    detect_width: int = Field(
        640, ge=160, le=1920, description="Width of decoded detect frames (height keeps aspect)."
    )
    detectors: dict[str, DetectorConfig] = Field(
        default_factory=_default_detectors,
        description="Detectors by name (JSON); a camera uses those that report its guards' "
        "objects, in this order.",
    )
    screen_detector: str | None = Field(
        "packages",
        description="A fast detector that looks at every region for the labels it reports; "
        "objects it follows are confirmed by the label's own detector before guards see them "
        "(null: each label's first detector runs on every region).",
    )
    transport: Literal["local", "amqp"] = Field(
        "local",
        description="`local`: an in-process pool; `amqp`: `orin detector` replicas over "
        "RabbitMQ request/reply (needs ORIN_AMQP_URL).",
    )
    local_workers: int = Field(
        1, ge=1, le=64, description="Inference threads of the in-process pool, per detector."
    )
    max_batch: int = Field(
        1, ge=1, le=64, description="Most images (from any cameras) run in one inference call."
    )
    batch_window_ms: float = Field(
        2.0, ge=0, le=100, description="How long a batch waits for more images once it has one."
    )
    request_timeout_s: float = Field(
        5.0, gt=0, le=120, description="A remote detection not answered in this time is resent."
    )
    request_attempts: int = Field(
        3, ge=1, le=20, description="Times a remote detection is tried before the frame is skipped."
    )
    full_frame_interval_s: float = Field(
        5.0, gt=0, description="Run a full-frame detection at least this often, motion or not."
    )
    track_refresh_s: float = Field(
        0.4,
        ge=0,
        le=10,
        description="A moving object being followed is detected again at least this often; "
        "between refreshes its own motion does not call the detector (0: every frame).",
    )
    stationary_after_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="An object that stays put this long is still (left objects, snapshots).",
    )
    clip_pre_roll_s: float = Field(5.0, ge=0, le=60, description="Clip seconds before a catch.")
    clip_post_roll_s: float = Field(10.0, ge=1, le=120, description="Clip seconds after it.")
    clip_wait_s: float = Field(
        300.0,
        gt=0,
        description="How long a clip waits for its recording segments before it is cut from "
        "what arrived (or given up when none did).",
    )
    track_flush_s: float = Field(
        30.0, gt=0, description="Active tracks are saved (for backtests) at least this often."
    )
    track_retention_days: int = Field(
        30, ge=1, le=3650, description="Stored tracks older than this are deleted."
    )


class NotifySettings(Area):
    vapid_private_key: SecretStr = Field(
        SecretStr(""),
        description="Web Push VAPID private key (PEM, or raw base64url P-256); empty: Web "
        "Push is off.",
    )
    vapid_subject: str = Field(
        "mailto:admin@orin.local", description="VAPID `sub` claim: a mailto: or https: contact."
    )
    fcm_service_account: SecretStr = Field(
        SecretStr(""),
        description="FCM service-account JSON (the file's content); empty: FCM is off.",
    )
    fcm_url: str = Field(
        "https://fcm.googleapis.com", description="FCM HTTP v1 base URL (tests point it locally)."
    )
    fcm_token_url: str | None = Field(
        None, description="OAuth token endpoint; defaults to the service account's `token_uri`."
    )
    twilio_account_sid: str = Field("", description="Twilio account SID; empty: SMS is off.")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="Twilio auth token.")
    twilio_from: str = Field("", description="Sending number (E.164) or messaging service SID.")
    twilio_url: str = Field("https://api.twilio.com", description="Twilio REST base URL.")
    mqtt_url: str | None = Field(
        None, description="MQTT broker (mqtt://user:pass@host:1883); unset: MQTT is off."
    )
    mqtt_topic_prefix: str = Field("orin", description="Base of ORIN's MQTT topics.")
    mqtt_discovery_prefix: str = Field(
        "homeassistant", description="Home Assistant MQTT discovery prefix."
    )
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDR ranges webhooks and Web Push endpoints may reach although private or "
        'loopback (the SSRF policy refuses those otherwise), e.g. `["10.0.0.0/8"]`.',
    )
    cooldown_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="A user gets one notification per guard, camera and channel in this time; "
        "the repeats are `suppressed` (counted).",
    )
    snapshot_url_ttl_s: int = Field(
        7 * 86400 - 60,
        ge=60,
        le=7 * 86400,
        description="Lifetime of the signed snapshot URL in a notification (S3 allows 7 days).",
    )
    request_timeout_s: float = Field(10.0, gt=0, le=120, description="Per provider request.")
    max_attempts: int = Field(
        6, ge=1, le=50, description="Tries of a delivery before it is dead-lettered."
    )
    retry_base_s: float = Field(5.0, gt=0, description="First retry delay (doubles each try).")
    retry_max_s: float = Field(600.0, gt=0, description="Longest retry delay.")


class RealtimeSettings(Area):
    ping_interval_s: float = Field(
        30.0,
        gt=0,
        description="Seconds between the server's `ping` messages on each WebSocket; the "
        "client answers each with a `pong` message.",
    )
    missed_pongs: int = Field(
        2,
        ge=1,
        le=10,
        description="Pings in a row left unanswered before the server closes the socket (4408).",
    )
    queue_size: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Messages waiting to be written to one client at most; a client that "
        "falls this far behind is disconnected (1013) instead of growing memory.",
    )
    auth_timeout_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds a new socket has to send its `auth` message (else 4401).",
    )
    access_refresh_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Seconds between re-reads of connected users' spaces, camera shares and "
        "sessions: the longest a revoked access keeps receiving messages.",
    )
    close_timeout_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds the server waits to write a close frame before dropping the socket.",
    )
    max_subscriptions: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Spaces plus cameras one socket may subscribe to.",
    )


class CryptoSettings(Area):
    keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Key-encryption keys by id, each 32 random bytes in base64 (camera credentials and "
            "other secrets at rest are sealed with data keys wrapped by these). Empty: one key "
            "derived from the data directory's secret key file."
        ),
    )
    active_key: str = Field(
        "",
        description="Id (in `keys`) wrapping new data keys; `orin keys rotate` re-wraps the rest.",
    )


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class LogSettings(Area):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level written to the log."
    )
    format: LogFormat = Field(LogFormat.JSON, description="json (one object a line) or console.")


class Settings(BaseSettings):
    """Root of every ORIN setting; see the module docstring for how they are read."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("data"), description="Folder for the SQLite file, local objects and generated keys."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key for signing URLs and tokens; generated into <data_dir> when empty.",
    )
    process_role: str = Field(
        "run", description="Role of this process (set by the CLI; shown in logs and metrics)."
    )
    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP API server.")
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings, description="Relational database."
    )
    redis: RedisSettings = Field(
        default_factory=RedisSettings, description="Cache, rate limits, pub/sub."
    )
    amqp: AmqpSettings = Field(default_factory=AmqpSettings, description="Job and event bus.")
    s3: S3Settings = Field(default_factory=S3Settings, description="S3-compatible storage.")
    storage: StorageSettings = Field(
        default_factory=StorageSettings, description="Object storage common settings."
    )
    outbox: OutboxSettings = Field(
        default_factory=OutboxSettings, description="Transactional outbox relay."
    )
    scheduler: SchedulerSettings = Field(
        default_factory=SchedulerSettings, description="Periodic job scheduler."
    )
    supervisor: SupervisorSettings = Field(
        default_factory=SupervisorSettings, description="`orin run --processes` supervisor."
    )
    log: LogSettings = Field(default_factory=LogSettings, description="Logging.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Accounts and tokens.")
    mail: MailSettings = Field(default_factory=MailSettings, description="Outgoing mail.")
    mfa: MfaSettings = Field(default_factory=MfaSettings, description="Two-factor sign-in.")
    oidc: OidcSettings = Field(
        default_factory=OidcSettings, description="Sign-in with OpenID Connect providers."
    )
    ratelimit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="Request rate limits."
    )
    cameras: CameraSettings = Field(
        default_factory=CameraSettings, description="Camera sources and their network policy."
    )
    ingest: IngestSettings = Field(
        default_factory=IngestSettings, description="Camera ingest (FFmpeg per camera)."
    )
    vision: VisionSettings = Field(
        default_factory=VisionSettings, description="Detection, tracking and guard evaluation."
    )
    notify: NotifySettings = Field(
        default_factory=NotifySettings, description="Notification channels and retries."
    )
    realtime: RealtimeSettings = Field(
        default_factory=RealtimeSettings, description="The live-update WebSocket `/api/v1/ws`."
    )
    crypto: CryptoSettings = Field(
        default_factory=CryptoSettings, description="Keys that seal secrets at rest."
    )
    headers: SecurityHeaderSettings = Field(
        default_factory=SecurityHeaderSettings, description="Security response headers."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    # Derived values: the one place that decides defaults depending on other settings.
    @property
    def database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under ``data_dir``."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'orin.db').resolve()}"

    @property
    def public_url(self) -> str:
        """Base URL for links handed to clients."""
        if self.api.public_url:
            return self.api.public_url.rstrip("/")
        return f"http://{self.api.host}:{self.api.port}"

    @property
    def objects_dir(self) -> Path:
        """Folder of the local object store."""
        return self.storage.local_dir or self.data_dir / "objects"

    @property
    def embedded(self) -> bool:
        """True when every port uses its embedded adapter."""
        return (
            self.database_url.startswith("sqlite")
            and self.redis.url is None
            and self.amqp.url is None
            and self.s3.endpoint is None
        )


class SettingsError(Exception):
    """Settings could not be read; ``str()`` is one line naming the setting."""


_SECRET_WORDS = ("SECRET", "KEY", "URL", "PASSWORD")
"""Settings whose value is not repeated in error messages (URLs may hold passwords)."""


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "_".join(str(part) for part in loc).upper()


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a validation failure into one readable `SettingsError`."""
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"{CONFIG_FILE_ENV}: file {config_file!r} does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = _env_name(error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"{name}: unknown setting")
            elif any(word in name for word in _SECRET_WORDS):
                problems.append(f"{name}: {error['msg']}")
            else:
                problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return load_settings()
