"""The cache, rate limiter and pub/sub contract runs against memory and a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from orin.cache import CachePorts, create_cache_ports
from orin.config import RedisSettings, Settings


@pytest.fixture(params=["memory", "redis"])
async def ports(request: pytest.FixtureRequest) -> AsyncIterator[CachePorts]:
    """Ports built by `create_cache_ports`, each Redis one with its own key prefix."""
    if request.param == "memory":
        redis = RedisSettings(url=None)
    else:
        url = str(request.getfixturevalue("redis_url"))
        redis = RedisSettings(url=url, key_prefix=f"test:{uuid.uuid4().hex[:8]}:")
    created = create_cache_ports(Settings(redis=redis))
    await created.ping()
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
def key() -> str:
    """A key (or channel) name no other test uses."""
    return f"k-{uuid.uuid4().hex[:12]}"
