"""Probing streams (files, fake RTSP cameras, refusals, garbage, silence) and live snapshots
(newest segment as JPEG, scaled, privacy masks blacked out), directly and through the API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from orin.cameras.geometry import point_in_polygon
from orin.config import IngestSettings
from orin.ingest.diagnosis import Problem
from orin.ingest.layout import CameraFiles
from orin.streaming.probe import probe
from orin.streaming.snapshot import black_out, mask_pixels
from tests.fixtures.api import Api
from tests.fixtures.cameras import SECURE_PASSWORD, SECURE_USER, FakeCameraServer
from tests.fixtures.services import free_port

WIDTH, HEIGHT = 640, 360
LEFT_HALF = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
INGEST = IngestSettings()


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def h264_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 640x360 H.264 at 10 fps with AAC audio."""
    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    video = ["-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate=10"]
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    encode = ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    ffmpeg(*video, *audio, "-t", "2", *encode, str(path))
    return path


@pytest.fixture(scope="session")
def live_segments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A live HLS folder as ingest leaves it: 1 s segments of 640x360 H.264."""
    root = tmp_path_factory.mktemp("hls")
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate=10", "-t", "2"),
        *("-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "1"),
        *("-hls_segment_filename", str(root / "seg_%d.ts"), str(root / "index.m3u8")),
    )
    return root


def go_live(api: Api, camera_id: str, segments: Path) -> Path:
    """Copy the segments where ingest would write this camera's (fresh modification times)."""
    root = CameraFiles.of(api.runtime.settings, camera_id).root
    root.mkdir(parents=True, exist_ok=True)
    for source in segments.iterdir():
        shutil.copyfile(source, root / source.name)
    return root


def image_size(jpeg: bytes) -> tuple[int, int]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", "-i", "pipe:0"],
        input=jpeg,
        capture_output=True,
        check=True,
        timeout=30,
    )
    stream = json.loads(done.stdout)["streams"][0]
    assert stream["codec_name"] == "mjpeg"
    return int(stream["width"]), int(stream["height"])


def luma(jpeg: bytes) -> npt.NDArray[np.uint8]:
    width, height = image_size(jpeg)
    command = ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    done = subprocess.run(command, input=jpeg, capture_output=True, check=True, timeout=30)
    return np.frombuffer(done.stdout, dtype=np.uint8).reshape(height, width)


