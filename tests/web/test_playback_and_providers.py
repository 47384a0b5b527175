"""Two screens in Chromium on the embedded backend that the journey and test_screens.py do not
reach:

- a camera's recordings: real MPEG-TS segments made by FFmpeg, stored as the uploader stores
  them (object and `RecordingSegment` row), shown as stretches on the camera page's timeline;
  one stretch played back (the video's time advancing across segments, each fetched from the
  app's own origin), and someone the camera is not shared with refused (404);
- sign-in with Google and Apple through the real OpenID Connect test provider
  (tests/fixtures/oidc.py): a person who declines at the provider is back on the sign-in page
  with the message, then signs in with Google and lands on the dashboard; another signs in with
  Apple (form POST answer) and lands where they were going. Each account is checked in the
  database, linked to its provider identity.

Screens are saved at desktop and phone sizes (names from 41 on); a console error fails the test.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Request, Route, expect
from pydantic import SecretStr
from sqlalchemy import select

from orin.config import OidcSettings, Settings
from orin.models.base import utcnow
from orin.models.oauth_identity import OAuthIdentity
from orin.models.recording import RecordingSegment
from orin.models.user import User
from orin.recordings.uploader import CONTENT_TYPE, recording_key
from tests.browser.conftest import LiveServer
from tests.fixtures.api import Api
from tests.fixtures.oidc import LOOPBACK_URL, OidcTestAccount, OidcTestProvider, with_query
from tests.web.conftest import PageErrors, screenshot
from tests.web.pages import played_seconds, sign_in

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SEGMENT_S = 2
"""Seconds per recorded segment (a key frame every second, as the ingest records them)."""


@pytest.fixture
def api_settings(api_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The web tests' settings with room for many sign-ins from 127.0.0.1 within a minute.

    A test that uses ``oidc_provider`` also gets Google and Apple at the test provider, through
    its loopback clients: the provider sends the browser back to the live server, whose port
    is chosen now (``live_server_port``) since the callback URL is part of the settings.
    """
    limits = api_settings.ratelimit.model_copy(update={"auth_per_ip": 200})
    update: dict[str, Any] = {"ratelimit": limits}
    if "oidc_provider" in request.fixturenames:
        oidc: OidcTestProvider = request.getfixturevalue("oidc_provider")
        port: int = request.getfixturevalue("live_server_port")
        update["oidc"] = OidcSettings(
            google_issuer=oidc.issuer,
            google_client_id=oidc.loopback_google.client_id,
            google_client_secret=SecretStr(oidc.loopback_google.client_secret),
            apple_issuer=oidc.issuer,
            apple_client_id=oidc.loopback_apple.client_id,
            apple_client_secret=SecretStr(oidc.loopback_apple.client_secret),
            redirect_base_url=f"{LOOPBACK_URL}:{port}",
            http_timeout_s=5.0,
        )
    return api_settings.model_copy(update=update)


# --- recordings: the timeline and playback ----------------------------------------------------


