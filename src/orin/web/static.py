"""Serve the built web app (``web/dist``) from `orin api`, with the single-page-app fallback.

Every path no API route matches comes here (as the router's default handler, so the order in
which routers are included does not matter): a file of the build is sent as is, any other
path outside the reserved prefixes gets ``index.html`` so the app's own router shows the page
(``/cameras/abc``, ``/verify-email?token=…``). Reserved paths (``/api/…``, ``/docs``, …) keep
the API's problem+json 404.

Caching: Vite names everything under ``assets/`` by content hash, so those are immutable for a
year; ``index.html``, the service worker and the manifest must be revalidated on every load
(``no-cache``) so a new release is picked up at once; other public files (icons) an hour.

The HTML gets its own Content-Security-Policy, stricter than the API default: scripts, styles,
workers and the manifest only from this origin and no inline code at all. Images, media and
fetches may also go to the S3 endpoint when one is configured, since signed media URLs point
there.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from orin.config import Settings

DEFAULT_DIST: Final = Path(__file__).resolve().parents[3] / "web" / "dist"
"""Where `npm run build` in ``web/`` writes the app (a checkout's layout)."""

RESERVED_PREFIXES: Final = ("/api/", "/docs", "/redoc", "/openapi.json", "/metrics")
RESERVED_EXACT: Final = frozenset({"/api", "/healthz", "/readyz"})
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
SHORT: Final = "public, max-age=3600"
ALWAYS_REVALIDATED: Final = frozenset({"index.html", "sw.js", "manifest.webmanifest"})

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")


def content_security_policy(settings: Settings) -> str:
    """The policy of the app's pages: only what the app uses (see the module docstring)."""
    media = "'self'"
    if settings.s3.endpoint:
        parts = urlsplit(settings.s3.endpoint)
        if parts.scheme and parts.netloc:
            media = f"'self' {parts.scheme}://{parts.netloc}"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            f"img-src {media} data: blob:",
            f"media-src {media} blob:",
            f"connect-src {media}",
            "font-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )


def is_reserved(path: str) -> bool:
    """True for paths that belong to the API, never to the app."""
    return path in RESERVED_EXACT or path.startswith(RESERVED_PREFIXES)


class WebApp:
    """The router's fallback: a build file, ``index.html`` for app routes, else ``fallback``."""

    def __init__(self, dist: Path, csp: str, fallback: ASGIApp) -> None:
        self.dist = dist.resolve()
        self.csp = csp
        self.fallback = fallback

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def _response(self, file: Path, *, status_code: int = 200) -> Response:
        name = file.relative_to(self.dist).as_posix()
        if name.startswith("assets/"):
            cache = IMMUTABLE
        elif name in ALWAYS_REVALIDATED:
            cache = REVALIDATE
        else:
            cache = SHORT
        headers = {"Cache-Control": cache}
        if file.suffix == ".html":
            headers["Content-Security-Policy"] = self.csp
        if name == "sw.js":
            headers["Service-Worker-Allowed"] = "/"
        media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return FileResponse(file, status_code=status_code, media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        if (
            scope["type"] != "http"
            or scope.get("method") not in {"GET", "HEAD"}
            or is_reserved(path)
        ):
            await self.fallback(scope, receive, send)
            return
        file = self._file(path)
        if file is None:
            if path.startswith("/assets/") or Path(path).suffix in {".js", ".css", ".map"}:
                # A missing hashed asset (an old release's) must fail, not turn into HTML.
                await self.fallback(scope, receive, send)
                return
            file = self.dist / "index.html"
        await self._response(file)(scope, receive, send)


def mount_web_app(app: FastAPI, settings: Settings, dist: Path | None = None) -> None:
    """Serve the built app at ``/`` when ``dist`` (default `DEFAULT_DIST`) holds a build
    (``make run`` makes one)."""
    dist = DEFAULT_DIST if dist is None else dist
    if not (dist / "index.html").is_file():
        return
    app.router.default = WebApp(dist, content_security_policy(settings), app.router.default)
