"""One error hierarchy for the whole application, rendered as problem+json (RFC 9457)."""

from __future__ import annotations

from typing import Any, ClassVar


class OrinError(Exception):
    """A domain error with an HTTP status, a stable problem type and a human message."""

    status_code: ClassVar[int] = 500
    type_slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}
        """Response headers the problem carries (``Retry-After`` on a 429, for instance)."""


class BadRequest(OrinError):
    status_code = 400
    type_slug = "bad-request"
    title = "Bad request"


class Unauthorized(OrinError):
    status_code = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class Forbidden(OrinError):
    status_code = 403
    type_slug = "forbidden"
    title = "Forbidden"


class NotFound(OrinError):
    status_code = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(OrinError):
    status_code = 409
    type_slug = "conflict"
    title = "Conflict"


class RateLimited(OrinError):
    status_code = 429
    type_slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(OrinError):
    status_code = 503
    type_slug = "service-unavailable"
    title = "Service unavailable"


class AdapterUnavailable(ServiceUnavailable):
    """A backing service (database, Redis, RabbitMQ, S3) cannot be reached."""

    type_slug = "adapter-unavailable"
    title = "Backing service unavailable"
