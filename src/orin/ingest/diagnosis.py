"""Turning FFmpeg's stderr into a reason a person understands.

FFmpeg says what went wrong in its own words ("401 Unauthorized", "Connection refused"); the
camera status shows one of these instead, and the raw line goes to the structured log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Problem(StrEnum):
    """What went wrong; earlier members win when FFmpeg reports several (see `diagnose`)."""

    WRONG_CREDENTIALS = "wrong_credentials"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    NO_TIMESTAMPS = "no_timestamps"
    NOT_A_STREAM = "not_a_stream"
    UNSUPPORTED_CODEC = "unsupported_codec"
    STREAM_ENDED = "stream_ended"
    TIMEOUT = "timeout"
    FAILED = "failed"


REASONS: dict[Problem, str] = {
    Problem.WRONG_CREDENTIALS: "the camera refused the user name or password",
    Problem.UNREACHABLE: "the camera's host cannot be reached",
    Problem.REFUSED: "nothing accepts connections at the camera's address and port",
    Problem.NOT_FOUND: "the camera has no stream at that path",
    Problem.NOT_A_STREAM: "the address does not answer like an RTSP camera",
    Problem.UNSUPPORTED_CODEC: "the camera's video codec is not supported (use H.264 or H.265)",
    Problem.NO_TIMESTAMPS: (
        "the camera sends video without usable timestamps (turn off B-frames in its encoder)"
    ),
    Problem.STREAM_ENDED: "the stream ended",
    Problem.TIMEOUT: "the camera stopped sending video",
    Problem.FAILED: "FFmpeg stopped",
}

# Status codes are fatal until the settings change (no point hammering the camera).
FATAL = frozenset(
    {
        Problem.WRONG_CREDENTIALS,
        Problem.NOT_FOUND,
        Problem.UNSUPPORTED_CODEC,
        Problem.NO_TIMESTAMPS,
    }
)

_PATTERNS: list[tuple[re.Pattern[str], Problem]] = [
    (re.compile(r"401 Unauthorized|403 Forbidden", re.I), Problem.WRONG_CREDENTIALS),
    (re.compile(r"404 Not Found|method DESCRIBE failed: 404", re.I), Problem.NOT_FOUND),
    (re.compile(r"Connection refused", re.I), Problem.REFUSED),
    (
        re.compile(
            r"No route to host|Network is unreachable|Name or service not known|"
            r"Temporary failure in name resolution|Connection timed out",
            re.I,
        ),
        Problem.UNREACHABLE,
    ),
    (
        # Only this line is fatal: "Timestamps are unset in a packet" alone is FFmpeg's usual
        # complaint about the first RTSP packet, harmless with any camera.
        re.compile(r"first pts and dts value must be set", re.I),
        Problem.NO_TIMESTAMPS,
    ),
    (
        re.compile(r"Invalid data found when processing input|invalid RTSP|Invalid argument", re.I),
        Problem.NOT_A_STREAM,
    ),
    (
        re.compile(r"Unsupported codec|codec not currently supported|Could not find codec", re.I),
        Problem.UNSUPPORTED_CODEC,
    ),
    (re.compile(r"timed out|Operation timed out", re.I), Problem.TIMEOUT),
    (re.compile(r"End of file|Stream ends prematurely", re.I), Problem.STREAM_ENDED),
]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    problem: Problem
    reason: str
    detail: str
    """The FFmpeg line it came from (logged; may name the host, never the password)."""

    @property
    def fatal(self) -> bool:
        return self.problem in FATAL


def diagnose_line(line: str) -> Problem | None:
    """The problem one stderr line reports, if any."""
    for pattern, problem in _PATTERNS:
        if pattern.search(line):
            return problem
    return None


def diagnose(lines: list[str]) -> Diagnosis:
    """The most telling problem among FFmpeg's last lines (credentials beat timeouts)."""
    found: list[tuple[Problem, str]] = []
    for line in lines:
        problem = diagnose_line(line)
        if problem is not None:
            found.append((problem, line))
    if not found:
        detail = lines[-1] if lines else ""
        return Diagnosis(Problem.FAILED, REASONS[Problem.FAILED], detail)
    order = list(Problem)
    problem, detail = min(found, key=lambda item: order.index(item[0]))
    return Diagnosis(problem, REASONS[problem], detail)
