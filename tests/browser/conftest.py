"""Browser tests: ORIN's API over real HTTP next to a tiny hls.js player page, and Chromium.

``live_server`` serves the ``api`` fixture's runtime with uvicorn on 127.0.0.1 (a free port),
in the test's event loop. The same server answers ``/__player__/`` with
tests/browser/player/index.html and ``/__player__/hls.min.js`` with the pinned hls.js from
tests/browser/player/node_modules (``npm ci`` once when missing), so the player and the live
playlists share one origin. ``chromium`` is Debian's /usr/bin/chromium driven by Playwright
(never a downloaded browser); the tests skip when it is not installed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from playwright.async_api import Browser, async_playwright
from starlette.responses import FileResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orin.app import create_app
from tests.fixtures.api import Api
from tests.fixtures.npm import ensure_npm_packages
from tests.fixtures.services import free_port

PLAYER_DIR = Path(__file__).resolve().parent / "player"
PLAYER_PREFIX = "/__player__/"
PLAYER_FILES = {
    "": (PLAYER_DIR / "index.html", "text/html; charset=utf-8"),
    "hls.min.js": (
        PLAYER_DIR / "node_modules" / "hls.js" / "dist" / "hls.min.js",
        "text/javascript; charset=utf-8",
    ),
}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SERVER_START_TIMEOUT_S = 10.0
SERVER_STOP_TIMEOUT_S = 5.0


class WithPlayer:
    """``app`` plus the player's two files under `PLAYER_PREFIX` (nothing else from disk)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PLAYER_PREFIX):
            await self.app(scope, receive, send)
            return
        found = PLAYER_FILES.get(path.removeprefix(PLAYER_PREFIX))
        if found is None:
            await PlainTextResponse("not a player file", status_code=404)(scope, receive, send)
            return
        file, media_type = found
        response = FileResponse(file, media_type=media_type, headers={"Cache-Control": "no-store"})
        await response(scope, receive, send)


@dataclass(frozen=True, slots=True)
class LiveServer:
    """The API and the player on one real HTTP origin."""

    base_url: str

    def player_url(self, src: str) -> str:
        """The player page, told to play ``src`` (a path on this server or a full URL)."""
        return f"{self.base_url}{PLAYER_PREFIX}?src={quote(src, safe='')}"


@pytest.fixture(scope="session")
def player_packages() -> None:
    """hls.js installed at its locked version in tests/browser/player/node_modules."""
    ensure_npm_packages(PLAYER_DIR, "hls.js", needed_by="the browser tests")


@pytest.fixture
def live_server_port() -> int:
    """The port `live_server` listens on: a free one, chosen when first asked for, so a test
    whose settings must name the server's address (a sign-in provider's callback) can ask for
    it before the app starts."""
    return free_port()


@pytest.fixture
async def live_server(
    api: Api, player_packages: None, live_server_port: int
) -> AsyncIterator[LiveServer]:
    """A second app on the ``api`` fixture's runtime, served by uvicorn until the test ends.

    The ``api`` fixture already started the runtime; this app's lifespan only hands it to the
    requests (`create_app` with ``runtime=``), so `LifespanManager` runs it and uvicorn runs
    with ``lifespan="off"``.
    """
    app = create_app(api.runtime.settings, runtime=api.runtime, configure_logs=False)
    port = live_server_port
    async with LifespanManager(app) as manager:
        config = uvicorn.Config(
            WithPlayer(manager.app),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(), name="live-server")
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while not server.started:
                if serving.done():
                    serving.result()
                    raise AssertionError("uvicorn stopped before it started serving")
                if time.monotonic() > deadline:
                    raise AssertionError(f"uvicorn did not start in {SERVER_START_TIMEOUT_S}s")
                await asyncio.sleep(0.05)
            yield LiveServer(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            try:
                await asyncio.wait_for(serving, SERVER_STOP_TIMEOUT_S)
            except TimeoutError:
                server.force_exit = True
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium; the test skips without it."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian package `chromium`)")
    return CHROMIUM


@pytest.fixture
async def chromium(chromium_executable: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()
