"""Cursor pagination: opaque cursors over a stable sort key, so pages never repeat or skip rows."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, TypeVarTuple

from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from orin.errors import BadRequest

MAX_LIMIT = 200

T = TypeVar("T")
Columns = TypeVarTuple("Columns")


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


class _Created(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


def oldest_first(
    statement: Select[*Columns],
    *,
    created: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[str],
    limit: int,
    cursor: str | None,
) -> Select[*Columns]:
    """``statement`` ordered by (``created``, ``key``), starting after ``cursor``; fetches one
    row more than ``limit`` so `next_cursor` can tell whether a page follows."""
    statement = statement.order_by(created, key).limit(limit + 1)
    if cursor:
        after = decode_cursor(cursor, ("at", "id"))
        at = parse_cursor_time(after["at"])
        statement = statement.where((created > at) | ((created == at) & (key > str(after["id"]))))
    return statement


def next_cursor(page: Sequence[_Created], fetched: int, limit: int) -> str | None:
    """The cursor after ``page`` when `oldest_first` fetched more than ``limit`` rows."""
    if fetched <= limit or not page:
        return None
    last = page[-1]
    return encode_cursor({"at": last.created_at.isoformat(), "id": last.id})
