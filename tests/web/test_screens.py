"""The screens the journey (test_journey.py) does not reach, in Chromium on the embedded backend:

- two-step sign-in (enrolled in settings, then used to sign in), a forgotten password reset
  through the mailed link, and signing out another device from the sessions list;
- a space's members and invitations (the invitee signs up in a second browser) and its figures;
- sharing a camera with another account, and the add-camera wizard refusing bad stream URLs;
- a guard's backtest over stored tracks, pause and resume, and its false-alarm rate;
- the events list narrowed by each filter (dates in the browser's time zone) and by text
  search, and an event's clip playing;
- settings: profile, time zone, quiet hours across midnight, channels, the GDPR export and
  account deletion.

Every outcome is checked on screen and in the database (or through the API), each screen is
saved at desktop and phone sizes (names from 20 on), and a console error fails the test.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import select

from orin.auth.mfa import TOTP_INTERVAL_S, mfa_service
from orin.config import Settings
from orin.media.keys import event_media_key
from orin.models.auth_session import AuthSession
from orin.models.base import utcnow
from orin.models.camera import CameraShare
from orin.models.data_export import DataExport
from orin.models.event import EventKind
from orin.models.guard import Guard
from orin.models.space import SpaceInvite, SpaceMember
from orin.models.track import Track
from orin.models.user import User
from tests.browser.conftest import LiveServer
from tests.events.helpers import add_event
from tests.fixtures.api import STRONG_PASSWORD, Api
from tests.fixtures.services import free_port
from tests.fixtures.smtp import SmtpServer
from tests.web.conftest import DESKTOP, PageErrors, screenshot
from tests.web.pages import fill_sign_in, open_from_nav, sign_in

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

NEW_PASSWORD = "another-Lantern-orbit-42-quay"


def http_error(status: int, path: str) -> re.Pattern[str]:
    """Chromium's console line for an HTTP error answer the app expects (and shows)."""
    return re.compile(
        rf"Failed to load resource: the server responded with a status of {status} \(.*\) "
        rf"http://127\.0\.0\.1:\d+/api/v1/{path}"
    )


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """The web tests' settings with room for the many sign-ins, refreshes and resets two
    browsers make from one address (127.0.0.1) within a minute."""
    limits = api_settings.ratelimit.model_copy(update={"auth_per_ip": 200})
    return api_settings.model_copy(update={"ratelimit": limits})


@dataclass
class FakeClock:
    """Unix time as the two-step service sees it, so a test moves to the next 30-second code
    without waiting for it."""

    now: float

    def __call__(self) -> float:
        return self.now

    def next_step(self) -> None:
        self.now += TOTP_INTERVAL_S


async def sign_out(page: Page) -> None:
    """The side bar's "Sign out" (settings has others, for other devices)."""
    await page.get_by_role("complementary").get_by_role("button", name="Sign out").click()


def mailed_path(message: EmailMessage, path: str) -> str:
    """The path and query of the mailed link to ``path`` (to open on the live server)."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    match = re.search(rf"https?://\S+{re.escape(path)}(\?\S+)?", text)
    assert match is not None, text
    link = urlsplit(match.group(0))
    assert link.path == path
    return f"{link.path}?{link.query}" if link.query else link.path


def section(page: Page, title: str) -> Locator:
    """The settings card (or any card) headed ``title``."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=title, exact=True))


async def signed_in_user(api: Api, email: str) -> User:
    async with api.database.transaction() as session:
        user = await session.scalar(select(User).where(User.email == email))
        assert user is not None
        session.expunge(user)
        return user


