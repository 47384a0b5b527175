"""Rate limits through HTTP on the real app, with the memory and the Redis limiter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI, Header, Request

from orin.app import create_app
from orin.cache.base import RateLimiter, RateLimitResult
from orin.config import RateLimitSettings, RedisSettings, Settings
from orin.deps import RateLimiterDep
from orin.migrate import upgrade
from orin.problems import PROBLEM_MEDIA_TYPE
from orin.security.ratelimit import (
    ApiRateLimit,
    ApiUserRateLimit,
    AuthRateLimit,
    RateLimit,
    bucket_key,
    hit_or_raise,
    ip_identity,
    retry_after_seconds,
)

ClientFor = Callable[[str], httpx.AsyncClient]
"""Makes a client whose requests come from the given peer address."""


def limit(value: int) -> Callable[[Settings], int]:
    return lambda _settings: value


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., Settings]:
    """Settings on the chosen limiter; on Redis every test gets its own key prefix."""

    def make(ratelimit: RateLimitSettings | None = None) -> Settings:
        redis = RedisSettings()
        if backend == "redis":
            redis_url: str = request.getfixturevalue("redis_url")
            redis = RedisSettings(url=redis_url, key_prefix=f"orin-test-{uuid.uuid4().hex}:")
        settings = Settings(
            data_dir=tmp_path, redis=redis, ratelimit=ratelimit or RateLimitSettings()
        )
        upgrade(settings.database_url)
        return settings

    return make


def fake_auth(request: Request, x_test_user: Annotated[str | None, Header()] = None) -> None:
    """Stands in for the auth dependency: the user id comes from a test header."""
    if x_test_user is not None:
        request.state.user_id = x_test_user


def build_app(settings: Settings) -> FastAPI:
    app = create_app(settings, configure_logs=False)

    @app.get("/test/ip", dependencies=[Depends(RateLimit("ip", per_ip=limit(3)))])
    async def ip_limited() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/test/user",
        dependencies=[
            Depends(fake_auth),
            Depends(RateLimit("user", per_user=limit(2), per_ip=limit(4))),
        ],
    )
    async def user_limited() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/test/fast", dependencies=[Depends(RateLimit("fast", per_ip=limit(2), period_s=1))])
    async def fast() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/test/auth", dependencies=[Depends(AuthRateLimit)])
    async def auth() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/test/api",
        dependencies=[Depends(fake_auth), Depends(ApiUserRateLimit), Depends(ApiRateLimit)],
    )
    async def api() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/test/login")
    async def login(email: str, limiter: RateLimiterDep) -> dict[str, int]:
        result = await hit_or_raise(limiter, bucket_key("login", "account", email), 2, 60)
        return {"remaining": result.remaining}

    return app


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[ClientFor, RateLimiter]]:
    """Run the app's lifespan; yield a client factory per peer address and the limiter."""
    app = build_app(settings)
    async with LifespanManager(app) as manager:
        clients: list[httpx.AsyncClient] = []

        def client_for(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=manager.app, client=(ip, 50000))
            client = httpx.AsyncClient(transport=transport, base_url="http://orin.test")
            clients.append(client)
            return client

        try:
            yield client_for, manager._state["rate_limiter"]
        finally:
            for client in clients:
                await client.aclose()


async def statuses(
    client: httpx.AsyncClient, path: str, times: int, *, user: str | None = None
) -> list[int]:
    """Status codes of ``times`` GETs of ``path``, as ``user`` when given."""
    headers = {"X-Test-User": user} if user else {}
    return [(await client.get(path, headers=headers)).status_code for _ in range(times)]


async def test_requests_over_the_ip_limit_get_a_429_problem_with_retry_after(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, _):
        client = client_for("10.0.0.1")
        allowed = [await client.get("/test/ip") for _ in range(3)]
        refused = await client.get("/test/ip", headers={"X-Request-ID": "req-429"})

    assert [response.status_code for response in allowed] == [200, 200, 200]
    assert [response.headers["ratelimit-remaining"] for response in allowed] == ["2", "1", "0"]
    assert {response.headers["ratelimit-limit"] for response in allowed} == {"3"}
    # A full bucket again after one period at most.
    assert all(0 < int(response.headers["ratelimit-reset"]) <= 60 for response in allowed)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
    retry_after = int(refused.headers["retry-after"])
    # Three per minute: the next token comes within one 20-second interval.
    assert 1 <= retry_after <= 20
    body = refused.json()
    assert body["type"].endswith("/rate-limited")
    assert body["status"] == 429
    assert body["request_id"] == "req-429"
    assert body["retry_after_s"] == retry_after
    assert f"try again in {retry_after} s" in body["detail"]
    assert refused.headers["ratelimit-remaining"] == "0"


async def test_each_ip_address_has_its_own_bucket(make_settings: Callable[..., Settings]) -> None:
    async with serve(make_settings()) as (client_for, _):
        first, second = client_for("10.0.0.1"), client_for("10.0.0.2")
        assert await statuses(first, "/test/ip", 4) == [200, 200, 200, 429]
        assert await statuses(second, "/test/ip", 4) == [200, 200, 200, 429]


