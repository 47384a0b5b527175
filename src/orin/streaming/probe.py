"""Probing a camera stream with ffprobe: codec, size, frame rate, or a reason it fails.

ffprobe runs from an argv list (no shell) in its own session and is SIGKILLed with its process
group when the deadline passes, so no probe outlives its request. Its stderr is scrubbed of
passwords before it is diagnosed or logged; the result never holds the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import structlog

from orin.config import IngestSettings
from orin.ingest.diagnosis import REASONS, Problem, diagnose
from orin.ingest.ffmpeg_process import scrub
from orin.kit.children import kill_with_parent

logger = structlog.get_logger(__name__)

ANALYZE_S: Final = 1.0
"""Stream time ffprobe reads to find the frame rate (measured: ~1.5 s per RTSP probe)."""
SUPPORTED_CODECS: Final = frozenset({"h264", "hevc"})
"""What ingest can copy into HLS."""
_DEFINITE: Final = frozenset(
    {Problem.WRONG_CREDENTIALS, Problem.NOT_FOUND, Problem.REFUSED, Problem.UNREACHABLE}
)
"""Answers a camera gives at once; anything else after the whole I/O timeout is silence."""


@dataclass(frozen=True, slots=True)
class ToolRun:
    """How a child tool ended: ``returncode`` is None when it was killed at the deadline."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    elapsed_s: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


async def run_tool(argv: Sequence[str], *, timeout_s: float, stdin: bytes | None = None) -> ToolRun:
    """Run FFmpeg or ffprobe to completion, or SIGKILL its process group after ``timeout_s``.

    The child is always reaped, also when the caller is cancelled.
    """
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=kill_with_parent,
        env={**os.environ, "TZ": "UTC", "AV_LOG_FORCE_NOCOLOR": "1"},
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout_s)
    except TimeoutError:
        return ToolRun(None, b"", b"", time.monotonic() - started)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.shield(process.wait())
    return ToolRun(process.returncode, stdout, stderr, time.monotonic() - started)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe found. ``ok`` False carries ``problem`` and a readable ``reason``."""

    ok: bool
    elapsed_ms: int
    codec: str | None = None
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: int | None = None
    """Bits per second, when the source says (files do, RTSP cameras usually do not)."""
    audio_codec: str | None = None
    problem: Problem | None = None
    reason: str | None = None
    detail: str | None = None
    """The ffprobe line the diagnosis came from, scrubbed of passwords: for logs."""


def probe_command(url: str, settings: IngestSettings, *, io_timeout_s: float) -> list[str]:
    """The ffprobe argv; ``file://`` URLs (admins' test sources) are opened as paths."""
    if url.startswith("file://"):
        source = ["-i", url.removeprefix("file://")]
    else:
        timeout_us = str(int(io_timeout_s * 1_000_000))
        source = ["-rtsp_transport", settings.rtsp_transport, "-timeout", timeout_us, "-i", url]
    return [
        settings.ffprobe,
        "-hide_banner",
        "-v",
        "error",
        "-analyzeduration",
        str(int(ANALYZE_S * 1_000_000)),
        *source,
        "-show_streams",
        "-show_format",
        "-of",
        "json",
    ]


def _fraction(text: object) -> float | None:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(value), 3) if 0 < value <= 1000 else None


def _int(text: object) -> int | None:
    try:
        value = int(str(text))
    except ValueError:
        return None
    return value if value > 0 else None


def read_streams(document: dict[str, Any], elapsed_ms: int) -> ProbeResult:
    """A result from ffprobe's JSON: the first video stream and the first audio stream."""
    streams: list[dict[str, Any]] = document.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    audio_codec = None if audio is None else audio.get("codec_name")
    if video is None:
        return ProbeResult(
            ok=False,
            elapsed_ms=elapsed_ms,
            audio_codec=audio_codec,
            problem=Problem.NOT_A_STREAM,
            reason="the stream has no video",
        )
    fps = _fraction(video.get("avg_frame_rate")) or _fraction(video.get("r_frame_rate"))
    bitrate = _int(video.get("bit_rate")) or _int((document.get("format") or {}).get("bit_rate"))
    codec = video.get("codec_name")
    supported = codec in SUPPORTED_CODECS
    return ProbeResult(
        ok=supported,
        elapsed_ms=elapsed_ms,
        codec=codec,
        profile=video.get("profile"),
        width=_int(video.get("width")),
        height=_int(video.get("height")),
        fps=fps,
        bitrate=bitrate,
        audio_codec=audio_codec,
        problem=None if supported else Problem.UNSUPPORTED_CODEC,
        reason=None if supported else REASONS[Problem.UNSUPPORTED_CODEC],
    )


def _silence(seconds: float) -> str:
    return f"the camera did not answer within {seconds:g} s"


async def probe(
    url: str,
    settings: IngestSettings,
    *,
    secrets: Sequence[str],
    timeout_s: float = 10,
) -> ProbeResult:
    """Probe ``url`` (credentials inside it are fine: ``secrets`` lists the passwords to keep
    out of logs and the result). Never raises for a camera's failure; ffprobe is always gone
    when this returns."""
    io_timeout_s = min(settings.io_timeout_s, timeout_s)
    argv = probe_command(url, settings, io_timeout_s=io_timeout_s)
    run = await run_tool(argv, timeout_s=timeout_s)
    elapsed_ms = round(run.elapsed_s * 1000)
    lines = [
        scrub(line.rstrip(), secrets) for line in run.stderr.decode(errors="replace").split("\n")
    ]
    lines = [line for line in lines if line]
    result: ProbeResult
    if run.timed_out:
        result = ProbeResult(
            ok=False, elapsed_ms=elapsed_ms, problem=Problem.TIMEOUT, reason=_silence(timeout_s)
        )
    elif run.returncode == 0:
        try:
            document = json.loads(run.stdout)
        except ValueError:
            document = None
        if isinstance(document, dict):
            result = read_streams(document, elapsed_ms)
        else:
            result = ProbeResult(
                ok=False,
                elapsed_ms=elapsed_ms,
                problem=Problem.FAILED,
                reason="ffprobe gave no readable answer",
            )
    else:
        found = diagnose(lines)
        problem, reason = found.problem, found.reason
        if problem not in _DEFINITE and run.elapsed_s >= 0.9 * io_timeout_s:
            problem, reason = Problem.TIMEOUT, _silence(io_timeout_s)
        result = ProbeResult(
            ok=False, elapsed_ms=elapsed_ms, problem=problem, reason=reason, detail=found.detail
        )
    logger.info(
        "stream.probed",
        ok=result.ok,
        problem=result.problem,
        detail=result.detail,
        codec=result.codec,
        elapsed_ms=elapsed_ms,
    )
    return result
