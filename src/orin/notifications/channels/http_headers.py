"""Helpers the HTTP senders share: the Retry-After header, text and push payloads cut to a
byte budget, and requests pinned to the address a destination was checked at."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

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


@dataclass(frozen=True)
class PushContent:
    """What a push payload says that may be shortened to fit: leading event ids, body, title."""

    event_ids: Sequence[str]
    body: str
    title: str


def fit_push_content(
    render: Callable[[PushContent], bytes], content: PushContent, limit: int
) -> PushContent | None:
    """``content`` shortened until ``render`` fits ``limit`` bytes, or None if nothing fits.

    The event ids go first, from the end (at least one stays: the count tells the rest), then
    the body and last the title are cut with an ellipsis (`fit_text`).
    """
    if len(render(content)) <= limit:
        return content
    ids = list(content.event_ids)
    low, high = min(1, len(ids)), len(ids)
    while low < high:  # the most leading ids that fit
        middle = (low + high + 1) // 2
        if len(render(replace(content, event_ids=ids[:middle]))) <= limit:
            low = middle
        else:
            high = middle - 1
    content = replace(content, event_ids=ids[:low])
    if len(render(content)) > limit:
        body = fit_text(lambda text: render(replace(content, body=text)), content.body, limit)
        content = replace(content, body=body)
    if len(render(content)) > limit:
        title = fit_text(lambda text: render(replace(content, title=text)), content.title, limit)
        content = replace(content, title=title)
    return content if len(render(content)) <= limit else None


def pin_to_address(request: httpx.Request, address: str) -> None:
    """Connect ``request`` to the checked ``address`` instead of resolving its host again.

    The ``Host`` header (already set from the URL) and, for HTTPS, the TLS server name and
    certificate check stay those of the URL's host, so DNS cannot answer differently between
    the policy check and the connection.
    """
    if request.url.scheme == "https":
        request.extensions["sni_hostname"] = request.url.host
    request.url = request.url.copy_with(host=address.strip("[]"))


async def send_pinned(
    client: httpx.AsyncClient, request: httpx.Request, addresses: Sequence[str], **options: Any
) -> httpx.Response:
    """Send ``request`` to the first of the checked ``addresses`` that takes the connection.

    An address that refuses or does not answer the connection is skipped for the next one, as a
    client resolving the name itself would do (the last one's error is raised). With no
    addresses the request goes to its URL's host as it resolves. ``options`` go to `send`.
    """
    if not addresses:
        return await client.send(request, **options)
    url = request.url
    for address in addresses[:-1]:
        request.url = url
        pin_to_address(request, address)
        try:
            return await client.send(request, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
    request.url = url
    pin_to_address(request, addresses[-1])
    return await client.send(request, **options)
