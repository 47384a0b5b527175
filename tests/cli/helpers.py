"""Starting `orin` as a real process in tests and waiting for it to be ready."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_GUARD_S = 180
"""How long a test waits for an `orin` process to be ready: a guard against a hang, not a speed
claim (bench/make_run_bench.py times the start). Importing ORIN takes ~4 s of CPU, and the
suite's other workers share the two cores: four children of `orin run --processes` once took
55 s in CI."""


def orin_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without ORIN_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIN_")}
    env.update(ORIN_DATA_DIR=str(data_dir), ORIN_LOG_FORMAT="json", **extra)
    return env


def start_orin(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``orin <args>`` with output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orin", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,
        )


def run_orin(
    args: list[str], env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``orin <args>`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "orin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO_ROOT,
        check=False,
    )


def wait_ready(
    url: str,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> float:
    """Poll ``url``/readyz until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process is not None and process.poll() is not None:
            detail = log.read_text() if log else ""
            raise AssertionError(f"orin exited with {process.returncode}:\n{detail[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.2)
    detail = log.read_text()[-3000:] if log else ""
    raise AssertionError(f"{url}/readyz not ready after {timeout_s}s\n{detail}")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    """SIGTERM the process group, SIGKILL it if it lingers; returns the exit code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
