"""Request rate limits: token buckets per client IP and per user, spent through the port.

A route group gets a `RateLimit` dependency naming its limits; each request spends one token
from every bucket that applies (``rl:{group}:user:{user_id}`` when an auth dependency set
``request.state.user_id``, and ``rl:{group}:ip:{ip}``). A refused request is a 429 problem with
``Retry-After``; an allowed one carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` for its tightest bucket. Services limit other keys (login attempts per
account) with `hit_or_raise`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast

import structlog
from fastapi import Request, Response

from orin.cache.base import RateLimiter, RateLimitResult
from orin.config import Settings
from orin.errors import RateLimited

logger = structlog.get_logger(__name__)

LimitOf = Callable[[Settings], int]
"""Reads one limit (requests per period) from the settings, so a change needs no code."""

UNKNOWN_CLIENT: Final = "unknown"
"""Bucket identity of a request without a peer address (a Unix socket, for instance)."""

_IPV6_BUCKET_PREFIX: Final = 64
"""IPv6 clients are bucketed per /64: one subscriber usually holds the whole network and could
otherwise rotate addresses to get a fresh bucket with every request."""


def client_ip(request: Request) -> str:
    """The peer address of ``request``.

    Behind a reverse proxy, uvicorn's ``--proxy-headers`` with ``--forwarded-allow-ips`` already
    replaced it with the client's address; ``X-Forwarded-For`` is deliberately not read here,
    since any client can send it and would pick its own bucket.
    """
    return request.client.host if request.client else UNKNOWN_CLIENT


def ip_identity(ip: str) -> str:
    """The bucket identity of an address: itself for IPv4, its /64 network for IPv6."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, _IPV6_BUCKET_PREFIX), strict=False)
        return str(network)
    return str(address)


def bucket_key(group: str, scope: str, identity: str) -> str:
    """The limiter key of one bucket, ``rl:{group}:{scope}:{identity}``."""
    return f"rl:{group}:{scope}:{identity}"


def retry_after_seconds(result: RateLimitResult) -> int:
    """Whole seconds a refused client should wait, rounded up and at least 1."""
    return max(1, math.ceil(result.retry_after_s))


def limit_headers(limit: int, result: RateLimitResult) -> dict[str, str]:
    """``RateLimit-*`` headers (IETF draft) describing one bucket after a hit."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, result.remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(result.reset_after_s))),
    }


def _refusal(key: str, limit: int, result: RateLimitResult) -> RateLimited:
    wait_s = retry_after_seconds(result)
    logger.info("ratelimit.refused", key=key, limit=limit, retry_after_s=wait_s)
    return RateLimited(
        f"Too many requests; try again in {wait_s} s.",
        extra={"retry_after_s": wait_s},
        headers={"Retry-After": str(wait_s), **limit_headers(limit, result)},
    )


async def hit_or_raise(
    limiter: RateLimiter, key: str, limit: int, period_s: float
) -> RateLimitResult:
    """Spend one token of ``key``'s bucket (``limit`` per ``period_s``) or raise `RateLimited`.

    The error renders as a 429 problem with ``Retry-After``. The caller decides whether limits
    apply at all (``settings.ratelimit.enabled``); `RateLimit` does so for routes.
    """
    result = await limiter.hit(key, limit=limit, period_s=period_s)
    if not result.allowed:
        raise _refusal(key, limit, result)
    return result


@dataclass(frozen=True, slots=True)
class _Hit:
    key: str
    limit: int
    result: RateLimitResult


class RateLimit:
    """A FastAPI dependency spending one token per request from the group's buckets.

    ``per_user`` applies only when a dependency resolved before this one set
    ``request.state.user_id``: FastAPI resolves a router's ``dependencies`` before the
    endpoint's parameters, so attach a per-user limit after (or inside) the authentication
    dependency. The user's bucket is spent first, so that a user over their own limit stops
    draining the bucket of the IP address they may share with others. Headers set here reach
    the client unless the endpoint returns a `Response` object of its own.
    """

    def __init__(
        self,
        group: str,
        *,
        per_ip: LimitOf | None = None,
        per_user: LimitOf | None = None,
        period_s: float = 60.0,
    ) -> None:
        if per_ip is None and per_user is None:
            raise ValueError(f"rate limit group {group!r} needs per_ip, per_user or both")
        if period_s <= 0:
            raise ValueError(f"rate limit group {group!r} needs a positive period")
        self.group = group
        self.per_ip = per_ip
        self.per_user = per_user
        self.period_s = period_s

    def buckets(self, request: Request, settings: Settings) -> list[tuple[str, int]]:
        """The ``(key, limit)`` pairs that apply to ``request``, the user's first."""
        buckets: list[tuple[str, int]] = []
        user_id = getattr(request.state, "user_id", None)
        if self.per_user is not None and user_id is not None:
            buckets.append((bucket_key(self.group, "user", str(user_id)), self.per_user(settings)))
        if self.per_ip is not None:
            identity = ip_identity(client_ip(request))
            buckets.append((bucket_key(self.group, "ip", identity), self.per_ip(settings)))
        return buckets

    async def __call__(self, request: Request, response: Response) -> None:
        """Spend a token from each bucket; raise `RateLimited` at the first that is empty."""
        settings = cast(Settings, request.state.settings)
        if not settings.ratelimit.enabled:
            return
        limiter = cast(RateLimiter, request.state.rate_limiter)
        hits = [
            _Hit(key, limit, await hit_or_raise(limiter, key, limit, self.period_s))
            for key, limit in self.buckets(request, settings)
        ]
        if hits:
            # Every request spends from each bucket, so the one with the fewest tokens left
            # is the one that refuses first: that is the one the client should see.
            tightest = min(hits, key=lambda hit: hit.result.remaining)
            response.headers.update(limit_headers(tightest.limit, tightest.result))


AuthRateLimit = RateLimit("auth", per_ip=lambda settings: settings.ratelimit.auth_per_ip)
"""Login, registration and password reset: ``auth_per_ip`` requests per IP per minute.

Attach with ``APIRouter(dependencies=[Depends(AuthRateLimit)])`` or per route."""

ApiRateLimit = RateLimit(
    "api",
    per_ip=lambda settings: settings.ratelimit.api_per_ip,
)
"""The API: ``api_per_ip`` requests per IP per minute; attach to API routers. The per-user
budget (`ApiUserRateLimit`) is spent by the authentication dependency itself."""


ApiUserRateLimit = RateLimit("api", per_user=lambda settings: settings.ratelimit.api_per_user)
"""``api_per_user`` requests per signed-in user per minute; spent by the authentication
dependency (`orin.auth.deps.get_caller`) once it knows the user."""
