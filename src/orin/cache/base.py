"""Ports for short-lived shared state: a key/value cache, a rate limiter and pub/sub.

Embedded adapters keep everything in this process's memory; scaled adapters use Redis so that
every replica sees the same keys, counts and messages.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass


class Cache(abc.ABC):
    """Bytes by key with a time to live."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value, or None when missing or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store ``value``; it expires after ``ttl_s`` seconds when given."""

    @abc.abstractmethod
    async def delete(self, *keys: str) -> int:
        """Remove keys; returns how many existed."""

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Add ``amount`` to an integer counter (created at 0); sets the TTL on creation."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `AdapterUnavailable` when the store cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """Outcome of one rate-limit check."""

    allowed: bool
    remaining: int
    retry_after_s: float
    """Seconds until one more request would be allowed (0 when allowed)."""
    reset_after_s: float
    """Seconds until the bucket is full again."""


class RateLimiter(abc.ABC):
    """Token bucket (GCRA): ``limit`` requests per ``period_s``, bursts up to ``limit``."""

    @abc.abstractmethod
    async def hit(self, key: str, *, limit: int, period_s: float, cost: int = 1) -> RateLimitResult:
        """Spend ``cost`` tokens from ``key``'s bucket if there are enough."""

    @abc.abstractmethod
    async def reset(self, key: str) -> None:
        """Refill ``key``'s bucket."""


class Subscription(abc.ABC):
    """Messages arriving on the channels of one subscriber."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        """Yield ``(channel, data)`` pairs as they arrive."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving."""


class PubSub(abc.ABC):
    """Fire-and-forget broadcast to every current subscriber of a channel."""

    @abc.abstractmethod
    async def publish(self, channel: str, data: bytes) -> int:
        """Send ``data``; returns how many subscribers received it (per this adapter's view)."""

    @abc.abstractmethod
    async def subscribe(self, *channels: str) -> Subscription:
        """Start receiving ``channels``; messages published after this call are delivered."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""
