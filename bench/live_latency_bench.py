"""Live latency benchmark: WebRTC (H.264 passthrough) against HLS, glass to glass.

    uv run python bench/live_latency_bench.py [--seconds 20] [--viewers 4] [--hls-seconds 30]

The fake camera (`scripts/fake-camera`, stream `pattern`) burns the wall-clock time in
milliseconds into every raw frame before encoding (a strip of 48 black/white cells, top left).
Every figure is "when a frame could be shown here" minus that stamp, on the same host clock:

- RTSP baseline: PyAV decodes the camera's RTSP stream directly (encoder + RTSP + decode).
- WebRTC: aiortc clients get the stream through `WebRtcHub` (one camera connection, one peer
  connection per viewer). "arrival" is when the frame's last RTP packet reached the client;
  "decoded" is when aiortc handed the decoded frame over, which includes aiortc's receiver
  holding each frame until the first packet of the next one arrives (one frame interval, a
  browser does not wait for it).
- HLS: ingest's FFmpeg command (`CameraRunner`) writes the live playlist; each new segment's
  first and last frames are decoded when it appears in the playlist. "edge" is a player that
  plays each segment the moment it is listed (the least any HLS player can do); "hls.js" adds
  its default hold-back of 3 target durations behind the live edge; "PDT" is the playlist's
  view: now - (EXT-X-PROGRAM-DATE-TIME + duration) of the newest segment, plus 3 targets.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtpPacket
from av import VideoFrame

from bench_services import quiet_logs
from orin.config import IngestSettings
from orin.ingest.layout import CameraFiles
from orin.ingest.runner import CameraRunner, CameraSource, StatusChange
from orin.streaming.webrtc import RTSP_OPTIONS, WebRtcHub

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.cameras import FakeCameraServer

WEBRTC_GOAL_S = 0.5
HLS_GOAL_S = 3.0
CELL_W, CELL_H, CELLS = 12, 16, 50
FRAME_S = 0.1  # the pattern runs at 10 fps


def stamp_ms(frame: VideoFrame) -> int | None:
    """The capture time burned into the frame, or None when the strip is not readable."""
    row = frame.to_ndarray(format="gray")[CELL_H // 2]
    bits = [int(row[CELL_W * i + CELL_W // 2] >= 128) for i in range(CELLS)]
    if bits[0] != 1 or bits[1] != 0:
        return None
    value = 0
    for bit in bits[2:]:
        value = value << 1 | bit
    return value


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def row(name: str, values: list[float], goal: float | None = None) -> str:
    if not values:
        return f"| {name} | 0 | - | - | - | - |"
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    verdict = "-" if goal is None else ("yes" if p95 <= goal else "no")
    return f"| {name} | {len(values)} | {p50:.3f} | {p95:.3f} | {max(values):.3f} | {verdict} |"


# --- RTSP baseline ----------------------------------------------------------------------------


def rtsp_baseline(url: str, seconds: float) -> list[float]:
    """Decode the camera directly: what the encoder and RTSP alone cost."""
    latencies: list[float] = []
    with av.open(url, format="rtsp", options=dict(RTSP_OPTIONS), timeout=(8, 5)) as container:
        stream = container.streams.video[0]
        stream.codec_context.flags |= av.codec.context.Flags.low_delay
        started = time.monotonic()
        for frame in container.decode(stream):
            now = time.time()
            stamp = stamp_ms(frame)
            if stamp is not None:
                latencies.append(now - stamp / 1000)
            if time.monotonic() - started > seconds:
                break
    return latencies[5:]  # skip the first frames decoded from the connection's backlog


# --- WebRTC -----------------------------------------------------------------------------------


class Client:
    """A receive-only aiortc peer that timestamps RTP arrivals and decoded frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        self.arrivals: dict[int, float] = {}
        receiver = transceiver.receiver
        handle: Callable[[RtpPacket, int], Awaitable[None]] = receiver._handle_rtp_packet

        origin: list[int] = []

        async def timed(packet: RtpPacket, arrival_time_ms: int) -> None:
            # aiortc gives decoded frames the RTP timestamp minus the first frame's; viewers
            # start at a key frame, so that is the first packet's.
            origin[:] = origin or [packet.timestamp]
            if packet.marker:
                self.arrivals[(packet.timestamp - origin[0]) % 2**32] = time.time()
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = timed  # type: ignore[method-assign]
        self.track: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pc.on("track", self._on_track)
        self.arrival: list[float] = []
        self.decoded: list[float] = []
        self.first_frame_s = 0.0

    def _on_track(self, track: Any) -> None:
        if not self.track.done():
            self.track.set_result(track)

    async def watch(self, hub: WebRtcHub, url: str, seconds: float) -> None:
        asked = time.monotonic()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await hub.offer("bench", url, self.pc.localDescription.sdp, "offer")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
        track = await asyncio.wait_for(self.track, 10)
        first = await asyncio.wait_for(track.recv(), 10)
        self.first_frame_s = time.monotonic() - asked
        until = time.monotonic() + seconds
        del first
        while time.monotonic() < until:
            frame = await asyncio.wait_for(track.recv(), 5)
            now = time.time()
            stamp = stamp_ms(frame)
            if stamp is None:
                continue
            self.decoded.append(now - stamp / 1000)
            arrived = self.arrivals.pop(frame.pts, None)
            if arrived is not None:
                self.arrival.append(arrived - stamp / 1000)

    async def close(self) -> None:
        await self.pc.close()


