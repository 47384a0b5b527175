"""Scaled cache, rate limiter and pub/sub on Redis, shared by every replica.

The three adapters share one `redis.asyncio.Redis` client and so one connection pool (each
pub/sub subscription holds one connection of it while open). Every key and channel starts with
``settings.redis.key_prefix``; rate-limit buckets live under ``<prefix>rate:``. Connection
failures surface as `AdapterUnavailable` naming the server without its password.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final, cast
from urllib.parse import urlsplit, urlunsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orin.cache.base import Cache, PubSub, RateLimiter, RateLimitResult, Subscription
from orin.cache.memory import check_rate_args
from orin.config import RedisSettings
from orin.errors import AdapterUnavailable

logger = structlog.get_logger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + netloc, parts.path, parts.query, parts.fragment))


def create_redis_client(
    settings: RedisSettings, *, connect_timeout_s: float = 3.0, timeout_s: float = 5.0
) -> Redis:
    """A client owning one connection pool; commands fail within seconds when Redis is down.

    No connection is opened until the first command.
    """
    if not settings.url:
        raise ValueError("create_redis_client needs settings.url")
    return Redis.from_url(
        settings.url,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        client_name="orin",
    )


async def _close_pubsub(connection: RedisPubSubConnection) -> None:
    # redis-py leaves PubSub.aclose() unannotated, and strict mypy refuses calls to it.
    await connection.aclose()  # type: ignore[no-untyped-call]


class _RedisPort:
    """What every Redis adapter shares: the client, the key prefix, error translation."""

    def __init__(self, client: Redis, *, key_prefix: str, url: str) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.where = redact_url(url)

    @contextlib.contextmanager
    def errors(self, operation: str) -> Iterator[None]:
        """Turn connection failures into `AdapterUnavailable`."""
        try:
            yield
        except _UNREACHABLE as exc:
            raise AdapterUnavailable(
                f"Redis at {self.where} unreachable during {operation} ({type(exc).__name__})"
            ) from exc


class RedisCache(_RedisPort, Cache):
    """Keys ``<prefix><key>``. Its `close` closes the client the other adapters share."""

    async def get(self, key: str) -> bytes | None:
        """The value, or None when missing or expired."""
        with self.errors("get"):
            value = await self.client.get(self.key_prefix + key)
        # The client never decodes responses (no decode_responses), so values are bytes.
        return cast("bytes | None", value)

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store ``value`` (TTL rounded to milliseconds); ``ttl_s <= 0`` deletes the key."""
        name = self.key_prefix + key
        with self.errors("set"):
            if ttl_s is None:
                await self.client.set(name, value)
            elif ttl_s <= 0:
                await self.client.delete(name)
            else:
                await self.client.set(name, value, px=_millis(ttl_s))

    async def delete(self, *keys: str) -> int:
        """Remove keys; returns how many existed."""
        if not keys:
            return 0
        with self.errors("delete"):
            removed: int = await self.client.delete(*(self.key_prefix + key for key in keys))
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Add ``amount`` atomically; the TTL is set only when the counter is created.

        Raises ValueError when the key holds something other than an integer.
        """
        name = self.key_prefix + key
        try:
            with self.errors("incr"):
                if ttl_s is None:
                    total: int = await self.client.incrby(name, amount)
                    return total
                # MULTI: create at 0 with the TTL only if missing, then add; one round trip.
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.set(name, 0, px=_millis(ttl_s), nx=True)
                    pipe.incrby(name, amount)
                    results: list[Any] = await pipe.execute()
                return int(results[1])
        except ResponseError as exc:
            if "not an integer" not in str(exc):
                raise
            raise ValueError(f"cache key {key!r} does not hold an integer") from exc

    async def ping(self) -> None:
        """Raise `AdapterUnavailable` unless Redis answers."""
        with self.errors("ping"):
            await self.client.ping()

    async def close(self) -> None:
        """Close the shared client and its pool (close pub/sub subscriptions first)."""
        await self.client.aclose()


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


# GCRA in one script so that read-decide-write is atomic. Times are microseconds from the
# server's clock (TIME), so every replica measures against the same clock; Redis 7 replicates
# the script's effects, which makes calling TIME before writing allowed. Floats go back as
# strings because Redis truncates Lua numbers to integers in replies.
_GCRA_LUA: Final = """
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = period / limit
local base = now
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat and tat > now then base = tat end
local new_tat = base + cost * interval
local used = new_tat - now
if used <= period + 0.001 then  -- float slack: (now + x) - now need not be x
  if cost > 0 then
    redis.call('SET', KEYS[1], string.format('%.17g', new_tat),
               'PX', math.max(1, math.ceil(used / 1000)))
  end
  local remaining = math.floor((period - used) / interval + 1e-9)
  return {1, remaining, '0', string.format('%.17g', used)}
