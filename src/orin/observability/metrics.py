"""Prometheus metrics for HTTP: request count, latency histogram and errors per route.

Routes are labelled by their template (``/api/v1/cameras/{camera_id}``), never the raw path,
so the number of series stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"


class HttpMetrics:
    """The HTTP metric families, registered in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "orin_http_requests",
            "HTTP requests handled, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "orin_http_request_duration_seconds",
            "Time from request start to the end of the response body, by route and method.",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.errors = Counter(
            "orin_http_request_errors",
            "HTTP responses with status >= 400, by route, method and class (client/server).",
            ["route", "method", "kind"],
            registry=registry,
        )


def route_template(scope: Scope) -> str:
    """The matched route's path template, or `UNMATCHED_ROUTE`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    router = getattr(app, "router", None)
    for candidate in getattr(router, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware recording `HttpMetrics` for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_template(scope)
            method = str(scope["method"])
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
            if status >= 400:
                kind = "server" if status >= 500 else "client"
                self.metrics.errors.labels(route, method, kind).inc()