async def webrtc(url: str, viewers: int, seconds: float) -> tuple[list[Client], int]:
    """``viewers`` clients on one hub at once; returns them and the hub's camera count."""
    hub = WebRtcHub()
    clients = [Client() for _ in range(viewers)]
    try:
        # The first viewer opens the camera; the others join the open feed.
        first = asyncio.create_task(clients[0].watch(hub, url, seconds))
        await asyncio.sleep(3)
        rest = [asyncio.create_task(c.watch(hub, url, seconds)) for c in clients[1:]]
        await asyncio.sleep(1)
        cameras = hub.camera_count
        await asyncio.gather(first, *rest)
        return clients, cameras
    finally:
        for client in clients:
            await client.close()
        await hub.close()


# --- Chromium ---------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
OFFER_JS = """async () => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  window.latencies = [];
  pc.addTransceiver('video', {direction: 'recvonly'});
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.appendChild(video);
  window.video = video;
  pc.ontrack = event => { video.srcObject = new MediaStream([event.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
  });
  return pc.localDescription.sdp;
}"""
# Each presented frame: its expected display time minus the clock burned into it.
WATCH_JS = """async answer => {
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 16;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  const shown = (now, meta) => {
    const at = performance.timeOrigin + meta.expectedDisplayTime;
    context.drawImage(video, 0, 0, 640, 16, 0, 0, 640, 16);
    const pixels = context.getImageData(0, 8, 640, 1).data;
    const bit = i => {
      const o = 4 * (12 * i + 6);
      return 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2] >= 128 ? 1 : 0;
    };
    if (bit(0) === 1 && bit(1) === 0) {
      let stamp = 0;
      for (let i = 2; i < 50; i++) stamp = stamp * 2 + bit(i);
      window.latencies.push((at - stamp) / 1000);
    }
    video.requestVideoFrameCallback(shown);
  };
  video.requestVideoFrameCallback(shown);
}"""


async def chromium(url: str, seconds: float) -> list[float] | None:
    """Debian's headless Chromium as the viewer; None when it or Playwright is missing."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    if not await asyncio.to_thread(CHROMIUM.exists):
        return None
    hub = WebRtcHub()
    try:
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            try:
                page = await browser.new_page()
                answer = await hub.offer("bench", url, await page.evaluate(OFFER_JS), "offer")
                await page.evaluate(WATCH_JS, answer.sdp)
                await asyncio.sleep(seconds)
                latencies: list[float] = await page.evaluate("window.latencies")
            finally:
                await browser.close()
    finally:
        await hub.close()
    return latencies[5:]


# --- HLS --------------------------------------------------------------------------------------

_ENTRY = re.compile(r"#EXTINF:([\d.]+),\s*\n#EXT-X-PROGRAM-DATE-TIME:(\S+)\s*\n(\S+)")
_TARGET = re.compile(r"#EXT-X-TARGETDURATION:(\d+)")


def segment_stamps(path: Path) -> tuple[int, int] | None:
    """Capture times of a segment's first and last frames."""
    stamps: list[int] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            stamp = stamp_ms(frame)
            if stamp is not None:
                stamps.append(stamp)
    return (stamps[0], stamps[-1]) if stamps else None