async def test_ipv6_clients_share_a_bucket_per_64_network(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, _):
        assert await statuses(client_for("2001:db8::1"), "/test/ip", 2) == [200, 200]
        assert await statuses(client_for("2001:db8::ffff"), "/test/ip", 2) == [200, 429]
        assert await statuses(client_for("2001:db8:0:1::1"), "/test/ip", 1) == [200]


def test_ip_identity_normalises_addresses() -> None:
    assert ip_identity("192.0.2.7") == "192.0.2.7"
    assert ip_identity("2001:db8::1:2:3:4") == "2001:db8::/64"
    assert ip_identity("::ffff:192.0.2.7") == "192.0.2.7"
    assert ip_identity("unknown") == "unknown"


async def test_user_buckets_are_separate_from_ip_buckets(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, limiter):
        client = client_for("10.0.0.1")
        # Two per user: alice runs out while bob, on the same address, still has his.
        assert await statuses(client, "/test/user", 3, user="alice") == [200, 200, 429]
        assert await statuses(client, "/test/user", 1, user="bob") == [200]
        # The address's bucket (four) took alice's two and bob's one: one left, for anyone.
        assert await statuses(client, "/test/user", 2, user="carol") == [200, 429]
        # Another address is a fresh bucket, but alice stays limited wherever she comes from.
        other = client_for("10.0.0.2")
        assert await statuses(other, "/test/user", 1, user="alice") == [429]
        assert await statuses(other, "/test/user", 1, user="dave") == [200]

        async def peek(key: str, limit: int) -> RateLimitResult:
            return await limiter.hit(key, limit=limit, period_s=60, cost=0)

        assert (await peek("rl:user:user:alice", 2)).remaining == 0
        assert (await peek("rl:user:user:bob", 2)).remaining == 1
        assert (await peek("rl:user:ip:10.0.0.1", 4)).remaining == 0
        assert (await peek("rl:user:ip:10.0.0.2", 4)).remaining == 3


async def test_anonymous_requests_are_limited_per_ip_only(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, limiter):
        client = client_for("10.0.0.3")
        assert await statuses(client, "/test/user", 5) == [200, 200, 200, 200, 429]
        peeked = await limiter.hit("rl:user:ip:10.0.0.3", limit=4, period_s=60, cost=0)
        assert peeked.remaining == 0


async def test_headers_describe_the_bucket_closest_to_empty(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, _):
        client = client_for("10.0.0.4")
        response = await client.get("/test/user", headers={"X-Test-User": "erin"})
        # The user's bucket (1 of 2 left) is tighter than the address's (3 of 4 left).
        assert response.headers["ratelimit-limit"] == "2"
        assert response.headers["ratelimit-remaining"] == "1"


async def test_the_limit_recovers_after_the_period(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, _):
        client = client_for("10.0.0.1")
        assert await statuses(client, "/test/fast", 3) == [200, 200, 429]
        refused = await client.get("/test/fast")
        assert refused.headers["retry-after"] == "1"
        await asyncio.sleep(1.1)
        assert await statuses(client, "/test/fast", 3) == [200, 200, 429]


async def test_disabled_limits_never_refuse(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(RateLimitSettings(enabled=False, auth_per_ip=1))
    async with serve(settings) as (client_for, _):
        client = client_for("10.0.0.1")
        responses = [await client.get("/test/auth") for _ in range(5)]
        responses += [await client.get("/test/ip") for _ in range(5)]
    assert [response.status_code for response in responses] == [200] * 10
    assert all("ratelimit-limit" not in response.headers for response in responses)


async def test_auth_rate_limit_reads_its_limit_from_the_settings(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings(RateLimitSettings(auth_per_ip=2))) as (client_for, limiter):
        client = client_for("10.0.0.5")
        assert await statuses(client, "/test/auth", 3) == [200, 200, 429]
        peeked = await limiter.hit("rl:auth:ip:10.0.0.5", limit=2, period_s=60, cost=0)
        assert peeked.remaining == 0


async def test_api_rate_limit_applies_per_user_and_per_ip(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(RateLimitSettings(api_per_user=2, api_per_ip=3))
    async with serve(settings) as (client_for, _):
        client = client_for("10.0.0.6")
        assert await statuses(client, "/test/api", 3, user="alice") == [200, 200, 429]
        assert await statuses(client, "/test/api", 2, user="bob") == [200, 429]


async def test_hit_or_raise_limits_any_key_from_a_service(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve(make_settings()) as (client_for, _):
        client = client_for("10.0.0.7")
        victim = [await client.post("/test/login", params={"email": "a@x.test"}) for _ in range(3)]
        other = await client.post("/test/login", params={"email": "b@x.test"})
    assert [response.status_code for response in victim] == [200, 200, 429]
    assert victim[1].json() == {"remaining": 0}
    assert victim[2].headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert int(victim[2].headers["retry-after"]) >= 1
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("retry_after_s", "expected"), [(0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (29.5, 30)]
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    retry_after_s: float, expected: int
) -> None:
    result = RateLimitResult(
        allowed=False, remaining=0, retry_after_s=retry_after_s, reset_after_s=60
    )
    assert retry_after_seconds(result) == expected


def test_a_rate_limit_needs_a_limit_and_a_positive_period() -> None:
    with pytest.raises(ValueError, match="per_ip, per_user or both"):
        RateLimit("nothing")
    with pytest.raises(ValueError, match="positive period"):
        RateLimit("zero", per_ip=limit(1), period_s=0)
