"""The user's preferences and plan, through HTTP on both adapter sets."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import update

from orin.app import create_app
from orin.auth.deps import VerifiedUser
from orin.config import Settings
from orin.db import Database
from orin.models.base import utcnow
from orin.models.user import User
from tests.auth.conftest import sign_up


async def test_preferences_have_defaults_and_change_field_by_field(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    defaults = (await client.get("/api/v1/user/me/preferences", headers=user.auth)).json()
    assert defaults["timezone"] == "UTC"
    assert defaults["channels"] == ["push"]
    window = {"days": ["mon", "tue"], "start": "22:00", "end": "07:00"}
    changed = await client.patch(
        "/api/v1/user/me/preferences",
        json={"timezone": "Europe/Paris", "quiet_hours": [window]},
        headers=user.auth,
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get("/api/v1/user/me/preferences", headers=user.auth)).json()
    assert again["timezone"] == "Europe/Paris"
    assert again["locale"] == "en"
    assert again["quiet_hours"] == [
        {"days": ["mon", "tue"], "start": "22:00:00", "end": "07:00:00"}
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"locale": "english"}, "locale"),
        ({"quiet_hours": [{"days": ["mon"], "start": "22:00", "end": "22:00"}]}, "quiet_hours"),
        ({"quiet_hours": [{"days": ["funday"], "start": "22:00", "end": "06:00"}]}, "quiet_hours"),
        ({"quiet_hours": [{"days": ["mon"], "start": "25:00", "end": "06:00"}]}, "quiet_hours"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_preferences_are_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], where: str
) -> None:
    user = await sign_up(client)
    response = await client.patch("/api/v1/user/me/preferences", json=body, headers=user.auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert where in response.json()["detail"]


async def test_email_notifications_need_a_verified_address(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await client.patch(
        "/api/v1/user/me/preferences", json={"channels": ["push", "email"]}, headers=user.auth
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/email-not-verified")


async def test_subscription_shows_the_plan_and_its_limits(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    body = (await client.get("/api/v1/user/me/subscription", headers=user.auth)).json()
    assert body["plan"] == "free"
    assert body["limits"] == {"cameras": 2, "guards": 5, "retention_days": 7, "spaces": 1}


async def test_each_user_sees_only_their_own_settings(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    await client.patch(
        "/api/v1/user/me/preferences", json={"timezone": "Asia/Tokyo"}, headers=alice.auth
    )
    bobs = (await client.get("/api/v1/user/me/preferences", headers=bob.auth)).json()
    assert bobs["timezone"] == "UTC"


async def test_verified_user_dependency_needs_a_verified_address(
    auth_settings: Settings,
) -> None:
    app = create_app(auth_settings, configure_logs=False)

    @app.post("/test/share")
    async def share(user: VerifiedUser) -> dict[str, str]:
        return {"shared_by": user.id}

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            user = await sign_up(http)
            refused = await http.post("/test/share", headers=user.auth)
            assert refused.status_code == 403
            assert refused.json()["type"].endswith("/email-not-verified")
            database = Database(auth_settings)
            async with database.transaction() as session:
                await session.execute(
                    update(User).where(User.id == user.user_id).values(email_verified_at=utcnow())
                )
            await database.dispose()
            allowed = await http.post("/test/share", headers=user.auth)
            assert allowed.status_code == 200
            assert allowed.json() == {"shared_by": user.user_id}
