"""Running FFmpeg as a child: own session, stderr kept as structured log lines, clean stops.

The child is started from an argv list (no shell) in a new session, so a signal to ORIN's
terminal does not reach it and `stop` can signal its whole process group; it is SIGKILLed by
the kernel if ORIN itself dies (``PR_SET_PDEATHSIG``), so a killed ingest node leaves no
FFmpeg writing behind it. `stop` sends SIGTERM
(FFmpeg then closes its files properly), waits, and SIGKILLs what is left; the child is always
reaped, so no zombie remains.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections import deque
from collections.abc import Sequence

import structlog

from orin.kit.children import kill_with_parent

logger = structlog.get_logger(__name__)

TAIL_LINES = 40
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/@:]*):[^\s@/]*@", re.IGNORECASE)


def scrub(line: str, secrets: Sequence[str] = ()) -> str:
    """The line without passwords: URL userinfo masked, and each known secret replaced."""
    line = _USERINFO.sub(r"\1:••••@", line)
    for secret in secrets:
        if secret:
            line = line.replace(secret, "••••")
    return line


class FfmpegProcess:
    """One FFmpeg child, its progress and the tail of its stderr."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        secrets: Sequence[str] = (),
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.argv = list(argv)
        self.pass_fds = tuple(pass_fds)
        """File descriptors the child inherits (the detect-frame pipe)."""
        self.name = name
        self.secrets = tuple(secrets)
        """Strings (passwords) never written to logs or kept in the stderr tail."""
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.out_time_us = 0
        self.progressed = asyncio.Event()
        """Set each time FFmpeg reports that its output time moved forward."""
        self._readers: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        env = {**os.environ, "TZ": "UTC", "AV_LOG_FORCE_NOCOLOR": "1"}
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=kill_with_parent,
            pass_fds=self.pass_fds,
            env=env,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_progress(self.process.stdout)),
            asyncio.create_task(self._read_stderr(self.process.stderr)),
        ]
        logger.debug("ffmpeg.started", camera=self.name, pid=self.process.pid)

    async def _read_progress(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                moved = int(value) > self.out_time_us
                self.out_time_us = int(value)
                if moved:
                    self.progressed.set()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = scrub(raw.decode(errors="replace").rstrip(), self.secrets)
            if not line:
                continue
            self.stderr_tail.append(line)
            logger.info("ffmpeg.stderr", camera=self.name, line=line)

    async def wait(self) -> int:
        """Wait for the child to exit (and its output to be read); its exit code."""
        assert self.process is not None
        code = await self.process.wait()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return code

    async def stop(self, timeout_s: float) -> None:
        """SIGTERM, then SIGKILL to the process group after ``timeout_s``; always reaped."""
        process = self.process
        if process is None or process.returncode is not None:
            if process is not None:
                await self.wait()
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            logger.warning("ffmpeg.killed", camera=self.name, pid=process.pid)
        await self.wait()
