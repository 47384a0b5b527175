"""FFmpeg's words turned into reasons a person understands."""

from __future__ import annotations

import pytest

from orin.ingest.diagnosis import Problem, diagnose
from orin.ingest.ffmpeg_process import scrub


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized"], Problem.WRONG_CREDENTIALS),
        (
            ["[tcp @ 0x1] Connection to tcp://10.0.0.9:554 failed: Connection refused"],
            Problem.REFUSED,
        ),
        (["[tcp @ 0x1] Connection to tcp://cam:554 failed: No route to host"], Problem.UNREACHABLE),
        (["[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found"], Problem.NOT_FOUND),
        (["rtsp://127.0.0.1:9/x: Invalid data found when processing input"], Problem.NOT_A_STREAM),
        (
            [
                "[mpegts @ 0x1] Timestamps are unset in a packet for stream 0.",
                "[mpegts @ 0x1] first pts and dts value must be set",
                "av_interleaved_write_frame(): Invalid data found when processing input",
            ],
            Problem.NO_TIMESTAMPS,
        ),
        (["[rtsp @ 0x1] Stream ends prematurely"], Problem.STREAM_ENDED),
        (["Connection timed out", "401 Unauthorized"], Problem.WRONG_CREDENTIALS),
        ([], Problem.FAILED),
    ],
)
def test_problems_are_named(lines: list[str], problem: Problem) -> None:
    assert diagnose(lines).problem == problem


def test_the_usual_first_packet_warning_is_not_a_problem() -> None:
    lines = ["[hls @ 0x1] Timestamps are unset in a packet for stream 0.", "Connection refused"]
    assert diagnose(lines).problem == Problem.REFUSED


def test_fatal_problems_are_those_no_retry_fixes() -> None:
    assert diagnose(["401 Unauthorized"]).fatal
    assert not diagnose(["Connection refused"]).fatal


def test_passwords_never_survive_in_lines() -> None:
    line = "rtsp://admin:p%40ss@127.0.0.1:554/x: Connection refused"
    assert scrub(line) == "rtsp://admin:••••@127.0.0.1:554/x: Connection refused"
    assert scrub("password is hunter2", ["hunter2"]) == "password is ••••"
