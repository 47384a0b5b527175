"""Web Push delivery end to end against a local push service that checks and decrypts it."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from orin.config import NotifySettings
from orin.notifications.channels.http_headers import retry_after_s
from orin.notifications.channels.webpush import (
    MAX_BODY_BYTES,
    MAX_PAYLOAD_BYTES,
    WebPushSender,
    load_vapid_private_key,
    push_topic,
    vapid_public_key,
)
from orin.notifications.notice import (
    CatchSummary,
    DeliveryError,
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
    WebPushTarget,
)
from tests.fixtures.services import free_port
from tests.notifications.fakes.push_service import PushService

SUBJECT = "mailto:alerts@orin.example"
VAPID_KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PEM = VAPID_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
VAPID_RAW = (
    base64.urlsafe_b64encode(VAPID_KEY.private_numbers().private_value.to_bytes(32, "big"))
    .rstrip(b"=")
    .decode()
)


def settings(
    private_key: str = VAPID_PEM, *, subject: str = SUBJECT, timeout_s: float = 5.0
) -> NotifySettings:
    return NotifySettings(
        vapid_private_key=SecretStr(private_key),
        vapid_subject=subject,
        request_timeout_s=timeout_s,
    )


def catch(number: int, *, snapshot: bool = True) -> CatchSummary:
    event_id = f"0192f0c4-0000-7000-8000-{number:012d}"
    return CatchSummary(
        event_id=event_id,
        guard_id="guard-1",
        guard_name="Back door after hours",
        camera_id="camera-1",
        camera_name="Back door",
        space_id="space-1",
        space_name="Shop",
        label="person",
        confidence=0.91,
        severity="warning",
        occurred_at=datetime(2025, 3, 1, 22, 15, number % 60, tzinfo=UTC),
        link=f"https://orin.example/events/{event_id}",
        snapshot_url=f"https://orin.example/s/{event_id}.jpg?sig=abc" if snapshot else None,
    )


def make_notice(
    *,
    key: str = "notification-1",
    severity: str = "warning",
    catches: int = 1,
    body: str = "A person at Back door (Shop) at 22:15.",
    snapshot: bool = True,
) -> Notice:
    return Notice(
        key=key,
        kind="catch" if catches == 1 else "digest",
        title="Person at Back door",
        body=body,
        link="https://orin.example/events/0192f0c4-0000-7000-8000-000000000000",
        catches=tuple(catch(n, snapshot=snapshot) for n in range(catches)),
        severity=severity,
    )


@pytest.fixture(scope="module")
async def push_service() -> AsyncIterator[PushService]:
    async with PushService() as service:
        yield service


@pytest.fixture(autouse=True)
def _clean_script(push_service: PushService) -> Iterator[None]:
    yield
    push_service.reset()


@pytest.fixture
async def sender() -> AsyncIterator[WebPushSender]:
    web_push = WebPushSender(settings())
    yield web_push
    await web_push.close()


async def test_browser_decrypts_the_payload_that_was_sent(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe(application_server_key=vapid_public_key(settings()))
    notice = make_notice()

    location = await sender.send(subscription.target, notice)

    [message] = push_service.messages_for(subscription)
    assert location == f"{push_service.origin}/m/{message.id}"
    assert subscription.delivered == [message]
    assert message.json() == {
        "type": "catch",
        "title": "Person at Back door",
        "body": "A person at Back door (Shop) at 22:15.",
        "url": notice.link,
        "key": "notification-1",
        "severity": "warning",
        "image": notice.catches[0].snapshot_url,
        "event_ids": [notice.catches[0].event_id],
        "event_count": 1,
    }
    assert message.headers["content-encoding"] == "aes128gcm"
    assert message.ttl == 12 * 3600
    assert message.urgency == "normal"
    assert message.headers["urgency"] == "normal"
    assert message.topic == push_topic("notification-1")
    assert message.topic is not None
    assert len(message.topic) == 32
    assert message.authorization.startswith("vapid t=")
    assert message.vapid_key == sender.public_key == vapid_public_key(settings())
    assert message.claims["aud"] == push_service.origin
    assert message.claims["sub"] == SUBJECT
    assert time.time() < message.claims["exp"] <= time.time() + 24 * 3600


async def test_snapshotless_catch_has_no_image(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()

    await sender.send(subscription.target, make_notice(snapshot=False))

    [message] = push_service.messages_for(subscription)
    assert "image" not in message.json()


async def test_critical_notice_is_sent_with_high_urgency(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()

    await sender.send(subscription.target, make_notice(severity="critical"))
    await sender.send(subscription.target, make_notice(key="notification-2", severity="info"))

    assert [m.urgency for m in push_service.messages_for(subscription)] == ["high", "normal"]
    assert [m.json()["severity"] for m in push_service.messages_for(subscription)] == [
        "critical",
        "info",
    ]


async def test_retry_replaces_the_undelivered_copy_by_topic(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe(online=False)
    first = make_notice(key="notification-retried")

    await sender.send(subscription.target, first)
    await sender.send(subscription.target, first)
    await sender.send(subscription.target, make_notice(key="notification-other"))

    sent = push_service.messages_for(subscription)
    assert len(sent) == 3
    assert sent[0].topic == sent[1].topic != sent[2].topic
    assert [m.json()["key"] for m in subscription.pending] == [
        "notification-retried",
        "notification-other",
    ]
    assert subscription.pending[0] is sent[1]


async def test_vapid_token_is_reused_for_the_same_push_service(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()

    await sender.send(subscription.target, make_notice(key="a"))
    await sender.send(subscription.target, make_notice(key="b"))

    first, second = push_service.messages_for(subscription)
    assert first.authorization == second.authorization


async def test_raw_and_pem_keys_are_the_same_key(push_service: PushService) -> None:
    assert vapid_public_key(settings(VAPID_RAW)) == vapid_public_key(settings(VAPID_PEM))
    subscription = push_service.subscribe(application_server_key=vapid_public_key(settings()))
    raw_sender = WebPushSender(settings(VAPID_RAW))
    try:
        await raw_sender.send(subscription.target, make_notice())
    finally:
        await raw_sender.close()

    [message] = push_service.messages_for(subscription)
    assert message.json()["key"] == "notification-1"


def test_public_key_is_an_uncompressed_p256_point() -> None:
    public = vapid_public_key(settings())
    assert public is not None
    point = base64.urlsafe_b64decode(public + "=" * (-len(public) % 4))
    assert len(point) == 65
    assert point[0] == 4
    assert "=" not in public
    assert vapid_public_key(settings("")) is None


@pytest.mark.parametrize(
    "bad_key",
    [
        "not a key at all!",
        base64.urlsafe_b64encode(b"x" * 31).decode(),
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    ],
    ids=["garbage", "short", "p384"],
)
def test_unusable_vapid_keys_are_refused(bad_key: str) -> None:
    with pytest.raises(ValueError, match="VAPID"):
        load_vapid_private_key(bad_key)


def test_subject_must_be_mailto_or_https() -> None:
    with pytest.raises(ValueError, match="VAPID"):
        WebPushSender(settings(subject="alerts@orin.example"))


async def test_subscription_made_with_another_key_is_refused(
    push_service: PushService, sender: WebPushSender
) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_key = (
        base64.urlsafe_b64encode(
            other.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        .rstrip(b"=")
        .decode()
    )
    subscription = push_service.subscribe(application_server_key=other_key)

    with pytest.raises(PermanentDeliveryError) as caught:
        await sender.send(subscription.target, make_notice())

    assert caught.value.status == 403
    assert not isinstance(caught.value, TargetGone)
    assert push_service.messages_for(subscription) == []


async def test_expired_subscription_is_gone(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()
    push_service.unsubscribe(subscription)

    with pytest.raises(TargetGone) as caught:
        await sender.send(subscription.target, make_notice())

    assert caught.value.status == 410


async def test_unknown_subscription_is_gone(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()
    target = WebPushTarget(
        endpoint=f"{push_service.origin}/push/never-made",
        p256dh=subscription.target.p256dh,
        auth=subscription.target.auth,
    )

    with pytest.raises(TargetGone) as caught:
        await sender.send(target, make_notice())

    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after_s"),
    [
        (410, {}, TargetGone, None),
        (404, {}, TargetGone, None),
        (429, {"Retry-After": "30"}, TransientDeliveryError, 30.0),
        (500, {}, TransientDeliveryError, None),
        (503, {"Retry-After": "120"}, TransientDeliveryError, 120.0),
        (400, {}, PermanentDeliveryError, None),
        (403, {}, PermanentDeliveryError, None),
        (413, {}, PermanentDeliveryError, None),
    ],
)
async def test_push_service_answers_map_to_delivery_errors(
    push_service: PushService,
    sender: WebPushSender,
    status: int,
    headers: dict[str, str],
    error: type[DeliveryError],
    retry_after_s: float | None,
) -> None:
    subscription = push_service.subscribe()
    push_service.answer_next(status, headers=headers, body='{"reason":"scripted"}')

    with pytest.raises(DeliveryError) as caught:
        await sender.send(subscription.target, make_notice())

    assert type(caught.value) is error
    assert caught.value.status == status
    assert "scripted" in caught.value.message
    if isinstance(caught.value, TransientDeliveryError):
        assert caught.value.retry_after_s == retry_after_s
    # The next try goes through: nothing was left in the script.
    await sender.send(subscription.target, make_notice())
    assert len(push_service.messages_for(subscription)) == 1


async def test_slow_push_service_is_a_transient_failure(push_service: PushService) -> None:
    subscription = push_service.subscribe()
    impatient = WebPushSender(settings(timeout_s=0.2))
    push_service.answer_next(201, delay_s=1.0)
    try:
        with pytest.raises(TransientDeliveryError, match="timed out") as caught:
            await impatient.send(subscription.target, make_notice())
    finally:
        await impatient.close()

    assert caught.value.status is None


async def test_unreachable_push_service_is_a_transient_failure(sender: WebPushSender) -> None:
    subscription = PushService().subscribe()  # never started: nothing listens on its port
    target = WebPushTarget(
        endpoint=f"http://127.0.0.1:{free_port()}/push/x",
        p256dh=subscription.target.p256dh,
        auth=subscription.target.auth,
    )

    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await sender.send(target, make_notice())


async def test_connects_to_the_checked_address_not_a_new_lookup(sender: WebPushSender) -> None:
    """The push goes to an address the delivery's policy check found (the first that takes
    the connection: nothing listens on 127.0.0.2 here): the endpoint's name, one no resolver
    answers for, is not looked up again, and still names the request and the VAPID audience."""
    async with PushService(host="push.example.invalid") as named:
        subscription = named.subscribe()
        pinned = dataclasses.replace(subscription.target, pinned_hosts=("127.0.0.2", "127.0.0.1"))

        await sender.send(pinned, make_notice())

        [message] = named.messages_for(subscription)
        assert message.headers["host"] == f"push.example.invalid:{named.port}"
        assert message.claims["aud"] == named.origin
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            await sender.send(subscription.target, make_notice(key="unpinned"))
        assert named.requests == 1


async def test_large_digest_fits_the_web_push_limit(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()
    notice = make_notice(key="digest-1", catches=300)

    await sender.send(subscription.target, notice)

    [message] = push_service.messages_for(subscription)
    payload = message.json()
    all_ids = [c.event_id for c in notice.catches]
    assert len(message.payload) <= MAX_PAYLOAD_BYTES
    assert message.body_size <= MAX_BODY_BYTES
    assert payload["type"] == "digest"
    assert payload["event_count"] == 300
    assert 50 < len(payload["event_ids"]) < 300
    assert payload["event_ids"] == all_ids[: len(payload["event_ids"])]
    assert payload["body"] == notice.body
    # As many ids as fit: one more would not.
    kept = len(payload["event_ids"])
    assert len(orjson.dumps({**payload, "event_ids": all_ids[: kept + 1]})) > MAX_PAYLOAD_BYTES


async def test_overlong_text_is_cut_to_fit(
    push_service: PushService, sender: WebPushSender
) -> None:
    subscription = push_service.subscribe()
    notice = make_notice(body="é" * 5000)

    await sender.send(subscription.target, notice)

    [message] = push_service.messages_for(subscription)
    payload = message.json()
    assert len(message.payload) <= MAX_PAYLOAD_BYTES
    assert payload["body"].endswith("\u2026")
    assert payload["body"].startswith("é" * 1000)
    assert payload["event_ids"] == [notice.catches[0].event_id]


async def test_fake_push_service_refuses_forged_requests(push_service: PushService) -> None:
    """The fake's checks are real: requests a push service would refuse are refused."""
    subscription = push_service.subscribe()
    forger = WebPushSender(settings(VAPID_PEM))
    good = forger.authorization(push_service.origin)
    wrong_audience = forger.authorization("https://elsewhere.example")
    impostor = ec.generate_private_key(ec.SECP256R1())
    impostor_pem = impostor.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    forged_token = WebPushSender(settings(impostor_pem)).authorization(push_service.origin)
    # The impostor's token with our public key as k: the signature cannot verify.
    forged = forged_token.split(",k=")[0] + ",k=" + good.split(",k=")[1]
    base = {"TTL": "60", "Content-Encoding": "aes128gcm", "Authorization": good}
    cases: list[tuple[dict[str, str], bytes, int]] = [
        ({**base, "TTL": ""}, b"x" * 200, 400),
        ({**base, "Authorization": wrong_audience}, b"x" * 200, 401),
        ({**base, "Authorization": forged}, b"x" * 200, 401),
        ({**base, "Authorization": "WebPush abc"}, b"x" * 200, 401),
        ({**base, "Content-Encoding": "aesgcm"}, b"x" * 200, 400),
        ({**base, "Topic": "t" * 33}, b"x" * 200, 400),
        (base, b"x" * 5000, 413),
        (base, b"x" * 200, 400),  # not decryptable
    ]
    async with httpx.AsyncClient() as client:
        for headers, body, expected in cases:
            response = await client.post(
                subscription.target.endpoint, headers=headers, content=body
            )
            assert response.status_code == expected, (headers, response.text)
    await forger.close()
    assert push_service.messages_for(subscription) == []


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_s("17") == 17.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert retry_after_s(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
