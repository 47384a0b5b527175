"""Live HLS plays in Chromium with hls.js; altered or expired media URLs get 403, and another
user's camera is a 404 (embedded adapter set: the browser side does not depend on it)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page

from orin.ingest.supervisor import IngestSupervisor
from orin.streaming.live import live_path
from tests.browser.conftest import CHROMIUM, LiveServer
from tests.fixtures.api import Api, Person
from tests.fixtures.cameras import FAST_INGEST, FakeCameraServer
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (apt: chromium)"
)

SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "live-hls.png"
PLAYED_S = 2.5
"""Seconds of live video the page must play (currentTime advancing) to pass."""
PLAY_TIMEOUT_S = 20.0
_SIGNED = re.compile(r"^(/api/v1/live/[^/]+)/(\d+)/([^/]+)/(.+)$")

_VIDEO_STATE = """() => {
  const video = document.getElementById("video");
  const quality = video.getVideoPlaybackQuality();
  return {
    currentTime: video.currentTime,
    paused: video.paused,
    readyState: video.readyState,
    videoWidth: video.videoWidth,
    videoHeight: video.videoHeight,
    frames: quality.totalVideoFrames,
    events: window.hlsEvents.slice(-5),
  };
}"""


class ConsoleErrors:
    """Console errors and uncaught exceptions of a page; any of them fails the test."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"console.error: {message.text} ({message.location})")

    def _page_error(self, error: Error) -> None:
        self.seen.append(f"uncaught: {error.message}")

    def check(self) -> None:
        assert not self.seen, "the player page logged errors:\n" + "\n".join(self.seen)


def path_of(url: str) -> str:
    """The path of an absolute URL the app made (from ``settings.public_url``)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def media_playlist(http: httpx.AsyncClient, playlist: str) -> tuple[str, str]:
    """The path and text of the playlist listing segments: ``playlist`` itself, or its first
    rendition when it is a master playlist (a camera with the adaptive ladder on)."""
    text = (await http.get(playlist)).text
    if "#EXT-X-STREAM-INF" not in text:
        return playlist, text
    rendition = next(line for line in text.splitlines() if line and not line.startswith("#"))
    path = f"{playlist.rsplit('/', 1)[0]}/{rendition}"
    return path, (await http.get(path)).text


def signed_parts(path: str) -> tuple[str, str, str, str]:
    """``/api/v1/live/<camera>``, the expiry, the signature and the file of a live path."""
    match = _SIGNED.match(path)
    assert match is not None, path
    prefix, expires, signature, name = match.groups()
    return prefix, expires, signature, name


async def camera_status(person: Person, camera_id: str) -> str:
    return str((await person.get(f"/api/v1/cameras/{camera_id}")).json()["status"])


async def play(page: Page, errors: ConsoleErrors) -> list[dict[str, Any]]:
    """Samples of the video's state from the first played frame until `PLAYED_S` seconds."""
    samples: list[dict[str, Any]] = []
    started: float | None = None
    deadline = time.monotonic() + PLAY_TIMEOUT_S
    while True:
        errors.check()
        state: dict[str, Any] = await page.evaluate(_VIDEO_STATE)
        if state["currentTime"] > 0 and not state["paused"]:
            samples.append(state)
            if started is None:
                started = state["currentTime"]
            elif state["currentTime"] - started >= PLAYED_S:
                return samples
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the page did not play {PLAYED_S}s of live video in {PLAY_TIMEOUT_S}s; "
                f"last state {state}; samples {samples[-3:]}"
            )
        await asyncio.sleep(0.25)


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_live_hls_plays_in_chromium_and_media_urls_are_guarded(
    chromium: Browser, api: Api, live_server: LiveServer, fake_cameras: FakeCameraServer
) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"], main_url=fake_cameras.url("pattern"))
    cid = camera["id"]
    await api.disable_other_cameras()
    settings = api.runtime.settings.model_copy(update={"ingest": FAST_INGEST})
    supervisor = IngestSupervisor(api.database, api.runtime.infra.envelope, settings, node="")
    supervisor.start()
    try:
        async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10.0) as http:
            await eventually(
                lambda: _is_online(alice, cid), within_s=20, what="the camera is online"
            )
            answer = await http.get(f"/api/v1/cameras/{cid}/live", headers=alice.auth)
            assert answer.status_code == 200, answer.text
            playlist = path_of(answer.json()["hls_url"])

            async def has_segments() -> bool:
                return ".ts" in (await media_playlist(http, playlist))[1]

            await eventually(has_segments, within_s=15, what="a live playlist with segments")

            page = await chromium.new_page(viewport={"width": 640, "height": 400})
            errors = ConsoleErrors(page)
            await page.goto(live_server.player_url(playlist))
            samples = await play(page, errors)
            times = [sample["currentTime"] for sample in samples]
            assert times == sorted(times), f"playback went backwards: {times}"
            assert times[-1] - times[0] >= PLAYED_S
            last = samples[-1]
            assert (last["videoWidth"], last["videoHeight"]) == (640, 360), last
            assert last["frames"] > samples[0]["frames"], "no new frames were decoded"
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=SCREENSHOT)
            errors.check()
            await page.close()

            prefix, expires, signature, name = signed_parts(playlist)
            media, text = await media_playlist(http, playlist)
            newest = [line for line in text.splitlines() if line.endswith(".ts")][-1]
            segment = f"{signed_parts(media)[3].rpartition('/')[0]}/{newest}".lstrip("/")
            assert (await http.get(f"{prefix}/{expires}/{signature}/{segment}")).status_code == 200
            forged = "A" if signature[0] != "A" else "B"
            tampered = f"{prefix}/{expires}/{forged}{signature[1:]}"
            for guarded in (f"{tampered}/{name}", f"{tampered}/{segment}"):
                refused = await http.get(guarded)
                assert refused.status_code == 403, refused.text
                assert refused.json()["type"].endswith("invalid-signature"), refused.text
            moved = await http.get(f"{prefix}/{int(expires) + 3600}/{signature}/{name}")
            assert moved.status_code == 403, moved.text
            assert moved.json()["type"].endswith("invalid-signature"), moved.text
            past = int(time.time()) - 5
            expired = await http.get(live_path(api.runtime.infra.secret, cid, past))
            assert expired.status_code == 403, expired.text
            assert expired.json()["type"].endswith("expired-signature"), expired.text

            other = await http.get(f"/api/v1/cameras/{cid}/live", headers=bob.auth)
            assert other.status_code == 404, other.text
    finally:
        await supervisor.stop()


async def _is_online(person: Person, camera_id: str) -> bool:
    return await camera_status(person, camera_id) == "online"
