"""FCM HTTP v1 delivery end to end against a local OAuth token endpoint and FCM API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from orin.config import NotifySettings
from orin.notifications.channels.fcm import FCM_SCOPE, MAX_PAYLOAD_BYTES, FcmSender
from orin.notifications.channels.webpush import push_topic
from orin.notifications.notice import (
    CatchSummary,
    DeliveryError,
    FcmTarget,
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
)
from tests.fixtures.services import free_port
from tests.notifications.fakes.fcm_server import FcmServer


def catch(number: int) -> CatchSummary:
    event_id = f"0192f0c4-0000-7000-8000-{number:012d}"
    return CatchSummary(
        event_id=event_id,
        guard_id="guard-1",
        guard_name="Driveway at night",
        camera_id="camera-2",
        camera_name="Driveway",
        space_id="space-1",
        space_name="Home",
        label="car",
        confidence=0.88,
        severity="warning",
        occurred_at=datetime(2025, 3, 1, 2, 5, number % 60, tzinfo=UTC),
        link=f"https://orin.example/events/{event_id}",
        snapshot_url=f"https://orin.example/s/{event_id}.jpg?sig=xyz",
    )


def make_notice(
    *, key: str = "notification-7", severity: str = "warning", catches: int = 1
) -> Notice:
    return Notice(
        key=key,
        kind="catch" if catches == 1 else "digest",
        title="Car on Driveway",
        body="A car on Driveway (Home) at 02:05.",
        link="https://orin.example/events/0192f0c4-0000-7000-8000-000000000000",
        catches=tuple(catch(n) for n in range(catches)),
        severity=severity,
    )


@pytest.fixture(scope="module")
async def fcm() -> AsyncIterator[FcmServer]:
    server = FcmServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def _clean_script(fcm: FcmServer) -> Iterator[None]:
    yield
    fcm.reset()


def sender_settings(
    fcm: FcmServer, *, token_url: str | None = None, timeout_s: float = 5.0, **account: str
) -> NotifySettings:
    return NotifySettings(
        fcm_service_account=SecretStr(json.dumps(fcm.service_account(**account))),
        fcm_url=fcm.base_url,
        fcm_token_url=token_url,
        request_timeout_s=timeout_s,
    )


@pytest.fixture
async def sender(fcm: FcmServer) -> AsyncIterator[FcmSender]:
    fcm_sender = FcmSender(sender_settings(fcm))
    yield fcm_sender
    await fcm_sender.close()


async def test_message_reaches_the_device_as_sent(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    notice = make_notice()
    tokens_before = len(fcm.token_requests)

    name = await sender.send(FcmTarget(device), notice)

    [received] = fcm.messages_to(device)
    assert name == received.name
    assert name.startswith(f"projects/{fcm.project_id}/messages/")
    collapse = push_topic("notification-7")
    assert received.message == {
        "token": device,
        "notification": {
            "title": "Car on Driveway",
            "body": "A car on Driveway (Home) at 02:05.",
            "image": notice.catches[0].snapshot_url,
        },
        "data": {
            "type": "catch",
            "key": "notification-7",
            "url": notice.link,
            "severity": "warning",
            "event_ids": notice.catches[0].event_id,
            "event_count": "1",
        },
        "android": {
            "priority": "normal",
            "collapse_key": collapse,
            "notification": {"tag": collapse},
        },
        "apns": {"headers": {"apns-priority": "5", "apns-collapse-id": collapse}},
    }
    [claims] = fcm.token_requests[tokens_before:]
    assert claims["iss"] == fcm.client_email
    assert claims["scope"] == FCM_SCOPE
    assert claims["aud"] == fcm.token_url
    assert claims["exp"] - claims["iat"] <= 3600
    assert abs(claims["iat"] - time.time()) < 60


async def test_critical_notice_is_high_priority(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()

    await sender.send(FcmTarget(device), make_notice(severity="critical"))

    [received] = fcm.messages_to(device)
    assert received.message["android"]["priority"] == "high"
    assert received.message["apns"]["headers"]["apns-priority"] == "10"
    assert received.message["data"]["severity"] == "critical"


async def test_retried_delivery_collapses_with_the_first(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()

    await sender.send(FcmTarget(device), make_notice(key="n-1"))
    await sender.send(FcmTarget(device), make_notice(key="n-1"))
    await sender.send(FcmTarget(device), make_notice(key="n-2"))

    first, retried, other = (m.message for m in fcm.messages_to(device))
    assert first["android"]["collapse_key"] == retried["android"]["collapse_key"]
    assert first["apns"]["headers"] == retried["apns"]["headers"]
    assert other["android"]["collapse_key"] != first["android"]["collapse_key"]


async def test_one_access_token_serves_many_sends(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    tokens_before = len(fcm.token_requests)

    await asyncio.gather(*(sender.send(FcmTarget(device), make_notice()) for _ in range(5)))
    await sender.send(FcmTarget(device), make_notice())

    assert len(fcm.token_requests) - tokens_before == 1
    assert len(fcm.messages_to(device)) == 6
    assert len({m.access_token for m in fcm.messages_to(device)}) == 1


async def test_token_is_renewed_shortly_before_it_expires(fcm: FcmServer) -> None:
    device = fcm.register_device()
    fcm.token_lifetime_s = 1
    short_lived = FcmSender(sender_settings(fcm))
    tokens_before = len(fcm.token_requests)
    rejections_before = len(fcm.rejections)
    try:
        await short_lived.send(FcmTarget(device), make_notice())
        await short_lived.send(FcmTarget(device), make_notice())
        await asyncio.sleep(0.6)  # past lifetime less the margin (half of a short lifetime)
        await short_lived.send(FcmTarget(device), make_notice())
    finally:
        await short_lived.close()

    assert len(fcm.token_requests) - tokens_before == 2
    assert fcm.rejections[rejections_before:] == []  # renewed before FCM refused it
    tokens = [m.access_token for m in fcm.messages_to(device)]
    assert tokens[0] == tokens[1] != tokens[2]


async def test_revoked_token_is_refreshed_once(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    await sender.send(FcmTarget(device), make_notice())
    tokens_before = len(fcm.token_requests)
    fcm.revoke_access_tokens()
    rejections_before = len(fcm.rejections)

    name = await sender.send(FcmTarget(device), make_notice())

    assert name == fcm.messages_to(device)[-1].name
    assert len(fcm.token_requests) - tokens_before == 1
    assert [r[:2] for r in fcm.rejections[rejections_before:]] == [(401, "UNAUTHENTICATED")]


async def test_persistent_401_is_permanent(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    fcm.fail_next(401, "UNAUTHENTICATED", count=2)
    tokens_before = len(fcm.token_requests)

    with pytest.raises(PermanentDeliveryError) as caught:
        await sender.send(FcmTarget(device), make_notice())

    assert caught.value.status == 401
    assert len(fcm.token_requests) - tokens_before == 2  # the first, and one refresh
    assert fcm.messages_to(device) == []


async def test_uninstalled_app_is_gone(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    fcm.unregister_device(device)

    with pytest.raises(TargetGone) as caught:
        await sender.send(FcmTarget(device), make_notice())

    assert caught.value.status == 404
    assert "UNREGISTERED" in caught.value.message


async def test_malformed_token_is_gone(fcm: FcmServer, sender: FcmSender) -> None:
    with pytest.raises(TargetGone) as caught:
        await sender.send(FcmTarget("not-a-registration-token"), make_notice())

    assert caught.value.status == 400
    assert "INVALID_ARGUMENT" in caught.value.message


@pytest.mark.parametrize(
    ("http_status", "status", "code", "retry_after", "error", "retry_after_s"),
    [
        (503, "UNAVAILABLE", "UNAVAILABLE", "17", TransientDeliveryError, 17.0),
        (500, "INTERNAL", "INTERNAL", None, TransientDeliveryError, None),
        (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "60", TransientDeliveryError, 60.0),
        (404, "NOT_FOUND", "UNREGISTERED", None, TargetGone, None),
        (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", None, PermanentDeliveryError, None),
        (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", None, PermanentDeliveryError, None),
        (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", None, PermanentDeliveryError, None),
    ],
)
async def test_fcm_errors_map_to_delivery_errors(
    fcm: FcmServer,
    sender: FcmSender,
    http_status: int,
    status: str,
    code: str,
    retry_after: str | None,
    error: type[DeliveryError],
    retry_after_s: float | None,
) -> None:
    device = fcm.register_device()
    await sender.send(FcmTarget(device), make_notice())  # holds a token now
    tokens_before = len(fcm.token_requests)
    fcm.fail_next(http_status, status, code=code, retry_after=retry_after)

    with pytest.raises(DeliveryError) as caught:
        await sender.send(FcmTarget(device), make_notice())

    assert type(caught.value) is error
    assert caught.value.status == http_status
    assert code in caught.value.message
    if isinstance(caught.value, TransientDeliveryError):
        assert caught.value.retry_after_s == retry_after_s
    # THIRD_PARTY_AUTH_ERROR is the APNs credential, not ours: no token refresh.
    assert len(fcm.token_requests) == tokens_before
    await sender.send(FcmTarget(device), make_notice())
    assert len(fcm.messages_to(device)) == 2


async def test_slow_fcm_is_a_transient_failure(fcm: FcmServer) -> None:
    device = fcm.register_device()
    impatient = FcmSender(sender_settings(fcm, timeout_s=0.3))
    try:
        await impatient.send(FcmTarget(device), make_notice())
        fcm.fail_next(500, "INTERNAL", delay_s=1.0)
        with pytest.raises(TransientDeliveryError, match="timed out") as caught:
            await impatient.send(FcmTarget(device), make_notice())
    finally:
        await impatient.close()

    assert caught.value.status is None


async def test_unreachable_token_endpoint_is_transient(fcm: FcmServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}/token"
    unreachable = FcmSender(sender_settings(fcm, token_url=dead))
    try:
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            await unreachable.send(FcmTarget(fcm.register_device()), make_notice())
    finally:
        await unreachable.close()


async def test_token_url_setting_overrides_the_service_account(fcm: FcmServer) -> None:
    device = fcm.register_device()
    dead = f"http://127.0.0.1:{free_port()}/token"
    overridden = FcmSender(sender_settings(fcm, token_url=fcm.token_url, token_uri=dead))
    try:
        await overridden.send(FcmTarget(device), make_notice())
    finally:
        await overridden.close()

    assert fcm.token_requests[-1]["aud"] == fcm.token_url
    assert len(fcm.messages_to(device)) == 1


async def test_refused_service_account_is_permanent(fcm: FcmServer) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    forged = FcmSender(sender_settings(fcm, private_key=other_pem))
    try:
        with pytest.raises(PermanentDeliveryError, match="invalid_grant") as caught:
            await forged.send(FcmTarget(fcm.register_device()), make_notice())
    finally:
        await forged.close()

    assert caught.value.status == 400
    assert fcm.token_refusals[-1] == "Invalid JWT Signature."


async def test_token_endpoint_outage_is_transient(fcm: FcmServer) -> None:
    fresh = FcmSender(sender_settings(fcm))
    fcm.fail_token_next(503, {"error": "backend_error"})
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await fresh.send(FcmTarget(fcm.register_device()), make_notice())
    finally:
        await fresh.close()

    assert caught.value.status == 503


async def test_large_digest_fits_the_fcm_limit(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    notice = make_notice(key="digest-3", catches=300)

    await sender.send(FcmTarget(device), notice)

    [received] = fcm.messages_to(device)
    data, notification = received.message["data"], received.message["notification"]
    ids = data["event_ids"].split(",")
    all_ids = [c.event_id for c in notice.catches]
    assert len(orjson.dumps(data)) + len(orjson.dumps(notification)) <= MAX_PAYLOAD_BYTES
    assert data["event_count"] == "300"
    assert 50 < len(ids) < 300
    assert ids == all_ids[: len(ids)]
    assert notification["body"] == notice.body


async def test_overlong_title_and_body_are_cut_to_fit(fcm: FcmServer, sender: FcmSender) -> None:
    device = fcm.register_device()
    notice = dataclasses.replace(make_notice(), title="T" * 5000, body="é" * 3000)

    await sender.send(FcmTarget(device), notice)

    [received] = fcm.messages_to(device)
    data, notification = received.message["data"], received.message["notification"]
    assert len(orjson.dumps(data)) + len(orjson.dumps(notification)) <= MAX_PAYLOAD_BYTES
    assert notification["body"] == ""  # cut first, to nothing: the title alone is too long
    assert notification["title"].startswith("T" * 1000)
    assert notification["title"].endswith("…")
    assert data["event_ids"] == notice.catches[0].event_id


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"token": "t", "notification": {"title": "x"}, "unknown": 1}, "message.unknown"),
        ({"token": "t", "topic": "alerts"}, "message.topic"),
        ({"notification": {"title": "x"}}, "message"),
        ({"token": "t", "data": {"count": 3}}, "message.data[count].value"),
        ({"token": "t", "android": {"priority": "urgent"}}, "message.android.priority"),
        (
            {"token": "t", "apns": {"headers": {"apns-priority": 10}}},
            "message.apns.headers[apns-priority].value",
        ),
    ],
    ids=["unknown-field", "two-targets", "no-target", "number-data", "priority", "apns-int"],
)
async def test_fake_fcm_rejects_what_fcm_rejects(
    fcm: FcmServer, sender: FcmSender, message: dict[str, Any], field: str
) -> None:
    """The fake's schema checks are real: malformed messages get 400 INVALID_ARGUMENT."""
    token = await sender.access_token()
    async with httpx.AsyncClient() as client:
        response = await client.post(
            sender.send_url,
            headers={"Authorization": f"Bearer {token}"},
            json={"message": message},
        )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    [violation] = [d for d in error["details"] if d["@type"].endswith("BadRequest")]
    assert violation["fieldViolations"][0]["field"] == field


async def test_fake_fcm_checks_the_project_and_the_bearer(
    fcm: FcmServer, sender: FcmSender
) -> None:
    token = await sender.access_token()
    message = {"message": {"token": fcm.register_device()}}
    async with httpx.AsyncClient() as client:
        other_project = await client.post(
            f"{fcm.base_url}/v1/projects/someone-else/messages:send",
            headers={"Authorization": f"Bearer {token}"},
            json=message,
        )
        no_bearer = await client.post(sender.send_url, json=message)
        accepted = await client.post(
            sender.send_url, headers={"Authorization": f"Bearer {token}"}, json=message
        )

    assert other_project.status_code == 403
    assert no_bearer.status_code == 401
    assert accepted.status_code == 200


def test_missing_or_broken_service_account_is_refused() -> None:
    with pytest.raises(ValueError, match="no FCM service account"):
        FcmSender(NotifySettings())
    with pytest.raises(ValueError, match="not valid JSON"):
        FcmSender(NotifySettings(fcm_service_account=SecretStr("{nope")))
    with pytest.raises(ValueError, match="client_email"):
        FcmSender(
            NotifySettings(
                fcm_service_account=SecretStr(json.dumps({"project_id": "p", "private_key": "k"}))
            )
        )
