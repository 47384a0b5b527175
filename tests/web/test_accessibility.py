"""Accessibility of the web app in Chromium: an axe-core audit (WCAG 2.0/2.1 A and AA) of every
main screen at desktop and phone sizes with real data on it, and keyboard use: the skip link,
the main navigation with a visible focus indicator on whatever has focus, and a zone drawn on
a camera's snapshot, named and saved without a pointer.

axe-core comes from web/node_modules (a pinned devDependency of the web app). The page's
Content-Security-Policy forbids inline scripts, so the audit's browser profile bypasses CSP to
take axe's script tag; the app's own scripts are the same same-origin files either way.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import select

from orin.audit import audit_event
from orin.auth.service import ClientInfo
from orin.models.user import User
from tests.browser.conftest import LiveServer
from tests.events.helpers import add_event
from tests.fixtures.api import STRONG_PASSWORD, Api, Person
from tests.fixtures.npm import ensure_npm_packages
from tests.web.conftest import (
    DESKTOP,
    EXPECTED_NETWORK_NOISE,
    PHONE,
    WEB,
    PageErrors,
    screenshot,
)

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  const nodes = (rules) => rules.reduce((total, rule) => total + rule.nodes.length, 0);
  return {
    version: axe.version,
    rules: result.passes.length + result.violations.length + result.incomplete.length
      + result.inapplicable.length,
    passed_nodes: nodes(result.passes),
    violations: result.violations.map((rule) => ({
      id: rule.id,
      impact: rule.impact,
      help: rule.help,
      nodes: rule.nodes.map((node) => ({
        target: node.target.map(String).join(" "),
        html: node.html.slice(0, 160),
        summary: node.failureSummary ?? "",
      })),
    })),
  };
}"""
MIN_RULES = 40
"""axe 4.x runs about 60 rules for these tags; far fewer means the tags were not applied."""
LOADING = "Loading…"
FOCUS_STYLE = """element => {
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return { outline, shadow: style.boxShadow !== "none", style: style.outlineStyle };
}"""
DESCRIBE_FOCUS = """(mark) => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const text = element.cloneNode(true);
  text.querySelectorAll("[aria-hidden=true]").forEach((hidden) => hidden.remove());
  const name = element.getAttribute("aria-label") || text.textContent || "";
  const again = mark !== null && element.dataset.tabPass === mark;
  if (mark !== null) element.dataset.tabPass = mark;
  return {
    tag: element.tagName.toLowerCase(),
    id: element.id,
    href: element.getAttribute("href"),
    name: name.replace(/\\s+/g, " ").trim(),
    again,
  };
}"""
MAIN_LINKS = ("Home", "Cameras", "Events", "Guards", "Spaces", "Settings", "Admin")
"""The main navigation of an admin, in the side bar (desktop) and the bottom bar (phone)."""


@dataclass(frozen=True)
class Screen:
    """A screen to audit: its path and what shows once it is fully rendered."""

    name: str
    path: str
    ready: Callable[[Page], Locator]


@pytest.fixture
async def audit_context(chromium: Browser, web_build: Path) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile that takes axe's script tag despite the app's CSP."""
    ensure_npm_packages(WEB, "axe-core", needed_by="the accessibility tests")
    context = await chromium.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        yield context
    finally:
        await context.close()


def heading(name: str) -> Callable[[Page], Locator]:
    return lambda page: page.get_by_role("heading", name=name, exact=True).first


def by_test_id(value: str) -> Callable[[Page], Locator]:
    return lambda page: page.get_by_test_id(value).first


async def settled(page: Page, screen: Screen) -> None:
    """Wait until ``screen`` shows its content and nothing is loading any more."""
    await expect(screen.ready(page)).to_be_visible(timeout=15_000)
    await expect(page.get_by_text(LOADING)).to_have_count(0, timeout=15_000)
    await page.wait_for_load_state("networkidle")


def describe(screen: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{screen}: {len(violations)} axe violation(s)"]
    for rule in violations:
        lines.append(f"  [{rule['impact']}] {rule['id']}: {rule['help']}")
        for node in rule["nodes"]:
            summary = " / ".join(line.strip() for line in node["summary"].splitlines()[1:])
            lines.append(f"    - {node['target']}: {summary}")
            lines.append(f"      {node['html']}")
    return "\n".join(lines)


async def audit(page: Page, label: str) -> tuple[int, str | None]:
    """Run axe on the page as it is now: the number of nodes that passed a rule (so a vacuous
    run shows) and a readable list of the violations, if any."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=AXE)
    result: dict[str, Any] = await page.evaluate(RUN_AXE, list(WCAG_TAGS))
    assert result["version"].startswith("4."), result["version"]
    assert result["rules"] >= MIN_RULES, f"{label}: axe ran only {result['rules']} rules"
    assert result["passed_nodes"] > 0, f"{label}: axe checked nothing"
    violations = result["violations"]
    return int(result["passed_nodes"]), describe(label, violations) if violations else None


