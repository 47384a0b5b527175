"""FastAPI dependencies that hand the lifespan's adapters to endpoints.

The lifespan (``orin.app``) yields a `orin.state.State`; Starlette copies it onto every
request's ``request.state``. Endpoints ask for what they need with these aliases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from orin.bus.base import Bus
from orin.cache.base import Cache, PubSub, RateLimiter
from orin.config import Settings
from orin.db import Database
from orin.kit.envelope import Envelope
from orin.runtime.infrastructure import Infrastructure
from orin.storage.base import ObjectStorage


def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.state.settings)


def get_storage(request: Request) -> ObjectStorage:
    return cast(ObjectStorage, request.state.storage)


def get_cache(request: Request) -> Cache:
    return cast(Cache, request.state.cache)


def get_rate_limiter(request: Request) -> RateLimiter:
    return cast(RateLimiter, request.state.rate_limiter)


def get_pubsub(request: Request) -> PubSub:
    return cast(PubSub, request.state.pubsub)


def get_bus(request: Request) -> Bus:
    return cast(Bus, request.state.bus)


def get_secret(request: Request) -> bytes:
    """This deployment's secret key (signs URLs)."""
    return cast(Infrastructure, request.state.infra).secret


def get_envelope(request: Request) -> Envelope:
    return cast(Infrastructure, request.state.infra).envelope


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EnvelopeDep = Annotated[Envelope, Depends(get_envelope)]
StorageDep = Annotated[ObjectStorage, Depends(get_storage)]
CacheDep = Annotated[Cache, Depends(get_cache)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
PubSubDep = Annotated[PubSub, Depends(get_pubsub)]
BusDep = Annotated[Bus, Depends(get_bus)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for this request, committed once the endpoint returned and before the
    response is sent (``scope="function"``): a client that acts on a 201 (or on tokens it
    was just given) finds what the request wrote, and a failed commit is the request's error
    rather than a write lost after a success was reported."""
    database = cast(Database, request.state.database)
    async with database.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
