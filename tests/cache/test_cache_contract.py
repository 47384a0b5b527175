"""Every cache, rate-limiter and pub/sub adapter keeps the same promises (memory and Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from orin.cache import CachePorts
from orin.cache.base import PubSub, Subscription
from orin.cache.memory import MemoryPubSub
from orin.cache.redis import RedisCache, RedisPubSub, create_redis_client, redact_url
from orin.config import RedisSettings
from orin.errors import AdapterUnavailable
from tests.fixtures.services import free_port

# -- cache ---------------------------------------------------------------------------------


async def test_get_of_a_missing_key_is_none(ports: CachePorts, key: str) -> None:
    assert await ports.cache.get(key) is None


async def test_set_then_get_and_overwrite(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"\x00first\xff")
    assert await ports.cache.get(key) == b"\x00first\xff"
    await ports.cache.set(key, b"second")
    assert await ports.cache.get(key) == b"second"


async def test_values_expire_after_their_ttl(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"short", ttl_s=0.2)
    await ports.cache.set(key + "-kept", b"long")
    assert await ports.cache.get(key) == b"short"
    await asyncio.sleep(0.35)
    assert await ports.cache.get(key) is None
    assert await ports.cache.get(key + "-kept") == b"long"


async def test_set_without_ttl_clears_an_earlier_ttl(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"v1", ttl_s=0.2)
    await ports.cache.set(key, b"v2")
    await asyncio.sleep(0.3)
    assert await ports.cache.get(key) == b"v2"


async def test_non_positive_ttl_deletes_the_key(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"v")
    await ports.cache.set(key, b"v", ttl_s=0)
    assert await ports.cache.get(key) is None


async def test_delete_counts_the_keys_that_existed(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key + "1", b"1")
    await ports.cache.set(key + "2", b"2")
    await ports.cache.set(key + "3", b"3", ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await ports.cache.delete(key + "1", key + "2", key + "3", key + "4") == 2
    assert await ports.cache.get(key + "1") is None
    assert await ports.cache.delete() == 0


async def test_incr_counts_from_zero(ports: CachePorts, key: str) -> None:
    assert await ports.cache.incr(key) == 1
    assert await ports.cache.incr(key, 5) == 6
    assert await ports.cache.incr(key, -10) == -4
    assert await ports.cache.get(key) == b"-4"


async def test_incr_sets_the_ttl_only_when_creating(ports: CachePorts, key: str) -> None:
    assert await ports.cache.incr(key, ttl_s=0.4) == 1
    await asyncio.sleep(0.25)
    assert await ports.cache.incr(key, ttl_s=0.4) == 2  # does not push the expiry back
    await asyncio.sleep(0.25)
    assert await ports.cache.get(key) is None
    assert await ports.cache.incr(key, ttl_s=0.4) == 1  # a fresh window


async def test_incr_of_a_non_integer_is_an_error(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"not a number")
    with pytest.raises(ValueError, match="integer"):
        await ports.cache.incr(key)
    assert await ports.cache.get(key) == b"not a number"


# -- rate limiter ----------------------------------------------------------------------------


async def test_burst_up_to_the_limit_then_refused(ports: CachePorts, key: str) -> None:
    limiter = ports.rate_limiter
    results = [await limiter.hit(key, limit=3, period_s=1.5) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert results[0].retry_after_s == 0
    assert results[0].reset_after_s == pytest.approx(0.5, abs=0.05)
    assert results[2].reset_after_s == pytest.approx(1.5, abs=0.05)
    refused = results[3]
    # One token comes back every 0.5 s; the first of the three was spent a moment ago.
    assert 0.4 < refused.retry_after_s <= 0.5
    assert 1.4 < refused.reset_after_s <= 1.5


async def test_tokens_refill_over_time(ports: CachePorts, key: str) -> None:
    limiter = ports.rate_limiter
    for _ in range(10):
        assert (await limiter.hit(key, limit=10, period_s=1.0)).allowed
    refused = await limiter.hit(key, limit=10, period_s=1.0)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after_s + 0.15)  # one token, then 1.5 more intervals
    again = [await limiter.hit(key, limit=10, period_s=1.0) for _ in range(3)]
    assert [r.allowed for r in again] == [True, True, False]


async def test_cost_spends_several_tokens(ports: CachePorts, key: str) -> None:
    limiter = ports.rate_limiter
    first = await limiter.hit(key, limit=5, period_s=1.0, cost=3)
    assert first.allowed
    assert first.remaining == 2
    second = await limiter.hit(key, limit=5, period_s=1.0, cost=3)
    assert not second.allowed
    assert second.remaining == 2
    assert 0.15 < second.retry_after_s <= 0.2  # one more token needed, 0.2 s per token
    assert (await limiter.hit(key, limit=5, period_s=1.0, cost=2)).allowed
    with pytest.raises(ValueError, match="cost"):
        await limiter.hit(key, limit=5, period_s=1.0, cost=6)


async def test_reset_refills_the_bucket(ports: CachePorts, key: str) -> None:
    limiter = ports.rate_limiter
    assert (await limiter.hit(key, limit=1, period_s=60)).allowed
    assert not (await limiter.hit(key, limit=1, period_s=60)).allowed
    await limiter.reset(key)
    result = await limiter.hit(key, limit=1, period_s=60)
    assert result.allowed


async def test_buckets_are_independent_per_key(ports: CachePorts, key: str) -> None:
    limiter = ports.rate_limiter
    assert (await limiter.hit(key + "a", limit=1, period_s=60)).allowed
    assert not (await limiter.hit(key + "a", limit=1, period_s=60)).allowed
    assert (await limiter.hit(key + "b", limit=1, period_s=60)).allowed


async def test_rate_limits_and_cache_keys_do_not_collide(ports: CachePorts, key: str) -> None:
    await ports.cache.set(key, b"cached")
    assert (await ports.rate_limiter.hit(key, limit=2, period_s=60)).allowed
    assert await ports.cache.get(key) == b"cached"


# -- pub/sub ---------------------------------------------------------------------------------


async def next_message(messages: AsyncIterator[tuple[str, bytes]]) -> tuple[str, bytes]:
    async with asyncio.timeout(3):
        return await anext(messages)


async def test_subscriber_gets_its_channels_only(ports: CachePorts, key: str) -> None:
    subscription = await ports.pubsub.subscribe(key + ".a", key + ".b")
    messages = aiter(subscription)
    assert await ports.pubsub.publish(key + ".a", b"1") == 1
    assert await ports.pubsub.publish(key + ".other", b"ignored") == 0
    assert await ports.pubsub.publish(key + ".b", b"\x002") == 1
    assert await next_message(messages) == (key + ".a", b"1")
    assert await next_message(messages) == (key + ".b", b"\x002")
    await subscription.close()


async def test_every_subscriber_gets_each_message(ports: CachePorts, key: str) -> None:
    first = await ports.pubsub.subscribe(key)
    second = await ports.pubsub.subscribe(key, key + ".extra")
    assert await ports.pubsub.publish(key, b"hello") == 2
    assert await next_message(aiter(first)) == (key, b"hello")
    assert await next_message(aiter(second)) == (key, b"hello")
    await first.close()
    await second.close()


async def test_closing_unsubscribes_and_ends_iteration(ports: CachePorts, key: str) -> None:
    subscription = await ports.pubsub.subscribe(key)
    other = await ports.pubsub.subscribe(key)
    waiting = asyncio.create_task(next_message(aiter(subscription)))
    await asyncio.sleep(0.05)
    await subscription.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 3)
    assert await ports.pubsub.publish(key, b"after close") == 1  # only `other` remains
    assert await next_message(aiter(other)) == (key, b"after close")
    await other.close()
    assert await ports.pubsub.publish(key, b"nobody") == 0
    await subscription.close()  # closing twice is harmless


def _small_queue_pubsub(ports: CachePorts) -> PubSub:
    if isinstance(ports.cache, RedisCache):
        cache = ports.cache
        return RedisPubSub(cache.client, key_prefix=cache.key_prefix, url="redis://", max_queued=2)
    return MemoryPubSub(max_queued=2)


async def test_a_slow_subscriber_loses_messages_without_blocking(
    ports: CachePorts, key: str
) -> None:
    pubsub = _small_queue_pubsub(ports)
    slow: Subscription = await pubsub.subscribe(key)
    async with asyncio.timeout(3):
        for number in range(5):
            await pubsub.publish(key, str(number).encode())
        await asyncio.sleep(0.1)  # let Redis deliver to the reader task
    messages = aiter(slow)
    assert await next_message(messages) == (key, b"0")
    assert await next_message(messages) == (key, b"1")
    assert getattr(slow, "dropped", None) == 3
    await pubsub.publish(key, b"later")
    assert await next_message(messages) == (key, b"later")
    await pubsub.close()


# -- Redis specifics ---------------------------------------------------------------------------


async def test_unreachable_redis_fails_fast_without_leaking_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    cache = RedisCache(create_redis_client(RedisSettings(url=url)), key_prefix="x:", url=url)
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable) as caught:
        await cache.ping()
    assert time.monotonic() - started < 5
    assert "hunter2" not in caught.value.message
    assert redact_url(url) in caught.value.message
    await cache.close()


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("redis://user:pw@host:6380/2") == "redis://user:***@host:6380/2"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
