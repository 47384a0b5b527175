"""Cache, rate limiting and pub/sub: in memory (embedded) or on Redis (scaled)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from orin.cache.base import Cache, PubSub, RateLimiter, RateLimitResult, Subscription
from orin.cache.memory import MemoryCache, MemoryPubSub, MemoryRateLimiter
from orin.config import Settings

__all__ = [
    "Cache",
    "CachePorts",
    "MemoryCache",
    "MemoryPubSub",
    "MemoryRateLimiter",
    "PubSub",
    "RateLimitResult",
    "RateLimiter",
    "Subscription",
    "create_cache_ports",
]

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CachePorts:
    """The three short-lived-state ports of one process, started and closed together."""

    cache: Cache
    rate_limiter: RateLimiter
    pubsub: PubSub

    async def ping(self) -> None:
        """Raise `AdapterUnavailable` when the backing store cannot be reached."""
        await self.cache.ping()

    async def close(self) -> None:
        """Close subscriptions first, then the cache (which owns any shared connection)."""
        await self.pubsub.close()
        await self.cache.close()


def create_cache_ports(settings: Settings) -> CachePorts:
    """Redis adapters sharing one client when ``ORIN_REDIS_URL`` is set, else in-memory ones."""
    url = settings.redis.url
    if url:
        # Imported here so the embedded mode never loads redis-py.
        from orin.cache.redis import (
            RedisCache,
            RedisPubSub,
            RedisRateLimiter,
            create_redis_client,
        )

        client = create_redis_client(settings.redis)
        prefix = settings.redis.key_prefix
        return CachePorts(
            cache=RedisCache(client, key_prefix=prefix, url=url),
            rate_limiter=RedisRateLimiter(client, key_prefix=prefix, url=url),
            pubsub=RedisPubSub(client, key_prefix=prefix, url=url),
        )
    return CachePorts(cache=MemoryCache(), rate_limiter=MemoryRateLimiter(), pubsub=MemoryPubSub())
