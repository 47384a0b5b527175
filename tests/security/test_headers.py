"""Security headers on every response, and CORS as a strict allowlist, on the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Response

from orin.app import create_app
from orin.config import ApiSettings, SecurityHeaderSettings, Settings
from orin.migrate import upgrade
from orin.problems import PROBLEM_MEDIA_TYPE

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}
APP_ORIGIN = "https://app.orin.test"


def settings_with(
    tmp_path: Path,
    *,
    api: ApiSettings | None = None,
    headers: SecurityHeaderSettings | None = None,
) -> Settings:
    """Embedded settings on a migrated database in ``tmp_path``."""
    settings = Settings(
        data_dir=tmp_path,
        api=api or ApiSettings(),
        headers=headers or SecurityHeaderSettings(),
    )
    upgrade(settings.database_url)
    return settings


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with a few test routes, its lifespan running, and a client on it."""
    app = create_app(settings, configure_logs=False)

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    @app.get("/test/framed")
    async def framed(response: Response) -> dict[str, bool]:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return {"ok": True}

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orin.test") as client:
            yield client


def assert_security_headers(response: httpx.Response, csp: str) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("content-security-policy") == csp


async def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    csp = settings.headers.content_security_policy
    async with serve(settings) as client:
        ok = await client.get("/healthz")
        missing = await client.get("/api/v1/nothing-here")
        crashed = await client.get("/test/crash")
    assert ok.status_code == 200
    assert missing.status_code == 404
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == PROBLEM_MEDIA_TYPE
    for response in (ok, missing, crashed):
        assert_security_headers(response, csp)
        assert "strict-transport-security" not in response.headers


async def test_a_header_the_route_set_is_kept(tmp_path: Path) -> None:
    async with serve(settings_with(tmp_path)) as client:
        response = await client.get("/test/framed")
    assert response.status_code == 200
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_csp_comes_from_the_settings(tmp_path: Path) -> None:
    policy = "default-src 'none'; frame-ancestors 'none'"
    settings = settings_with(
        tmp_path, headers=SecurityHeaderSettings(content_security_policy=policy)
    )
    async with serve(settings) as client:
        response = await client.get("/healthz")
    assert_security_headers(response, policy)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_api_docs_pages_have_no_csp_but_the_other_headers(tmp_path: Path, path: str) -> None:
    async with serve(settings_with(tmp_path)) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    for name, value in ALWAYS.items():
        assert response.headers[name] == value


async def test_the_openapi_document_keeps_the_csp(tmp_path: Path) -> None:
    async with serve(settings_with(tmp_path)) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "content-security-policy" in response.headers


async def test_hsts_is_sent_only_when_enabled(tmp_path: Path) -> None:
    async with serve(settings_with(tmp_path / "off")) as client:
        off = await client.get("/healthz")
    settings = settings_with(tmp_path / "on", headers=SecurityHeaderSettings(hsts=True))
    async with serve(settings) as client:
        on = [await client.get("/healthz"), await client.get("/api/v1/nothing-here")]
    assert "strict-transport-security" not in off.headers
    for response in on:
        assert response.headers["strict-transport-security"] == (
            "max-age=63072000; includeSubDomains"
        )


def listed(value: str) -> set[str]:
    """The lower-cased items of a comma-separated header value."""
    return {item.strip().lower() for item in value.split(",")}


def preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return request_headers


async def test_cors_preflight_from_an_allowed_origin_is_answered(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, api=ApiSettings(cors_origins=[APP_ORIGIN]))
    async with serve(settings) as client:
        response = await client.options(
            "/healthz", headers=preflight(APP_ORIGIN, "PATCH", "Authorization, X-CSRF-Token")
        )
        simple = await client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    methods = listed(response.headers["access-control-allow-methods"])
    assert methods == {"get", "post", "put", "patch", "delete", "options"}
    allowed = listed(response.headers["access-control-allow-headers"])
    assert allowed >= {"authorization", "content-type", "x-csrf-token", "x-request-id"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert simple.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = listed(simple.headers["access-control-expose-headers"])
    assert exposed >= {"x-request-id", "retry-after", "ratelimit-remaining"}


async def test_cors_refuses_other_origins_methods_and_headers(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, api=ApiSettings(cors_origins=[APP_ORIGIN]))
    async with serve(settings) as client:
        evil_preflight = await client.options("/healthz", headers=preflight("https://evil.test"))
        evil_get = await client.get("/healthz", headers={"Origin": "https://evil.test"})
        odd_method = await client.options("/healthz", headers=preflight(APP_ORIGIN, "TRACE"))
        odd_header = await client.options(
            "/healthz", headers=preflight(APP_ORIGIN, "GET", "X-Anything")
        )
    assert "access-control-allow-origin" not in evil_preflight.headers
    assert evil_preflight.status_code == 400
    assert "access-control-allow-origin" not in evil_get.headers
    assert odd_method.status_code == 400
    assert odd_header.status_code == 400


async def test_without_configured_origins_there_is_no_cors(tmp_path: Path) -> None:
    async with serve(settings_with(tmp_path)) as client:
        response = await client.options("/healthz", headers=preflight(APP_ORIGIN, "GET"))
        simple = await client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in simple.headers
