"""Cursor pagination: opaque cursors over a stable sort key, so pages never repeat or skip rows."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from orin.errors import BadRequest

MAX_LIMIT = 200

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last.")


class InvalidCursor(BadRequest):
    type_slug = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, required: tuple[str, ...]) -> dict[str, Any]:
    """The values a cursor carries; `InvalidCursor` (400) when it was not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this API returned") from None
    if not isinstance(values, dict) or any(key not in values for key in required):
        raise InvalidCursor("the cursor is not one this API returned")
    return values


def parse_cursor_time(value: object) -> datetime:
    """A timezone-aware time carried by a cursor; `InvalidCursor` otherwise."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidCursor("the cursor is not one this API returned") from None
    if parsed.tzinfo is None:
        raise InvalidCursor("the cursor is not one this API returned")
    return parsed.astimezone(UTC)
