"""The FastAPI application factory and its typed lifespan state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)

from orin import __version__
from orin.admin.endpoints import router as admin_router
from orin.admin.metrics import DomainMetrics
from orin.auth.email_endpoints import router as email_router
from orin.auth.endpoints import router as auth_router
from orin.auth.keys import KeyRing
from orin.auth.mfa_endpoints import router as auth_mfa_router
from orin.auth.oidc_endpoints import router as oidc_router
from orin.bus.base import Bus
from orin.cache.base import Cache, PubSub, RateLimiter
from orin.cameras.endpoints import router as cameras_router
from orin.config import Settings, get_settings
from orin.db import Database
from orin.events.endpoints import router as events_router
from orin.gdpr.endpoints import router as gdpr_router
from orin.guards.endpoints import router as guards_router
from orin.health.endpoints import router as health_router
from orin.notifications.endpoints import router as notifications_router
from orin.observability import gc_pauses
from orin.observability.logging import configure_logging
from orin.observability.metrics import HttpMetrics, MetricsMiddleware
from orin.observability.request_id import RequestIdMiddleware
from orin.problems import UnhandledErrorMiddleware, install_problem_handlers
from orin.realtime.connection import ServerSendMiddleware
from orin.realtime.endpoints import router as realtime_router
from orin.realtime.hub import RealtimeHub, running_hub
from orin.realtime.metrics import RealtimeMetrics
from orin.recordings.endpoints import router as recordings_router
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.process import Role, Runtime
from orin.security.body_limit import BodySizeLimitMiddleware
from orin.security.headers import SecurityHeadersMiddleware
from orin.security.nul_characters import NulCharacterInRequest, NulCharacterMiddleware, refused
from orin.spaces.endpoints import router as spaces_router
from orin.storage.base import ObjectStorage
from orin.storage.endpoints import router as storage_router
from orin.streaming.endpoints import router as streaming_router
from orin.streaming.live import router as live_router
from orin.streaming.webrtc import WebRtcHub
from orin.streaming.webrtc_endpoints import router as webrtc_router
from orin.users.endpoints import router as users_router
from orin.web.static import mount_web_app


class State(TypedDict):
    """What the lifespan hands to every request as ``request.state``."""

    settings: Settings
    runtime: Runtime
    infra: Infrastructure
    database: Database
    cache: Cache
    rate_limiter: RateLimiter
    pubsub: PubSub
    bus: Bus
    storage: ObjectStorage
    keyring: KeyRing | None
    webrtc_hub: WebRtcHub
    realtime_hub: RealtimeHub


def _state(settings: Settings, runtime: Runtime, hub: WebRtcHub, realtime: RealtimeHub) -> State:
    infra = runtime.infra
    return State(
        settings=settings,
        runtime=runtime,
        infra=infra,
        database=infra.database,
        cache=infra.cache.cache,
        rate_limiter=infra.cache.rate_limiter,
        pubsub=infra.cache.pubsub,
        bus=infra.bus,
        storage=infra.storage,
        keyring=runtime.keyring,
        webrtc_hub=hub,
        realtime_hub=realtime,
    )


def create_app(
    settings: Settings | None = None,
    *,
    roles: Iterable[Role] = ("api",),
    runtime: Runtime | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the API.

    Its lifespan starts the adapters and the background work of ``roles``, unless the caller
    passes a ``runtime`` it started itself (the CLI does, to report startup errors plainly).
    """
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.log, role=settings.process_role)
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, gc_pauses.install()):
        registry.register(collector)
    realtime_metrics = RealtimeMetrics(registry)
    domain_metrics = DomainMetrics(registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        hub = WebRtcHub()
        try:
            if runtime is not None:
                async with running_hub(settings, runtime, realtime_metrics) as realtime:
                    yield _state(settings, runtime, hub, realtime)
                return
            async with (
                Runtime(settings, roles) as owned,
                running_hub(settings, owned, realtime_metrics) as realtime,
            ):
                yield _state(settings, owned, hub, realtime)
        finally:
            await hub.close()

    app = FastAPI(
        title="ORIN",
        version=__version__,
        summary="AI video surveillance: cameras, guards, catches.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(realtime_router)  # first: sockets skip matching every HTTP route
    app.include_router(storage_router)
    app.include_router(auth_router)
    app.include_router(auth_mfa_router)
    app.include_router(email_router)
    app.include_router(oidc_router)
    app.include_router(users_router)
    app.include_router(gdpr_router)
    app.include_router(spaces_router)
    app.include_router(cameras_router)
    app.include_router(events_router)
    app.include_router(guards_router)
    app.include_router(live_router)
    app.include_router(streaming_router)
    app.include_router(recordings_router)
    app.include_router(webrtc_router)
    app.include_router(admin_router)
    app.include_router(notifications_router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await domain_metrics.refresh(request.state.database, request.state.bus)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # Starlette runs the last added middleware first: security headers, request id, then CORS,
    # metrics, the last-resort error handler, the NUL check and the body size limit, so every
    # log line and problem carries the request id, and every response (problems and CORS
    # preflights too) the security headers.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.api.max_body_bytes,
        exempt_prefixes=("/api/v1/storage/",),
    )
    app.add_middleware(NulCharacterMiddleware)
    app.add_exception_handler(NulCharacterInRequest, refused)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    if settings.api.cors_origins:
        # A strict allowlist: only the listed origins, methods and request headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-CSRF-Token",
                settings.api.request_id_header,
            ],
            expose_headers=[
                settings.api.request_id_header,
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
    app.add_middleware(RequestIdMiddleware, header=settings.api.request_id_header)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings.headers)
    app.add_middleware(ServerSendMiddleware)  # outermost: see orin.realtime.connection
    mount_web_app(app, settings)  # the built web app at `/` (router fallback)
    return app
