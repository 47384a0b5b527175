"""Webhook URLs and secrets.

Each user's signing secret is derived from the server's secret key and their id (HMAC-SHA256),
so it needs no storage and survives restarts; it changes only if the server's key does.

The SSRF policy for webhook URLs: the camera address rules, with their own allowed networks.

A user's webhook URL makes the worker POST from inside the deployment, so the same refusals as
for camera addresses apply (loopback, private, link-local, metadata, ...) unless the operator
lists a network in ``notify.allowed_networks``. Browsers' Web Push endpoints follow the same
rules. A URL is checked when it is saved and again before every delivery (DNS or the policy may
have changed since), and the delivery connects to an address that check found (the first that
takes the connection), so DNS cannot answer differently in between.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import urlsplit

from orin.cameras.network_policy import (
    CheckedDestination,
    DestinationRefused,
    NetworkPolicy,
    resolve_and_check,
)
from orin.config import CameraSettings, NotifySettings
from orin.errors import OrinError


class WebhookRefused(OrinError):
    """The webhook URL leads somewhere the server may not post to."""

    status_code = 422
    type_slug = "webhook-refused"
    title = "Webhook URL not allowed"


def webhook_policy(settings: NotifySettings) -> NetworkPolicy:
    """The network policy for webhook destinations."""
    return NetworkPolicy.from_settings(CameraSettings(allowed_networks=settings.allowed_networks))


async def check_webhook_url(
    url: str,
    settings: NotifySettings,
    *,
    fail: Callable[[str], Exception] | None = None,
    what: str = "webhook URL",
) -> CheckedDestination:
    """Raise `WebhookRefused` (or ``fail(message)``) when the policy refuses ``url``'s host;
    else the addresses it was checked at (connect to these). ``what`` names the URL in the
    message (Web Push endpoints are checked by the same rules)."""
    host = urlsplit(url).hostname or ""
    try:
        return await resolve_and_check(host, webhook_policy(settings))
    except DestinationRefused as error:
        message = f"The {what} is not allowed: {error.refusal.words}."
        if fail is not None:
            raise fail(message) from None
        raise WebhookRefused(message, extra={"refusal": error.refusal.code}) from None


def webhook_secret(server_secret: bytes, user_id: str) -> str:
    """The secret that signs ``user_id``'s webhooks (hex, 64 characters)."""
    return hmac.new(server_secret, f"orin.webhook:{user_id}".encode(), hashlib.sha256).hexdigest()
