"""Helpers shared by the bus tests: waiting for a condition, and the bus factory's type."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from orin.bus import Bus


class BusFactory(Protocol):
    """Builds an unstarted bus of the backend under test; the fixture closes it afterwards."""

    def __call__(self, **overrides: Any) -> Bus: ...


def unique(prefix: str) -> str:
    """A queue or topic name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, what: str, timeout_s: float = 10.0
) -> None:
    """Wait until ``check()`` is true, failing the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)
