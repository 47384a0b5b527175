"""Web Push in Chromium on the embedded backend: Settings → "Push notifications" subscribes
this device, a catch reaches it through a push service, and "Remove" ends it.

Headless Chromium has no push service to reach, so only the browser's side of it is stood in
for: an init script replaces ``PushManager.prototype.subscribe`` and ``getSubscription`` with
a subscription made by the local fake push service (tests/notifications/fakes/push_service.py),
whose keys are real. The server therefore encrypts to keys the fake decrypts, and signs with
the VAPID key the fake checks, exactly as it would for a browser's own push service. The
message the fake decrypted is then handed to the app's service worker through DevTools'
``ServiceWorker.deliverPushMessage``, so its ``push`` handler runs in Chromium and the
notification it shows is read back.

Screens are saved at desktop and phone sizes (names from 47 on); a console error fails the test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import BrowserContext, Locator, Page, expect
from pydantic import SecretStr
from sqlalchemy import select

from orin.config import Settings
from orin.models.notification import Notification, PushSubscription
from orin.notifications.channels.webpush import vapid_public_key
from tests.browser.conftest import LiveServer
from tests.fixtures.api import Api, Person
from tests.fixtures.waiting import passes
from tests.notifications.fakes.push_service import PushMessage, PushService
from tests.notifications.fakes.push_service import PushSubscription as FakeSubscription
from tests.notifications.helpers import record_catch
from tests.web.conftest import PageErrors, screenshot
from tests.web.pages import open_from_nav, sign_in

pytest_plugins = ["tests.fixtures.smtp"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

VAPID_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)
VAPID_SUBJECT = "mailto:alerts@orin.test"

SUBSCRIBED_FLAG = "orin-test-push-subscribed"
KEY_SEEN = "orin-test-push-application-server-key"

PUSH_MANAGER_STUB = """
(() => {
  if (typeof PushManager === "undefined") return;
  const made = __SUBSCRIPTION__;
  const flag = "__FLAG__";
  const seen = "__KEY_SEEN__";
  const base64url = (bytes) =>
    btoa(String.fromCharCode(...bytes))
      .replace(/\\+/g, "-")
      .replace(/\\//g, "_")
      .replace(/=+$/, "");
  const subscription = () => ({
    endpoint: made.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    getKey: () => null,
    toJSON: () => ({ endpoint: made.endpoint, expirationTime: null, keys: { ...made.keys } }),
    unsubscribe: async () => {
      sessionStorage.removeItem(flag);
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = options && options.applicationServerKey;
    if (!key) throw new DOMException("an applicationServerKey is required", "NotAllowedError");
    const bytes = key instanceof ArrayBuffer
      ? new Uint8Array(key)
      : new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    sessionStorage.setItem(seen, base64url(bytes));
    sessionStorage.setItem(flag, "1");
    return subscription();
  };
  PushManager.prototype.getSubscription = async function () {
    return sessionStorage.getItem(flag) ? subscription() : null;
  };
})();
"""


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """The web tests' settings with Web Push on (a VAPID key) and the fake push service's
    loopback address allowed past the SSRF policy, as the notification tests allow theirs."""
    notify = api_settings.notify.model_copy(
        update={
            "vapid_private_key": SecretStr(VAPID_PEM),
            "vapid_subject": VAPID_SUBJECT,
            "allowed_networks": ["127.0.0.1/32"],
            "request_timeout_s": 5.0,
            "retry_base_s": 0.2,
            "retry_max_s": 0.5,
        }
    )
    return api_settings.model_copy(update={"notify": notify})


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    async with PushService() as service:
        yield service


def push_manager_stub(subscription: FakeSubscription) -> str:
    """The init script that answers ``pushManager`` calls with ``subscription``."""
    made = {
        "endpoint": subscription.target.endpoint,
        "keys": {"p256dh": subscription.target.p256dh, "auth": subscription.target.auth},
    }
    return (
        PUSH_MANAGER_STUB.replace("__SUBSCRIPTION__", json.dumps(made))
        .replace("__FLAG__", SUBSCRIBED_FLAG)
        .replace("__KEY_SEEN__", KEY_SEEN)
    )


async def watched_camera(owner: Person) -> tuple[str, str, str]:
    """A space, a camera "Front door" in it and a guard "Yard watch" on that camera."""
    space = await owner.create_space(timezone="UTC", name="Home")
    camera = await owner.create_camera(space["id"], name="Front door")
    guard = await owner.create_guard(
        space["id"], [camera["id"]], "tell me when a person shows up", name="Yard watch"
    )
    return space["id"], camera["id"], guard["id"]


async def subscriptions_of(api: Api, user_id: str) -> list[PushSubscription]:
    async with api.database.transaction() as session:
        rows = await session.scalars(
            select(PushSubscription).where(PushSubscription.user_id == user_id)
        )
        return list(rows)


async def notifications_of(api: Api, user_id: str) -> list[Notification]:
    async with api.database.transaction() as session:
        rows = await session.scalars(select(Notification).where(Notification.user_id == user_id))
        return list(rows)


def push_section(page: Page) -> Locator:
    """The "Push notifications" card of the settings page."""
    return page.get_by_role("heading", name="Push notifications", exact=True).locator("..")


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_push_on_this_device_receives_a_catch_and_is_removed(
    api: Api, live_server: LiveServer, context: BrowserContext, push_service: PushService
) -> None:
    base = live_server.base_url
    server_key = vapid_public_key(api.runtime.settings.notify)
    assert server_key is not None
    device = push_service.subscribe(application_server_key=server_key)
    await context.grant_permissions(["notifications"], origin=base)
    await context.add_init_script(script=push_manager_stub(device))

    owner = await api.sign_up()
    assert (await owner.get("/api/v1/notifications/push-key")).json() == {"public_key": server_key}
    space_id, camera_id, guard_id = await watched_camera(owner)

    errors = PageErrors()
    page = errors.watch(await context.new_page())
    await sign_in(page, base, owner.email)
    await open_from_nav(page, "Settings")
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    section = push_section(page)
    await expect(section.get_by_text("Web Push is not set up on this server")).to_have_count(0)
    await expect(section.get_by_text("This browser cannot receive push")).to_have_count(0)
    await expect(section.get_by_role("listitem")).to_have_count(0)

    # Subscribing: the browser is asked with the server's VAPID key, the server stores it.
    await section.get_by_role("button", name="Get push notifications on this device").click()
    await expect(
        section.get_by_role("button", name="This device gets push notifications")
    ).to_be_disabled()
    item = section.get_by_role("listitem")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("webpush · ")
    await expect(item).to_contain_text("HeadlessChrome")
    await expect(item).to_contain_text("(this device)")
    assert await page.evaluate("k => sessionStorage.getItem(k)", KEY_SEEN) == server_key
    await screenshot(page, "47-settings-push-on-this-device")

    [row] = await subscriptions_of(api, owner.user_id)
    assert (row.kind, row.endpoint, row.p256dh, row.auth) == (
        "webpush",
        device.target.endpoint,
        device.target.p256dh,
        device.target.auth,
    )
    assert "HeadlessChrome" in row.user_agent
    listed = (await owner.get("/api/v1/user/me/push-subscriptions")).json()
    assert [(s["id"], s["kind"], s["endpoint"]) for s in listed] == [
        (row.id, "webpush", device.target.endpoint)
    ]

    # A catch, with push as the owner's channel, reaches this device through the push service.
    prefs = await owner.patch("/api/v1/user/me/preferences", json={"channels": ["push"]})
    assert prefs.status_code == 200, prefs.text
    event_id = await record_catch(api, space_id, camera_id, guard_id)

    async def pushed() -> None:
        assert push_service.messages_for(device), push_service.rejections

    await passes(pushed, within_s=30)
    assert push_service.rejections == []
    [message] = push_service.messages_for(device)
    check_message(message, server_key, push_service.origin, event_id)

    async def sent() -> None:
        rows = await notifications_of(api, owner.user_id)
        assert [(r.channel, r.status, r.event_id) for r in rows] == [("push", "sent", event_id)]

    await passes(sent, within_s=20)

    # The service worker shows what arrived: the push service's decrypted message is handed to
    # it as the browser would (DevTools' push delivery), and its notification is read back.
    shown = await show_in_service_worker(context, page, base, message.payload)
    assert shown == {
        "title": payload_of(message)["title"],
        "body": payload_of(message)["body"],
        "tag": payload_of(message)["key"],
        "url": payload_of(message)["url"],
        "requireInteraction": False,
    }

    # Removing it: the row is gone on the server and the browser is unsubscribed.
    await item.get_by_role("button", name="Remove").click()
    await expect(section.get_by_role("listitem")).to_have_count(0)
    await expect(
        section.get_by_role("button", name="Get push notifications on this device")
    ).to_be_enabled()
    assert await page.evaluate("k => sessionStorage.getItem(k)", SUBSCRIBED_FLAG) is None
    await screenshot(page, "48-settings-push-removed")
    assert await subscriptions_of(api, owner.user_id) == []
    assert (await owner.get("/api/v1/user/me/push-subscriptions")).json() == []
    errors.check()


def payload_of(message: PushMessage) -> dict[str, Any]:
    body: dict[str, Any] = message.json()
    return body


SHOWN_NOTIFICATION = """
async (tries) => {
  const registration = await navigator.serviceWorker.ready;
  for (let n = 0; n < tries; n++) {
    const [shown] = await registration.getNotifications();
    if (shown) {
      return {
        title: shown.title,
        body: shown.body,
        tag: shown.tag,
        url: shown.data && shown.data.url,
        requireInteraction: shown.requireInteraction,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}
"""


async def show_in_service_worker(
    context: BrowserContext, page: Page, base: str, payload: bytes
) -> dict[str, Any] | None:
    """Deliver ``payload`` to the page's service worker as a push; the notification it shows."""
    await page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    cdp = await context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")

    async def registered() -> None:
        assert any(not r["isDeleted"] for r in registrations), registrations

    await passes(registered, within_s=10)
    [registration] = [r for r in registrations if not r["isDeleted"]]
    shown: dict[str, Any] | None = None
    # A loaded host may still be starting the worker when the first push comes; the same
    # push again replaces any copy shown meanwhile (same tag).
    for _ in range(4):
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": base,
                "registrationId": registration["registrationId"],
                "data": payload.decode(),
            },
        )
        shown = await page.evaluate(SHOWN_NOTIFICATION, 50)
        if shown is not None:
            break
    await cdp.detach()
    return shown


def check_message(message: PushMessage, server_key: str, origin: str, event_id: str) -> None:
    """The decrypted push names the catch, and came signed with the server's VAPID key."""
    payload: dict[str, Any] = message.json()
    assert payload["type"] == "catch"
    assert payload["event_ids"] == [event_id]
    assert payload["event_count"] == 1
    assert "Person" in payload["title"], payload
    assert "Front door" in payload["title"], payload
    assert payload["url"].endswith(f"/events/{event_id}"), payload
    # The fake accepted it only with a valid ES256 token by ``k``; these are its claims.
    assert message.authorization.startswith("vapid t=")
    assert message.vapid_key == server_key
    assert message.claims["aud"] == origin
    assert message.claims["sub"] == VAPID_SUBJECT
