"""CPU per camera for ingest's stream copy (live HLS + recording segments).

Serves `vtest` (768x576 H.264, 10 fps, looped) from the GStreamer fake camera and runs N
camera runners against it, each its own FFmpeg copying the stream to live HLS and recording
segments, as `orin ingest` does. After a warm-up, the CPU time of all those FFmpeg processes
over a window is divided by the window and by N. Baselines in the same run: N = 1, and one
camera *transcoded* (libx264 ultrafast) instead of copied, which is what copying avoids.

    uv run python bench/ingest_bench.py [--window 20] [--counts 1 8 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench_services import quiet_logs
from orin.config import IngestSettings, Settings
from orin.ingest.layout import CameraFiles
from orin.ingest.runner import CameraRunner, CameraSource, StatusChange
from orin.models.camera import CameraStatus

# The fake camera lives with the test fixtures; the repository root makes them importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.cameras import FakeCameraServer, transcode_to_h264, vtest_avi

GOAL_PERCENT = 2.0


async def _ignore(change: StatusChange) -> None:
    del change


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def measure(url: str, count: int, window_s: float, data_dir: Path) -> float:
    """Per-camera CPU (% of one core) of ``count`` stream-copy runners."""
    settings = Settings(data_dir=data_dir, ingest=IngestSettings(demo_camera=False))
    runners = [
        CameraRunner(
            CameraSource(f"bench{n}", url, record=True),
            CameraFiles.of(settings, f"bench{n}"),
            settings.ingest,
            _ignore,
        )
        for n in range(count)
    ]
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 30
        while not all(r.status == CameraStatus.ONLINE for r in runners):
            if time.monotonic() > deadline:
                raise RuntimeError("cameras did not come online")
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)
        pids = [r.process.pid for r in runners if r.process and r.process.pid]
        before, started = cpu_seconds(pids), time.monotonic()
        await asyncio.sleep(window_s)
        used = cpu_seconds(pids) - before
        return 100 * used / (time.monotonic() - started) / count
    finally:
        for runner in runners:
            await runner.stop()


def measure_transcode(url: str, window_s: float, folder: Path) -> float:
    """CPU (% of one core) of one camera re-encoded instead of copied."""
    process = subprocess.Popen(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
            "-c:v", "libx264", "-preset", "ultrafast", "-f", "hls", "-hls_time", "1",
            str(folder / "t.m3u8"),
        ],
    )  # fmt: skip
    try:
        time.sleep(5)
        proc = psutil.Process(process.pid)
        before, started = sum(proc.cpu_times()[:2]), time.monotonic()
        time.sleep(window_s)
        return 100 * (sum(proc.cpu_times()[:2]) - before) / (time.monotonic() - started)
    finally:
        process.terminate()
        process.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 8, 16])
    args = parser.parse_args()
    quiet_logs()
    work = Path(tempfile.mkdtemp(prefix="orin-ingest-bench-"))
    try:
        mp4 = transcode_to_h264(vtest_avi(), work / "vtest.mp4")
        with FakeCameraServer({"vtest": f"file:{mp4}"}) as server:
            url = server.url("vtest")
            print(f"ingest stream copy, vtest 768x576 10 fps, {os.cpu_count()} cores")
            print(
                f"  {'cameras':>8}  {'CPU per camera (% of a core)':>30}  goal <= {GOAL_PERCENT}%"
            )
            for count in args.counts:
                percent = await measure(url, count, args.window, work / f"n{count}")
                verdict = "ok" if percent <= GOAL_PERCENT else "over"
                print(f"  {count:>8}  {percent:>30.2f}  {verdict}")
            transcode = await asyncio.to_thread(measure_transcode, url, args.window, work)
            print(f"  baseline: one camera transcoded (libx264 ultrafast): {transcode:.1f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
