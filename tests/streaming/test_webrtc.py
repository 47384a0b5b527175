"""Live WebRTC against a fake RTSP camera: an aiortc client gets the camera's H.264 passed
through, viewers share one camera connection, and every refusal is a problem (never a 500).

Frames and access run on both adapter sets; the hub's own limits only on the embedded one."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from asgi_lifespan import LifespanManager
from av import VideoFrame

from orin.app import create_app
from orin.config import Settings
from orin.runtime.process import Runtime
from orin.streaming import webrtc
from orin.streaming.webrtc import WebRtcHub
from orin.streaming.webrtc_endpoints import get_webrtc_hub
from tests.fixtures.api import Api, Person
from tests.fixtures.cameras import SECURE_PASSWORD, SECURE_USER, FakeCameraServer, vtest_avi

PATH = "/api/v1/cameras/{camera_id}/webrtc"
PROBLEM = "application/problem+json"

EMBEDDED = pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)


@dataclass
class Rtc:
    api: Api
    hub: WebRtcHub


@pytest.fixture
async def rtc(api_settings: Settings) -> AsyncIterator[Rtc]:
    """The API with a WebRTC hub of short timeouts in place of the app's, closed after."""
    hub = WebRtcHub(linger_s=0.5, connect_timeout_s=3.0)
    try:
        async with Runtime(api_settings, ("api",)) as runtime:
            app = create_app(api_settings, runtime=runtime, configure_logs=False)
            app.dependency_overrides[get_webrtc_hub] = lambda: hub
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="https://orin.test"
                ) as http:
                    yield Rtc(Api(http, runtime), hub)
    finally:
        await hub.close()


