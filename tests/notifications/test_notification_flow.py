"""Catches to notifications through the real worker, on both adapter sets: who gets what,
cooldowns, quiet hours and digests, retries, dead letters, and the mail that really arrives."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import SecretStr
from sqlalchemy import select, update

from orin.config import MailSettings, NotifySettings, Settings
from orin.events.service import record_event
from orin.ingest.runner import StatusChange
from orin.ingest.status import StatusRecorder
from orin.models.base import utcnow
from orin.models.camera import CameraStatus
from orin.models.event import EventKind
from orin.models.notification import Notification, NotificationStatus, PushSubscription
from orin.notifications.digests import release_held
from orin.notifications.planner import plan_catch
from orin.notifications.webhooks import webhook_secret
from tests.fixtures.api import Api, Person, open_api
from tests.fixtures.waiting import passes
from tests.notifications.fakes.push_service import PushService
from tests.notifications.fakes.webhook_receiver import WebhookReceiver
from tests.notifications.helpers import SNAPSHOT_JPEG, record_catch

if TYPE_CHECKING:
    from tests.fixtures.smtp import SmtpServer

pytest_plugins = ["tests.fixtures.smtp"]

APP_URL = "https://app.orin.test"
VAPID_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    .decode()
)


@pytest.fixture
def notify_settings(api_settings: Settings, smtp_server: SmtpServer) -> Settings:
    return api_settings.model_copy(
        update={
            "notify": NotifySettings(
                allowed_networks=["127.0.0.1/32"],
                vapid_private_key=SecretStr(VAPID_PEM),
                vapid_subject="mailto:alerts@orin.test",
                retry_base_s=0.2,
                retry_max_s=0.5,
                max_attempts=3,
                cooldown_s=60,
            ),
            "mail": MailSettings(
                smtp_host=smtp_server.host,
                smtp_port=smtp_server.port,
                smtp_security="none",
                smtp_timeout_s=5.0,
                app_url=APP_URL,
            ),
        }
    )


@pytest.fixture
async def napi(notify_settings: Settings) -> AsyncIterator[Api]:
    async with open_api(notify_settings) as opened:
        yield opened


def _started_receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver(secret="set-per-test")
    started.start()
    yield started
    started.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    yield from _started_receiver()


@pytest.fixture
def member_receiver() -> Iterator[WebhookReceiver]:
    """A second receiver, for a second user."""
    yield from _started_receiver()


async def watched_camera(owner: Person) -> tuple[str, str, str]:
    space = await owner.create_space(timezone="UTC", name="Home")
    camera = await owner.create_camera(space["id"], name="Front door")
    response = await owner.post(
        "/api/v1/guards",
        json={
            "space_id": space["id"],
            "name": "Yard watch",
            "instruction": "tell me when a person shows up",
            "camera_ids": [camera["id"]],
        },
    )
    assert response.status_code == 201, response.text
    return space["id"], camera["id"], response.json()["id"]


async def use_webhook(api: Api, person: Person, receiver: WebhookReceiver, **prefs: Any) -> None:
    receiver.secret = webhook_secret(api.runtime.infra.secret, person.user_id)
    response = await person.patch(
        "/api/v1/user/me/preferences",
        json={"channels": ["webhook"], "webhook_url": receiver.url, **prefs},
    )
    assert response.status_code == 200, response.text


async def rows_of(api: Api, user_id: str) -> list[Notification]:
    async with api.database.transaction() as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at)
        )
        return list(rows)


async def only_row(api: Api, user_id: str) -> Notification:
    rows = await rows_of(api, user_id)
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_catch_reaches_each_member_on_their_channel_and_nobody_else(
    napi: Api, receiver: WebhookReceiver, smtp_server: SmtpServer
) -> None:
    owner, member, stranger = await napi.sign_up(), await napi.sign_up(), await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await owner.invite(space_id, member, "viewer")
    await use_webhook(napi, owner, receiver)
    assert (
        await member.patch("/api/v1/user/me/preferences", json={"channels": ["email"]})
    ).status_code == 200
    await use_webhook(napi, stranger, WebhookReceiver())

    event_id = await record_catch(napi, space_id, camera_id, guard_id)

    async def delivered() -> None:
        assert len(receiver.deliveries) == 1

    await passes(delivered, within_s=20)
    (body,) = receiver.deliveries.values()
    assert body["type"] == "catch"
    assert [c["event_id"] for c in body["catches"]] == [event_id]
    assert body["catches"][0]["camera"]["name"] == "Front door"
    assert body["catches"][0]["link"] == f"{APP_URL}/events/{event_id}"

    mail = await smtp_server.wait_for(member.email, subject="Front door", timeout_s=20)
    assert str(mail.message["Subject"]) == "Person at Front door — Yard watch"
    parts = {part.get_content_type(): part for part in mail.message.walk()}
    assert parts["image/jpeg"].get_payload(decode=True) == SNAPSHOT_JPEG  # the snapshot, attached
    assert f"{APP_URL}/events/{event_id}" in parts["text/plain"].get_content()

    async def recorded() -> None:
        owner_rows = await rows_of(napi, owner.user_id)
        assert [(r.channel, r.status) for r in owner_rows] == [("webhook", "sent")]
        member_rows = await rows_of(napi, member.user_id)
        assert [(r.channel, r.status) for r in member_rows] == [("email", "sent")]

    await passes(recorded, within_s=20)
    assert await rows_of(napi, stranger.user_id) == []
    # The caller sees only their own deliveries.
    listed = (await owner.get("/api/v1/notifications")).json()["items"]
    assert [(n["event_id"], n["status"]) for n in listed] == [(event_id, "sent")]
    assert (await stranger.get("/api/v1/notifications")).json()["items"] == []


async def test_a_disabled_account_hears_nothing(
    napi: Api, receiver: WebhookReceiver, member_receiver: WebhookReceiver
) -> None:
    owner, member = await napi.sign_up(), await napi.sign_up()
    admin = await napi.sign_up(admin=True)
    space_id, camera_id, guard_id = await watched_camera(owner)
    await owner.invite(space_id, member, "viewer")
    await use_webhook(napi, owner, receiver)
    await use_webhook(napi, member, member_receiver)
    disabled = await admin.patch(f"/api/v1/admin/users/{member.user_id}", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    await record_catch(napi, space_id, camera_id, guard_id)

    async def sent() -> None:
        assert [r.status for r in await rows_of(napi, owner.user_id)] == ["sent"]

    await passes(sent, within_s=20)
    assert await rows_of(napi, member.user_id) == []
    assert member_receiver.deliveries == {}


async def test_repeats_within_the_cooldown_are_suppressed(
    napi: Api, receiver: WebhookReceiver
) -> None:
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    for _ in range(3):
        await record_catch(napi, space_id, camera_id, guard_id)

    async def planned() -> None:
        rows = await rows_of(napi, owner.user_id)
        assert sorted(r.status for r in rows) == ["sent", "suppressed", "suppressed"]

    await passes(planned, within_s=20)
    assert len(receiver.deliveries) == 1


async def test_the_cooldown_is_per_user(
    napi: Api, receiver: WebhookReceiver, member_receiver: WebhookReceiver
) -> None:
    owner, member = await napi.sign_up(), await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def first() -> None:
        assert [r.status for r in await rows_of(napi, owner.user_id)] == ["sent"]

    await passes(first, within_s=20)
    await owner.invite(space_id, member, "viewer")
    await use_webhook(napi, member, member_receiver)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def second() -> None:
        owner_rows = await rows_of(napi, owner.user_id)
        assert [r.status for r in owner_rows] == ["sent", "suppressed"]
        assert [r.status for r in await rows_of(napi, member.user_id)] == ["sent"]

    await passes(second, within_s=20)
    assert len(member_receiver.deliveries) == 1


async def test_catches_planned_at_the_same_time_send_once(
    napi: Api, receiver: WebhookReceiver
) -> None:
    """Two workers planning two catches of one guard and camera at once: the second waits for
    the first to commit, sees its notification and is suppressed (on PostgreSQL by an advisory
    lock; SQLite's write lock serialises them anyway)."""
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    settings = napi.runtime.settings.notify

    async def plan(started: datetime) -> None:
        async with napi.database.transaction() as session:
            event = await record_event(
                session,
                space_id=space_id,
                camera_id=camera_id,
                guard_id=guard_id,
                kind=EventKind.CATCH,
                started_at=started,
                label="person",
            )
            await plan_catch(session, event, settings, now=utcnow())
            await asyncio.sleep(0.3)  # both planned before either commits, without the lock

    now = utcnow()
    await asyncio.gather(plan(now), plan(now + timedelta(seconds=1)))
    statuses = sorted(r.status for r in await rows_of(napi, owner.user_id))
    assert statuses[1:] == ["suppressed"]
    assert statuses[0] in ("queued", "sending", "sent")  # the worker may have sent it already


def quiet_from_now() -> dict[str, Any]:
    """Preferences with quiet hours from an hour ago to an hour ahead, every day (UTC)."""
    everyday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).strftime("%H:%M")
    return {"timezone": "UTC", "quiet_hours": [{"days": everyday, "start": start, "end": end}]}


