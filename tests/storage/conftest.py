"""The object storage contract runs against both adapters: a local folder and real S3."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from orin.config import S3Settings
from orin.problems import install_problem_handlers
from orin.storage.base import ObjectStorage
from orin.storage.endpoints import router as storage_router
from orin.storage.local import LocalStorage
from orin.storage.s3 import S3Storage

LOCAL_BASE_URL = "http://testserver"
LOCAL_SECRET = b"storage-test-secret"


@pytest.fixture(params=["local", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ObjectStorage]:
    """A started store of each kind; S3 ones share this worker's bucket (use `prefix`)."""
    store: ObjectStorage
    if request.param == "local":
        store = LocalStorage(
            tmp_path_factory.mktemp("objects"),
            base_url=LOCAL_BASE_URL,
            secret=LOCAL_SECRET,
            default_ttl_s=60,
        )
    else:
        settings = cast(S3Settings, request.getfixturevalue("s3_settings"))
        store = S3Storage(settings, default_ttl_s=60)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses (S3 tests share one bucket)."""
    return f"t-{uuid.uuid4().hex[:12]}/"


def storage_app(storage: ObjectStorage) -> FastAPI:
    """A minimal API serving ``storage``'s signed URLs, as `orin.app` mounts them."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, ObjectStorage]]:
        yield {"storage": storage}

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(storage_router)
    return app


@asynccontextmanager
async def serving(storage: ObjectStorage) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that can follow ``storage``'s signed URLs.

    Local URLs go to the storage route in-process; S3 URLs go over the network to SeaweedFS.
    """
    if isinstance(storage, LocalStorage):
        app = storage_app(storage)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url=LOCAL_BASE_URL
            ) as client,
        ):
            yield client
    else:
        async with httpx.AsyncClient(timeout=10) as client:
            yield client


@pytest.fixture
async def http(storage: ObjectStorage) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``storage``'s signed URLs."""
    async with serving(storage) as client:
        yield client
