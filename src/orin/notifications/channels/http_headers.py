"""Helpers the HTTP senders share: the Retry-After header, and text cut to a byte budget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

ELLIPSIS = "…"


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def fit_text(render: Callable[[str], bytes], text: str, limit: int) -> str:
    """The longest cut of ``text``, ending in an ellipsis, whose ``render`` fits ``limit``
    bytes (counted in UTF-8 after JSON escaping); empty when not even that fits."""
    encoded = text.encode()
    budget = limit - len(render("")) - len(ELLIPSIS.encode())
    while budget > 0:
        # A cut inside a multi-byte character drops that character.
        cut = encoded[:budget].decode(errors="ignore") + ELLIPSIS
        size = len(render(cut))
        if size <= limit:
            return cut
        budget -= size - limit  # escaping made it longer than its bytes
    return ""
