"""Pings, token expiry and slow clients, on both adapter sets."""

from __future__ import annotations

import asyncio

from orin.realtime.protocol import CloseCode
from orin.realtime.publisher import publish_event
from tests.events.helpers import space_with_camera
from tests.realtime.conftest import OpenRealtime
from tests.realtime.helpers import token_expiring_in


async def test_unanswered_pings_close_the_socket_with_4408(open_realtime: OpenRealtime) -> None:
    async with open_realtime(ping_interval_s=0.2, missed_pongs=2) as rt:
        alice = await rt.api.sign_up()
        async with rt.signed_in(alice) as ws:
            loop = asyncio.get_running_loop()
            started = loop.time()
            pings = 0
            while True:
                try:
                    message = await ws.receive(within_s=3)
                except Exception as exc:
                    closed = exc
                    break
                pings += message["type"] == "ping"
            took = loop.time() - started
    assert getattr(closed, "code", None) == CloseCode.PONG_TIMEOUT, closed
    assert pings == 2
    # Two missed pongs at 0.2 s: about 0.6 s; the upper bound leaves room for a loaded host.
    assert 0.4 <= took < 3.0


async def test_answered_pings_keep_the_socket_open(open_realtime: OpenRealtime) -> None:
    async with open_realtime(ping_interval_s=0.2, missed_pongs=2) as rt:
        alice = await rt.api.sign_up()
        async with rt.signed_in(alice) as ws:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.5
            pings = 0
            # Five answered pings span more than twice the two-miss limit. A ping
            # may come late on a loaded host; a close would raise here.
            while pings < 5 or loop.time() < deadline:
                message = await ws.receive(within_s=3)
                assert message["type"] == "ping"
                pings += 1
                await ws.send_json({"type": "pong"})
            assert ws.closed is None


async def test_an_expiring_token_closes_the_socket_with_4401(open_realtime: OpenRealtime) -> None:
    async with open_realtime(ping_interval_s=0.4) as rt:
        alice = await rt.api.sign_up()
        async with rt.socket() as ws:
            await ws.send_json({"type": "auth", "token": token_expiring_in(rt.api, alice, 1)})
            await ws.receive_type("ready")
            closed = await ws.expect_close(within_s=4)
    assert closed.code == CloseCode.UNAUTHORIZED
    assert closed.reason.startswith("token expired")


async def test_a_fresh_auth_before_expiry_keeps_the_socket_open(
    open_realtime: OpenRealtime,
) -> None:
    async with open_realtime(ping_interval_s=0.4) as rt:
        alice = await rt.api.sign_up()
        async with rt.socket() as ws:
            await ws.send_json({"type": "auth", "token": token_expiring_in(rt.api, alice, 1)})
            first = await ws.receive_type("ready")
            await ws.send_json({"type": "auth", "token": alice.access_token})
            second = await ws.receive_type("ready")
            assert second["expires_at"] > first["expires_at"]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0
            # Reading past the first token's expiry: a close would raise here. The
            # wait per ping is generous because pings come late on a loaded host.
            while loop.time() < deadline:
                message = await ws.receive(within_s=3)
                assert message["type"] == "ping"
                await ws.send_json({"type": "pong"})
            assert ws.closed is None


async def test_a_client_that_stops_reading_is_dropped_not_buffered(
    open_realtime: OpenRealtime,
) -> None:
    async with open_realtime(queue_size=2) as rt:
        alice = await rt.api.sign_up()
        space_id, _ = await space_with_camera(alice)
        async with rt.signed_in(alice) as slow, rt.signed_in(alice) as fast:
            await rt.subscribe(slow, spaces=[space_id])
            await rt.subscribe(fast, spaces=[space_id])
            slow.stall()
            for n in range(6):
                await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": n})
                assert (await fast.receive_type("event.created"))["data"] == {"n": n}
            closed = await slow.expect_close(within_s=3)
            assert (closed.code, closed.reason) == (
                CloseCode.TRY_AGAIN_LATER,
                "too slow: outgoing queue full",
            )
            for _ in range(50):
                if slow.handler_done:
                    break
                await asyncio.sleep(0.02)
            assert slow.handler_done, "the dropped socket's handler still runs"
            assert await rt.metric("orin_ws_slow_clients_dropped_total") == 1.0
            assert await rt.metric("orin_ws_connections") == 1.0
            await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": 9})
            assert (await fast.receive_type("event.created"))["data"] == {"n": 9}


async def test_a_client_that_reads_late_gets_every_update_in_order(
    open_realtime: OpenRealtime,
) -> None:
    async with open_realtime(queue_size=8) as rt:
        alice = await rt.api.sign_up()
        space_id, _ = await space_with_camera(alice)
        async with rt.signed_in(alice) as ws:
            await rt.subscribe(ws, spaces=[space_id])
            ws.stall()
            for n in range(5):
                await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": n})
            await asyncio.sleep(0.2)
            ws.resume()
            for n in range(5):
                assert (await ws.receive_type("event.created"))["data"] == {"n": n}
            await publish_event(rt.pubsub, "event.created", space_id=space_id, data={"n": 5})
            assert (await ws.receive_type("event.created"))["data"] == {"n": 5}
            assert ws.closed is None
