"""An app on each adapter set with fast password hashing, and helpers to sign users up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from orin.app import create_app
from orin.config import AuthSettings, RedisSettings, Settings

STRONG_PASSWORD = "correct-Horse-battery-9-staple"


@pytest.fixture
def auth_settings(adapter_settings: Settings) -> Settings:
    """The adapter set under test, with bcrypt cost 4 and no breached-password API calls."""
    update: dict[str, Any] = {
        "auth": AuthSettings(
            bcrypt_rounds=4, breached_check=False, lockout_threshold=3, lockout_s=2
        ),
    }
    if adapter_settings.redis.url:
        update["redis"] = RedisSettings(
            url=adapter_settings.redis.url, key_prefix=f"test:{uuid.uuid4().hex[:8]}:"
        )
    return adapter_settings.model_copy(update=update)


@pytest.fixture
async def auth_app(auth_settings: Settings) -> AsyncIterator[ASGIApp]:
    app = create_app(auth_settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.fixture
async def client(auth_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
        yield http


@dataclass
class SignedUp:
    email: str
    password: str
    access_token: str
    refresh_token: str
    session_id: str
    user_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> SignedUp:
    email = email or unique_email()
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return SignedUp(
        email=email,
        password=STRONG_PASSWORD,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        session_id=body["session_id"],
        user_id=body["user"]["id"],
    )
