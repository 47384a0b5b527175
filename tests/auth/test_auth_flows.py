"""Sign-up, sign-in, refresh rotation, sign-out and sessions, through HTTP on both adapter sets."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from orin.app import create_app
from orin.auth import service as auth_service
from orin.config import AuthSettings, RateLimitSettings, Settings
from orin.models.base import utcnow
from tests.auth.conftest import STRONG_PASSWORD, sign_up, unique_email


async def test_register_returns_tokens_that_open_the_profile(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    me = await client.get("/api/v1/user/me", headers=user.auth)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == user.email
    assert body["email_verified"] is False
    assert body["role"] == "user"
    assert body["plan"] == "free"


async def test_registering_an_existing_email_is_a_conflict_even_with_other_case(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    local, domain = user.email.split("@")
    again = await client.post(
        "/api/v1/auth/register",
        json={"email": f"{local}@{domain.upper()}", "password": STRONG_PASSWORD},
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_login_with_the_right_password_starts_a_new_session(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session_id"] != user.session_id
    assert body["token_type"] == "bearer"
    assert 3500 <= body["expires_in"] <= 3600


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "not-the-password-1A"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": "not-the-password-1A"}
    )
    assert wrong.status_code == unknown.status_code == 401
    strip = ("instance", "request_id")
    assert {k: v for k, v in wrong.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != user.refresh_token
    assert first.json()["session_id"] == user.session_id
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    assert second.status_code == 200


async def test_refresh_reuse_revokes_the_whole_family(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    stolen = user.refresh_token
    legit = await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    newest = legit.json()["refresh_token"]
    newest_access = legit.json()["access_token"]

    # Another device, at once (within the retry grace, which is only for the same device).
    reuse = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": stolen},
        headers={"User-Agent": "curl/8.5.0"},
    )
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    # Every token of the family is dead now: the newest refresh token and the access tokens.
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": newest})
    ).status_code == 401
    me = await client.get("/api/v1/user/me", headers={"Authorization": f"Bearer {newest_access}"})
    assert me.status_code == 401


async def test_the_same_device_may_retry_an_exchange_whose_answer_it_lost(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page left mid-refresh never stores the new cookie; the next page sends the old one."""
    user = await sign_up(client)
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text

    retried = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert retried.status_code == 200, retried.text
    assert retried.json()["session_id"] == user.session_id
    issued = (user.refresh_token, first.json()["refresh_token"])
    assert retried.json()["refresh_token"] not in issued
    me = await client.get(
        "/api/v1/user/me", headers={"Authorization": f"Bearer {retried.json()['access_token']}"}
    )
    assert me.status_code == 200

    # After the grace the same token is a copy, even from the same device.
    grace = timedelta(seconds=AuthSettings().refresh_reuse_grace_s + 1)
    monkeypatch.setattr(auth_service, "utcnow", lambda: utcnow() + grace)
    late = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert late.status_code == 401
    assert "already used" in late.json()["detail"]
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": retried.json()["refresh_token"]}
    )
    assert after.status_code == 401


async def test_logout_revokes_the_session_at_once(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    assert (await client.get("/api/v1/user/me", headers=user.auth)).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=user.auth)
    assert out.status_code == 204
    assert (await client.get("/api/v1/user/me", headers=user.auth)).status_code == 401
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert again.status_code == 401


async def test_sessions_are_listed_and_one_or_all_others_revoked(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    phone = await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": user.password},
        headers={"User-Agent": "ORIN-Phone/1.0"},
    )
    tablet = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    listed = (await client.get("/api/v1/user/me/sessions", headers=user.auth)).json()
    assert len(listed) == 3
    assert [s["current"] for s in listed].count(True) == 1
    assert any(s["user_agent"] == "ORIN-Phone/1.0" for s in listed)

    phone_id = phone.json()["session_id"]
    gone = await client.delete(f"/api/v1/user/me/sessions/{phone_id}", headers=user.auth)
    assert gone.status_code == 204
    phone_auth = {"Authorization": f"Bearer {phone.json()['access_token']}"}
    assert (await client.get("/api/v1/user/me", headers=phone_auth)).status_code == 401

    others = await client.delete("/api/v1/user/me/sessions", headers=user.auth)
    assert others.json() == {"revoked": 1}
    tablet_auth = {"Authorization": f"Bearer {tablet.json()['access_token']}"}
    assert (await client.get("/api/v1/user/me", headers=tablet_auth)).status_code == 401
    assert (await client.get("/api/v1/user/me", headers=user.auth)).status_code == 200


async def test_another_users_session_is_a_404(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    response = await client.delete(f"/api/v1/user/me/sessions/{bob.session_id}", headers=alice.auth)
    assert response.status_code == 404
    assert (await client.get("/api/v1/user/me", headers=bob.auth)).status_code == 200


async def test_repeated_failures_lock_the_account_for_a_while(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    wrong = {"email": user.email, "password": "wrong-Password-123"}
    codes = [(await client.post("/api/v1/auth/login", json=wrong)).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    locked = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    await asyncio.sleep(2.1)
    unlocked = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert unlocked.status_code == 200


async def test_profile_update_and_jwks(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    patched = await client.patch(
        "/api/v1/user/me", json={"display_name": " Ada "}, headers=user.auth
    )
    assert patched.json()["display_name"] == "Ada"
    keys = (await client.get("/api/v1/auth/jwks.json")).json()["keys"]
    assert keys
    assert all(key["kty"] == "RSA" and key["alg"] == "RS256" and "d" not in key for key in keys)


async def test_each_user_has_their_own_request_budget(auth_settings: Settings) -> None:
    settings = auth_settings.model_copy(
        update={"ratelimit": RateLimitSettings(api_per_user=3, api_per_ip=1000)}
    )
    app = create_app(settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            alice = await sign_up(http)
            bob = await sign_up(http)
            codes = [
                (await http.get("/api/v1/user/me", headers=alice.auth)).status_code
                for _ in range(4)
            ]
            assert codes == [200, 200, 200, 429]
            refused = await http.get("/api/v1/user/me", headers=alice.auth)
            assert int(refused.headers["retry-after"]) >= 1
            assert (await http.get("/api/v1/user/me", headers=bob.auth)).status_code == 200