# --- sign-in: two-step codes, a forgotten password, other devices ---------------------------


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_two_step_sign_in_password_reset_and_sessions(
    api: Api,
    live_server: LiveServer,
    context: BrowserContext,
    second_context: BrowserContext,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = live_server.base_url
    clock = FakeClock(now=float((int(time.time()) // TOTP_INTERVAL_S) * TOTP_INTERVAL_S + 5))
    monkeypatch.setattr(mfa_service, "clock", clock)
    alice = await api.sign_up()

    # Turn two-step sign-in on in settings: password, then a code from the app's secret.
    errors = PageErrors(allowed=(http_error(401, r"auth/mfa/verify"),))
    page = errors.watch(await context.new_page())
    await sign_in(page, base, alice.email)
    await page.goto(f"{base}/settings")
    two_step = section(page, "Two-step sign-in")
    await expect(two_step).to_contain_text("Off")
    await two_step.get_by_label("Your password").fill(STRONG_PASSWORD)
    await two_step.get_by_role("button", name="Turn on").click()
    secret = (await two_step.locator("code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    totp = pyotp.TOTP(secret)
    await two_step.get_by_label("Code from the app").fill(totp.at(clock.now))
    await two_step.get_by_role("button", name="Confirm").click()
    await expect(two_step.get_by_text("Keep these recovery codes")).to_be_visible()
    await expect(two_step).to_contain_text("recovery codes left")
    await expect(two_step.locator("li")).to_have_count(10)
    await screenshot(page, "20-settings-two-step-on")
    assert (await signed_in_user(api, alice.email)).mfa_enabled_at is not None

    # Sign out, and in again: the password alone is not enough.
    await sign_out(page)
    await fill_sign_in(page, alice.email, STRONG_PASSWORD)
    await expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    code = page.get_by_label("Code from your authenticator app")
    await code.fill("000000")
    await page.get_by_role("button", name="Verify").click()
    await expect(page.get_by_role("alert")).to_contain_text("code is wrong")
    await expect(page.get_by_test_id("dashboard")).to_have_count(0)
    clock.next_step()
    await code.fill(totp.at(clock.now))
    await screenshot(page, "21-sign-in-two-step")
    await page.get_by_role("button", name="Verify").click()
    # Back where the sign-out left off.
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    await expect(two_step).to_contain_text("On since")
    assert len(errors.tolerated) == 1, errors.tolerated  # the wrong code, shown above
    errors.check()

    # A forgotten password: the mailed link resets it, and the new one signs in.
    bob = await api.sign_up()
    other = errors.watch(await second_context.new_page())
    await other.goto(f"{base}/login")
    await other.get_by_role("link", name="Forgot password?").click()
    await other.get_by_label("Email").fill(bob.email)
    await other.get_by_role("button", name="Send me a link").click()
    await expect(
        other.get_by_role("status").filter(has_text="If an account exists")
    ).to_be_visible()
    await screenshot(other, "22-forgot-password")
    mail = await smtp_server.wait_for_message(bob.email, subject="Reset your ORIN password")
    await other.goto(f"{base}{mailed_path(mail, '/reset-password')}")
    await other.get_by_label("New password").fill(NEW_PASSWORD)
    await other.get_by_role("button", name="Change password").click()
    await expect(
        other.get_by_role("status").filter(has_text="Your password is changed")
    ).to_be_visible()
    await screenshot(other, "23-password-reset")
    await other.get_by_role("link", name="Sign in").click()
    await fill_sign_in(other, bob.email, NEW_PASSWORD)
    await expect(other.get_by_test_id("dashboard")).to_be_visible()
    old = await api.http.post(
        "/api/v1/auth/login", json={"email": bob.email, "password": STRONG_PASSWORD}
    )
    assert old.status_code == 401, old.text

    # Bob on a second device (the first browser): his first device signs it out.
    await sign_out(page)
    await fill_sign_in(page, bob.email, NEW_PASSWORD)
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    await other.goto(f"{base}/settings")
    sessions = other.get_by_test_id("sessions")
    await expect(sessions.locator("li")).to_have_count(2)
    await expect(sessions.locator("li").filter(has_text="this device")).to_have_count(1)
    # The note is shown whole, however long the browser's name (which is cut short).
    note = await sessions.get_by_text("— this device", exact=True).bounding_box()
    listed_box = await sessions.bounding_box()
    assert note is not None
    assert listed_box is not None
    assert note["x"] + note["width"] <= listed_box["x"] + listed_box["width"]
    await screenshot(other, "24-sessions")
    # From the click on, the first device's session is revoked: whatever it asks for next is
    # refused with 401 (before or after its socket is closed), which the browser logs.
    errors.allowed = (*errors.allowed, http_error(401, r"\S+"))
    await (
        sessions.locator("li")
        .filter(has_not_text="this device")
        .get_by_role("button", name="Sign out")
        .click()
    )
    await expect(sessions.locator("li")).to_have_count(1)
    async with api.database.transaction() as session:
        rows = (
            await session.scalars(select(AuthSession).where(AuthSession.user_id == bob.user_id))
        ).all()
    assert sum(row.revoked_at is None for row in rows) == 1
    assert sum(row.revoked_at is not None for row in rows) >= 1

    # The signed-out device finds out by itself: its socket is closed (4401) within the hub's
    # access refresh, the refresh cookie is refused, and the app goes back to sign-in.
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=15_000)
    assert "/login" in page.url
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    errors.check()


# --- spaces: members, invitations, figures ----------------------------------------------------


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_space_members_invitations_and_figures(
    api: Api,
    live_server: LiveServer,
    context: BrowserContext,
    second_context: BrowserContext,
    smtp_server: SmtpServer,
) -> None:
    base = live_server.base_url
    owner = await api.sign_up()
    space = await owner.create_space(name="Workshop", timezone="UTC")
    front = await owner.create_camera(space["id"])
    await owner.create_camera(space["id"], name="Back yard")
    guard = await owner.create_guard(
        space["id"], [front["id"]], "Tell me when a person walks by", name="People"
    )
    now = utcnow()
    for started in (
        now - timedelta(seconds=5),
        now - timedelta(seconds=2),
        now - timedelta(days=2),
    ):
        await add_event(api, space["id"], front["id"], guard_id=guard["id"], started_at=started)
    figures = (await owner.get(f"/api/v1/spaces/{space['id']}/stats")).json()
    assert (figures["cameras"], figures["catches_today"], figures["guards_active"]) == (2, 2, 1)

    # The space's figures, as the owner sees them.
    errors = PageErrors()
    page = errors.watch(await context.new_page())
    await sign_in(page, base, owner.email)
    await open_from_nav(page, "Spaces")
    await page.get_by_role("link", name="Workshop").click()
    await expect(page.get_by_role("heading", name="Workshop")).to_be_visible()
    shown = page.get_by_label("Space figures")
    for label, value in (("Cameras", "2"), ("Catches today", "2"), ("Guards active", "1/1")):
        await expect(shown.locator(f'dt:text-is("{label}") + dd')).to_have_text(value)

    # Invite someone who has no account yet, as a manager.
    newcomer = f"newcomer-{uuid.uuid4().hex[:10]}@example.com"
    members = section(page, "Members")
    await members.get_by_label("Invite by email").fill(newcomer)
    await members.get_by_label("Role", exact=True).select_option("manager")
    await members.get_by_role("button", name="Invite").click()
    pending = members.locator("li").filter(has_text=newcomer)
    await expect(pending).to_contain_text("manager")
    await expect(members.get_by_label("Invite by email")).to_have_value("")
    await screenshot(page, "25-space-invited")
    async with api.database.transaction() as session:
        invite = await session.scalar(
            select(SpaceInvite).where(SpaceInvite.space_id == space["id"])
        )
        assert invite is not None
        assert (invite.email, invite.role) == (newcomer, "manager")

    # The newcomer signs up in another browser, verifies the address, and accepts.
    invited = await smtp_server.wait_for_message(newcomer, subject="invited you to Workshop")
    other = errors.watch(await second_context.new_page())
    await other.goto(f"{base}/signup")
    await other.get_by_label("Name").fill("Nora")
    await other.get_by_label("Email").fill(newcomer)
    await other.get_by_label("Password").fill(STRONG_PASSWORD)
    await other.get_by_role("button", name="Sign up").click()
    await expect(other.get_by_test_id("dashboard")).to_be_visible()
    verify = await smtp_server.wait_for_message(newcomer, subject="Verify your email")
    await other.goto(f"{base}{mailed_path(verify, '/verify-email')}")
    await expect(other.get_by_test_id("verified")).to_be_visible()
    await other.goto(f"{base}{mailed_path(invited, '/invites')}")
    invitation = other.get_by_role("listitem").filter(has_text="Workshop")
    await expect(invitation).to_contain_text("as manager")
    await screenshot(other, "26-invitations")
    await invitation.get_by_role("button", name="Accept").click()
    await expect(other.get_by_text("No invitations waiting.")).to_be_visible()
    await (
        other.get_by_role("navigation", name="Main")
        .first.get_by_role("link", name="Spaces")
        .click()
    )
    mine = other.get_by_label("Your spaces").get_by_role("listitem").filter(has_text="Workshop")
    await expect(mine).to_contain_text("manager")

    # The owner sees the new member (with the role to change), no longer an invitation.
    await page.reload()
    member = section(page, "Members").locator("li").filter(has_text=newcomer)
    await expect(member).to_contain_text("Nora")
    await expect(member.get_by_label(f"Role of {newcomer}")).to_have_value("manager")
    await expect(section(page, "Members").get_by_text("Pending invitations")).to_have_count(0)
    await screenshot(page, "27-space-members")
    async with api.database.transaction() as session:
        roles = {
            str(row.user_id): str(row.role)
            for row in await session.scalars(
                select(SpaceMember).where(SpaceMember.space_id == space["id"])
            )
        }
        joined = await session.scalar(select(User.id).where(User.email == newcomer))
    assert roles == {owner.user_id: "owner", joined: "manager"}
    errors.check()


# --- cameras: sharing one camera, refusing bad stream URLs -----------------------------------


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_camera_sharing_and_bad_stream_urls(
    api: Api,
    live_server: LiveServer,
    context: BrowserContext,
    second_context: BrowserContext,
) -> None:
    base = live_server.base_url
    owner, friend = await api.sign_up(), await api.sign_up()
    space = await owner.create_space(name="Shop")
    camera = await owner.create_camera(space["id"], name="Till")
    await owner.create_camera(space["id"], name="Stockroom")

    # Share the till camera (alone) with a friend; an address with no account is refused.
    errors = PageErrors(
        allowed=(
            http_error(422, rf"cameras/{camera['id']}/shares"),
            http_error(422, "cameras/probe"),
        )
    )
    page = errors.watch(await context.new_page())
    await sign_in(page, base, owner.email)
    await page.goto(f"{base}/cameras/{camera['id']}")
    sharing = section(page, "Sharing")
    await expect(sharing).to_contain_text("Not shared with anyone.")
    await sharing.get_by_label("Share with (email)").fill("nobody-here@example.com")
    await sharing.get_by_role("button", name="Share camera").click()
    await expect(sharing.get_by_role("alert")).to_contain_text("no ORIN account uses that address")
    await sharing.get_by_label("Share with (email)").fill(friend.email)
    await sharing.get_by_label("Role", exact=True).select_option("viewer")
    await sharing.get_by_role("button", name="Share camera").click()
    await expect(sharing.locator("li").filter(has_text=friend.email)).to_contain_text("viewer")
    await expect(sharing.get_by_role("alert")).to_have_count(0)
    await screenshot(page, "28-camera-shared")
    async with api.database.transaction() as session:
        shares = (
            await session.scalars(select(CameraShare).where(CameraShare.camera_id == camera["id"]))
        ).all()
    assert [(share.user_id, str(share.role)) for share in shares] == [(friend.user_id, "viewer")]

    # The friend sees that camera, and only it, and cannot manage it.
    other = errors.watch(await second_context.new_page())
    await sign_in(other, base, friend.email)
    await (
        other.get_by_role("navigation", name="Main")
        .first.get_by_role("link", name="Cameras")
        .click()
    )
    grid = other.get_by_test_id("camera-grid")
    await expect(grid.get_by_role("link", name="Till")).to_be_visible()
    await expect(grid.get_by_role("link")).to_have_count(1)
    await screenshot(other, "29-shared-camera-grid")
    await grid.get_by_role("link", name="Till").click()
    await expect(other.get_by_role("heading", name="Till")).to_be_visible()
    await expect(other.get_by_role("button", name="Delete")).to_have_count(0)
    await expect(section(other, "Sharing")).to_have_count(0)
    seen = (await friend.get("/api/v1/cameras")).json()["items"]
    assert [(item["id"], item["shared_with_me"]) for item in seen] == [(camera["id"], True)]

    # The add-camera wizard: a URL that is not a stream, then one nothing answers at.
    await page.goto(f"{base}/cameras/new?space={space['id']}")
    await page.get_by_label("Camera name").fill("Garage")
    save = page.get_by_role("button", name="Save camera")
    await page.get_by_label("Stream URL").fill("http://example.com/video.mp4")
    await page.get_by_role("button", name="Test stream").click()
    # Said next to the field, in words (not the API's field name).
    url = page.get_by_label("Stream URL")
    await expect(url).to_have_attribute("aria-invalid", "true")
    await expect(url).to_have_accessible_description(
        re.compile("Only rtsp:// and rtsps:// camera addresses are supported")
    )
    await expect(page.get_by_text("main_url")).to_have_count(0)
    await expect(save).to_be_disabled()
    await screenshot(page, "30-add-camera-bad-url")
    await url.fill(f"rtsp://127.0.0.1:{free_port()}/stream1")
    await expect(url).not_to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Test stream").click()
    result = page.get_by_test_id("probe-result")
    await expect(result).to_have_attribute("data-ok", "false", timeout=30_000)
    await expect(result).to_contain_text("The stream did not work")
    await expect(save).to_be_disabled()
    await screenshot(page, "31-add-camera-no-answer")
    names = [item["name"] for item in (await owner.get("/api/v1/cameras")).json()["items"]]
    assert sorted(names) == ["Stockroom", "Till"]
    errors.check()


# --- guards: backtest, pause and resume, figures -----------------------------------------------


async def add_track(
    api: Api, camera_id: str, start: datetime, *, label: str = "person", seconds: int = 10
) -> str:
    """A stored track standing still mid-picture, sampled twice a second (as the vision
    pipeline keeps them for backtests)."""
    path = [[t / 2, 0.4, 0.5, 0.5, 0.9, 0.85] for t in range(seconds * 2)]
    track_id = f"track-{uuid.uuid4().hex[:12]}"
    async with api.database.transaction() as session:
        session.add(
            Track(
                id=track_id,
                camera_id=camera_id,
                label=label,
                first_seen=start,
                last_seen=start + timedelta(seconds=seconds),
                confidence=0.85,
                hits=len(path),
                path=path,
                ended=True,
            )
        )
    return track_id


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_guard_backtest_pause_and_false_alarm_rate(
    api: Api, live_server: LiveServer, context: BrowserContext
) -> None:
    base = live_server.base_url
    owner = await api.sign_up()
    space = await owner.create_space(name="Depot", timezone="UTC")
    camera = await owner.create_camera(space["id"])
    created = await owner.create_guard(
        space["id"], [camera["id"]], "Tell me when a person is seen", name="People at the depot"
    )
    guard_id = created["id"]

    # Last week's stored tracks: three people and a dog; one more person a fortnight ago.
    now = utcnow()
    people = [
        await add_track(api, camera["id"], now - timedelta(days=days, hours=1))
        for days in (1, 3, 5)
    ]
    await add_track(api, camera["id"], now - timedelta(days=2), label="dog")
    await add_track(api, camera["id"], now - timedelta(days=14))

    # Catches of the guard, reviewed: three confirmed, one false alarm (25 %), one new.
    catches = [
        await add_event(
            api, space["id"], camera["id"], guard_id=guard_id, started_at=now - timedelta(hours=n)
        )
        for n in range(1, 6)
    ]
    for event_id, state in zip(
        catches, ("confirmed", "confirmed", "confirmed", "false_alarm"), strict=False
    ):
        reviewed = await owner.patch(f"/api/v1/events/{event_id}", json={"review_state": state})
        assert reviewed.status_code == 200, reviewed.text
    figures = (await owner.get(f"/api/v1/guards/{guard_id}/stats")).json()
    assert (figures["catches"], figures["false_alarm_rate"]) == (5, 0.25)

    errors = PageErrors()
    page = errors.watch(await context.new_page())
    await sign_in(page, base, owner.email)
    await open_from_nav(page, "Guards")
    await page.get_by_role("link", name="People at the depot").click()
    await expect(page.get_by_role("heading", name="People at the depot")).to_be_visible()
    stats = page.get_by_test_id("guard-stats")
    for label, value in (("Catches", "5"), ("Last 24 h", "5"), ("False alarms", "25%")):
        await expect(stats.locator(f'dt:text-is("{label}") + dd')).to_have_text(value)

    # What would it have caught last week? The three people, not the dog nor the old one.
    backtest = section(page, "Backtest")
    await backtest.get_by_label("Window").select_option(label="Last week")
    await backtest.get_by_role("button", name="Run backtest").click()
    result = page.get_by_test_id("backtest")
    await expect(result).to_contain_text("3 catches from 4 tracks")
    await expect(result.get_by_role("listitem")).to_have_count(3)
    for item in await result.get_by_role("listitem").all():
        await expect(item).to_contain_text("person")
    await screenshot(page, "32-guard-backtest")
    replayed = await owner.post(
        f"/api/v1/guards/{guard_id}/backtest",
        json={"start": (now - timedelta(days=7)).isoformat(), "end": now.isoformat()},
    )
    assert sorted(item["track_id"] for item in replayed.json()["catches"]) == sorted(people)

    # Pause, then resume: on screen and in the database.
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    await expect(page.get_by_text("paused", exact=True)).to_be_visible()
    assert await guard_state(api, guard_id) == "paused"
    await screenshot(page, "33-guard-paused")
    await open_from_nav(page, "Guards")
    card = page.locator("section").filter(has_text="People at the depot")
    await expect(card).to_contain_text("paused")
    await card.get_by_role("button", name="Resume").click()
    await expect(card.get_by_role("button", name="Pause")).to_be_visible()
    await expect(card).to_contain_text("active")
    assert await guard_state(api, guard_id) == "active"
    errors.check()


async def guard_state(api: Api, guard_id: str) -> str:
    async with api.database.transaction() as session:
        guard = await session.get(Guard, guard_id)
        assert guard is not None
        return str(guard.state)


# --- events: filters, text search, a clip --------------------------------------------------------


async def listed(page: Page) -> list[str]:
    """The ids of the events listed, top to bottom."""
    hrefs = await page.get_by_test_id("event-row").evaluate_all(
        "rows => rows.map(row => row.getAttribute('href'))"
    )
    return [urlsplit(str(href)).path.rsplit("/", 1)[1] for href in hrefs]


def small_clip(target: Path) -> bytes:
    """Two seconds of H.264 in MP4 (what the vision worker stores as an event's clip)."""
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
            "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
            str(target),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return target.read_bytes()


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_events_filters_search_and_clip(
    api: Api, live_server: LiveServer, chromium: Browser, web_build: Path, tmp_path: Path
) -> None:
    base = live_server.base_url
    owner = await api.sign_up()
    space = await owner.create_space(name="Farm", timezone="UTC")
    front = (await owner.create_camera(space["id"], name="Gate"))["id"]
    back = (await owner.create_camera(space["id"], name="Barn"))["id"]
    guard = (
        await owner.create_guard(
            space["id"], [front], "Tell me when a person or a car is seen", name="Gate watch"
        )
    )["id"]
    now = utcnow()
    clip_key = event_media_key(space["id"], front, "clip-event", "clip.mp4")
    clip = small_clip(tmp_path / "clip.mp4")
    await api.runtime.infra.storage.put(clip_key, clip, content_type="video/mp4")

    async def add(name: str, camera: str, hours: float, **fields: Any) -> tuple[str, str]:
        started = now - timedelta(hours=hours)
        return name, await add_event(api, space["id"], camera, started_at=started, **fields)

    made = dict(
        [
            await add("person", front, 5, guard_id=guard, clip_key=clip_key),
            await add("dog", back, 4, label="dog"),
            await add("car", front, 3, label="car", guard_id=guard),
            await add("offline", back, 2, kind=EventKind.CAMERA_OFFLINE, label=None),
            await add("late person", back, 1),
            await add("old cat", front, 72, label="cat"),
        ]
    )
    marked = await owner.patch(
        f"/api/v1/events/{made['late person']}", json={"review_state": "false_alarm"}
    )
    assert marked.status_code == 200, marked.text

    async def api_ids(**params: str) -> list[str]:
        response = await owner.get("/api/v1/events", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    # Far from UTC, so the date filters must use the browser's days, not UTC's.
    zone = "Pacific/Auckland"
    context = await chromium.new_context(viewport=DESKTOP, timezone_id=zone)
    try:
        errors = PageErrors()
        page = errors.watch(await context.new_page())
        await sign_in(page, base, owner.email)
        await (
            page.get_by_role("navigation", name="Main")
            .first.get_by_role("link", name="Events")
            .click()
        )
        rows = page.get_by_test_id("event-row")
        everything = ["late person", "offline", "car", "dog", "person", "old cat"]
        await expect(rows).to_have_count(len(everything))
        assert await listed(page) == [made[name] for name in everything]
        await screenshot(page, "34-events-all")

        # Each filter narrows the list to what the API answers for the same query.
        search = page.get_by_role("search")
        steps: list[tuple[str, str, str, list[str]]] = [
            ("Kind", "camera_offline", "kind", ["offline"]),
            ("Kind", "", "kind", everything),
            ("Camera", back, "camera_id", ["late person", "offline", "dog"]),
            ("Review", "false_alarm", "review_state", ["late person"]),
            ("Review", "", "review_state", ["late person", "offline", "dog"]),
            ("Camera", "", "camera_id", everything),
            ("Guard", guard, "guard_id", ["car", "person"]),
        ]
        applied: dict[str, str] = {}
        for label, value, key, expected in steps:
            await search.get_by_label(label, exact=True).select_option(value)
            applied = {k: v for k, v in {**applied, key: value}.items() if v}
            await expect(rows).to_have_count(len(expected))
            assert await listed(page) == [made[name] for name in expected], (label, value)
            assert await listed(page) == await api_ids(**applied), (label, value)
        await screenshot(page, "35-events-filtered")
        await search.get_by_label("Guard", exact=True).select_option("")
        await search.get_by_label("Label", exact=True).fill("car")
        await expect(rows).to_have_count(1)
        assert await listed(page) == [made["car"]]
        # A label of two words can be typed (the space is kept while typing).
        label_input = search.get_by_label("Label", exact=True)
        await label_input.fill("")
        await label_input.press_sequentially("fire hydrant")
        await expect(label_input).to_have_value("fire hydrant")
        await expect(page.get_by_text("No events match.")).to_be_visible()
        await label_input.fill("")
        await expect(rows).to_have_count(len(everything))

        # From and To are whole days where the browser is.
        old_day = (now - timedelta(hours=72)).astimezone(ZoneInfo(zone)).date()
        await search.get_by_label("From", exact=True).fill(old_day.isoformat())
        await search.get_by_label("To", exact=True).fill(old_day.isoformat())
        await expect(rows).to_have_count(1)
        assert await listed(page) == [made["old cat"]]
        midnight = datetime.combine(old_day, datetime.min.time(), tzinfo=ZoneInfo(zone))
        query = dict(parse_qsl(urlsplit(page.url).query))
        assert datetime.fromisoformat(query["since"]) == midnight
        assert datetime.fromisoformat(query["until"]) == midnight + timedelta(days=1)
        assert await listed(page) == await api_ids(since=query["since"], until=query["until"])
        await expect(search.get_by_label("From", exact=True)).to_have_value(old_day.isoformat())
        await expect(search.get_by_label("To", exact=True)).to_have_value(old_day.isoformat())
        await search.get_by_label("From", exact=True).fill("")
        await search.get_by_label("To", exact=True).fill("")
        await expect(rows).to_have_count(len(everything))

        # Text search: "a dog" ranks the dog first, and the list is what the API ranks.
        await search.get_by_label("Search", exact=True).fill("a dog")
        await search.get_by_role("button", name="Search").click()
        await expect(page).to_have_url(re.compile(r"[?&]q=a\+dog"))
        await expect(rows.first).to_contain_text("dog")
        found = await api_ids(q="a dog")
        assert found[0] == made["dog"]
        await expect(rows).to_have_count(len(found))
        assert await listed(page) == found
        assert len(found) < len(everything)
        await screenshot(page, "36-events-search")

        # The clip of an event plays in its details.
        await search.get_by_label("Search", exact=True).fill("")
        await search.get_by_role("button", name="Search").click()
        await expect(rows).to_have_count(len(everything))
        await page.locator(f'[data-testid="event-row"][href^="/events/{made["person"]}"]').click()
        await expect(page.get_by_test_id("event-detail")).to_be_visible()
        video = page.get_by_label("Clip of the event")
        await expect(video).to_be_visible()
        await video.evaluate("v => v.play()")
        await page.wait_for_function(
            "v => v.currentTime > 0.5 && v.videoWidth === 320", arg=await video.element_handle()
        )
        await screenshot(page, "37-event-clip")
        errors.check()
    finally:
        await context.close()


# --- settings: profile, time zone, quiet hours, channels, export, deletion -------------------


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_settings_preferences_export_and_deletion(
    api: Api, live_server: LiveServer, context: BrowserContext
) -> None:
    base = live_server.base_url
    person = await api.sign_up()
    space = await person.create_space(name="Flat")
    await person.create_camera(space["id"])

    errors = PageErrors()
    page = errors.watch(await context.new_page())
    await sign_in(page, base, person.email)
    await (
        page.get_by_role("navigation", name="Main")
        .first.get_by_role("link", name="Settings")
        .click()
    )

    # Profile.
    profile = section(page, "Profile")
    await profile.get_by_label("Name").fill("Zoé Martin")
    await profile.get_by_role("button", name="Save profile").click()
    await expect(profile.get_by_role("status")).to_have_text("Saved.")
    assert (await signed_in_user(api, person.email)).display_name == "Zoé Martin"

    # Time zone, channels and a quiet window from 23:30 to 06:15 on weekdays (across midnight).
    notifications = section(page, "Notifications")
    await notifications.get_by_label("Time zone").select_option("Europe/Paris")
    await notifications.get_by_role("checkbox", name="email").check()
    await notifications.get_by_role("checkbox", name="push").uncheck()
    await expect(notifications.get_by_test_id("quiet-window")).to_have_count(0)
    await notifications.get_by_role("button", name="Add quiet window").click()
    window = notifications.get_by_test_id("quiet-window")
    await expect(window).to_have_count(1)
    await window.get_by_label("From").fill("23:30")
    await window.get_by_label("To").fill("06:15")
    for day in ("sat", "sun"):
        await window.get_by_role("checkbox", name=day).uncheck()
    await notifications.get_by_role(
        "checkbox", name="Critical catches come through during quiet hours"
    ).uncheck()
    await screenshot(page, "38-settings-quiet-hours")
    await notifications.get_by_role("button", name="Save notification settings").click()
    await expect(notifications.get_by_role("status")).to_have_text("Saved.")
    saved = (await person.get("/api/v1/user/me/preferences")).json()
    assert saved["timezone"] == "Europe/Paris"
    assert saved["channels"] == ["email"]
    assert saved["critical_bypasses_quiet_hours"] is False
    assert [
        (window["days"], window["start"][:5], window["end"][:5]) for window in saved["quiet_hours"]
    ] == [(["mon", "tue", "wed", "thu", "fri"], "23:30", "06:15")]
    stored = (await signed_in_user(api, person.email)).preferences
    assert stored["timezone"] == "Europe/Paris"
    assert len(stored["quiet_hours"]) == 1

    # What was saved is what the screen shows after a reload.
    await page.reload()
    notifications = section(page, "Notifications")
    await expect(notifications.get_by_label("Time zone")).to_have_value("Europe/Paris")
    await expect(notifications.get_by_role("checkbox", name="email")).to_be_checked()
    await expect(notifications.get_by_role("checkbox", name="push")).not_to_be_checked()
    window = notifications.get_by_test_id("quiet-window")
    await expect(window.get_by_label("From")).to_have_value("23:30")
    await expect(window.get_by_label("To")).to_have_value("06:15")
    await expect(window.get_by_role("checkbox", name="sat")).not_to_be_checked()
    await expect(window.get_by_role("checkbox", name="mon")).to_be_checked()

    # The GDPR export: requested, built by the worker, then a link to download it.
    your_data = section(page, "Your data")
    await your_data.get_by_role("button", name="Export my data").click()
    download = your_data.get_by_role("link", name="download")
    await expect(download).to_be_visible(timeout=20_000)
    await expect(your_data.get_by_role("listitem")).to_contain_text("ready")
    await screenshot(page, "39-settings-export-ready")
    href = await download.get_attribute("href")
    assert href is not None
    archive = await page.request.get(f"{base}{href}" if href.startswith("/") else href)
    assert archive.ok, archive.status
    with zipfile.ZipFile(io.BytesIO(await archive.body())) as opened:
        document = json.loads(opened.read("export.json"))
    assert document["user"]["email"] == person.email
    assert document["user"]["display_name"] == "Zoé Martin"
    assert [item["name"] for item in document["spaces"]] == ["Flat"]
    async with api.database.transaction() as session:
        exports = (
            await session.scalars(select(DataExport).where(DataExport.user_id == person.user_id))
        ).all()
    assert [str(item.status) for item in exports] == ["ready"]

    # Deleting the account: only once confirmed in words; then signed out and gone.
    delete = your_data.get_by_role("button", name="Delete my account")
    await your_data.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    await expect(delete).to_be_disabled()
    await your_data.get_by_label('Type "delete my account" to confirm').fill("delete my account")
    await expect(delete).to_be_enabled()
    await screenshot(page, "40-settings-delete-account")
    await delete.click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=10_000)
    assert not [cookie["name"] for cookie in await context.cookies() if "orin" in cookie["name"]]
    async with api.database.transaction() as session:
        assert await session.get(User, person.user_id) is None
    gone = await api.http.post(
        "/api/v1/auth/login", json={"email": person.email, "password": STRONG_PASSWORD}
    )
    assert gone.status_code == 401, gone.text
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    errors.check()