async def end_quiet_hours(api: Api, person: Person) -> None:
    """End ``person``'s quiet window now: the scheduler's release job makes one digest."""
    async with api.database.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.user_id == person.user_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    async with api.database.transaction() as session:
        digests = await release_held(session, now=utcnow())
        assert len(digests) == 1


async def test_quiet_hours_hold_catches_and_release_one_digest(
    napi: Api, receiver: WebhookReceiver
) -> None:
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    now = datetime.now(UTC)
    await use_webhook(napi, owner, receiver, **quiet_from_now())
    first = await record_catch(napi, space_id, camera_id, guard_id)

    async def held() -> None:
        rows = await rows_of(napi, owner.user_id)
        assert [r.status for r in rows] == ["held"]
        release = rows[0].next_attempt_at
        assert release is not None
        assert abs((release - (now + timedelta(hours=1))).total_seconds()) < 90

    await passes(held, within_s=20)
    assert receiver.deliveries == {}

    await end_quiet_hours(napi, owner)

    async def digested() -> None:
        assert len(receiver.deliveries) == 1

    await passes(digested, within_s=20)
    (body,) = receiver.deliveries.values()
    assert body["type"] == "digest"
    assert [c["event_id"] for c in body["catches"]] == [first]
    rows = await rows_of(napi, owner.user_id)
    by_kind = {r.kind: r for r in rows}
    assert by_kind["digest"].status == NotificationStatus.SENT
    assert by_kind["catch"].status == NotificationStatus.HELD
    assert by_kind["catch"].digest_id == by_kind["digest"].id


