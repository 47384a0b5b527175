"""The whole journey in Chromium on the embedded backend with a fake RTSP camera:

sign up → verify the address (the link read from the test SMTP server) → create a space → add
the camera (its stream tested first) → live video playing → write a guard → a catch arrives
live over the WebSocket (toast and list) → review it. Every main screen is saved at desktop and
phone sizes, and any console error or unhandled rejection fails the test.

The catch is real: the ingest supervisor runs the vision pipeline, so once the guard exists the
camera restarts with decoded frames, the detector finds the people walking through vtest, and
the worker records the catch and publishes ``event.created``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from orin.ingest.supervisor import IngestSupervisor
from orin.models.event import Event
from orin.models.user import User
from orin.vision.service import Vision
from tests.browser.conftest import LiveServer
from tests.fixtures.api import STRONG_PASSWORD, Api
from tests.fixtures.cameras import FAST_INGEST, FakeCameraServer
from tests.fixtures.smtp import SmtpServer
from tests.web.conftest import EXPECTED_NETWORK_NOISE, PageErrors, screenshot
from tests.web.pages import open_from_nav, played_seconds

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PLAYED_S = 2.0
CATCH_WITHIN_S = 90
"""Guard saved → catch on screen: camera restart with frames, detection and confirmation on a
loaded 2-core machine."""
_LINK = re.compile(r"https?://\S+/verify-email\?token=\S+")


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_sign_up_to_a_reviewed_catch(
    api: Api,
    live_server: LiveServer,
    context: BrowserContext,
    fake_cameras: FakeCameraServer,
    smtp_server: SmtpServer,
) -> None:
    await api.disable_other_cameras()  # earlier tests' cameras in this worker's database
    base = live_server.base_url
    errors = PageErrors(allowed=EXPECTED_NETWORK_NOISE)
    page = errors.watch(await context.new_page())
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"

    # Sign up.
    await page.goto(f"{base}/signup")
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await screenshot(page, "01-sign-up")
    await page.get_by_label("Name").fill("Alice")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(STRONG_PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    await expect(page.get_by_text("verify your email address")).to_be_visible()
    await screenshot(page, "02-dashboard-new-account")

    # Verify the address with the mailed link.
    mail = await smtp_server.wait_for_message(email, subject="Verify your email")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    match = _LINK.search(body.get_content())
    assert match is not None, body.get_content()
    link = urlsplit(match.group(0))
    assert link.path == "/verify-email"
    await page.goto(f"{base}{link.path}?{link.query}")
    await expect(page.get_by_test_id("verified")).to_be_visible()
    await screenshot(page, "03-email-verified")
    await page.get_by_role("link", name="Continue to ORIN").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    await expect(page.get_by_text("verify your email address")).to_have_count(0)

    # Create a space.
    await open_from_nav(page, "Spaces")
    await page.get_by_label("Space name").fill("Home")
    await page.get_by_role("button", name="Create space").click()
    await expect(page.get_by_role("heading", name="Home")).to_be_visible()
    space_id = page.url.rsplit("/", 1)[1]
    await screenshot(page, "04-space")

    # Add the camera: the stream is tested before it can be saved.
    settings = api.runtime.settings.model_copy(update={"ingest": FAST_INGEST})
    infra = api.runtime.infra
    vision = Vision(infra.database, infra.storage, settings)
    await vision.start()
    supervisor = IngestSupervisor(infra.database, infra.envelope, settings, vision=vision)
    supervisor.start()
    toast: asyncio.Task[None] | None = None
    try:
        await page.get_by_role("link", name="Add camera").click()
        await page.get_by_label("Camera name").fill("Front door")
        await page.get_by_label("Stream URL").fill(fake_cameras.url("vtest"))
        save = page.get_by_role("button", name="Save camera")
        await expect(save).to_be_disabled()
        await page.get_by_role("button", name="Test stream").click()
        await expect(page.get_by_test_id("probe-result")).to_have_attribute(
            "data-ok", "true", timeout=30_000
        )
        await expect(page.get_by_test_id("probe-result")).to_contain_text("H264")
        await screenshot(page, "05-add-camera-tested")
        await save.click()
        await expect(page.get_by_role("heading", name="Front door")).to_be_visible()
        camera_id = page.url.rsplit("/", 1)[1]

        # Live video plays on the camera page, over WebRTC (HLS is the fallback).
        played = await played_seconds(page, "Live view of Front door", PLAYED_S, within_s=60)
        assert played >= PLAYED_S
        await expect(page.locator('[data-transport="webrtc"]')).to_have_count(1)
        await screenshot(page, "06-camera-live")

        # ... and in the grid of live tiles.
        await page.goto(f"{base}/cameras")
        await played_seconds(page, "Live view of Front door", 1.0, within_s=30)
        await expect(page.get_by_test_id("camera-grid")).to_contain_text("online")
        await screenshot(page, "07-cameras-grid")

        # The events list open in a second tab (same session) before the guard exists.
        events = errors.watch(await context.new_page())
        await events.goto(f"{base}/events")
        await expect(events.get_by_test_id("live-link").first).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        await expect(events.get_by_test_id("event-row")).to_have_count(0)

        # Write a guard: the compiled rule shows while typing.
        await page.goto(f"{base}/guards/new?space={space_id}")
        await page.get_by_label("What should this guard watch for?").fill(
            "Tell me when a person walks by"
        )
        await expect(page.get_by_test_id("compiled-rule")).to_contain_text("person")
        await page.get_by_role("checkbox", name="Front door").check()
        await screenshot(page, "08-guard-editor")
        # The toast lasts 6 s: watch for it from the moment the guard is saved.
        toast = asyncio.create_task(
            expect(events.get_by_test_id("toast")).to_contain_text(
                "New catch: person", timeout=CATCH_WITHIN_S * 1000
            )
        )
        await page.get_by_role("button", name="Create guard").click()
        await expect(page.get_by_test_id("guard-stats")).to_be_visible()
        guard_id = page.url.rsplit("/", 1)[1]
        await screenshot(page, "09-guard")

        # The camera restarts with frames for the detector; a person walking by is caught and
        # arrives live in the other tab: a toast, and the row in the list (no reload).
        await toast
        row = events.get_by_test_id("event-row").filter(has_text="person").first
        await expect(row).to_be_visible(timeout=10_000)
        await expect(row.locator("img")).to_be_visible()
        await screenshot(events, "10-events-live-catch")
        async with api.database.transaction() as session:
            caught = await session.scalars(
                select(Event.id).where(Event.guard_id == guard_id, Event.camera_id == camera_id)
            )
            caught_ids = set(caught)
        assert caught_ids
        await events.close()

        # Review it (in the first tab, from the list).
        await page.goto(f"{base}/events")
        row = page.get_by_test_id("event-row").filter(has_text="person").first
        await row.click()
        await expect(page.get_by_test_id("event-detail")).to_be_visible()
        event_id = urlsplit(page.url).path.rsplit("/", 1)[1]
        assert event_id in caught_ids
        await page.get_by_label("Notes").fill("The courier, expected.")
        await page.get_by_role("button", name="Save notes").click()
        await expect(page.get_by_role("button", name="Save notes")).to_be_disabled()
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_test_id("review-state")).to_have_attribute(
            "data-state", "confirmed"
        )
        await screenshot(page, "11-event-reviewed")
        async with api.database.transaction() as session:
            stored = await session.scalar(select(Event).where(Event.id == event_id))
            assert stored is not None
            assert stored.review_state == "confirmed"
            assert stored.notes == "The courier, expected."

        # Settings and (as an admin) the admin screens render without errors.
        await page.goto(f"{base}/settings")
        await expect(page.get_by_test_id("sessions")).to_contain_text("this device")
        await screenshot(page, "12-settings")
        async with api.database.transaction() as session:
            user = await session.scalar(select(User).where(User.email == email))
            assert user is not None
            user.role = "admin"  # type: ignore[assignment]
        await page.goto(f"{base}/admin")
        await expect(page.get_by_test_id("analytics")).to_be_visible(timeout=15_000)
        await expect(page.get_by_test_id("system")).to_be_visible()
        await expect(page.get_by_test_id("audit")).to_contain_text("event.reviewed")
        await screenshot(page, "13-admin")
        errors.check()
    finally:
        if toast is not None:
            toast.cancel()
        await supervisor.stop()
        await vision.close()
