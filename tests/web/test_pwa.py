"""The installable app in Chromium: the manifest a browser reads to install it, the service
worker registering and controlling the page, and the app shell loading with no network, with
a clear "offline" state that goes away by itself once ORIN can be reached again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import LiveServer
from tests.fixtures.api import STRONG_PASSWORD, Api
from tests.web.conftest import PageErrors

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CONTROLLED = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return { state: registration.active?.state, scope: registration.scope };
}"""
# A reload by the very first page a worker activated in is not yet controlled until `claim`
# lands; the test waits for the page to be controlled before going offline.
IS_CONTROLLED = "() => navigator.serviceWorker.controller !== null"


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_manifest_worker_and_offline_shell(
    api: Api, live_server: LiveServer, context: BrowserContext
) -> None:
    base = live_server.base_url
    errors = PageErrors()
    page = errors.watch(await context.new_page())
    await page.goto(f"{base}/signup")
    await page.get_by_label("Name").fill("Olive")
    await page.get_by_label("Email").fill(f"pwa-{uuid.uuid4().hex[:10]}@example.com")
    await page.get_by_label("Password").fill(STRONG_PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()

    # What a browser needs to offer "Install": a manifest with name, start URL, standalone
    # display and icons of 192 and 512 px (one maskable), served as JSON.
    href = await page.locator('link[rel="manifest"]').get_attribute("href")
    assert href == "/manifest.webmanifest"
    response = await page.request.get(f"{base}{href}")
    assert response.ok
    manifest: dict[str, Any] = await response.json()
    assert manifest["short_name"] == "ORIN"
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        assert (await page.request.get(f"{base}{icon['src']}")).ok, icon

    # The service worker registers, activates and takes control of the page.
    registration = await page.evaluate(CONTROLLED)
    assert registration == {"state": "activated", "scope": f"{base}/"}
    await page.wait_for_function(IS_CONTROLLED, timeout=10_000)

    # No network: the shell still loads from the worker's cache and says it is offline.
    await context.set_offline(True)
    await page.reload()
    offline = page.get_by_test_id("offline")
    await expect(offline).to_be_visible(timeout=15_000)
    await expect(offline).to_contain_text("offline")
    await expect(page.get_by_role("button", name="Try again")).to_be_visible()

    # Network back: the app resumes the session by itself and the offline state goes away.
    await context.set_offline(False)
    await expect(page.get_by_test_id("dashboard")).to_be_visible(timeout=20_000)
    await expect(page.get_by_test_id("offline")).to_have_count(0)
    # Going offline makes Chromium log the failed API requests; nothing else may be logged.
    errors.seen = [line for line in errors.seen if "net::ERR_INTERNET_DISCONNECTED" not in line]
    errors.check()