async def test_catches_held_for_an_account_disabled_since_are_not_sent(
    napi: Api, receiver: WebhookReceiver
) -> None:
    owner, admin = await napi.sign_up(), await napi.sign_up(admin=True)
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver, **quiet_from_now())
    await record_catch(napi, space_id, camera_id, guard_id)

    async def held() -> None:
        assert [r.status for r in await rows_of(napi, owner.user_id)] == ["held"]

    await passes(held, within_s=20)
    disabled = await admin.patch(f"/api/v1/admin/users/{owner.user_id}", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    await end_quiet_hours(napi, owner)

    async def refused() -> None:
        digest = next(r for r in await rows_of(napi, owner.user_id) if r.kind == "digest")
        assert (digest.status, digest.last_error) == ("failed", "the account is disabled")

    await passes(refused, within_s=20)
    assert receiver.deliveries == {}


async def test_critical_guards_pass_quiet_hours_when_the_user_allows(
    napi: Api, receiver: WebhookReceiver
) -> None:
    owner = await napi.sign_up()
    space = await owner.create_space(timezone="UTC")
    camera = await owner.create_camera(space["id"])
    guard = await owner.post(
        "/api/v1/guards",
        json={
            "space_id": space["id"],
            "name": "Break-in",
            "instruction": "urgent: tell me when a person shows up",
            "camera_ids": [camera["id"]],
        },
    )
    assert guard.status_code == 201, guard.text
    assert guard.json()["rule"]["severity"] == "critical"
    everyday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    await use_webhook(
        napi, owner, receiver, quiet_hours=[{"days": everyday, "start": "00:00", "end": "23:59"}]
    )
    await record_catch(napi, space["id"], camera["id"], guard.json()["id"])

    async def sent() -> None:
        assert len(receiver.deliveries) == 1

    await passes(sent, within_s=20)


async def test_transient_failures_are_retried_then_dead_lettered(
    napi: Api, receiver: WebhookReceiver
) -> None:
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    receiver.respond_next(503, times=1)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def recovered() -> None:
        row = await only_row(napi, owner.user_id)
        assert (row.status, row.attempts) == ("sent", 2)

    await passes(recovered, within_s=20)

    other = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(other)
    await use_webhook(napi, other, receiver)
    receiver.respond_next(500, times=3)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def dead() -> None:
        row = await only_row(napi, other.user_id)
        assert (row.status, row.attempts) == ("dead", 3)
        assert "500" in row.last_error

    await passes(dead, within_s=20)


async def test_other_writes_go_through_while_a_provider_is_slow(
    napi: Api, receiver: WebhookReceiver
) -> None:
    """The delivery waits for the provider outside any transaction: on SQLite one left open
    across the wait holds the only write lock, and every other write would wait with it."""
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    receiver.stall_next(6.0)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def asked() -> None:
        assert receiver.requests

    await passes(asked, within_s=20)
    response = await owner.patch("/api/v1/user/me/preferences", json={"timezone": "Europe/Paris"})
    assert response.status_code == 200, response.text
    row = await only_row(napi, owner.user_id)
    assert (row.status, row.attempts) == ("queued", 0)  # the write did not wait for the send

    async def sent() -> None:
        row = await only_row(napi, owner.user_id)
        assert (row.status, row.attempts) == ("sent", 1)

    await passes(sent, within_s=20)
    assert list(receiver.deliveries) == [row.key]


async def test_a_permanent_refusal_fails_at_once(napi: Api, receiver: WebhookReceiver) -> None:
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    await use_webhook(napi, owner, receiver)
    receiver.respond_next(400, times=1)
    await record_catch(napi, space_id, camera_id, guard_id)

    async def failed() -> None:
        row = await only_row(napi, owner.user_id)
        assert (row.status, row.attempts) == ("failed", 1)

    await passes(failed, within_s=20)


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    async with PushService() as service:
        yield service


async def test_push_endpoints_are_checked_again_before_each_delivery(
    napi: Api, push_service: PushService
) -> None:
    owner = await napi.sign_up()
    space_id, camera_id, guard_id = await watched_camera(owner)
    browser = push_service.subscribe()
    added = await owner.post(
        "/api/v1/user/me/push-subscriptions",
        json={
            "endpoint": browser.target.endpoint,
            "keys": {"p256dh": browser.target.p256dh, "auth": browser.target.auth},
        },
    )
    assert added.status_code == 201, added.text
    prefs = await owner.patch("/api/v1/user/me/preferences", json={"channels": ["push"]})
    assert prefs.status_code == 200, prefs.text
    await record_catch(napi, space_id, camera_id, guard_id)

    async def pushed() -> None:
        assert len(push_service.messages_for(browser)) == 1
        assert [(r.channel, r.status) for r in await rows_of(napi, owner.user_id)] == [
            ("push", "sent")
        ]

    await passes(pushed, within_s=20)
    # The endpoint now leads outside the allowed networks, as when its name resolves to
    # another address or the operator narrows `notify.allowed_networks`.
    moved = browser.target.endpoint.replace("127.0.0.1", "127.0.0.2")
    async with napi.database.transaction() as session:
        await session.execute(
            update(PushSubscription)
            .where(PushSubscription.id == added.json()["id"])
            .values(endpoint=moved)
        )
    second = await owner.create_guard(
        space_id, [camera_id], "tell me when a person shows up", name="Porch watch"
    )
    await record_catch(napi, space_id, camera_id, second["id"])  # outside the cooldown

    async def refused() -> None:
        rows = await rows_of(napi, owner.user_id)
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("failed", 1)]
        assert rows[1].last_error.startswith("The push endpoint is not allowed")

    await passes(refused, within_s=20)
    assert push_service.requests == 1


