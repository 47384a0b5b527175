"""The `orin` command: clear one-line failures, `orin run` readiness, supervision, doctor."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cli.helpers import (
    START_GUARD_S,
    orin_env,
    run_orin,
    start_orin,
    stop,
    wait_ready,
)
from tests.fixtures.services import free_port


def is_log_record(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def assert_one_line_error(result_stderr: str, *needles: str) -> None:
    """Besides structured log records, stderr holds exactly one line: the error."""
    lines = [line for line in result_stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not is_log_record(line)]
    assert len(lines) == 1, result_stderr
    assert lines[0].startswith("orin: error: ")
    assert "Traceback" not in result_stderr
    for needle in needles:
        assert needle in lines[0]


def test_bad_setting_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    result = run_orin(["api"], orin_env(tmp_path, ORIN_API_PORT="eighty"))
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "ORIN_API_PORT", "valid integer")


def test_unreachable_database_stops_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{free_port()}/orin"
    result = run_orin(["api"], orin_env(tmp_path, ORIN_DATABASE_URL=url))
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "database", "unreachable")
    assert "hunter2" not in result.stderr


def test_unreachable_redis_stops_orin_run_with_one_line(tmp_path: Path) -> None:
    env = orin_env(tmp_path, ORIN_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = run_orin(["run", "--port", str(free_port())], env)
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "Redis")


def test_unreachable_broker_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    assert run_orin(["migrate"], orin_env(tmp_path)).returncode == 0
    env = orin_env(tmp_path, ORIN_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    result = run_orin(["worker"], env)
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "RabbitMQ")
    assert "guest:guest" not in result.stderr


def test_api_refuses_a_database_that_was_never_migrated(tmp_path: Path) -> None:
    result = run_orin(["api"], orin_env(tmp_path))
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "orin migrate")


def test_migrate_then_doctor_on_the_embedded_default(tmp_path: Path) -> None:
    env = orin_env(tmp_path)
    migrated = run_orin(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    doctor = run_orin(["doctor"], env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for check in ("ffmpeg", "database", "cache", "bus", "storage"):
        assert check in doctor.stdout


def test_doctor_names_what_is_missing_and_how_to_fix_it(tmp_path: Path) -> None:
    env = orin_env(tmp_path, ORIN_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", COLUMNS="200")
    assert run_orin(["migrate"], env).returncode == 0
    doctor = run_orin(["doctor"], env)
    assert doctor.returncode == 1
    assert "cache" in doctor.stdout
    assert "redis-server" in doctor.stdout
    assert "1 problem(s)" in doctor.stdout


def test_orin_run_becomes_ready_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "orin.log"
    process = start_orin(["run", "--port", str(port)], orin_env(tmp_path / "data"), log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", START_GUARD_S, process, log)
        body = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert body["status"] == "ready"
    finally:
        code = stop(process)
    assert code == 0, log.read_text()[-2000:]
    output = log.read_text()
    assert f"ORIN is running at http://127.0.0.1:{port}" in output
    assert "Traceback" not in output
    assert (tmp_path / "data" / "orin.db").is_file()


def test_host_and_port_come_from_the_environment_too(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "orin.log"
    env = orin_env(tmp_path / "data", ORIN_API_PORT=str(port), ORIN_API_HOST="127.0.0.1")
    assert run_orin(["migrate"], env).returncode == 0
    process = start_orin(["api"], env, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", START_GUARD_S, process, log)
    finally:
        assert stop(process) == 0


def children_by_role(supervisor_pid: int) -> dict[str, int]:
    roles = {}
    for child in psutil.Process(supervisor_pid).children():
        try:
            cmdline = child.cmdline()
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # died, not yet reaped by the supervisor
        if "orin" in cmdline:
            roles[cmdline[cmdline.index("orin") + 1]] = child.pid
    return roles


def wait_for_roles(pid: int, expected: set[str], timeout_s: float = 20) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        roles = children_by_role(pid)
        if set(roles) == expected:
            return roles
        time.sleep(0.2)
    raise AssertionError(f"children {children_by_role(pid)} != {expected}")


@pytest.mark.slow
def test_run_processes_restarts_a_killed_child_and_readiness_recovers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "orin.log"
    env = orin_env(tmp_path / "data", ORIN_SUPERVISOR_RESTART_DELAY_S="0.5")
    process = start_orin(["run", "--processes", "--port", str(port)], env, log)
    try:
        wait_ready(url, START_GUARD_S, process, log)
        roles = wait_for_roles(process.pid, {"api", "worker", "scheduler", "ingest"})

        os.kill(roles["api"], signal.SIGKILL)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/readyz", timeout=2)
        wait_ready(url, START_GUARD_S, process, log)
        restarted = wait_for_roles(process.pid, {"api", "worker", "scheduler", "ingest"})
        assert restarted["api"] != roles["api"]

        os.kill(roles["worker"], signal.SIGKILL)
        deadline = time.monotonic() + START_GUARD_S
        while children_by_role(process.pid).get("worker") in (None, roles["worker"]):
            assert time.monotonic() < deadline, "worker was not restarted"
            time.sleep(0.2)
        assert "supervisor.child_died" in log.read_text()
        children = [psutil.Process(pid) for pid in children_by_role(process.pid).values()]
    finally:
        code = stop(process)
    assert code == 0
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, "children must not outlive the supervisor"