async def hls(url: str, seconds: float) -> dict[str, list[float]]:
    """Run ingest's FFmpeg on the camera and time each segment as it is listed."""
    figures: dict[str, list[float]] = {
        "edge": [],
        "hlsjs": [],
        "pdt": [],
        "pdt_error": [],
        "segment": [],
        "target": [],
    }

    async def on_status(_: StatusChange) -> None:
        return None

    with tempfile.TemporaryDirectory(prefix="orin-hls-bench-") as folder:
        files = CameraFiles(Path(folder) / "bench")
        settings = IngestSettings(demo_camera=False)
        runner = CameraRunner(CameraSource("bench", url, record=False), files, settings, on_status)
        runner.start()
        seen: set[str] = set()
        until = time.monotonic() + seconds
        try:
            while time.monotonic() < until:
                await asyncio.sleep(0.01)
                try:
                    text = files.playlist.read_text()
                except FileNotFoundError:
                    continue
                now = time.time()
                entries = _ENTRY.findall(text)
                target = _TARGET.search(text)
                if not entries or target is None:
                    continue
                duration, program_time, name = entries[-1]
                if name in seen:
                    continue
                first_time = not seen
                seen.add(name)
                if first_time:
                    continue  # listed before we looked: its appearance time is unknown
                stamps = await asyncio.to_thread(segment_stamps, files.root / name)
                if stamps is None:
                    continue
                hold_back = 3 * int(target.group(1))
                pdt_start = datetime.fromisoformat(program_time).timestamp()
                pdt_end = pdt_start + float(duration)
                figures["edge"].append(now - stamps[0] / 1000)
                figures["hlsjs"].append(now - stamps[1] / 1000 - FRAME_S + hold_back)
                figures["pdt"].append(now - pdt_end + hold_back)
                figures["pdt_error"].append(pdt_start - stamps[0] / 1000)
                figures["segment"].append(float(duration))
                figures["target"].append(float(target.group(1)))
        finally:
            await runner.stop()
    return figures


# --- main -------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="per WebRTC/RTSP run")
    parser.add_argument("--viewers", type=int, default=4, help="viewers in the shared run")
    parser.add_argument("--hls-seconds", type=float, default=30)
    args = parser.parse_args()
    quiet_logs()
    with FakeCameraServer({"pattern": "pattern"}) as camera:
        url = camera.url("pattern")
        baseline = await asyncio.to_thread(rtsp_baseline, url, args.seconds)
        single, _ = await webrtc(url, 1, args.seconds)
        browser = await chromium(url, args.seconds)
        shared, cameras = await webrtc(url, args.viewers, args.seconds)
        hls_figures = await hls(url, args.hls_seconds)

    print("| latency (s) | frames | p50 | p95 | max | goal met |")
    print("|---|---:|---:|---:|---:|---|")
    print(row("RTSP decoded directly (baseline)", baseline))
    print(row("WebRTC, 1 viewer, arrival", single[0].arrival, WEBRTC_GOAL_S))
    print(row("WebRTC, 1 viewer, decoded by aiortc", single[0].decoded, WEBRTC_GOAL_S))
    if browser is not None:
        print(row("WebRTC, Chromium, frame shown", browser, WEBRTC_GOAL_S))
    arrival = [v for c in shared for v in c.arrival]
    decoded = [v for c in shared for v in c.decoded]
    print(row(f"WebRTC, {args.viewers} viewers, arrival", arrival, WEBRTC_GOAL_S))
    print(row(f"WebRTC, {args.viewers} viewers, decoded by aiortc", decoded, WEBRTC_GOAL_S))
    print(row("HLS, edge (segment played when listed)", hls_figures["edge"], HLS_GOAL_S))
    print(row("HLS, hls.js default (3 targets behind)", hls_figures["hlsjs"], HLS_GOAL_S))
    print(row("HLS, PDT-based + 3 targets", hls_figures["pdt"], HLS_GOAL_S))
    print()
    firsts = [c.first_frame_s for c in shared[1:]]
    print(f"camera connections for {args.viewers} viewers: {cameras}")
    print(f"first frame after the offer: cold {single[0].first_frame_s:.2f} s", end="")
    if firsts:
        print(f", joining an open camera p50 {statistics.median(firsts):.2f} s")
    else:
        print()
    if hls_figures["segment"]:
        print(
            f"HLS segments: {len(hls_figures['segment'])}, mean length "
            f"{np.mean(hls_figures['segment']):.2f} s, target durations "
            f"{sorted(set(hls_figures['target']))}; EXT-X-PROGRAM-DATE-TIME minus the first "
            f"frame's capture time: p50 {percentile(hls_figures['pdt_error'], 0.5):+.3f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
