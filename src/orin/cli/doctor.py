"""`orin doctor`: checks what ORIN needs on this machine and says how to fix what is missing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass

from orin.config import Settings
from orin.runtime.infrastructure import Infrastructure

FIXES = {
    "database": "start the database (PostgreSQL: `pg_ctlcluster 15 main start`) or check "
    "ORIN_DATABASE_URL; if the schema is behind, run `orin migrate`",
    "cache": "start Redis (`redis-server --daemonize yes`) or unset ORIN_REDIS_URL for memory",
    "bus": "start RabbitMQ (`rabbitmq-server -detached`) or unset ORIN_AMQP_URL for in-process",
    "storage": "start the S3 server or check ORIN_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY; unset "
    "ORIN_S3_ENDPOINT to store objects in a local folder",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check: what it looked at, whether it is fine, and how to fix it if not."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


def check_binary(name: str) -> Finding:
    path = shutil.which(name)
    if path is None:
        return Finding(
            name, False, "not found on PATH", "install it: `apt-get install ffmpeg` (Debian/Ubuntu)"
        )
    try:
        out = subprocess.run(  # blocking is fine: the doctor is a one-shot command
            [path, "-version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding(
            name,
            False,
            f"{path} does not run: {exc}",
            "reinstall it: `apt-get install --reinstall ffmpeg`",
        )
    return Finding(name, True, out.splitlines()[0] if out else path)


def check_data_dir(settings: Settings) -> Finding:
    folder = settings.data_dir.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Finding(
            "data dir", False, f"{folder}: {exc.strerror}", "set ORIN_DATA_DIR to a writable folder"
        )
    if not os.access(folder, os.W_OK):
        return Finding(
            "data dir",
            False,
            f"{folder} is not writable",
            "set ORIN_DATA_DIR to a writable folder or fix its permissions",
        )
    return Finding("data dir", True, str(folder))


async def check_services(settings: Settings) -> list[Finding]:
    """Connect to every configured service and report each one."""
    infra = Infrastructure.from_settings(settings)
    findings = []
    try:
        # A start that fails is reported by the readiness check below, in the adapter's words.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(infra.bus.start(), 15)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(infra.storage.start(), 15)
        results = await infra.readiness(timeout_s=10)
        for port, result in results.items():
            detail = f"{result.adapter}: " + (result.error or f"ok ({result.latency_ms} ms)")
            findings.append(
                Finding(port, result.ok, detail, "" if result.ok else FIXES.get(port, ""))
            )
    finally:
        await infra.close()
    return findings


def run_checks(settings: Settings) -> list[Finding]:
    """Every check the doctor makes, in the order it prints them."""
    findings = [check_binary("ffmpeg"), check_binary("ffprobe"), check_data_dir(settings)]
    findings += asyncio.run(check_services(settings))
    return findings
