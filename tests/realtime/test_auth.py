"""Authenticating a socket on both adapter sets: first message, subprotocol, refusals."""

from __future__ import annotations

import pytest
from asgi_lifespan import LifespanManager

from orin.app import create_app
from orin.config import Settings
from orin.realtime.protocol import REQUEST_LIMIT, CloseCode
from orin.runtime.process import Runtime
from tests.realtime.asgi_socket import AsgiSocket
from tests.realtime.conftest import OpenRealtime, Realtime
from tests.realtime.helpers import token_expiring_in


async def test_a_first_auth_message_signs_the_socket_in(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    async with rt.socket() as ws:
        assert ws.subprotocol is None
        await ws.send_json({"type": "auth", "token": alice.access_token})
        ready = await ws.receive_type("ready")
    assert ready["user_id"] == alice.user_id
    assert ready["ping_interval_s"] == 30.0
    assert ready["expires_at"].endswith("Z") or "+00:00" in ready["expires_at"]


async def test_the_bearer_subprotocol_signs_in_and_only_orin_v1_is_echoed(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    async with rt.socket(subprotocols=("orin.v1", f"bearer.{alice.access_token}")) as ws:
        assert ws.subprotocol == "orin.v1"
        ready = await ws.receive_type("ready")
        assert ready["user_id"] == alice.user_id
        assert await rt.metric("orin_ws_connections") == 1.0
    assert await rt.metric("orin_ws_connections") == 0.0


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-jwt", "malformed"),
        ("expired", "expired"),
        ("", "send {"),
    ],
)
async def test_a_bad_token_closes_with_4401_and_says_why(
    rt: Realtime, token: str, reason: str
) -> None:
    alice = await rt.api.sign_up()
    if token == "expired":
        token = token_expiring_in(rt.api, alice, -60)
    async with rt.socket() as ws:
        await ws.send_json({"type": "auth", "token": token})
        closed = await ws.expect_close()
    assert closed.code == CloseCode.UNAUTHORIZED
    assert reason in closed.reason


async def test_a_bad_subprotocol_token_closes_with_4401(rt: Realtime) -> None:
    async with rt.socket(subprotocols=("orin.v1", "bearer.abc.def.ghi")) as ws:
        assert ws.subprotocol == "orin.v1"
        closed = await ws.expect_close()
    assert closed.code == CloseCode.UNAUTHORIZED


async def test_no_auth_in_time_closes_with_4401(open_realtime: OpenRealtime) -> None:
    async with open_realtime(auth_timeout_s=0.3) as rt, rt.socket() as ws:
        closed = await ws.expect_close(within_s=4)
    assert (closed.code, closed.reason) == (CloseCode.UNAUTHORIZED, "authentication timed out")


async def test_anything_but_auth_first_closes_with_4401(rt: Realtime) -> None:
    async with rt.socket() as ws:
        await ws.send_json({"type": "subscribe", "spaces": ["x"]})
        closed = await ws.expect_close()
    assert closed.code == CloseCode.UNAUTHORIZED


async def test_a_signed_out_session_is_refused(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    assert (await alice.post("/api/v1/auth/logout")).status_code == 204
    async with rt.socket() as ws:
        await ws.send_json({"type": "auth", "token": alice.access_token})
        closed = await ws.expect_close()
    assert closed.code == CloseCode.UNAUTHORIZED
    assert "signed out" in closed.reason


async def test_the_token_never_rides_in_the_url(rt: Realtime) -> None:
    """A ``?token=`` is ignored: the socket still has to authenticate (tokens stay out of
    access logs)."""
    alice = await rt.api.sign_up()
    async with AsgiSocket(rt.app, path=f"/api/v1/ws?token={alice.access_token}") as ws:
        closed = await ws.expect_close(within_s=3)
    assert closed.code == CloseCode.UNAUTHORIZED


async def test_bad_messages_get_an_error_and_the_socket_stays(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    async with rt.signed_in(alice) as ws:
        await ws.send_text("{not json")
        assert (await ws.receive())["code"] == "bad_message"
        await ws.send_json({"type": "dance"})
        assert (await ws.receive())["code"] == "bad_message"
        for odd in ("a\u0000b", "x" * 5000, "%00"):  # PostgreSQL cannot store or compare a NUL
            await ws.send_json({"type": "subscribe", "spaces": [odd], "cameras": [odd]})
            answer = await ws.receive()
            assert answer["type"] == "error", answer  # refused, and the socket stays
        await ws.send_json({"type": "ping"})
        assert (await ws.receive())["type"] == "pong"


async def test_a_token_of_another_account_does_not_take_over_the_socket(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    bob = await rt.api.sign_up()
    async with rt.signed_in(alice) as ws:
        await ws.send_json({"type": "auth", "token": bob.access_token})
        refused = await ws.receive()
        assert (refused["type"], refused["code"]) == ("error", "unauthorized")
        await ws.send_json({"type": "ping"})
        assert (await ws.receive())["type"] == "pong"


async def test_a_process_without_the_api_role_refuses_sockets_with_1013(
    api_settings: Settings,
) -> None:
    async with Runtime(api_settings, ("worker",)) as runtime:
        app = create_app(api_settings, runtime=runtime, configure_logs=False)
        async with LifespanManager(app) as manager, AsgiSocket(manager.app) as ws:
            closed = await ws.expect_close()
    assert closed.code == CloseCode.TRY_AGAIN_LATER


async def test_subscribe_floods_are_refused_but_the_socket_stays(rt: Realtime) -> None:
    alice = await rt.api.sign_up()
    async with rt.signed_in(alice) as ws:
        for _ in range(REQUEST_LIMIT):
            await ws.send_json({"type": "subscribe", "spaces": []})
            assert (await ws.receive())["type"] == "subscribed"
        await ws.send_json({"type": "subscribe", "spaces": []})
        refused = await ws.receive()
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
        await ws.send_json({"type": "ping"})
        assert (await ws.receive())["type"] == "pong"
