"""Who receives which live update, on both adapter sets; and what happens when access ends."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from orin.events.service import record_event
from orin.ingest.runner import StatusChange
from orin.ingest.status import StatusRecorder
from orin.models.camera import CameraStatus
from orin.models.event import EventKind
from orin.realtime.protocol import CloseCode
from orin.realtime.publisher import (
    event_data,
    invalidate_access,
    publish_after_commit,
    publish_event,
)
from orin.vision.catches import CatchContext, CatchWriter, catch_id
from orin.vision.evaluate import Match
from tests.events.helpers import T0, add_event, add_guard, space_with_camera
from tests.fixtures.api import Person
from tests.realtime.conftest import OpenRealtime, Realtime

EVENTS = "/api/v1/events"


async def _review(person: Person, event_id: str, state: str = "seen") -> None:
    response = await person.patch(f"{EVENTS}/{event_id}", json={"review_state": state})
    assert response.status_code == 200, response.text


async def _share(owner: Person, camera_id: str, other: Person) -> str:
    response = await owner.post(
        f"/api/v1/cameras/{camera_id}/shares", json={"email": other.email, "role": "viewer"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_subscribing_to_what_you_may_not_see_is_an_error_naming_it(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    mine, _ = await space_with_camera(alice)
    theirs, their_camera = await space_with_camera(bob)
    async with rt.signed_in(alice) as ws:
        await ws.send_json(
            {"type": "subscribe", "spaces": [mine, theirs, "nope"], "cameras": [their_camera]}
        )
        error = await ws.receive_type("error")
        subscribed = await ws.receive_type("subscribed")
    assert error["code"] == "not_found"
    assert error["spaces"] == sorted([theirs, "nope"])
    assert error["cameras"] == [their_camera]
    assert subscribed == {"type": "subscribed", "spaces": [mine], "cameras": []}


async def test_a_review_reaches_the_space_members_and_nobody_else(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    carol = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    await alice.invite(space_id, carol, "viewer")
    bobs_space, _ = await space_with_camera(bob)
    event_id = await add_event(rt.api, space_id, camera_id)
    async with rt.signed_in(alice) as a, rt.signed_in(carol) as c, rt.signed_in(bob) as b:
        await rt.subscribe(a, spaces=[space_id])
        await rt.subscribe(c, spaces=[space_id])
        await b.send_json({"type": "subscribe", "spaces": [bobs_space, space_id]})
        assert (await b.receive_type("error"))["spaces"] == [space_id]
        assert (await b.receive_type("subscribed"))["spaces"] == [bobs_space]

        await _review(alice, event_id)
        for ws in (a, c):
            update = await ws.receive_type("event.updated")
            assert (update["space_id"], update["camera_id"]) == (space_id, camera_id)
            assert update["data"]["id"] == event_id
            assert update["data"]["review_state"] == "seen"
            assert update["data"]["reviewed_by"] == alice.user_id
            assert update["at"]
        assert await b.quiet_for(0.5) == []


async def test_a_camera_share_delivers_that_camera_only(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    space_id, shared = await space_with_camera(alice)
    other = (await alice.create_camera(space_id, name="Garage"))["id"]
    await _share(alice, shared, bob)
    on_shared = await add_event(rt.api, space_id, shared)
    on_other = await add_event(rt.api, space_id, other)
    async with rt.signed_in(bob) as ws:
        await ws.send_json({"type": "subscribe", "spaces": [space_id], "cameras": [shared, other]})
        error = await ws.receive_type("error")
        assert (error["spaces"], error["cameras"]) == ([space_id], [other])
        assert (await ws.receive_type("subscribed"))["cameras"] == [shared]

        await _review(alice, on_other)
        await _review(alice, on_shared)
        update = await ws.receive_type("event.updated")
        assert update["data"]["id"] == on_shared
        assert await ws.quiet_for(0.3) == []


async def test_one_copy_reaches_a_socket_subscribed_to_a_space_and_its_camera(
    rt: Realtime,
) -> None:
    alice = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    async with rt.signed_in(alice) as ws:
        subscribed = await rt.subscribe(ws, spaces=[space_id], cameras=[camera_id])
        assert (subscribed["spaces"], subscribed["cameras"]) == ([space_id], [camera_id])
        await publish_event(
            rt.pubsub, "event.created", space_id=space_id, camera_id=camera_id, data={"n": 1}
        )
        assert (await ws.receive_type("event.created"))["data"] == {"n": 1}
        assert await ws.quiet_for(0.3) == []


async def test_unsubscribing_stops_updates(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    space_id, _ = await space_with_camera(alice)
    async with rt.signed_in(alice) as ws:
        await rt.subscribe(ws, spaces=[space_id])
        await ws.send_json({"type": "unsubscribe", "spaces": [space_id]})
        assert (await ws.receive_type("subscribed"))["spaces"] == []
        await publish_event(rt.pubsub, "event.created", space_id=space_id, data={})
        assert await ws.quiet_for(0.3) == []


async def test_a_removed_member_stops_receiving_mid_connection(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    carol = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    await alice.invite(space_id, carol, "viewer")
    event_id = await add_event(rt.api, space_id, camera_id)
    async with rt.signed_in(alice) as a, rt.signed_in(carol) as c:
        await rt.subscribe(a, spaces=[space_id])
        await rt.subscribe(c, spaces=[space_id])
        removed = await alice.delete(f"/api/v1/spaces/{space_id}/members/{carol.user_id}")
        assert removed.status_code == 204, removed.text

        ended = await c.receive_type("unsubscribed", within_s=3)
        assert (ended["spaces"], ended["reason"]) == ([space_id], "access revoked")
        await _review(alice, event_id)
        await a.receive_type("event.updated")
        assert await c.quiet_for(0.5) == []


@pytest.mark.parametrize("how", ["unshared", "camera deleted"])
async def test_a_lost_camera_share_stops_its_updates(rt: Realtime, how: str) -> None:
    alice = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    share_id = await _share(alice, camera_id, bob)
    async with rt.signed_in(bob) as ws:
        await rt.subscribe(ws, cameras=[camera_id])
        if how == "unshared":
            url = f"/api/v1/cameras/{camera_id}/shares/{share_id}"
        else:
            url = f"/api/v1/cameras/{camera_id}"
        assert (await alice.delete(url)).status_code == 204
        ended = await ws.receive_type("unsubscribed", within_s=3)
        assert ended["cameras"] == [camera_id]
        await publish_event(
            rt.pubsub, "camera.status", space_id=space_id, camera_id=camera_id, data={}
        )
        assert await ws.quiet_for(0.3) == []


async def test_invalidate_access_applies_without_waiting_for_the_refresh(
    open_realtime: OpenRealtime,
) -> None:
    async with open_realtime(access_refresh_s=60) as rt:
        alice = await rt.api.sign_up()
        carol = await rt.api.sign_up()
        space_id, _ = await space_with_camera(alice)
        await alice.invite(space_id, carol, "viewer")
        async with rt.signed_in(carol) as ws:
            await rt.subscribe(ws, spaces=[space_id])
            await alice.delete(f"/api/v1/spaces/{space_id}/members/{carol.user_id}")
            await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": 1})
            # Without the hook the 60 s cache still lets this one through.
            assert (await ws.receive_type("event.created"))["data"] == {"n": 1}
            await invalidate_access(rt.pubsub, [carol.user_id])
            assert (await ws.receive_type("unsubscribed"))["spaces"] == [space_id]
            await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": 2})
            assert await ws.quiet_for(0.3) == []


async def test_signing_out_closes_the_session_s_sockets(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    async with rt.signed_in(alice) as ws:
        assert (await alice.post("/api/v1/auth/logout")).status_code == 204
        closed = await ws.expect_close(within_s=3)
    assert closed.code == CloseCode.UNAUTHORIZED
    assert "signed out" in closed.reason


async def test_disabling_an_account_closes_its_sockets(rt: Realtime) -> None:
    admin = await rt.api.sign_up(admin=True)
    alice = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    async with rt.signed_in(alice) as alices, rt.signed_in(bob) as bobs:
        response = await admin.patch(
            f"/api/v1/admin/users/{alice.user_id}", json={"disabled": True}
        )
        assert response.status_code == 200, response.text
        closed = await alices.expect_close(within_s=3)
        assert closed.code == CloseCode.UNAUTHORIZED
        # Others stay connected.
        assert await bobs.quiet_for(0.3) == []
        assert bobs.closed is None


async def test_guard_changes_reach_the_space(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    space_id, _ = await space_with_camera(alice)
    guard_id = await add_guard(rt.api, space_id)
    async with rt.signed_in(alice) as ws:
        await rt.subscribe(ws, spaces=[space_id])
        paused = await alice.post(f"/api/v1/guards/{guard_id}/pause")
        assert paused.status_code == 200, paused.text
        update = await ws.receive_type("guard.updated")
        assert (update["space_id"], update["camera_id"]) == (space_id, None)
        assert update["data"]["action"] == "paused"
        assert update["data"]["guard"]["state"] == "paused"
        assert (await alice.delete(f"/api/v1/guards/{guard_id}")).status_code == 204
        deleted = await ws.receive_type("guard.updated")
        assert deleted["data"] == {
            "action": "deleted",
            "guard": {"id": guard_id, "space_id": space_id},
        }


async def test_camera_status_changes_arrive_through_the_outbox(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    recorder = StatusRecorder(rt.api.database, rt.api.runtime.settings.ingest)
    async with rt.signed_in(alice) as ws:
        await rt.subscribe(ws, cameras=[camera_id])
        try:
            await recorder(StatusChange(camera_id, CameraStatus.ONLINE))
        finally:
            await recorder.close()
        update = await ws.receive_type("camera.status", within_s=5)
    assert (update["space_id"], update["camera_id"]) == (space_id, camera_id)
    assert update["data"]["status"] == "online"
    assert update["data"]["changed_at"]


async def _record_and_announce(
    rt: Realtime, session: AsyncSession, space_id: str, camera_id: str, label: str
) -> str:
    """Record a catch and publish ``event.created`` after commit, as the worker does."""
    event = await record_event(
        session,
        space_id=space_id,
        camera_id=camera_id,
        kind=EventKind.CATCH,
        label=label,
        started_at=T0,
    )
    publish_after_commit(
        session,
        rt.pubsub,
        "event.created",
        space_id=space_id,
        camera_id=camera_id,
        data=event_data(event),
    )
    return event.id


async def _rolled_back(rt: Realtime, space_id: str, camera_id: str) -> None:
    async with rt.api.database.transaction() as session:
        await _record_and_announce(rt, session, space_id, camera_id, "dog")
        raise RuntimeError("rolled back")


async def test_updates_published_after_commit_are_sent_and_rolled_back_ones_are_not(
    rt: Realtime,
) -> None:
    alice = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    async with rt.signed_in(alice) as ws:
        await rt.subscribe(ws, spaces=[space_id])
        with pytest.raises(RuntimeError, match="rolled back"):
            await _rolled_back(rt, space_id, camera_id)
        assert await ws.quiet_for(0.3) == []

        async with rt.api.database.transaction() as session:
            event_id = await _record_and_announce(rt, session, space_id, camera_id, "person")
            await asyncio.sleep(0.1)
            assert await ws.quiet_for(0.05) == [], "published before the commit"
        created = await ws.receive_type("event.created")
    assert created["data"]["id"] == event_id
    assert (created["data"]["label"], created["data"]["review_state"]) == ("person", "new")


async def test_a_catch_recorded_by_the_worker_arrives_live(
    rt: Realtime,
) -> None:
    alice = await rt.api.sign_up()
    space_id, camera_id = await space_with_camera(alice)
    guard_id = await add_guard(rt.api, space_id)
    writer = CatchWriter(rt.api.database, rt.api.runtime.infra.storage)
    match = Match(guard_id, "t1", "person", 0.8, None, (0.1, 0.1, 0.3, 0.6), time.time(), 0, 1)
    async with rt.signed_in(alice) as ws:
        await rt.subscribe(ws, cameras=[camera_id])
        # The ingest side's half: snapshot stored, `vision.catch` queued; the worker records it.
        await writer.write(
            CatchContext(space_id, camera_id),
            match,
            np.zeros((48, 64, 3), np.uint8),
            track_db_id="track-1",
        )
        created = await ws.receive_type("event.created", within_s=10)
    assert created["data"]["id"] == catch_id(guard_id, camera_id, "track-1")
    assert (created["space_id"], created["camera_id"]) == (space_id, camera_id)
    assert created["data"]["label"] == "person"
    assert created["data"]["has_snapshot"]
    assert not created["data"]["has_clip"]