def mpeg_ts_segments(folder: Path, count: int) -> list[bytes]:
    """``count`` real segments of `SEGMENT_S` seconds (H.264 in MPEG-TS, timestamps reset in
    each, as the ingest's FFmpeg writes them)."""
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
            "-i", "testsrc2=size=320x240:rate=10", "-t", str(count * SEGMENT_S),
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10",
            "-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "mpegts",
            "-reset_timestamps", "1", str(folder / "seg%03d.ts"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    made = sorted(folder.glob("seg*.ts"))
    assert len(made) == count
    return [path.read_bytes() for path in made]


async def store_recording(
    api: Api, space_id: str, camera_id: str, started: datetime, data: bytes
) -> None:
    """One segment as the uploader leaves it: the object under its key, and its row."""
    key = recording_key(space_id, camera_id, started)
    await api.runtime.infra.storage.put(key, data, content_type=CONTENT_TYPE)
    async with api.database.transaction() as session:
        session.add(
            RecordingSegment(
                camera_id=camera_id,
                started_at=started,
                ended_at=started + timedelta(seconds=SEGMENT_S),
                duration_s=float(SEGMENT_S),
                size_bytes=len(data),
                object_key=key,
            )
        )


async def shown_time(page: Page, iso: str) -> str:
    """``iso`` as the app writes times (``formatTime``: the browser's locale and time zone)."""
    return str(
        await page.evaluate(
            "iso => new Date(iso).toLocaleString(undefined,"
            " {dateStyle: 'medium', timeStyle: 'medium'})",
            iso,
        )
    )


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_recordings_timeline_and_playback(
    api: Api, live_server: LiveServer, context: BrowserContext, tmp_path: Path
) -> None:
    base = live_server.base_url
    owner, stranger = await api.sign_up(), await api.sign_up()
    space = await owner.create_space(name="Garage", timezone="UTC")
    camera = await owner.create_camera(space["id"], name="Drive", recording_mode="continuous")

    # Two stretches in the last day: three segments three hours ago, two forty minutes ago.
    samples = mpeg_ts_segments(tmp_path, 3)
    now = utcnow().replace(microsecond=0)
    stretches = [(now - timedelta(hours=3), 3), (now - timedelta(minutes=40), 2)]
    for start, count in stretches:
        for index in range(count):
            at = start + timedelta(seconds=index * SEGMENT_S)
            await store_recording(api, space["id"], camera["id"], at, samples[index])
    listed = await owner.get(f"/api/v1/cameras/{camera['id']}/recordings")
    assert listed.status_code == 200, listed.text
    spans = listed.json()["spans"]
    assert [(span["segments"], span["duration_s"]) for span in spans] == [(3, 6.0), (2, 4.0)]

    errors = PageErrors()
    page = errors.watch(await context.new_page())
    media: list[str] = []

    def note_media(request: Request) -> None:
        if "/api/v1/storage/" in request.url:
            media.append(request.url)

    page.on("request", note_media)
    await sign_in(page, base, owner.email)
    await page.goto(f"{base}/cameras/{camera['id']}")
    await expect(page.get_by_role("heading", name="Drive")).to_be_visible()

    # The timeline: one button per stretch, named by its start and end.
    timeline = page.get_by_role("group", name="Recorded stretches")
    await expect(timeline.get_by_role("button")).to_have_count(2)
    names = [
        f"Play from {await shown_time(page, span['started_at'])}"
        f" to {await shown_time(page, span['ended_at'])}"
        for span in spans
    ]
    for name in names:
        await expect(timeline.get_by_role("button", name=name, exact=True)).to_be_visible()
    await expect(page.get_by_text("Recording mode: continuous.")).to_be_visible()
    await expect(page.get_by_text("Nothing recorded in this window.")).to_have_count(0)
    await screenshot(page, "41-camera-recordings")

    # The three-hour-old stretch plays, past the first segment into the next ones.
    await timeline.get_by_role("button", name=names[0], exact=True).click()
    label = f"Recording from {await shown_time(page, spans[0]['started_at'])}"
    played = await played_seconds(page, label, 2.5, within_s=30)
    assert played >= 2.5
    video = page.get_by_label(label)
    state: dict[str, Any] = await video.evaluate(
        "v => ({t: v.currentTime, w: v.videoWidth, h: v.videoHeight})"
    )
    assert (state["w"], state["h"]) == (320, 240)
    assert state["t"] > SEGMENT_S, state  # beyond the first segment
    await expect(video).to_have_attribute("data-live", "false")
    await screenshot(page, "42-recording-playing")
    # Every segment came from this server (signed storage URLs on the page's own origin).
    assert len(media) >= 2, media
    assert all(url.startswith(f"{base}/api/v1/storage/") for url in media), media
    errors.check()

    # Someone the camera is not shared with gets nothing: no list, no playback link.
    window = {"since": spans[0]["started_at"], "until": spans[0]["ended_at"]}
    playback = f"/api/v1/cameras/{camera['id']}/recordings/playback"
    assert (await owner.get(playback, params=window)).status_code == 200
    refused = await stranger.get(playback, params=window)
    assert refused.status_code == 404, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    listing = await stranger.get(f"/api/v1/cameras/{camera['id']}/recordings")
    assert listing.status_code == 404, listing.text


# --- sign-in with Google and Apple -------------------------------------------------------------


@dataclass
class AtTheProvider:
    """Who signs in at the provider: an account's email, or ``deny`` to decline."""

    account: str = ""


async def sign_in_at_provider_as(context: BrowserContext, base: str, person: AtTheProvider) -> None:
    """Make the browser sign in at the provider as ``person.account``.

    The test provider has no form to type an address into: it signs in the account named by
    the authorization request's ``login_hint``. So the browser's request to ORIN's start link
    is made here, and ``login_hint`` added to the provider URL ORIN redirects to (Playwright
    can route a request a page makes, never the redirects that follow it); the rest of the
    way (the provider's pages, the callback, the app) is the browser's own.
    """

    async def hint(route: Route) -> None:
        started = await route.fetch(max_redirects=0)
        assert started.status == 302, await started.text()
        location = with_query(started.headers["location"], login_hint=person.account)
        await route.fulfill(response=started, headers={**started.headers, "location": location})

    start = re.compile(rf"^{re.escape(base)}/api/v1/auth/oauth/(google|apple)/start(\?|$)")
    await context.route(start, hint)


def callbacks_of(page: Page) -> list[tuple[str, str]]:
    """(method, URL without query) of each request the page makes to a sign-in callback."""
    seen: list[tuple[str, str]] = []

    def note(request: Request) -> None:
        if "/api/v1/auth/oauth/" in request.url and "/callback" in request.url:
            seen.append((request.method, request.url.split("?", 1)[0]))

    page.on("request", note)
    return seen


async def linked_user(api: Api, provider: str, account: OidcTestAccount) -> User:
    """The ORIN account linked to ``account`` at ``provider``."""
    async with api.database.transaction() as session:
        identity = await session.scalar(
            select(OAuthIdentity).where(
                OAuthIdentity.provider == provider, OAuthIdentity.subject == account.sub
            )
        )
        assert identity is not None, f"no {provider} identity for {account.sub}"
        assert identity.email == account.email
        user = await session.get(User, identity.user_id)
        assert user is not None
        session.expunge(user)
        return user


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_sign_in_with_google_and_apple(
    api: Api,
    live_server: LiveServer,
    context: BrowserContext,
    second_context: BrowserContext,
    oidc_provider: OidcTestProvider,
) -> None:
    base = live_server.base_url
    grace = await oidc_provider.add_account(name="Grace Hopper")
    ada = await oidc_provider.add_account(name="Ada Lovelace")
    errors = PageErrors()

    # Both buttons are there; the person declines at the provider and is told so.
    person = AtTheProvider(account="deny")
    await sign_in_at_provider_as(context, base, person)
    page = errors.watch(await context.new_page())
    called_back = callbacks_of(page)
    await page.goto(f"{base}/login")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    google = page.get_by_role("link", name="Sign in with Google")
    await expect(google).to_be_visible()
    await expect(page.get_by_role("link", name="Sign in with Apple")).to_be_visible()
    await screenshot(page, "43-sign-in-providers")
    await google.click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Signing in with the provider did not work (access_denied). Try again."
    )
    await expect(page).to_have_url(f"{base}/login?error=access_denied")
    await expect(page.get_by_test_id("dashboard")).to_have_count(0)
    await screenshot(page, "44-sign-in-provider-declined")
    async with api.database.transaction() as session:
        assert await session.scalar(select(User).where(User.email == grace.email)) is None

    # Trying again, as Grace this time: signed in, on the dashboard, with a new account.
    person.account = grace.email
    await page.get_by_role("link", name="Sign in with Google").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    await expect(page.get_by_role("heading", name="Hello, Grace Hopper")).to_be_visible()
    assert urlsplit(page.url).path == "/"
    # Both answers came straight back to this server, as GETs (Google's way).
    assert called_back == [("GET", f"{base}/api/v1/auth/oauth/google/callback")] * 2
    await screenshot(page, "45-signed-in-with-google")
    user = await linked_user(api, "google", grace)
    assert (user.email, user.display_name) == (grace.email, "Grace Hopper")
    assert user.email_verified_at is not None
    # The session survives a reload (the refresh cookie the callback set).
    await page.reload()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()

    # Ada, in another browser, opens her settings: sign-in first, with Apple, then back there.
    await sign_in_at_provider_as(second_context, base, AtTheProvider(ada.email))
    other = errors.watch(await second_context.new_page())
    other_called_back = callbacks_of(other)
    await other.goto(f"{base}/settings")
    await expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    await other.get_by_role("link", name="Sign in with Apple").click()
    await expect(other.get_by_role("heading", name="Settings")).to_be_visible()
    assert urlsplit(other.url).path == "/settings"
    # Apple's way: the provider's page posts a form back (the browser carries the fields).
    assert other_called_back == [("POST", f"{base}/api/v1/auth/oauth/apple/callback")]
    await screenshot(other, "46-signed-in-with-apple")
    user = await linked_user(api, "apple", ada)
    assert user.email == ada.email
    async with api.database.transaction() as session:
        identities = await session.scalars(
            select(OAuthIdentity.provider).where(OAuthIdentity.user_id == user.id)
        )
        assert list(identities) == ["apple"]
    errors.check()
