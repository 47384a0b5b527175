"""An embedded app per test, with its lifespan running, and an httpx client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from orin.app import create_app
from orin.config import Settings
from orin.migrate import upgrade


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def app(embedded_settings: Settings) -> FastAPI:
    return create_app(embedded_settings, configure_logs=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orin.test") as http:
            yield http
