"""The object storage port: recordings, snapshots, clips and exports.

Keys are ``/``-separated relative paths (``cameras/<id>/snapshots/<ts>.jpg``). Clients never get
credentials: they get signed URLs that expire and are scoped to one key and one method.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from orin.errors import BadRequest

SignedMethod = Literal["GET", "PUT"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows about one object."""

    key: str
    size: int
    modified_at: datetime


class InvalidKey(BadRequest):
    type_slug = "invalid-object-key"
    title = "Invalid object key"


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise `InvalidKey`."""
    parts = key.split("/")
    if (
        not key
        or len(key) > 1024
        or key.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or "\\" in key
        or any(ord(char) < 32 for char in key)
    ):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


class ObjectStorage(abc.ABC):
    """Store and fetch objects, and hand out signed URLs for them."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Prepare the store (create the folder or bucket)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release clients."""

    @abc.abstractmethod
    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        """Write ``data`` at ``key``, replacing what was there."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """Read the object; raises `orin.errors.NotFound` when missing."""

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo | None:
        """Metadata of the object, or None when missing."""

    @abc.abstractmethod
    async def delete(self, *keys: str) -> None:
        """Delete objects; missing keys are ignored."""

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key."""

    @abc.abstractmethod
    async def signed_url(
        self, key: str, *, method: SignedMethod = "GET", expires_in_s: int | None = None
    ) -> str:
        """An absolute URL allowing ``method`` on ``key`` until it expires."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `AdapterUnavailable` when the store cannot be reached."""