def ffprobe_children() -> list[int]:
    """Our child processes running (or not reaped) ffprobe."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if name == "ffprobe" and int(rest.split()[1]) == os.getpid():
            found.append(int(entry))
    return found


@pytest.fixture
async def tcp_server() -> AsyncIterator[Any]:
    """Start asyncio TCP servers on free ports with a handler; closed after the test."""
    servers: list[asyncio.Server] = []

    async def start(handler: Any) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# Probing, directly.


async def test_probe_reads_a_file(h264_file: Path) -> None:
    result = await probe(f"file://{h264_file}", INGEST, secrets=[])
    assert result.ok, result
    assert (result.codec, result.width, result.height, result.fps) == ("h264", WIDTH, HEIGHT, 10)
    assert result.profile == "High"
    assert (result.bitrate or 0) > 0
    assert result.audio_codec == "aac"
    assert (result.problem, result.reason) == (None, None)


async def test_probe_reads_fake_rtsp_cameras(fake_cameras: FakeCameraServer) -> None:
    pattern, vtest, secure = await asyncio.gather(
        probe(fake_cameras.url("pattern"), INGEST, secrets=[]),
        probe(fake_cameras.url("vtest"), INGEST, secrets=[]),
        probe(
            fake_cameras.url("secure", SECURE_USER, SECURE_PASSWORD),
            INGEST,
            secrets=[SECURE_PASSWORD],
        ),
    )
    for result, size in ((pattern, (640, 360)), (vtest, (768, 576)), (secure, (640, 360))):
        assert result.ok, result
        assert (result.codec, (result.width, result.height), result.fps) == ("h264", size, 10)
        assert result.audio_codec is None
    assert pattern.elapsed_ms < 5000


async def test_probe_explains_wrong_credentials_and_paths(
    fake_cameras: FakeCameraServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = await probe(
        fake_cameras.url("secure", SECURE_USER, "Not-the-Pa55word"),
        INGEST,
        secrets=["Not-the-Pa55word"],
    )
    assert not wrong.ok
    assert wrong.problem == Problem.WRONG_CREDENTIALS
    assert wrong.reason == "the camera refused the user name or password"
    assert "Not-the-Pa55word" not in repr(wrong)
    assert "Not-the-Pa55word" not in caplog.text
    missing = await probe(fake_cameras.url("nowhere"), INGEST, secrets=[])
    assert (missing.ok, missing.problem) == (False, Problem.NOT_FOUND)


async def test_probe_of_a_closed_port_says_refused() -> None:
    result = await probe(f"rtsp://127.0.0.1:{free_port()}/live", INGEST, secrets=[])
    assert (result.ok, result.problem) == (False, Problem.REFUSED)
    assert result.reason == "nothing accepts connections at the camera's address and port"


async def test_probe_of_a_server_answering_garbage_says_not_a_stream(tcp_server: Any) -> None:
    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HELLO\r\n")
        await writer.drain()
        writer.close()

    port = await tcp_server(hello)
    result = await probe(f"rtsp://127.0.0.1:{port}/live", INGEST, secrets=[])
    assert (result.ok, result.problem) == (False, Problem.NOT_A_STREAM)
    assert result.reason == "the address does not answer like an RTSP camera"


async def test_probe_of_a_silent_server_times_out(tcp_server: Any) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until ffprobe hangs up
        writer.close()

    port = await tcp_server(silent)
    settings = IngestSettings(io_timeout_s=1)
    result = await probe(f"rtsp://127.0.0.1:{port}/live", settings, secrets=[])
    assert (result.ok, result.problem) == (False, Problem.TIMEOUT)
    assert result.reason == "the camera did not answer within 1 s"


async def test_probe_is_killed_at_its_deadline(tcp_server: Any) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RTSP/1.0 200 OK\r\n")
        try:
            while True:  # header lines forever: ffprobe's I/O timeout never fires
                await asyncio.sleep(0.2)
                writer.write(b"X-Padding: 1\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            writer.close()

    port = await tcp_server(trickle)
    started = time.monotonic()
    result = await probe(f"rtsp://127.0.0.1:{port}/live", INGEST, secrets=[], timeout_s=1.5)
    assert time.monotonic() - started < 3
    assert (result.ok, result.problem) == (False, Problem.TIMEOUT)
    assert result.reason == "the camera did not answer within 1.5 s"
    assert ffprobe_children() == []


# Privacy masks as pixels.


def test_mask_pixels_cover_exactly_the_left_half() -> None:
    covered = mask_pixels([[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]], WIDTH, HEIGHT)
    assert covered[:, : WIDTH // 2].all()
    assert not covered[:, WIDTH // 2 :].any()


def test_mask_pixels_cover_every_pixel_centre_inside_and_little_more() -> None:
    triangle = [(0.1, 0.05), (0.93, 0.4), (0.3, 0.97)]
    concave = [(0.5, 0.1), (0.9, 0.1), (0.7, 0.5), (0.9, 0.9), (0.5, 0.9)]
    width, height = 160, 90
    covered = mask_pixels([triangle, concave], width, height)
    centres_inside = 0
    for y in range(height):
        for x in range(width):
            centre = ((x + 0.5) / width, (y + 0.5) / height)
            inside = point_in_polygon(centre, triangle) or point_in_polygon(centre, concave)
            assert covered[y, x] or not inside, (x, y)
            centres_inside += inside
    assert centres_inside < covered.sum() < centres_inside * 1.15


def test_black_out_an_odd_sized_yuv_frame() -> None:
    header = b"YUV4MPEG2 W5 H3 F25:1 Ip A1:1 C420mpeg2\nFRAME\n"
    luma, chroma = np.full((3, 5), 200, np.uint8), np.full((2, 3), 60, np.uint8)
    frame = header + luma.tobytes() + chroma.tobytes() + chroma.tobytes()
    masked = black_out(frame, [[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])
    assert masked.startswith(header)
    planes = np.frombuffer(masked, np.uint8, offset=len(header))
    assert planes[:15].reshape(3, 5).tolist() == [[0, 0, 0, 200, 200]] * 3
    for start in (15, 21):
        assert planes[start : start + 6].reshape(2, 3).tolist() == [[128, 128, 60]] * 2


# Through the API.


async def test_camera_test_probes_main_and_detect_streams(api: Api, h264_file: Path) -> None:
    admin = await api.sign_up(admin=True)
    space = await admin.create_space()
    camera = await admin.create_camera(
        space["id"], main_url=f"file://{h264_file}", detect_url=f"file://{h264_file}"
    )
    response = await admin.post(f"/api/v1/cameras/{camera['id']}/test")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    for stream in (body["main"], body["detect"]):
        assert (stream["codec"], stream["width"], stream["height"]) == ("h264", WIDTH, HEIGHT)
        assert (stream["fps"], stream["audio_codec"], stream["reason"]) == (10, "aac", None)
    stranger = await api.sign_up()
    assert (await stranger.post(f"/api/v1/cameras/{camera['id']}/test")).status_code == 404


async def test_camera_test_reports_refused_credentials_without_the_password(
    api: Api, fake_cameras: FakeCameraServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(
        space["id"],
        main_url=fake_cameras.url("secure"),
        username=SECURE_USER,
        password=SECURE_PASSWORD,
    )
    good = await alice.post(f"/api/v1/cameras/{camera['id']}/test")
    assert good.status_code == 200, good.text
    main = good.json()["main"]
    assert (good.json()["ok"], main["codec"], main["width"], main["fps"]) == (True, "h264", 640, 10)
    assert good.json()["detect"] is None

    changed = await alice.patch(
        f"/api/v1/cameras/{camera['id']}", json={"password": "Wrong-Pa55-word"}
    )
    assert changed.status_code == 200, changed.text
    wrong = await alice.post(f"/api/v1/cameras/{camera['id']}/test")
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["ok"] is False
    assert wrong.json()["main"]["problem"] == "wrong_credentials"
    assert wrong.json()["main"]["reason"] == "the camera refused the user name or password"
    assert "Wrong-Pa55-word" not in wrong.text
    assert "Wrong-Pa55-word" not in caplog.text


async def test_probe_a_url_before_saving(api: Api, fake_cameras: FakeCameraServer) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    body = {
        "space_id": space["id"],
        "main_url": fake_cameras.url("secure"),
        "username": SECURE_USER,
        "password": SECURE_PASSWORD,
    }
    response = await alice.post("/api/v1/cameras/probe", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert (response.json()["main"]["width"], response.json()["detect"]) == (640, None)

    closed = {"space_id": space["id"], "main_url": f"rtsp://127.0.0.1:{free_port()}/x"}
    refused = await alice.post("/api/v1/cameras/probe", json=closed)
    assert refused.status_code == 200, refused.text
    assert refused.json()["main"]["problem"] == "refused"

    for url in ("rtsp://10.20.30.40/live", "file:///etc/passwd"):
        blocked = await alice.post("/api/v1/cameras/probe", json={**closed, "main_url": url})
        assert blocked.status_code == 422, blocked.text

    stranger = await api.sign_up()
    assert (await stranger.post("/api/v1/cameras/probe", json=body)).status_code == 404
    viewer = await api.sign_up()
    await alice.invite(space["id"], viewer, "viewer")
    assert (await viewer.post("/api/v1/cameras/probe", json=body)).status_code == 403


async def test_snapshot_is_the_newest_frame_as_jpeg(api: Api, live_segments: Path) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    url = f"/api/v1/cameras/{camera['id']}/snapshot"
    go_live(api, camera["id"], live_segments)

    response = await alice.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    assert image_size(response.content) == (WIDTH, HEIGHT)
    assert (await alice.get(url)).content == response.content

    thumbnail = await alice.get(url, params={"width": 320})
    assert image_size(thumbnail.content) == (320, 180)
    assert image_size((await alice.get(url, params={"width": 1920})).content) == (WIDTH, HEIGHT)
    assert (await alice.get(url, params={"width": 100})).status_code == 422

    stranger = await api.sign_up()
    assert (await stranger.get(url)).status_code == 404


async def test_snapshot_blacks_out_privacy_masks(api: Api, live_segments: Path) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    url = f"/api/v1/cameras/{camera['id']}/snapshot"
    go_live(api, camera["id"], live_segments)
    before = luma((await alice.get(url)).content)
    assert before[:, :300].mean() > 40

    masks = {"privacy_masks": [{"name": "Neighbours", "polygon": LEFT_HALF}]}
    changed = await alice.put(f"/api/v1/cameras/{camera['id']}/masks", json=masks)
    assert changed.status_code == 200, changed.text
    for width in (None, 320):
        params = {} if width is None else {"width": width}
        response = await alice.get(url, params=params)
        assert response.status_code == 200, response.text
        frame = luma(response.content)
        half = frame.shape[1] // 2
        assert frame[:, : half - 8].mean() < 3
        assert frame[:, : half - 8].max() < 24
        assert frame[:, half + 8 :].mean() > 40


async def test_snapshot_without_live_video_is_404(api: Api, live_segments: Path) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    url = f"/api/v1/cameras/{camera['id']}/snapshot"
    response = await alice.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "no live video yet: the camera is not streaming"

    root = go_live(api, camera["id"], live_segments)
    an_hour_ago = time.time() - 3600
    for path in root.iterdir():
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert (await alice.get(url)).status_code == 404  # ingest stopped long ago
