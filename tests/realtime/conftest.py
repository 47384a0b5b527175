"""The API on each adapter set with its realtime hub, and helpers to open sockets on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from orin.app import create_app
from orin.cache.base import PubSub
from orin.config import RealtimeSettings, Settings
from orin.runtime.process import Runtime
from tests.fixtures.api import Api, Person
from tests.realtime.asgi_socket import AsgiSocket

FAST = {"access_refresh_s": 0.2, "auth_timeout_s": 1.0, "close_timeout_s": 0.5}
"""Realtime settings of most tests: access changes show within 0.2 s."""


@dataclass
class Realtime:
    """The API (HTTP client, runtime, people) plus the app to open sockets on."""

    api: Api
    app: ASGIApp

    @property
    def pubsub(self) -> PubSub:
        """The pub/sub the app's hub listens to."""
        return self.api.runtime.infra.cache.pubsub

    async def metric(self, name: str) -> float:
        """A sample of the app's ``/metrics`` (0 when absent)."""
        response = await self.api.http.get("/metrics")
        for line in response.text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def socket(self, *, subprotocols: tuple[str, ...] = ()) -> AsgiSocket:
        return AsgiSocket(self.app, subprotocols=subprotocols)

    @asynccontextmanager
    async def signed_in(self, person: Person) -> AsyncIterator[AsgiSocket]:
        """A socket authenticated by its first message, past ``ready``."""
        async with self.socket() as ws:
            await ws.send_json({"type": "auth", "token": person.access_token})
            ready = await ws.receive_type("ready")
            assert ready["user_id"] == person.user_id
            yield ws

    async def subscribe(
        self, ws: AsgiSocket, *, spaces: Sequence[str] = (), cameras: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Subscribe and return the ``subscribed`` answer (asserting no error came first)."""
        await ws.send_json({"type": "subscribe", "spaces": list(spaces), "cameras": list(cameras)})
        return await ws.receive_type("subscribed")


OpenRealtime = Callable[..., AbstractAsyncContextManager[Realtime]]


@pytest.fixture
def open_realtime(api_settings: Settings) -> OpenRealtime:
    """Open the app on the adapter set under test with realtime settings ``FAST`` plus the
    given overrides."""

    @asynccontextmanager
    async def opened(**realtime: Any) -> AsyncIterator[Realtime]:
        settings = api_settings.model_copy(
            update={"realtime": RealtimeSettings(**{**FAST, **realtime})}
        )
        async with Runtime(settings, ("api", "worker")) as runtime:
            app = create_app(settings, runtime=runtime, configure_logs=False)
            async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="https://orin.test"
                ) as http:
                    yield Realtime(Api(http, runtime), manager.app)

    return opened


@pytest.fixture
async def rt(open_realtime: OpenRealtime) -> AsyncIterator[Realtime]:
    async with open_realtime() as opened:
        yield opened