end
local remaining = math.floor((period - (base - now)) / interval + 1e-9)
return {0, remaining, string.format('%.17g', used - period), string.format('%.17g', base - now)}
"""


class RedisRateLimiter(_RedisPort, RateLimiter):
    """GCRA buckets as Redis keys holding the theoretical arrival time; one EVALSHA a hit."""

    def __init__(self, client: Redis, *, key_prefix: str, url: str) -> None:
        super().__init__(client, key_prefix=key_prefix + "rate:", url=url)
        self._script = client.register_script(_GCRA_LUA)

    async def hit(self, key: str, *, limit: int, period_s: float, cost: int = 1) -> RateLimitResult:
        """Spend ``cost`` tokens if the bucket holds them (``cost=0`` only reads the state)."""
        check_rate_args(limit, period_s, cost)
        with self.errors("rate limit"):
            reply: list[Any] = await self._script(
                keys=[self.key_prefix + key], args=[repr(period_s * 1_000_000), limit, cost]
            )
        allowed, remaining, retry_us, reset_us = reply
        return RateLimitResult(
            allowed=bool(allowed),
            remaining=int(remaining),
            retry_after_s=float(retry_us) / 1_000_000,
            reset_after_s=float(reset_us) / 1_000_000,
        )

    async def reset(self, key: str) -> None:
        """Refill ``key``'s bucket."""
        with self.errors("rate limit reset"):
            await self.client.delete(self.key_prefix + key)


_END: Final = ("", b"")  # wakes a waiting iterator when the subscription ends; never delivered


class RedisSubscription(Subscription):
    """One Redis pub/sub connection, read by a background task into a bounded queue.

    Like the in-memory adapter, a reader that falls ``max_queued`` messages behind loses the
    newest ones (counted in ``dropped``) instead of letting Redis buffer them without bound.
    If the connection is lost for good, iteration raises `AdapterUnavailable`.
    """

    def __init__(self, port: _RedisPort, channels: tuple[str, ...], *, max_queued: int) -> None:
        self.channels = channels
        self.dropped = 0
        self.closed = False
        self._port = port
        self._connection: RedisPubSubConnection = port.client.pubsub()
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(max_queued)
        self._reader: asyncio.Task[None] | None = None
        self._error: AdapterUnavailable | None = None

    async def start(self, timeout_s: float = 5.0) -> None:
        """Subscribe and wait until Redis confirmed every channel."""
        names = [self._port.key_prefix + channel for channel in self.channels]
        waiting = {name.encode() for name in names}
        try:
            with self._port.errors("subscribe"):
                async with asyncio.timeout(timeout_s):
                    await self._connection.subscribe(*names)
                    # Until confirmed, a message published now might not reach us.
                    while waiting:
                        message = await self._connection.get_message(timeout=timeout_s)
                        if message is not None and message["type"] == "subscribe":
                            waiting.discard(message["channel"])
        except TimeoutError:
            await _close_pubsub(self._connection)
            raise AdapterUnavailable(
                f"Redis at {self._port.where} did not confirm the subscription"
            ) from None
        except BaseException:
            await _close_pubsub(self._connection)
            raise
        self._reader = asyncio.create_task(self._read(), name="redis-pubsub-reader")

    async def _read(self) -> None:
        prefix_length = len(self._port.key_prefix)
        try:
            while True:
                message = await self._connection.get_message(
                    ignore_subscribe_messages=True, timeout=None
                )
                if message is None or message["type"] != "message":
                    continue
                channel = message["channel"].decode()[prefix_length:]
                try:
                    self._queue.put_nowait((channel, message["data"]))
                except asyncio.QueueFull:
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 1000 == 0:
                        logger.warning(
                            "pubsub.subscriber_lagging", channel=channel, dropped=self.dropped
                        )
        except _UNREACHABLE as exc:
            self._error = AdapterUnavailable(
                f"Redis at {self._port.where} lost the subscription ({type(exc).__name__})"
            )
            logger.warning("pubsub.subscription_lost", error=str(exc), channels=self.channels)
            self._wake()

    def _wake(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # make room for the marker; ending drops one message
        self._queue.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield ``(channel, data)`` until closed; raises `AdapterUnavailable` if Redis is lost."""
        while not self.closed:
            item = await self._queue.get()
            if item is _END:
                if self._error is not None and not self.closed:
                    raise self._error
                return
            yield item

    async def close(self) -> None:
        """Unsubscribe (by closing the connection) and end any pending iteration."""
        if self.closed:
            return
        self.closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(*_UNREACHABLE):
            await _close_pubsub(self._connection)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)


class RedisPubSub(_RedisPort, PubSub):
    """Channels ``<prefix><channel>``: a message reaches subscribers on every replica."""

    def __init__(self, client: Redis, *, key_prefix: str, url: str, max_queued: int = 1000) -> None:
        super().__init__(client, key_prefix=key_prefix, url=url)
        self.max_queued = max_queued
        self._subscriptions: set[RedisSubscription] = set()

    async def publish(self, channel: str, data: bytes) -> int:
        """Publish ``data``; returns how many subscribers Redis delivered it to."""
        with self.errors("publish"):
            receivers: int = await self.client.publish(self.key_prefix + channel, data)
        return receivers

    async def subscribe(self, *channels: str) -> Subscription:
        """Start receiving ``channels`` (at least one); returns once Redis confirmed them."""
        if not channels:
            raise ValueError("subscribe needs at least one channel")
        subscription = RedisSubscription(
            self, tuple(dict.fromkeys(channels)), max_queued=self.max_queued
        )
        await subscription.start()
        self._subscriptions.add(subscription)
        self._subscriptions = {sub for sub in self._subscriptions if not sub.closed}
        return subscription

    async def close(self) -> None:
        """Close every subscription made here (the shared client is closed by `RedisCache`)."""
        subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            await subscription.close()