async def audit_screens(
    page: Page, base: str, screens: list[Screen], failures: list[str]
) -> dict[str, int]:
    """Audit each screen at desktop, then phone size (the same page, resized); the violations
    go to ``failures``. Returns the nodes that passed, by screen and size."""
    checked: dict[str, int] = {}
    for screen in screens:
        await page.set_viewport_size(DESKTOP)
        await page.goto(f"{base}{screen.path}")
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            await settled(page, screen)
            label = f"{screen.name} ({size_name})"
            checked[label], failure = await audit(page, label)
            if failure:
                failures.append(failure)
    return checked


async def sign_up_in_browser(page: Page, base: str, name: str) -> str:
    email = f"a11y-{uuid.uuid4().hex[:10]}@example.com"
    await page.goto(f"{base}/signup")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(STRONG_PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    return email


async def as_person(api: Api, email: str) -> Person:
    """The user signed up in the browser, signed in over the API too (to seed their data)."""
    response = await api.http.post(
        "/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    person = Person(api, email, body["user"]["id"], body["access_token"])
    api.people.append(person)
    return person


AUDIT_ROWS = 60
"""Audit entries the admin screen lists: more than its scrolling box shows at once, so the
audit covers a box that scrolls (it must take focus, or keyboard users cannot scroll it)."""


async def make_admin(api: Api, email: str) -> None:
    """Make ``email`` an admin, with enough audit entries for the log's box to scroll."""
    origin = ClientInfo(ip="127.0.0.1", user_agent="accessibility test")
    async with api.database.transaction() as session:
        user = await session.scalar(select(User).where(User.email == email))
        assert user is not None
        user.role = "admin"  # type: ignore[assignment]
        for n in range(AUDIT_ROWS):
            await audit_event(
                session, origin, action="test.seeded", actor_id=user.id, details={"n": n}
            )


@dataclass(frozen=True)
class Seeded:
    space_id: str
    camera_id: str
    guard_id: str
    event_id: str


async def seed(api: Api, person: Person) -> Seeded:
    """A space with an (unreachable) camera, a guard on it and one catch of that guard."""
    space = await person.create_space(name="Home")
    camera = await person.create_camera(space["id"], name="Front door")
    guard = await person.create_guard(
        space["id"], [camera["id"]], "Tell me when a person walks by", name="People at the door"
    )
    event_id = await add_event(api, space["id"], camera["id"], guard_id=guard["id"], zone="Porch")
    return Seeded(space["id"], camera["id"], guard["id"], event_id)


PUBLIC_SCREENS = [
    Screen("sign in", "/login", heading("Sign in")),
    Screen("sign up", "/signup", heading("Create your account")),
    Screen("forgot password", "/forgot-password", heading("Reset your password")),
    Screen("new password", "/reset-password?token=expired", heading("Choose a new password")),
    Screen("verify email, no token", "/verify-email", heading("Verify your email")),
]


def app_screens(seeded: Seeded) -> list[Screen]:
    return [
        Screen("dashboard", "/", by_test_id("dashboard")),
        Screen("spaces", "/spaces", heading("Spaces")),
        Screen("space", f"/spaces/{seeded.space_id}", heading("Members")),
        Screen("invitations", "/invites", heading("Invitations")),
        Screen("cameras", "/cameras", by_test_id("camera-grid")),
        Screen("add camera", f"/cameras/new?space={seeded.space_id}", heading("Add a camera")),
        Screen("camera", f"/cameras/{seeded.camera_id}", heading("Sharing")),
        Screen("guards", "/guards", heading("Guards")),
        Screen("guard editor", f"/guards/new?space={seeded.space_id}", heading("New guard")),
        Screen("guard", f"/guards/{seeded.guard_id}", by_test_id("guard-stats")),
        Screen("events", "/events", by_test_id("event-row")),
        Screen("event", f"/events/{seeded.event_id}", by_test_id("event-detail")),
        Screen("settings", "/settings", by_test_id("sessions")),
        Screen("admin", "/admin", by_test_id("audit")),
    ]


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_every_main_screen_passes_an_axe_wcag_aa_audit(
    api: Api, live_server: LiveServer, audit_context: BrowserContext
) -> None:
    await api.disable_other_cameras()
    base = live_server.base_url
    errors = PageErrors(allowed=EXPECTED_NETWORK_NOISE)
    page = errors.watch(await audit_context.new_page())

    failures: list[str] = []
    checked = await audit_screens(page, base, PUBLIC_SCREENS, failures)

    email = await sign_up_in_browser(page, base, "Ada")
    person = await as_person(api, email)
    seeded = await seed(api, person)
    await make_admin(api, email)
    checked |= await audit_screens(page, base, app_screens(seeded), failures)
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)

    screens = len(PUBLIC_SCREENS) + len(app_screens(seeded))
    assert len(checked) == 2 * screens
    assert all(count > 10 for count in checked.values()), checked
    errors.check()


async def focused(page: Page, mark: str | None = None) -> dict[str, Any] | None:
    """What has focus (None for the page itself); with ``mark``, also whether it already had
    focus during the Tab pass so named."""
    value: dict[str, Any] | None = await page.evaluate(DESCRIBE_FOCUS, mark)
    return value


async def has_focus(locator: Locator) -> bool:
    return bool(await locator.evaluate("element => element === document.activeElement"))


async def tab_to(page: Page, target: Locator, *, within: int = 60) -> None:
    """Press Tab until ``target`` has focus (fails after ``within`` presses)."""
    for _ in range(within):
        await page.keyboard.press("Tab")
        if await has_focus(target):
            return
    raise AssertionError(f"{target} not reached in {within} Tab presses")


async def assert_visible_focus(page: Page, where: str) -> None:
    style: dict[str, Any] = await page.evaluate(f"() => ({FOCUS_STYLE})(document.activeElement)")
    described = await focused(page)
    assert style["outline"] or style["shadow"], (
        f"{where}: no focus indicator on {described}: {style}"
    )


async def tab_through(page: Page, where: str, *, limit: int = 120) -> list[dict[str, Any]]:
    """Tab once round the page (past its end and back to where it started), checking that
    each element shows focus; returns what got focus, in order."""
    mark = uuid.uuid4().hex
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        current = await focused(page, mark)
        if current is None:
            continue  # past the last element: the next Tab starts again at the top
        if current.pop("again"):
            return seen
        await assert_visible_focus(page, where)
        seen.append(current)
    raise AssertionError(f"{where}: Tab did not come round in {limit} presses: {seen}")


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_keyboard_reaches_everything_and_draws_a_zone(
    api: Api, live_server: LiveServer, audit_context: BrowserContext
) -> None:
    await api.disable_other_cameras()
    base = live_server.base_url
    errors = PageErrors(allowed=EXPECTED_NETWORK_NOISE)
    page = errors.watch(await audit_context.new_page())
    email = await sign_up_in_browser(page, base, "Kit")
    person = await as_person(api, email)
    seeded = await seed(api, person)
    await make_admin(api, email)

    # The skip link is the first Tab stop and moves focus into the main content.
    for size in (DESKTOP, PHONE):
        await page.set_viewport_size(size)
        await page.goto(f"{base}/")
        await expect(page.get_by_test_id("dashboard")).to_be_visible()
        await expect(page.get_by_text(LOADING)).to_have_count(0)
        await page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        assert await has_focus(skip), await focused(page)
        await expect(skip).to_be_visible()  # shown while focused, hidden otherwise
        await assert_visible_focus(page, "skip link")
        await page.keyboard.press("Enter")
        await expect(page.locator("main#main")).to_be_focused()
        await page.keyboard.press("Tab")
        inside = await page.evaluate(
            "() => document.getElementById('main').contains(document.activeElement)"
        )
        assert inside, f"Tab after the skip link went to {await focused(page)}"

        # Tab reaches every main navigation link, and whatever has focus shows it.
        stops = await tab_through(page, f"dashboard ({size['width']} px)")
        reached = {stop["name"] for stop in stops if stop["tag"] == "a"}
        assert set(MAIN_LINKS) <= reached, (MAIN_LINKS, stops)
        assert len(stops) >= len(MAIN_LINKS) + 3, stops

    # Every control of the camera page shows focus too.
    await page.set_viewport_size(DESKTOP)
    await page.goto(f"{base}/cameras/{seeded.camera_id}")
    await expect(page.get_by_role("heading", name="Sharing")).to_be_visible()
    await expect(page.get_by_text(LOADING)).to_have_count(0)
    stops = await tab_through(page, "camera page")
    assert any(stop["name"] == "Draw on the snapshot" for stop in stops), stops

    # A zone drawn, named and saved with the keyboard only.
    await page.evaluate("() => document.activeElement?.blur()")
    await tab_to(page, page.get_by_label("Name", exact=True))
    await page.keyboard.type("Porch")
    await tab_to(page, page.get_by_role("button", name="Draw on the snapshot"))
    await page.keyboard.press("Enter")
    surface = page.get_by_role("application", name="Drawing surface: new zone", exact=True)
    await expect(surface).to_be_focused()
    await expect(surface).to_have_accessible_description(
        "Arrow keys move the cursor, Shift with an arrow moves it further, Enter or Space adds "
        "a point, Backspace removes the last one. Clicking adds a point too."
    )
    await assert_visible_focus(page, "drawing surface")
    cursor = page.get_by_test_id("polygon-cursor")
    await expect(cursor).to_be_visible()
    position = page.get_by_test_id("polygon-position")
    await expect(position).to_have_text("Cursor at 50%, 50% · 0 points")

    async def press(key: str, times: int = 1) -> None:
        for _ in range(times):
            await page.keyboard.press(key)

    await press("Shift+ArrowLeft", 3)  # 10% a step: (20%, 20%)
    await press("Shift+ArrowUp", 3)
    await expect(position).to_have_text("Cursor at 20%, 20% · 0 points")
    await press("Enter")
    await press("Shift+ArrowRight", 4)  # (60%, 20%)
    await press(" ")
    await press("Shift+ArrowDown", 4)  # (60%, 60%)
    await press("Enter")
    await press("ArrowLeft", 5)  # 1% a step: (55%, 60%), added then taken back
    await press("Enter")
    await expect(position).to_have_text("Cursor at 55%, 60% · 4 points")
    await press("Backspace")
    await expect(position).to_have_text("Cursor at 55%, 60% · 3 points")
    await press("Shift+ArrowLeft", 4)  # (15%, 60%) then (16%, 60%)
    await press("ArrowRight")
    await press("Enter")
    await expect(position).to_have_text("Cursor at 16%, 60% · 4 points")
    await expect(page.locator("[data-testid=polygon-draft] [data-point]")).to_have_count(4)
    await expect(cursor.locator("ellipse")).to_have_attribute("cx", "0.16")
    await expect(cursor.locator("ellipse")).to_have_attribute("cy", "0.6")
    await screenshot(page, "a11y-zone-drawn-by-keyboard")
    _, violations = await audit(page, "camera page while drawing")
    assert violations is None, violations
    await expect(surface).to_be_focused()

    await tab_to(page, page.get_by_role("button", name="Finish shape (4 points)"))
    await page.keyboard.press("Enter")
    # Focus goes back to the button that starts the next shape, not to the page.
    await expect(page.get_by_role("button", name="Draw on the snapshot")).to_be_focused()
    await expect(surface).to_have_count(0)
    await expect(page.get_by_role("textbox", name="Points of Porch")).to_have_value(
        "0.2,0.2 0.6,0.2 0.6,0.6 0.16,0.6"
    )
    await tab_to(page, page.get_by_role("button", name="Save zones and masks"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    camera = await person.get(f"/api/v1/cameras/{seeded.camera_id}")
    assert camera.status_code == 200, camera.text
    zones = camera.json()["zones"]
    assert [zone["name"] for zone in zones] == ["Porch"]
    drawn = [value for point in zones[0]["polygon"] for value in point]
    assert drawn == pytest.approx([0.2, 0.2, 0.6, 0.2, 0.6, 0.6, 0.16, 0.6])
    assert camera.json()["privacy_masks"] == []
    errors.check()
