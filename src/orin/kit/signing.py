"""HMAC-SHA256 signatures for URLs that grant one action until a deadline.

A signature covers a *scope* (for example the HTTP method and the path) and an expiry time in
Unix seconds. Anyone holding the URL may act within that scope until it expires; changing any
scope part or the expiry makes the signature invalid. Used by the local object store and, later,
by HLS playlist and segment URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time

from orin.errors import Forbidden


class InvalidSignature(Forbidden):
    """The signature does not match the URL: it was altered or signed with another key."""

    type_slug = "invalid-signature"
    title = "Invalid signature"


class ExpiredSignature(Forbidden):
    """The signature matched but its expiry time has passed."""

    type_slug = "expired-signature"
    title = "Signature expired"


def expiry_after(ttl_s: float, *, now: float | None = None) -> int:
    """Unix time (whole seconds) at least ``ttl_s`` seconds from ``now``."""
    return math.ceil((time.time() if now is None else now) + ttl_s)


def _message(scope: tuple[str, ...], expires_at: int) -> bytes:
    # Each part is length-prefixed so that ("a/b", "c") and ("a", "b/c") never sign alike.
    out = bytearray()
    for part in (*scope, str(expires_at)):
        encoded = part.encode()
        out += b"%d:" % len(encoded)
        out += encoded
    return bytes(out)


def sign(secret: bytes, *scope: str, expires_at: int) -> str:
    """The signature of ``scope`` valid until ``expires_at`` (Unix seconds).

    Returns URL-safe base64 without padding, ready to put in a query string.
    """
    if not secret:
        raise ValueError("signing needs a non-empty secret")
    digest = hmac.new(secret, _message(scope, expires_at), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(
    secret: bytes, signature: str, *scope: str, expires_at: int, now: float | None = None
) -> None:
    """Check ``signature`` for ``scope`` and ``expires_at``.

    Raises `InvalidSignature` when it does not match (checked first, in constant time, so an
    altered expiry reads as tampering) and `ExpiredSignature` when it matched but
    ``expires_at`` is in the past.
    """
    expected = sign(secret, *scope, expires_at=expires_at).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise InvalidSignature("the URL signature does not match: the link was altered")
    current = time.time() if now is None else now
    if current > expires_at:
        raise ExpiredSignature(
            f"the link expired {int(current - expires_at)}s ago; ask for a new one",
            extra={"expired_at": expires_at},
        )
