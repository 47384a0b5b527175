"""Push subscriptions, the Web Push key, the webhook secret and notification preferences over
the API, on both adapter sets: bad input is a problem+json, and nobody touches another's."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.fixtures.api import Api

PROBLEM = "application/problem+json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def browser_subscription(endpoint: str) -> dict[str, object]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")},
    }


async def test_push_subscriptions_are_the_callers_own(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    # Push services are public hosts; the SSRF policy refuses private ones by default.
    endpoint = "https://93.184.216.34/push/abc"
    created = await api.http.post(
        "/api/v1/user/me/push-subscriptions",
        json=browser_subscription(endpoint),
        headers={**alice.auth, "User-Agent": "Firefox/140"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["endpoint"], body["user_agent"]) == (
        "webpush",
        endpoint,
        "Firefox/140",
    )
    again = await alice.post(
        "/api/v1/user/me/push-subscriptions", json=browser_subscription(endpoint)
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    token = await alice.post(
        "/api/v1/user/me/push-subscriptions", json={"kind": "fcm", "token": "f" * 40 + ":APA91b"}
    )
    assert token.status_code == 201, token.text
    assert token.json()["endpoint"] == "ffffffffffff…"  # a token is not echoed in full

    listed = (await alice.get("/api/v1/user/me/push-subscriptions")).json()
    assert sorted(item["kind"] for item in listed) == ["fcm", "webpush"]
    assert (await bob.get("/api/v1/user/me/push-subscriptions")).json() == []
    stolen = await bob.delete(f"/api/v1/user/me/push-subscriptions/{body['id']}")
    assert stolen.status_code == 404
    assert stolen.headers["content-type"].startswith(PROBLEM)
    gone = await alice.delete(f"/api/v1/user/me/push-subscriptions/{body['id']}")
    assert gone.status_code == 204
    assert len((await alice.get("/api/v1/user/me/push-subscriptions")).json()) == 1


async def test_bad_push_subscriptions_are_refused(api: Api) -> None:
    alice = await api.sign_up()
    bad_bodies: list[object] = [
        {},
        {"endpoint": "https://93.184.216.34/x"},
        {"endpoint": "ftp://push.example/x", "keys": {"p256dh": "A" * 87, "auth": "B" * 22}},
        {"endpoint": "https://93.184.216.34/x", "keys": {"p256dh": "short", "auth": "B" * 22}},
        {"kind": "fcm", "token": "has spaces in it, which tokens never do"},
        {"kind": "apns", "token": "x" * 40},
        [],
    ]
    for body in bad_bodies:
        response = await alice.post("/api/v1/user/me/push-subscriptions", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    private = await alice.post(
        "/api/v1/user/me/push-subscriptions",
        json=browser_subscription("https://127.0.0.1:8443/push/x"),
    )
    assert private.status_code == 422, private.text
    assert private.json()["type"].endswith("webhook-refused")


async def test_webhook_secret_signs_and_differs_per_user(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    secret = (await alice.get("/api/v1/user/me/webhook-secret")).json()["secret"]
    assert len(secret) == 64
    assert secret == (await alice.get("/api/v1/user/me/webhook-secret")).json()["secret"]
    assert secret != (await bob.get("/api/v1/user/me/webhook-secret")).json()["secret"]
    expected = hmac.new(
        api.runtime.infra.secret, f"orin.webhook:{alice.user_id}".encode(), hashlib.sha256
    ).hexdigest()
    assert secret == expected
    key = (await alice.get("/api/v1/notifications/push-key")).json()
    assert key == {"public_key": None}  # no VAPID key in these settings
    anonymous = await api.http.get("/api/v1/user/me/webhook-secret")
    assert anonymous.status_code == 401


async def test_channels_need_what_they_deliver_to(api: Api) -> None:
    alice = await api.sign_up()
    url = "/api/v1/user/me/preferences"
    no_number = await alice.patch(url, json={"channels": ["sms"]})
    assert no_number.status_code == 422
    assert no_number.json()["type"].endswith("channel-not-ready")
    assert no_number.json()["detail"] == "set `sms_number` to turn on SMS notifications"
    bad_number = await alice.patch(url, json={"sms_number": "0612345678"})
    assert bad_number.status_code == 422
    ok = await alice.patch(url, json={"channels": ["sms", "push"], "sms_number": "+33612345678"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["sms_number"] == "+33612345678"

    no_url = await alice.patch(url, json={"channels": ["webhook"]})
    assert no_url.status_code == 422
    assert no_url.json()["detail"] == "set `webhook_url` to turn on webhook notifications"
    for private in ("http://127.0.0.1/hook", "http://10.1.2.3/hook", "http://169.254.169.254/"):
        refused = await alice.patch(url, json={"webhook_url": private})
        assert refused.status_code == 422, private
        assert refused.json()["type"].endswith("webhook-refused")
    for malformed in ("not a url", "ftp://example.com/x", "https://user:pw@example.com/x"):
        assert (await alice.patch(url, json={"webhook_url": malformed})).status_code == 422
    public = await alice.patch(
        url, json={"channels": ["webhook"], "webhook_url": "https://93.184.216.34/hook"}
    )
    assert public.status_code == 200, public.text
    # Clearing the number is allowed once SMS is off; null on other fields changes nothing.
    cleared = await alice.patch(url, json={"sms_number": None, "timezone": None})
    assert cleared.status_code == 200
    assert cleared.json()["sms_number"] is None
    assert cleared.json()["timezone"] == "UTC"
    assert (await alice.patch(url, json={"webhook_url": None})).status_code == 422