async def test_catches_and_camera_availability_reach_mqtt(
    notify_settings: Settings, receiver: WebhookReceiver
) -> None:
    prefix = f"orin-test-{uuid.uuid4().hex[:8]}"
    settings = notify_settings.model_copy(
        update={
            "notify": notify_settings.notify.model_copy(
                update={"mqtt_url": "mqtt://127.0.0.1:1883", "mqtt_topic_prefix": prefix}
            )
        }
    )
    async with (
        aiomqtt.Client("127.0.0.1", 1883) as listener,
        open_api(settings) as api,
    ):
        await listener.subscribe(f"{prefix}/#", qos=1)
        owner = await api.sign_up()
        space_id, camera_id, guard_id = await watched_camera(owner)
        event_id = await record_catch(api, space_id, camera_id, guard_id)
        # The ingest side's status recorder queues the availability when MQTT is configured.
        recorder = StatusRecorder(api.database, settings.ingest, mqtt=True)
        try:
            await recorder(StatusChange(camera_id, CameraStatus.ONLINE))
        finally:
            await recorder.close()
        seen: dict[str, bytes] = {}
        async with asyncio.timeout(20):
            async for message in listener.messages:
                seen[str(message.topic)] = bytes(message.payload)
                if f"{prefix}/{camera_id}/catch" in seen and (
                    f"{prefix}/{camera_id}/availability" in seen
                ):
                    break
        assert json.loads(seen[f"{prefix}/{camera_id}/catch"])["event_id"] == event_id
        assert seen[f"{prefix}/{camera_id}/availability"] == b"online"
        assert seen[f"{prefix}/status"] == b"online"
