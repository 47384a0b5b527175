"""Throw-away resources on the machine's services for benchmarks, removed afterwards."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import structlog

AMQP_HOST = "127.0.0.1:5672"


def quiet_logs() -> None:
    """Keep only warnings: handler and relay logs would dominate the timings."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def rabbitmqctl(*args: str) -> None:
    """Run ``rabbitmqctl``; raises `subprocess.CalledProcessError` when it fails."""
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@asynccontextmanager
async def temporary_vhost(prefix: str = "orin-bench") -> AsyncIterator[str]:
    """A new RabbitMQ vhost for guest, deleted on exit; yields its AMQP URL."""
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(rabbitmqctl, "add_vhost", vhost)
    try:
        await asyncio.to_thread(
            rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"
        )
        yield f"amqp://guest:guest@{AMQP_HOST}/{quote(vhost, safe='')}"
    finally:
        await asyncio.to_thread(rabbitmqctl, "delete_vhost", vhost)
