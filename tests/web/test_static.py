"""`orin api` serves the built web app: files as built, the SPA fallback for app paths, the
API's own 404 for API paths, long caching for hashed assets only, and a strict CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from orin.app import create_app
from orin.config import S3Settings, Settings
from orin.web import static
from orin.web.static import IMMUTABLE, REVALIDATE, content_security_policy

INDEX = "<!doctype html><title>ORIN</title><script type=module src=/assets/app-abc123.js></script>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "app-abc123.js").write_text("console.log('app')")
    (folder / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (folder / "manifest.webmanifest").write_text('{"name": "ORIN"}')
    (folder / "icon-192.png").write_bytes(b"\x89PNG")
    return folder


def app_with(dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The API as `orin api` builds it, with ``dist`` as its web build."""
    monkeypatch.setattr(static, "DEFAULT_DIST", dist)
    return create_app(Settings(data_dir=tmp_path), configure_logs=False)


@pytest.fixture
async def http(
    dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(dist, tmp_path, monkeypatch))
    async with httpx.AsyncClient(transport=transport, base_url="http://orin.test") as client:
        yield client


async def test_app_paths_get_the_shell_revalidated_with_a_strict_csp(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/", "/cameras/abc", "/verify-email?token=x", "/events/1"):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == REVALIDATE
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert response.headers["x-frame-options"] == "DENY"


async def test_hashed_assets_are_immutable_and_the_worker_is_revalidated(
    http: httpx.AsyncClient,
) -> None:
    asset = await http.get("/assets/app-abc123.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == IMMUTABLE
    assert asset.headers["content-type"].startswith("text/javascript")
    worker = await http.get("/sw.js")
    assert worker.headers["cache-control"] == REVALIDATE
    manifest = await http.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.headers["cache-control"] == REVALIDATE
    assert (await http.get("/icon-192.png")).headers["cache-control"].startswith("public")


async def test_api_paths_and_missing_assets_keep_the_problem_404(http: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nothing-here", "/api", "/assets/gone-123.js", "/old.js"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path
    posted = await http.post("/cameras")
    assert posted.status_code in {404, 405}


async def test_paths_cannot_leave_the_build_folder(http: httpx.AsyncClient, dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("no")
    response = await http.get("/..%2Fsecret.txt")
    assert response.text != "no"
    assert response.text == INDEX or response.status_code == 404


async def test_without_a_build_nothing_is_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_with(tmp_path / "missing", tmp_path, monkeypatch)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orin.test") as client:
        assert (await client.get("/")).status_code == 404


def test_media_from_s3_is_allowed_by_the_policy(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, s3=S3Settings(endpoint="https://s3.example.com:9000/x"))
    csp = content_security_policy(settings)
    assert "img-src 'self' https://s3.example.com:9000 data: blob:" in csp
    assert "connect-src 'self' https://s3.example.com:9000" in csp
