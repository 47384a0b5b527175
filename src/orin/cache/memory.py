"""Embedded cache, rate limiter and pub/sub: plain data structures in this process's memory.

They suit one process (``orin run``); replicas each see their own state, which is why a scaled
deployment sets ``ORIN_REDIS_URL``. Everything runs on the event loop without awaiting, so each
operation is atomic with respect to other tasks.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import structlog

from orin.cache.base import Cache, PubSub, RateLimiter, RateLimitResult, Subscription

logger = structlog.get_logger(__name__)

V = TypeVar("V")

_PURGE_BATCH: Final = 64
"""Most expired entries one operation removes, so no single call pays for a large sweep."""


class _ExpiringMap(Generic[V]):
    """A dict whose entries may carry a deadline (monotonic seconds).

    Expired entries are invisible at once and removed lazily: when read, and in bounded batches
    on every write, in deadline order thanks to a heap. Heap entries made stale by an overwrite
    are skipped, and the heap is rebuilt when stale entries dominate it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._data: dict[str, tuple[V, float | None]] = {}
        self._deadlines: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, now: float) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, deadline = entry
        if deadline is not None and deadline <= now:
            del self._data[key]
            return None
        return value

    def deadline(self, key: str) -> float | None:
        entry = self._data.get(key)
        return None if entry is None else entry[1]

    def set(self, key: str, value: V, deadline: float | None, now: float) -> None:
        previous = self._data.get(key)
        self._data[key] = (value, deadline)
        # An unchanged deadline already has its heap entry (it is only popped once passed).
        if deadline is not None and (previous is None or previous[1] != deadline):
            heapq.heappush(self._deadlines, (deadline, key))
        self.purge(now)

    def pop(self, key: str, now: float) -> bool:
        """Remove ``key``; True when it existed and had not expired."""
        entry = self._data.pop(key, None)
        return entry is not None and (entry[1] is None or entry[1] > now)

    def clear(self) -> None:
        self._data.clear()
        self._deadlines.clear()

    def purge(self, now: float, limit: int = _PURGE_BATCH) -> int:
        """Remove up to ``limit`` expired entries; returns how many were removed."""
        removed = 0
        heap = self._deadlines
        while heap and heap[0][0] <= now and removed < limit:
            deadline, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[1] == deadline:
                del self._data[key]
                removed += 1
        if len(heap) > 2 * len(self._data) + 1024:
            self._deadlines = [
                (entry[1], key) for key, entry in self._data.items() if entry[1] is not None
            ]
            heapq.heapify(self._deadlines)
        return removed


def _deadline(now: float, ttl_s: float | None) -> float | None:
    return None if ttl_s is None else now + ttl_s


class MemoryCache(Cache):
    """Bytes by key in a dict, with TTLs measured on the monotonic clock."""

    def __init__(self) -> None:
        self._entries: _ExpiringMap[bytes] = _ExpiringMap()

    async def get(self, key: str) -> bytes | None:
        """The value, or None when missing or expired."""
        return self._entries.get(key, self._entries.clock())

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store ``value``; a ``ttl_s`` of zero or less deletes the key at once."""
        now = self._entries.clock()
        if ttl_s is not None and ttl_s <= 0:
            self._entries.pop(key, now)
            return
        self._entries.set(key, bytes(value), _deadline(now, ttl_s), now)

    async def delete(self, *keys: str) -> int:
        """Remove keys; returns how many existed."""
        now = self._entries.clock()
        return sum(self._entries.pop(key, now) for key in keys)

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Add ``amount`` to the counter (kept as ASCII digits, like Redis).

        Raises ValueError when the key holds something other than an integer.
        """
        now = self._entries.clock()
        current = self._entries.get(key, now)
        if current is None:
            total, deadline = amount, _deadline(now, ttl_s)
        else:
            try:
                total = int(current) + amount
            except ValueError:
                raise ValueError(f"cache key {key!r} does not hold an integer") from None
            deadline = self._entries.deadline(key)
        self._entries.set(key, str(total).encode(), deadline, now)
        return total

    async def ping(self) -> None:
        """Always answers: the store is this process's memory."""
        self._entries.purge(self._entries.clock())

    async def close(self) -> None:
        """Drop every entry."""
        self._entries.clear()


# -- rate limiting ---------------------------------------------------------------------------


