"""Shared bench plumbing: throw-away resources on the machine's services (removed afterwards)
and an `orin api` process on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Migrate the database, then start `orin api` with its output going to ``log``."""
    subprocess.run([sys.executable, "-m", "orin", "migrate"], env=env, check=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orin", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> None:
    """Wait until ``process`` answers ``/readyz`` (exits with its log tail if it dies)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=url) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (await asyncio.to_thread(log.read_text))[-3000:]
                raise SystemExit(f"orin api exited:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    tail = (await asyncio.to_thread(log.read_text))[-3000:]
    raise SystemExit(f"orin api not ready:\n{tail}")
