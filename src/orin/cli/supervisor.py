"""`orin run --processes`: the roles as child processes, restarted when one dies.

Each child is started as an argv list, gets SIGTERM on shutdown and SIGKILL after the stop
timeout, and is reaped so none is left a zombie. Children also receive SIGTERM if the
supervisor itself dies (Linux parent-death signal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import structlog

from orin.config import Settings
from orin.kit.children import die_with_parent

logger = structlog.get_logger(__name__)

MAX_RESTART_DELAY_S = 30.0
HEALTHY_AFTER_S = 30.0
"""A child that ran this long before dying is restarted after the first delay again."""


@dataclass
class Child:
    """One supervised role."""

    role: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    delay_s: float = 0.0
    restart_at: float | None = field(default=None)


class Supervisor:
    """Starts one child per role and keeps them running until told to stop."""

    def __init__(self, settings: Settings, roles: list[str]) -> None:
        self.settings = settings
        self.children = [Child(role=role, argv=self._argv(role)) for role in roles]
        self._stopping = False

    def _argv(self, role: str) -> list[str]:
        argv = [sys.executable, "-m", "orin", role]
        if role == "api":
            argv += ["--host", self.settings.api.host, "--port", str(self.settings.api.port)]
        return argv

    def _spawn(self, child: Child) -> None:
        env = dict(os.environ, ORIN_PROCESS_ROLE=child.role)
        child.process = subprocess.Popen(
            child.argv, env=env, preexec_fn=die_with_parent, stdin=subprocess.DEVNULL
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        logger.info(
            "supervisor.started", role=child.role, pid=child.process.pid, restarts=child.restarts
        )

    def _on_exit(self, child: Child, code: int) -> None:
        ran_for = time.monotonic() - child.started_at
        base = self.settings.supervisor.restart_delay_s
        if ran_for >= HEALTHY_AFTER_S:
            child.delay_s = base
        else:
            child.delay_s = min(MAX_RESTART_DELAY_S, max(base, child.delay_s * 2))
        child.restart_at = time.monotonic() + child.delay_s
        child.restarts += 1
        child.process = None
        logger.warning(
            "supervisor.child_died",
            role=child.role,
            exit_code=code,
            ran_for_s=round(ran_for, 1),
            restart_in_s=child.delay_s,
        )

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM; returns the exit code for the CLI."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        for child in self.children:
            self._spawn(child)
        try:
            while not self._stopping:
                now = time.monotonic()
                for child in self.children:
                    if child.process is not None:
                        code = child.process.poll()
                        if code is not None:
                            self._on_exit(child, code)
                    elif child.restart_at is not None and now >= child.restart_at:
                        self._spawn(child)
                time.sleep(0.2)
        finally:
            self.stop_all()
        return 0

    def stop_all(self) -> None:
        """SIGTERM every child, wait up to the stop timeout, SIGKILL the rest, reap all."""
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + self.settings.supervisor.stop_timeout_s
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("supervisor.killing", pid=process.pid)
                process.kill()
                process.wait()
        logger.info("supervisor.stopped")
