"""The webhook channel against a local receiver that verifies signatures and dedupes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from orin.notifications.channels.webhook import (
    USER_AGENT,
    WebhookSender,
    sign,
    verify_signature,
)
from orin.notifications.notice import (
    CatchSummary,
    Notice,
    PermanentDeliveryError,
    TargetGone,
    TransientDeliveryError,
    WebhookTarget,
)
from tests.fixtures.services import free_port
from tests.notifications import helpers
from tests.notifications.fakes.webhook_receiver import WebhookReceiver

SNAPSHOT_URL = "https://orin.test/s/evt-1.jpg?sig=x"


def make_catch(**overrides: Any) -> CatchSummary:
    return helpers.make_catch(**{"snapshot_url": SNAPSHOT_URL, **overrides})


def make_notice(**overrides: Any) -> Notice:
    return helpers.make_notice(**{"catches": (make_catch(),), **overrides})


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(timeout_s=2.0)
    yield sender
    await sender.aclose()


def target_of(receiver: WebhookReceiver) -> WebhookTarget:
    return WebhookTarget(url=receiver.url, secret=receiver.secret)


async def test_connects_to_the_checked_address_not_a_new_lookup(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    """The address the policy checked is the one connected to: the URL's host (here one that
    no resolver answers for) is never looked up again, and still names the request."""
    port = urlsplit(receiver.url).port
    url = f"http://hooks.example.invalid:{port}/hook"
    notice = make_notice()
    pinned = WebhookTarget(url=url, secret=receiver.secret, pinned_hosts=("127.0.0.1",))

    assert await webhook.send(pinned, notice) is None

    assert list(receiver.deliveries) == [notice.key]
    assert receiver.requests[0].headers["host"] == f"hooks.example.invalid:{port}"
    assert receiver.bad_signatures == 0
    with pytest.raises(TransientDeliveryError):  # unpinned, the same URL cannot be reached
        await webhook.send(WebhookTarget(url=url, secret=receiver.secret), make_notice())


async def test_an_address_that_refuses_is_skipped_for_the_next_checked_one(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    """As a client resolving the name itself would: nothing listens on 127.0.0.2 here."""
    port = urlsplit(receiver.url).port
    url = f"http://hooks.example.invalid:{port}/hook"
    notice = make_notice()
    both = WebhookTarget(url=url, secret=receiver.secret, pinned_hosts=("127.0.0.2", "127.0.0.1"))

    assert await webhook.send(both, notice) is None

    assert list(receiver.deliveries) == [notice.key]
    assert receiver.requests[0].headers["host"] == f"hooks.example.invalid:{port}"
    with pytest.raises(TransientDeliveryError, match="ConnectError"):  # none left: the last error
        await webhook.send(
            WebhookTarget(url=url, secret=receiver.secret, pinned_hosts=("127.0.0.2",)),
            make_notice(),
        )


async def test_delivers_signed_json(webhook: WebhookSender, receiver: WebhookReceiver) -> None:
    notice = make_notice()
    before = int(time.time())

    result = await webhook.send(target_of(receiver), notice)

    assert result is None
    assert receiver.bad_signatures == 0
    assert list(receiver.deliveries) == [notice.key]
    request = receiver.requests[0]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["x-orin-event-id"] == notice.key
    assert before <= int(request.headers["x-orin-timestamp"]) <= int(time.time())
    assert request.headers["x-orin-signature"].startswith("sha256=")

    document = request.json()
    assert document["type"] == "catch"
    assert document["id"] == notice.key
    assert datetime.fromisoformat(document["created_at"]).tzinfo is not None
    assert document["catches"] == [
        {
            "event_id": "evt-1",
            "guard": {"id": "grd-1", "name": "Garden gate"},
            "camera": {"id": "cam-1", "name": "Back yard"},
            "space": {"id": "spc-1", "name": "Home"},
            "label": "person",
            "confidence": 0.874,
            "severity": "high",
            "occurred_at": "2024-05-01T12:00:00+00:00",
            "link": "https://orin.test/events/evt-1",
            "snapshot_url": "https://orin.test/s/evt-1.jpg?sig=x",
        }
    ]


async def test_digest_carries_every_catch(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    catches = (make_catch(event_id="e1"), make_catch(event_id="e2", snapshot_url=None))
    notice = make_notice(kind="digest", catches=catches)

    await webhook.send(target_of(receiver), notice)

    document = receiver.deliveries[notice.key]
    assert document["type"] == "digest"
    assert [catch["event_id"] for catch in document["catches"]] == ["e1", "e2"]
    assert document["catches"][1]["snapshot_url"] is None


async def test_retry_is_recognised_as_a_duplicate(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    notice = make_notice()

    await webhook.send(target_of(receiver), notice)
    await webhook.send(target_of(receiver), notice)

    assert len(receiver.deliveries) == 1
    assert receiver.duplicates[notice.key] == 1
    ids = {request.headers["x-orin-event-id"] for request in receiver.requests}
    assert ids == {notice.key}


async def test_wrong_secret_is_refused_and_permanent(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    target = WebhookTarget(url=receiver.url, secret="not-the-secret")

    with pytest.raises(PermanentDeliveryError) as caught:
        await webhook.send(target, make_notice())

    assert caught.value.status == 401
    assert "bad signature" in caught.value.message
    assert receiver.bad_signatures == 1
    assert receiver.deliveries == {}


def test_signature_verifies() -> None:
    body = b'{"id":"n1"}'
    now = 1_700_000_000
    signature = sign("s3cret", now, body)

    assert verify_signature("s3cret", str(now), body, signature, now=now + 10)
    assert verify_signature("s3cret", now, body, signature, now=now - 10)


def test_tampered_body_fails() -> None:
    now = 1_700_000_000
    signature = sign("s3cret", now, b'{"id":"n1"}')

    assert not verify_signature("s3cret", now, b'{"id":"n2"}', signature, now=now)
    assert not verify_signature("other", now, b'{"id":"n1"}', signature, now=now)
    # The timestamp is signed too: moving it breaks the signature.
    assert not verify_signature("s3cret", now + 1, b'{"id":"n1"}', signature, now=now)


def test_stale_or_future_timestamp_fails() -> None:
    body = b"{}"
    sent_at = 1_700_000_000
    signature = sign("s3cret", sent_at, body)

    assert verify_signature("s3cret", sent_at, body, signature, now=sent_at + 300)
    assert not verify_signature("s3cret", sent_at, body, signature, now=sent_at + 301)
    assert not verify_signature("s3cret", sent_at, body, signature, now=sent_at - 301)
    assert verify_signature(
        "s3cret", sent_at, body, signature, now=sent_at + 3600, tolerance_s=3600
    )


def test_malformed_headers_fail() -> None:
    now = int(time.time())
    body = b"{}"
    good = sign("s3cret", now, body)
    hex_only = good.removeprefix("sha256=")

    assert verify_signature("s3cret", now, body, good)
    assert not verify_signature("s3cret", "abc", body, good)
    assert not verify_signature("s3cret", "", body, good)
    assert not verify_signature("s3cret", now, body, hex_only)
    assert not verify_signature("s3cret", now, body, "sha1=" + hex_only)
    assert not verify_signature("s3cret", now, body, "")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (410, TargetGone),
        (408, TransientDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (502, TransientDeliveryError),
        (503, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (422, PermanentDeliveryError),
    ],
)
async def test_status_mapping(
    webhook: WebhookSender,
    receiver: WebhookReceiver,
    status: int,
    error: type[Exception],
) -> None:
    receiver.respond_next(status)

    with pytest.raises(error) as caught:
        await webhook.send(target_of(receiver), make_notice())

    assert type(caught.value) is error
    assert isinstance(caught.value, PermanentDeliveryError | TransientDeliveryError)
    assert caught.value.status == status
    assert f"scripted {status}" in caught.value.message


async def test_retry_after_is_passed_on(webhook: WebhookSender, receiver: WebhookReceiver) -> None:
    receiver.respond_next(503, headers={"Retry-After": "30"})

    with pytest.raises(TransientDeliveryError) as caught:
        await webhook.send(target_of(receiver), make_notice())

    assert caught.value.retry_after_s == 30.0


async def test_redirect_is_not_followed(webhook: WebhookSender, receiver: WebhookReceiver) -> None:
    receiver.respond_next(307, headers={"Location": receiver.url})

    with pytest.raises(PermanentDeliveryError) as caught:
        await webhook.send(target_of(receiver), make_notice())

    assert caught.value.status == 307
    assert "redirect" in caught.value.message
    assert len(receiver.requests) == 1
    assert receiver.deliveries == {}


async def test_timeout_is_transient(receiver: WebhookReceiver) -> None:
    receiver.stall_next(3.0)
    sender = WebhookSender(timeout_s=0.3)
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await sender.send(target_of(receiver), make_notice())
    finally:
        await sender.aclose()

    assert "timed out" in caught.value.message


async def test_connection_refused_is_transient(webhook: WebhookSender) -> None:
    target = WebhookTarget(url=f"http://127.0.0.1:{free_port()}/hook", secret="x")

    with pytest.raises(TransientDeliveryError) as caught:
        await webhook.send(target, make_notice())

    assert caught.value.status is None


@pytest.mark.parametrize("url", ["ftp://example.test/hook", "not a url", "http://"])
async def test_unusable_url_is_permanent(webhook: WebhookSender, url: str) -> None:
    with pytest.raises(PermanentDeliveryError):
        await webhook.send(WebhookTarget(url=url, secret="x"), make_notice())


async def test_non_ascii_content_is_signed_as_sent(
    webhook: WebhookSender, receiver: WebhookReceiver
) -> None:
    notice = make_notice(title="Grüße vom Gartentor 🚪", catches=(make_catch(label="Käfer"),))

    await webhook.send(target_of(receiver), notice)

    assert receiver.bad_signatures == 0
    document = receiver.deliveries[notice.key]
    assert document["title"] == "Grüße vom Gartentor 🚪"
    assert document["catches"][0]["label"] == "Käfer"
