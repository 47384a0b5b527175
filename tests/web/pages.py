"""Steps the web tests share: signing in through the form, the main navigation, and waiting
for a video to play."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from playwright.async_api import Page, expect

from tests.fixtures.api import STRONG_PASSWORD


async def sign_in(page: Page, base: str, email: str, password: str = STRONG_PASSWORD) -> None:
    """Sign in on the live server's sign-in page and wait for the dashboard."""
    await page.goto(f"{base}/login")
    await fill_sign_in(page, email, password)
    await expect(page.get_by_test_id("dashboard")).to_be_visible()


async def fill_sign_in(page: Page, email: str, password: str) -> None:
    """Fill in and send the sign-in form shown on ``page``."""
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def played_seconds(page: Page, label: str, seconds: float, within_s: float) -> float:
    """Wait until the video named ``label`` has played ``seconds``; returns how far it got."""
    video = page.get_by_label(label)
    await expect(video).to_be_visible(timeout=within_s * 1000)
    first: float | None = None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        state: dict[str, Any] = await video.evaluate(
            "v => ({t: v.currentTime, paused: v.paused, w: v.videoWidth})"
        )
        if state["t"] > 0 and not state["paused"]:
            first = state["t"] if first is None else first
            if state["t"] - first >= seconds:
                return float(state["t"] - first)
        await asyncio.sleep(0.25)
    raise AssertionError(f"{label!r} did not play {seconds}s of video in {within_s}s")


async def open_from_nav(page: Page, name: str) -> None:
    """Follow the main navigation's link ``name`` (the side bar's on desktop)."""
    await page.get_by_role("navigation", name="Main").first.get_by_role("link", name=name).click()
