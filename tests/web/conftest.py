"""The web app in Chromium on a live ORIN: tests/browser's server and browser fixtures, the
web build (made when missing or older than its sources), mail through the test SMTP server,
and pages that fail the test on console errors and unhandled promise rejections.

``live_server`` serves the ``api`` fixture's runtime over real HTTP; since `create_app` mounts
web/dist, the app is at its root. Screenshots go to tests/web/artifacts/ (git-ignored).
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
)

from orin.config import MailSettings, Settings
from tests.browser.conftest import (  # noqa: F401 (fixtures used by the tests here)
    chromium,
    chromium_executable,
    live_server,
    live_server_port,
    player_packages,
)
from tests.fixtures.npm import ensure_npm_packages
from tests.fixtures.smtp import SmtpServer

WEB = Path(__file__).resolve().parents[2] / "web"
DIST_INDEX = WEB / "dist" / "index.html"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUILD_TIMEOUT_S = 600
MAIL_APP_URL = "https://app.orin.test"
"""The app URL mailed links carry; tests open their path and query on the live server."""

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

EXPECTED_NETWORK_NOISE = (
    # Chromium logs every HTTP error response of a fetch as a console error itself, even when
    # the app handles it. These are the only ones the app expects (and shows as "Waiting for
    # video…"): a live playlist asked for in the moment between a camera coming online and its
    # first segment, and a snapshot before the first frame.
    re.compile(
        r"Failed to load resource: the server responded with a status of 404 \(Not Found\) "
        r"http://127\.0\.0\.1:\d+/api/v1/(live/\S+\.m3u8|cameras/\w+/snapshot\S*)"
    ),
    # A WebRTC offer the server cannot take (viewer limit, camera unreachable): the player
    # falls back to HLS.
    re.compile(
        r"Failed to load resource: the server responded with a status of (422|503) \(.*\) "
        r"http://127\.0\.0\.1:\d+/api/v1/cameras/\w+/webrtc"
    ),
)


def _sources_newer_than(target: Path) -> bool:
    built = target.stat().st_mtime
    folders = (WEB / "src", WEB / "public")
    files = [WEB / "index.html", WEB / "package-lock.json", WEB / "vite.config.ts"]
    files += [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    return any(path.stat().st_mtime > built for path in files)


@pytest.fixture(scope="session")
def web_build() -> Path:
    """web/dist, built with the locked packages unless it is up to date (`make web-build`
    builds it before the suite in CI; this covers running the tests alone)."""
    lock_path = Path(tempfile.gettempdir()) / "orin-web-build.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if DIST_INDEX.is_file() and not _sources_newer_than(DIST_INDEX):
            return DIST_INDEX.parent
        ensure_npm_packages(WEB, "vite", needed_by="the web app tests")
        done = subprocess.run(
            ["npm", "run", "build"],
            cwd=WEB,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"`npm run build` failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return DIST_INDEX.parent


@pytest.fixture
def api_settings(api_settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The API fixture's settings, mailing through the test SMTP server."""
    mail = MailSettings(
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="none",
        app_url=MAIL_APP_URL,
    )
    return api_settings.model_copy(update={"mail": mail})


@dataclass
class PageErrors:
    """Console errors and uncaught errors (unhandled rejections included) of a page."""

    allowed: tuple[re.Pattern[str], ...] = ()
    seen: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = f"{message.text} {message.location.get('url', '')}"
        if any(pattern.fullmatch(text) for pattern in self.allowed):
            self.tolerated.append(text)
        else:
            self.seen.append(f"console.error: {text}")

    def _page_error(self, error: Error) -> None:
        self.seen.append(f"uncaught: {error.name}: {error.message}")

    def check(self) -> None:
        assert not self.seen, "the app logged errors:\n" + "\n".join(self.seen)


@pytest.fixture
async def context(
    chromium: Browser,  # noqa: F811 (the fixture imported above)
    web_build: Path,
) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies, caches or service worker)."""
    context = await chromium.new_context(viewport=DESKTOP)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def second_context(
    chromium: Browser,  # noqa: F811 (the fixture imported above)
    context: BrowserContext,
) -> AsyncIterator[BrowserContext]:
    """Another fresh browser profile beside ``context``: a second device, or a second person."""
    other = await chromium.new_context(viewport=DESKTOP)
    try:
        yield other
    finally:
        await other.close()


async def screenshot(page: Page, name: str) -> None:
    """``name``-desktop.png and ``name``-phone.png of the page as it is now."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    await page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.wait_for_timeout(150)
    await page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(size)