class Viewer:
    """An aiortc client that only receives video, as a browser's live view does."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        self.pc.on("track", self.tracks.put_nowait)

    async def offer(self, *, vp8_only: bool = False) -> str:
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if vp8_only:
            capabilities = RTCRtpReceiver.getCapabilities("video")
            assert capabilities is not None
            codecs = capabilities.codecs
            transceiver.setCodecPreferences([c for c in codecs if c.mimeType == "video/VP8"])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def connect(self, person: Person, camera_id: str) -> str:
        """Offer, post, apply the answer; returns the answer's SDP."""
        sdp = await self.offer()
        response = await person.post(
            PATH.format(camera_id=camera_id), json={"sdp": sdp, "type": "offer"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["type"] == "answer"
        await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
        return str(body["sdp"])

    async def frames(self, count: int, within_s: float) -> list[VideoFrame]:
        async with asyncio.timeout(within_s):
            track = await self.tracks.get()
            received: list[VideoFrame] = []
            while len(received) < count:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)
                received.append(frame)
            return received

    async def close(self) -> None:
        await self.pc.close()


async def eventually(check: Callable[[], Awaitable[Any] | Any], *, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"not within {within_s}s"
        await asyncio.sleep(0.05)


async def camera_of(person: Person, url: str) -> str:
    space = await person.create_space()
    camera = await person.create_camera(space["id"], main_url=url)
    return str(camera["id"])


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def test_viewers_receive_the_camera_through_one_connection(
    rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    alice = await rtc.api.sign_up()
    camera_id = await camera_of(alice, fake_cameras.url("pattern"))
    first, second = Viewer(), Viewer()
    try:
        answer = await first.connect(alice, camera_id)
        # Passthrough: one H.264 payload type (and its RTX), no VP8 to encode into.
        assert "H264/90000" in answer
        assert "VP8" not in answer
        frames = await first.frames(10, within_s=15)
        assert {(frame.width, frame.height) for frame in frames} == {(640, 360)}

        await second.connect(alice, camera_id)
        assert len(await second.frames(3, within_s=15)) == 3
        assert rtc.hub.peer_count == 2
        assert rtc.hub.camera_count == 1  # both viewers share one RTSP session
    finally:
        await first.close()
        await second.close()
    # The last viewer gone, the camera closes after the grace period.
    await eventually(lambda: rtc.hub.peer_count == 0 and rtc.hub.camera_count == 0, within_s=10)


async def test_strangers_get_404_and_bad_offers_a_problem(
    rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    alice, mallory = await rtc.api.sign_up(), await rtc.api.sign_up()
    camera_id = await camera_of(alice, fake_cameras.url("pattern"))
    path = PATH.format(camera_id=camera_id)
    viewer = Viewer()
    try:
        sdp = await viewer.offer()
        stranger = await mallory.post(path, json={"sdp": sdp, "type": "offer"})
        assert_problem(stranger, 404, "not-found")
        assert_problem(
            await alice.post("/api/v1/cameras/nope/webrtc", json={"sdp": sdp, "type": "offer"}),
            404,
            "not-found",
        )
        anonymous = await rtc.api.http.post(path, json={"sdp": sdp, "type": "offer"})
        assert anonymous.status_code == 401

        for garbage in (
            "hello",
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF x\r\n",
            sdp.replace("a=ice-ufrag", "a=x"),
        ):
            malformed = await alice.post(path, json={"sdp": garbage, "type": "offer"})
            assert_problem(malformed, 422, "webrtc-malformed-offer")
        assert_problem(
            await alice.post(path, json={"sdp": sdp, "type": "answer"}), 422, "validation"
        )
        assert_problem(await alice.post(path, json={"type": "offer"}), 422, "validation")
    finally:
        await viewer.close()

    vp8 = Viewer()
    try:
        sdp = await vp8.offer(vp8_only=True)
        refused = await alice.post(path, json={"sdp": sdp, "type": "offer"})
        body = assert_problem(refused, 422, "webrtc-unsupported")
        assert body["fallback"] == "hls"
        assert "H.264" in body["detail"]
    finally:
        await vp8.close()
    assert rtc.hub.camera_count == 0  # refused before the camera was opened


@EMBEDDED
async def test_an_offline_camera_is_a_503_without_its_password(
    rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    alice = await rtc.api.sign_up()
    url = fake_cameras.url("secure", SECURE_USER, SECURE_PASSWORD)
    camera_id = await camera_of(alice, url)
    fake_cameras.stop()
    viewer = Viewer()
    try:
        sdp = await viewer.offer()
        response = await alice.post(
            PATH.format(camera_id=camera_id), json={"sdp": sdp, "type": "offer"}
        )
        body = assert_problem(response, 503, "camera-unreachable")
        assert body["detail"].startswith("camera not reachable")
        assert response.headers["retry-after"]
        assert SECURE_PASSWORD not in response.text
        assert "127.0.0.1" not in response.text
    finally:
        await viewer.close()
    assert rtc.hub.peer_count == 0


@EMBEDDED
async def test_a_camera_that_stops_ends_its_viewers(
    rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    alice = await rtc.api.sign_up()
    camera_id = await camera_of(alice, fake_cameras.url("pattern"))
    viewer = Viewer()
    try:
        await viewer.connect(alice, camera_id)
        await viewer.frames(3, within_s=15)
        fake_cameras.stop()
        await eventually(lambda: rtc.hub.peer_count == 0, within_s=webrtc.READ_TIMEOUT_S + 5)
        assert rtc.hub.camera_count == 0
    finally:
        await viewer.close()


@EMBEDDED
async def test_viewer_limit_and_connect_timeout(
    api_settings: Settings, rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    alice = await rtc.api.sign_up()
    camera_id = await camera_of(alice, fake_cameras.url("pattern"))
    rtc.hub.peer_limit = 1
    silent, refused = Viewer(), Viewer()
    try:
        # An answered offer whose client never connects holds a slot until the timeout.
        response = await alice.post(
            PATH.format(camera_id=camera_id), json={"sdp": await silent.offer(), "type": "offer"}
        )
        assert response.status_code == 200, response.text
        assert rtc.hub.peer_count == 1
        busy = await alice.post(
            PATH.format(camera_id=camera_id), json={"sdp": await refused.offer(), "type": "offer"}
        )
        body = assert_problem(busy, 503, "webrtc-busy")
        assert body["fallback"] == "hls"
        assert busy.headers["retry-after"]
        await eventually(lambda: rtc.hub.peer_count == 0, within_s=rtc.hub.connect_timeout_s + 3)
    finally:
        await silent.close()
        await refused.close()


async def test_the_default_hub_is_made_once_and_closed() -> None:
    hub = webrtc.default_hub()
    assert webrtc.default_hub() is hub
    await webrtc.close_default_hub()
    assert webrtc.default_hub() is not hub
    await webrtc.close_default_hub()


# A browser's offer (Chrome's layout, shortened): VP8 first, then H.264 in several profiles and
# packetization modes, each with RTX, plus an audio section the live view does not use.
BROWSER_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic: WMS",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:Xk2s",
        "a=ice-pwd:3tBnp0Lq7Ed5aQ3rI0m9v2Yb",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 112 113 127 125",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:Xk2s",
        "a=ice-pwd:3tBnp0Lq7Ed5aQ3rI0m9v2Yb",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:1",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=rtcp-fb:102 nack",
        "a=rtcp-fb:102 nack pli",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "a=rtpmap:104 H264/90000",
        "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
        "a=rtpmap:105 rtx/90000",
        "a=fmtp:105 apt=104",
        "a=rtpmap:106 H264/90000",
        "a=rtcp-fb:106 nack",
        "a=rtcp-fb:106 nack pli",
        "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=rtpmap:107 rtx/90000",
        "a=fmtp:107 apt=106",
        "a=rtpmap:112 H264/90000",
        "a=rtcp-fb:112 nack",
        "a=rtcp-fb:112 nack pli",
        "a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f",
        "a=rtpmap:113 rtx/90000",
        "a=fmtp:113 apt=112",
        "a=rtpmap:127 H264/90000",
        "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
        "a=rtpmap:125 rtx/90000",
        "a=fmtp:125 apt=127",
        "",
    ]
)


@pytest.mark.parametrize(
    ("camera_profile", "payload_type"),
    [
        ("42c016", 106),  # Constrained Baseline: the exact entry
        ("4d0028", 127),  # Main
        ("640028", 112),  # High
        ("f40028", 106),  # High 4:4:4, which no browser offers: the most basic entry
    ],
)
def test_the_answer_names_a_profile_that_decodes_the_camera(
    camera_profile: str, payload_type: int
) -> None:
    plan = webrtc.parse_offer(BROWSER_OFFER, "offer")
    assert [c.codec.payloadType for c in plan.candidates] == [102, 106, 112, 127]
    assert webrtc.choose_codec(plan, camera_profile).payloadType == payload_type


async def test_a_high_profile_camera_is_answered_as_high_profile() -> None:
    """aiortc only knows Constrained Baseline: it sees that label, the browser gets its own."""
    plan = webrtc.parse_offer(BROWSER_OFFER, "offer")
    chosen = webrtc.choose_codec(plan, "640028")
    offer = webrtc.offer_for_aiortc(plan, chosen)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 112 113\r\n" in offer
    assert (
        "a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f" in offer
    )

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = webrtc.answer_for_browser(pc.localDescription.sdp, chosen)
    finally:
        await pc.close()
    assert "a=rtpmap:112 H264/90000" in answer
    assert "profile-level-id=64001f" in answer
    assert "42e01f" not in answer
    assert "VP8" not in answer
    assert "a=rtpmap:106" not in answer


def test_profile_level_id_from_extradata() -> None:
    annexb = bytes.fromhex("000000016742c016da0280bfe5c05a83030352800000030080000000a478b175")
    assert webrtc.profile_level_id(annexb + bytes.fromhex("0000000168ce3c80")) == "42c016"
    assert webrtc.profile_level_id(bytes.fromhex("01640028ffe1")) == "640028"
    assert webrtc.profile_level_id(None) == webrtc.DEFAULT_PROFILE


@pytest.fixture(scope="session")
def b_frames_mp4(camera_media_dir: Path) -> Path:
    """3 s of vtest.avi as H.264 with B-frames (x264's default; the fixtures turn them off)."""
    target = camera_media_dir / "b-frames.mp4"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(vtest_avi()), "-t", "3"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "2"]
    subprocess.run([*command, "-pix_fmt", "yuv420p", "-an", str(target)], check=True, timeout=120)
    return target


@EMBEDDED
async def test_a_high_profile_camera_plays_and_b_frames_are_refused(
    rtc: Rtc, fake_cameras: FakeCameraServer, b_frames_mp4: Path
) -> None:
    """`vtest` is High profile, which aiortc's offer does not name: it is sent anyway under the
    Constrained Baseline entry. With B-frames a browser drops the reordered frames, so the hub
    ends the session at the first one and refuses the camera for a while (HLS plays it)."""
    alice = await rtc.api.sign_up()
    space = await alice.create_space()
    high = (await alice.create_camera(space["id"], main_url=fake_cameras.url("vtest")))["id"]
    viewer = Viewer()
    try:
        await viewer.connect(alice, high)
        frames = await viewer.frames(10, within_s=15)
        assert {(frame.width, frame.height) for frame in frames} == {(768, 576)}
    finally:
        await viewer.close()

    with FakeCameraServer({"bframes": f"file:{b_frames_mp4}"}) as server:
        camera = await alice.create_camera(space["id"], main_url=server.url("bframes"))
        path = PATH.format(camera_id=camera["id"])
        first, second = Viewer(), Viewer()
        try:
            await first.connect(alice, camera["id"])
            await eventually(lambda: rtc.hub.peer_count == 0, within_s=10)
            response = await alice.post(path, json={"sdp": await second.offer(), "type": "offer"})
            body = assert_problem(response, 422, "webrtc-unsupported")
            assert "B-frames" in body["detail"]
            assert body["fallback"] == "hls"
        finally:
            await first.close()
            await second.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
BROWSER_OFFER_JS = """async () => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  pc.addTransceiver('video', {direction: 'recvonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
  });
  return pc.localDescription.sdp;
}"""
BROWSER_STATS_JS = """async () => {
  let found = null;
  (await pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') found = s;
  });
  return found && {decoded: found.framesDecoded || 0, width: found.frameWidth,
                   height: found.frameHeight, codec: found.codecId};
}"""


@EMBEDDED
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
async def test_chromium_decodes_the_passed_through_stream(
    rtc: Rtc, fake_cameras: FakeCameraServer
) -> None:
    """Debian's Chromium (when installed) is the browser the issue means: it must decode the
    camera's H.264 as the hub passes it through."""
    playwright = pytest.importorskip("playwright.async_api")
    alice = await rtc.api.sign_up()
    camera_id = await camera_of(alice, fake_cameras.url("pattern"))
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            sdp = await page.evaluate(BROWSER_OFFER_JS)
            response = await alice.post(
                PATH.format(camera_id=camera_id), json={"sdp": sdp, "type": "offer"}
            )
            assert response.status_code == 200, response.text
            await page.evaluate(
                "answer => pc.setRemoteDescription({type: 'answer', sdp: answer})",
                response.json()["sdp"],
            )
            stats: dict[str, Any] = {}

            async def decoded() -> bool:
                stats.update(await page.evaluate(BROWSER_STATS_JS) or {})
                return int(stats.get("decoded", 0)) >= 10

            await eventually(decoded, within_s=15)
            assert (stats["width"], stats["height"]) == (640, 360)
        finally:
            await browser.close()
