"""Security response headers on every HTTP response, errors included."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orin.config import SecurityHeaderSettings

CSP_EXEMPT_PATHS: Final = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
"""Pages served without a Content-Security-Policy: FastAPI's Swagger UI and ReDoc pages load
their scripts and styles from a CDN and run inline scripts, which the API's ``'self'`` policy
blocks. They show only the public OpenAPI document, so the other headers still suffice."""

HSTS_VALUE: Final = "max-age=63072000; includeSubDomains"
"""Two years, the value browsers' preload lists ask for."""


class SecurityHeadersMiddleware:
    """Add the security headers a route has not set itself to every HTTP response.

    Place it outside the error-handling middleware so that problem responses (404, 500) carry
    the headers too.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: SecurityHeaderSettings,
        *,
        csp_exempt_paths: Collection[str] = CSP_EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self.csp_exempt_paths = frozenset(csp_exempt_paths)
        common = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        if settings.hsts:
            common["Strict-Transport-Security"] = HSTS_VALUE
        self._without_csp = tuple(common.items())
        self._with_csp = (
            *self._without_csp,
            ("Content-Security-Policy", settings.content_security_policy),
        )

    def _headers_for(self, scope: Scope) -> tuple[tuple[str, str], ...]:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        return self._without_csp if path in self.csp_exempt_paths else self._with_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers_for(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_wrapper)
