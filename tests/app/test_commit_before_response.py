"""A request's writes are committed before its response starts, on both adapter sets.

A client acts on a response at once: it uses the tokens a sign-in returned, or reads what a 201
created. If the commit came after the response (FastAPI's default for dependencies with
``yield``), a quick next request on another connection could miss the row: a fresh session
would be refused as signed out, and its refusal cached.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orin.app import create_app
from orin.db import READ_ONLY
from orin.models.user import User
from tests.fixtures.api import STRONG_PASSWORD, Api

pytestmark = pytest.mark.parametrize("adapter_set", ["embedded", "scaled"], indirect=True)


class OnResponseStart:
    """Runs ``check`` when the app starts a response, before the client can see it."""

    def __init__(self, app: ASGIApp, check: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def checking(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self.check()
            await send(message)

        await self.app(scope, receive, checking)


async def test_a_new_account_is_committed_when_the_response_starts(api: Api) -> None:
    email = f"early-{uuid.uuid4().hex[:10]}@example.com"
    seen: list[int] = []

    async def count_accounts() -> None:
        # Another connection, reading what is committed (it does not wait for SQLite's lock).
        async with api.database.transaction() as session:
            await session.connection(execution_options={READ_ONLY: True})
            seen.append(await session.scalar(select(func.count()).where(User.email == email)) or 0)

    app = create_app(api.runtime.settings, runtime=api.runtime, configure_logs=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=OnResponseStart(manager.app, count_accounts))
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            registered = await http.post(
                "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
            )
    assert registered.status_code == 201, registered.text
    assert seen == [1]
