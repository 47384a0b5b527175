"""The fake RTSP cameras that streaming tests and benchmarks read, checked with FFmpeg."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.fixtures.cameras import FakeCameraServer, require_gstreamer_rtsp

WIDTH, HEIGHT = 640, 360  # the `pattern` stream
CELL_W, CELL_H, CELLS = 12, 16, 50  # its time strip (see scripts/fake-camera)


def ffprobe(url: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    command = ["ffprobe", "-v", "error", "-rtsp_transport", "tcp"]
    command += ["-show_streams", "-of", "json", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


def video_stream(url: str) -> dict[str, Any]:
    """The single video stream ffprobe finds at `url`."""
    probe = ffprobe(url)
    assert probe.returncode == 0, probe.stderr
    streams = json.loads(probe.stdout)["streams"]
    assert [s["codec_type"] for s in streams] == ["video"]
    stream: dict[str, Any] = streams[0]
    return stream


def reader(url: str, seconds: float) -> subprocess.Popen[str]:
    """FFmpeg decoding `seconds` of stream time from `url`, reporting progress on stdout."""
    command = ["ffmpeg", "-nostdin", "-v", "warning", "-rtsp_transport", "tcp", "-i", url]
    command += ["-t", str(seconds), "-f", "null", "-progress", "pipe:1", "-"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stream_seconds(process: subprocess.Popen[str], timeout_s: float = 60.0) -> tuple[float, str]:
    """Wait for a `reader`; the stream time it decoded and its warnings."""
    out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err
    times = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("out_time_us=")]
    decoded = [int(t) for t in times if t.isdigit()]
    return (max(decoded) / 1e6 if decoded else 0.0), err


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_pattern_is_h264_at_640x360(fake_cameras: FakeCameraServer) -> None:
    stream = video_stream(fake_cameras.url("pattern"))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", WIDTH, HEIGHT)


def test_vtest_is_h264_at_768x576(fake_cameras: FakeCameraServer) -> None:
    stream = video_stream(fake_cameras.url("vtest"))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 768, 576)


def test_secure_refuses_without_or_with_wrong_credentials(
    fake_cameras: FakeCameraServer,
) -> None:
    for url in (fake_cameras.url("secure"), fake_cameras.url("secure", "admin", "wrong")):
        probe = ffprobe(url)
        assert probe.returncode != 0
        assert "401 Unauthorized" in probe.stderr


def test_secure_serves_with_credentials(fake_cameras: FakeCameraServer) -> None:
    stream = video_stream(fake_cameras.url("secure", "admin", "s3cret"))
    assert (stream["codec_name"], stream["width"]) == ("h264", WIDTH)


def test_two_viewers_watch_one_mount_at_once(fake_cameras: FakeCameraServer) -> None:
    viewers = [reader(fake_cameras.url(name), 3) for name in ("vtest", "vtest", "pattern")]
    for viewer in viewers:
        seconds, _ = stream_seconds(viewer)
        assert seconds >= 2.5


def test_stop_refuses_connections_and_restart_serves_on_the_same_port(
    fake_cameras: FakeCameraServer,
) -> None:
    port, first_pid = fake_cameras.port, fake_cameras.pid
    watching = reader(fake_cameras.url("vtest"), 60)
    time.sleep(3)  # mid-stream
    fake_cameras.stop()
    assert fake_cameras.pid is None
    assert not Path(f"/proc/{first_pid}").exists()  # reaped: no zombie left behind
    assert refuses_connections(port)
    watching.communicate(timeout=30)  # the viewer notices the camera is gone
    assert watching.returncode is not None

    fake_cameras.start()
    assert fake_cameras.port == port
    assert fake_cameras.pid != first_pid
    assert video_stream(fake_cameras.url("pattern"))["codec_name"] == "h264"


def test_a_short_file_loops_seamlessly(short_clip_mp4: Path) -> None:
    require_gstreamer_rtsp()
    with FakeCameraServer({"clip": f"file:{short_clip_mp4}"}) as server:
        started = time.monotonic()
        seconds, warnings = stream_seconds(reader(server.url("clip"), 8))
        elapsed = time.monotonic() - started
    assert seconds >= 7.0  # the 3 s clip played more than twice over
    assert elapsed >= 6.0  # paced in real time, like a camera
    assert "non monotonically increasing" not in warnings, warnings


def test_pattern_frames_carry_the_wall_clock(fake_cameras: FakeCameraServer) -> None:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp"]
    command += ["-i", fake_cameras.url("pattern"), "-frames:v", "15"]
    command += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    done = subprocess.run(command, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    frames = [
        done.stdout[i : i + WIDTH * HEIGHT] for i in range(0, len(done.stdout), WIDTH * HEIGHT)
    ]
    now_ms = time.time_ns() // 1_000_000
    stamps = []
    for frame in frames[-5:]:  # the first frames may still be decoding from a partial GOP
        bits = [frame[CELL_H // 2 * WIDTH + CELL_W * i + CELL_W // 2] > 128 for i in range(CELLS)]
        assert bits[:2] == [True, False]  # the white and black markers
        stamps.append(int("".join("1" if bit else "0" for bit in bits[2:]), 2))
    assert stamps == sorted(stamps)
    assert all(0 <= now_ms - stamp < 10_000 for stamp in stamps), (now_ms, stamps)
    assert 300 <= stamps[-1] - stamps[0] <= 600  # 4 frame intervals at 10 fps