def check_rate_args(limit: int, period_s: float, cost: int) -> None:
    """Reject arguments no bucket can serve (shared by every `RateLimiter` adapter)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if not period_s > 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    if not 0 <= cost <= limit:
        raise ValueError(f"cost must be between 0 and limit ({limit}), got {cost}")


@dataclass(frozen=True, slots=True)
class GcraOutcome:
    """One GCRA decision: the new theoretical arrival time and what to tell the caller."""

    tat: float
    result: RateLimitResult


_EPSILON_S = 1e-6


def gcra(tat: float | None, now: float, *, limit: int, period_s: float, cost: int) -> GcraOutcome:
    """The generic cell rate algorithm, in seconds.

    ``tat`` (theoretical arrival time) is when the bucket would be full again; each token
    pushes it ``period_s / limit`` seconds later, and a request is allowed while that stays
    within ``period_s`` of ``now``: a bucket of ``limit`` tokens refilling one every
    ``period_s / limit`` seconds.
    """
    interval = period_s / limit
    base = now if tat is None else max(tat, now)
    new_tat = base + cost * interval
    # (now + x) - now need not equal x in floats: compare with a hair of slack.
    if new_tat - now <= period_s + _EPSILON_S:
        # Tiny epsilon: (period - used) / interval can land just below an integer in floats.
        remaining = int((period_s - (new_tat - now)) / interval + 1e-9)
        return GcraOutcome(new_tat, RateLimitResult(True, remaining, 0.0, new_tat - now))
    remaining = int((period_s - (base - now)) / interval + 1e-9)
    retry_after = new_tat - now - period_s
    return GcraOutcome(base, RateLimitResult(False, remaining, retry_after, base - now))


class MemoryRateLimiter(RateLimiter):
    """GCRA token buckets kept in memory; a key disappears once its bucket is full again."""

    def __init__(self) -> None:
        self._tats: _ExpiringMap[float] = _ExpiringMap()

    async def hit(self, key: str, *, limit: int, period_s: float, cost: int = 1) -> RateLimitResult:
        """Spend ``cost`` tokens if the bucket holds them (``cost=0`` only reads the state)."""
        check_rate_args(limit, period_s, cost)
        now = self._tats.clock()
        outcome = gcra(self._tats.get(key, now), now, limit=limit, period_s=period_s, cost=cost)
        if outcome.result.allowed and cost > 0:
            # The stored TAT is also the entry's deadline: past it, the bucket is full.
            self._tats.set(key, outcome.tat, outcome.tat, now)
        return outcome.result

    async def reset(self, key: str) -> None:
        """Refill ``key``'s bucket."""
        self._tats.pop(key, self._tats.clock())


# -- pub/sub ---------------------------------------------------------------------------------

_CLOSED: Final = ("", b"")  # wakes a waiting iterator on close; never delivered


class QueueSubscription(Subscription):
    """Messages queued for one subscriber, up to ``max_queued``.

    When the queue is full the newest message is dropped for this subscriber only (and
    counted in ``dropped``): a slow reader loses messages rather than stalling publishers or
    growing memory without bound.
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        max_queued: int,
        on_close: Callable[[QueueSubscription], None] | None = None,
    ) -> None:
        self.channels = channels
        self.dropped = 0
        self.closed = False
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(max_queued)
        self._on_close = on_close

    def offer(self, channel: str, data: bytes) -> bool:
        """Queue a message without waiting; False (and counted) when the queue is full."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait((channel, data))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("pubsub.subscriber_lagging", channel=channel, dropped=self.dropped)
            return False
        return True

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield ``(channel, data)`` until the subscription is closed."""
        while not self.closed:
            item = await self._queue.get()
            if item is _CLOSED or self.closed:
                return
            yield item

    async def close(self) -> None:
        """Stop receiving; a pending iteration ends."""
        if self.closed:
            return
        self.closed = True
        if self._on_close is not None:
            self._on_close(self)
        # Make room for the wake-up marker: undelivered messages are discarded on close.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)


class MemoryPubSub(PubSub):
    """Broadcast within this process: each subscription has its own bounded queue."""

    def __init__(self, *, max_queued: int = 1000) -> None:
        self.max_queued = max_queued
        self._subscribers: dict[str, set[QueueSubscription]] = {}

    async def publish(self, channel: str, data: bytes) -> int:
        """Queue ``data`` for every subscriber of ``channel``; returns how many accepted it."""
        return sum(sub.offer(channel, data) for sub in list(self._subscribers.get(channel, ())))

    async def subscribe(self, *channels: str) -> Subscription:
        """Start receiving ``channels`` (at least one)."""
        if not channels:
            raise ValueError("subscribe needs at least one channel")
        subscription = QueueSubscription(
            tuple(dict.fromkeys(channels)), self.max_queued, on_close=self._forget
        )
        for channel in subscription.channels:
            self._subscribers.setdefault(channel, set()).add(subscription)
        return subscription

    def _forget(self, subscription: QueueSubscription) -> None:
        for channel in subscription.channels:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[channel]

    async def close(self) -> None:
        """Close every subscription."""
        subscriptions = {sub for subs in self._subscribers.values() for sub in subs}
        for subscription in subscriptions:
            await subscription.close()
