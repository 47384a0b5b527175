"""Live WebRTC: the camera's H.264 passed through to viewers, one camera connection per camera.

`WebRtcHub` answers a viewer's SDP offer (no trickle ICE: the offer carries its candidates).
Each camera is read once (`CameraFeed`: PyAV demuxes the RTSP stream without decoding, in a
thread) and its packets fan out to every viewer's `ViewerTrack`; aiortc only packetizes them
into RTP, so a viewer costs no decoding or encoding. Each viewer starts at a key frame, and one
that falls behind is resynchronised at the next key frame instead of queueing latency.

The offer must carry H.264 with packetization-mode 1. The answer keeps exactly one payload type:
the offer's entry whose profile can decode the camera's, else its most basic one (Chromium
decodes a High-profile camera sent that way). aiortc itself only knows Constrained Baseline, so
the offer it sees names that profile and the answer gets the browser's own parameters back.
Offers without H.264, cameras that do not send H.264 (H.265, files) and cameras sending
B-frames (browsers drop the reordered frames) get `WebRtcUnsupported` (422): use HLS instead.

Limits: `PEER_LIMIT` peer connections per hub, `CONNECT_TIMEOUT_S` to connect, dead peers
dropped by ICE consent checks (about 30 s), and a camera nobody watches closed after `LINGER_S`.
The hub may run in the API process (today) or on the ingest node: it only needs the URL.
Camera URLs carry credentials; nothing here logs them or puts them into errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import av
import structlog
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiosdp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.container import InputContainer
from av.packet import Packet

from orin.errors import OrinError, ServiceUnavailable
from orin.ingest.diagnosis import REASONS, Problem, diagnose_line

logger = structlog.get_logger(__name__)

if TYPE_CHECKING:
    AnyPacket: TypeAlias = Packet[Any]  # generic in PyAV's stubs only
else:
    AnyPacket = Packet

PEER_LIMIT: Final = 32
"""Peer connections one hub serves at once (each is a DTLS/SRTP session in Python)."""
CONNECT_TIMEOUT_S: Final = 15.0
"""A peer not connected this long after its answer is closed."""
LINGER_S: Final = 5.0
"""A camera nobody watches stays open this long, so a reloading viewer finds it warm."""
OPEN_TIMEOUT_S: Final = 8.0
"""Longest wait for the camera's RTSP session to open."""
READ_TIMEOUT_S: Final = 5.0
"""A camera silent this long ends its feed (and its viewers' connections)."""
VIEWER_BACKLOG: Final = 30
"""Packets queued for one viewer before it is resynchronised at the next key frame."""
RETRY_AFTER_S: Final = 10
RTSP_OPTIONS: Final = {
    "rtsp_transport": "tcp",
    "fflags": "nobuffer",
    # The SDP names the codec and its parameter sets; probing the stream would add ~3 s.
    "analyzeduration": "0",
    "probesize": "32",
}
REFUSE_S: Final = 300.0
"""How long a camera found unfit for WebRTC (B-frames) is refused before it is tried again."""
REORDER_WINDOW: Final = 90_000
"""A timestamp this much (1 s at 90 kHz) below the previous one is B-frame reordering."""
B_FRAMES: Final = (
    "the camera sends B-frames, which browsers cannot play over WebRTC "
    "(turn them off in the camera's encoder)"
)
DEFAULT_PROFILE: Final = "42e01f"
"""Assumed when the camera announces no SPS; also what aiortc is told the offer's entry is."""

_COMPATIBLE: Final = {
    # Which offered profiles decode a camera's profile (a decoder for a profile decodes the
    # profiles it contains), best first.
    aiosdp.H264Profile.PROFILE_CONSTRAINED_BASELINE: (
        aiosdp.H264Profile.PROFILE_CONSTRAINED_BASELINE,
        aiosdp.H264Profile.PROFILE_BASELINE,
        aiosdp.H264Profile.PROFILE_MAIN,
        aiosdp.H264Profile.PROFILE_CONSTRAINED_HIGH,
        aiosdp.H264Profile.PROFILE_HIGH,
    ),
    aiosdp.H264Profile.PROFILE_BASELINE: (aiosdp.H264Profile.PROFILE_BASELINE,),
    # Constrained High is High without B-frames, which cameras rarely send (ingest needs none).
    aiosdp.H264Profile.PROFILE_MAIN: (
        aiosdp.H264Profile.PROFILE_MAIN,
        aiosdp.H264Profile.PROFILE_HIGH,
        aiosdp.H264Profile.PROFILE_CONSTRAINED_HIGH,
    ),
    aiosdp.H264Profile.PROFILE_CONSTRAINED_HIGH: (
        aiosdp.H264Profile.PROFILE_CONSTRAINED_HIGH,
        aiosdp.H264Profile.PROFILE_HIGH,
    ),
    aiosdp.H264Profile.PROFILE_HIGH: (
        aiosdp.H264Profile.PROFILE_HIGH,
        aiosdp.H264Profile.PROFILE_CONSTRAINED_HIGH,
    ),
}


class MalformedOffer(OrinError):
    status_code = 422
    type_slug = "webrtc-malformed-offer"
    title = "Malformed WebRTC offer"


class WebRtcUnsupported(OrinError):
    """Passthrough is impossible for this browser or camera; HLS still works."""

    status_code = 422
    type_slug = "webrtc-unsupported"
    title = "WebRTC cannot carry this stream"

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}; use the HLS live view", extra={"fallback": "hls"})


class WebRtcBusy(ServiceUnavailable):
    type_slug = "webrtc-busy"
    title = "Too many live viewers"


class CameraUnreachable(ServiceUnavailable):
    type_slug = "camera-unreachable"
    title = "Camera not reachable"


# --- SDP --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    codec: RTCRtpCodecParameters
    profile: aiosdp.H264Profile


@dataclass(slots=True)
class _Plan:
    """A parsed offer, its video section and the H.264 payload types it offers."""

    text: str
    video_index: int
    video: aiosdp.MediaDescription
    candidates: list[_Candidate]


_PAYLOAD_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+) ")


def _profile_of(profile_level_id: str) -> aiosdp.H264Profile | None:
    try:
        return aiosdp.parse_h264_profile_level_id(profile_level_id)[0]
    except ValueError:
        return None


def parse_offer(text: str, kind: str) -> _Plan:
    """The offer's video section and H.264 entries; `MalformedOffer` or `WebRtcUnsupported`."""
    if kind != "offer":
        raise MalformedOffer("expected a description of type 'offer'")
    try:
        session = aiosdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise MalformedOffer(f"the SDP offer cannot be parsed ({type(exc).__name__})") from exc
    index, video = next(
        ((i, m) for i, m in enumerate(session.media) if m.kind == "video" and m.port != 0),
        (-1, None),
    )
    if video is None:
        raise MalformedOffer("the offer has no video section")
    if video.direction not in (None, "sendrecv", "recvonly"):
        raise MalformedOffer("the offer's video section does not receive video")
    if video.ice is None or not video.ice.usernameFragment or not video.ice.password:
        raise MalformedOffer("the offer has no ICE credentials")
    if video.dtls is None or not video.dtls.fingerprints:
        raise MalformedOffer("the offer has no DTLS fingerprint")
    candidates: list[_Candidate] = []
    for codec in video.rtp.codecs:
        if codec.mimeType.lower() != "video/h264" or codec.clockRate != 90000:
            continue
        if str(codec.parameters.get("packetization-mode", "0")) != "1":
            continue
        profile = _profile_of(str(codec.parameters.get("profile-level-id", DEFAULT_PROFILE)))
        if profile is not None:
            candidates.append(_Candidate(codec, profile))
    if not candidates:
        raise WebRtcUnsupported("this browser offered no H.264 (packetization-mode 1)")
    return _Plan(text, index, video, candidates)


def choose_codec(plan: _Plan, camera_profile: str) -> RTCRtpCodecParameters:
    """The offered H.264 entry that decodes the camera's profile, else the most basic one."""
    profile = _profile_of(camera_profile) or aiosdp.H264Profile.PROFILE_CONSTRAINED_BASELINE
    for wanted in _COMPATIBLE.get(profile, (profile,)):
        found = [c for c in plan.candidates if c.profile == wanted]
        if found:
            # Among equals, the browser's own order, with level asymmetry allowed first.
            asymmetric = [
                c for c in found if str(c.codec.parameters.get("level-asymmetry-allowed")) == "1"
            ]
            return (asymmetric or found)[0].codec
    logger.info("webrtc.profile_mismatch", camera_profile=camera_profile)
    basic = _COMPATIBLE[aiosdp.H264Profile.PROFILE_CONSTRAINED_BASELINE]
    return min(
        plan.candidates, key=lambda c: basic.index(c.profile) if c.profile in basic else 99
    ).codec


def offer_for_aiortc(plan: _Plan, chosen: RTCRtpCodecParameters) -> str:
    """The offer with only ``chosen`` (and its RTX) in the video section, labelled with a
    profile aiortc accepts (the camera's packets go out as they are whatever the label).

    Edited as text, so everything aiortc's own serializer would drop stays as sent."""
    keep = [chosen.payloadType] + [
        codec.payloadType
        for codec in plan.video.rtp.codecs
        if codec.mimeType.lower() == "video/rtx"
        and codec.parameters.get("apt") == chosen.payloadType
    ]
    relabelled = {**chosen.parameters, "profile-level-id": DEFAULT_PROFILE}
    lines: list[str] = []
    section = -1
    for line in plan.text.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            section += 1
            if section == plan.video_index:
                line = " ".join([*line.split(" ")[:3], *map(str, keep)])
        elif section == plan.video_index and (match := _PAYLOAD_LINE.match(line)):
            payload_type = int(match.group(2))
            if payload_type not in keep:
                continue
            if payload_type == chosen.payloadType and match.group(1) == "fmtp":
                line = f"a=fmtp:{payload_type} {aiosdp.parameters_to_sdp(relabelled)}"
        lines.append(line)
    return "\r\n".join(lines)


def answer_for_browser(text: str, chosen: RTCRtpCodecParameters) -> str:
    """aiortc's answer with the chosen entry's parameters as the browser offered them."""
    line = f"a=fmtp:{chosen.payloadType} {aiosdp.parameters_to_sdp(chosen.parameters)}"
    pattern = re.compile(rf"^a=fmtp:{chosen.payloadType} .*$", re.MULTILINE)
    return pattern.sub(lambda _: line, text.replace("\r\n", "\n"), count=1).replace("\n", "\r\n")


def profile_level_id(extradata: bytes | None) -> str:
    """``profile-level-id`` (6 hex digits) from H.264 extradata (Annex B or avcC)."""
    if not extradata:
        return DEFAULT_PROFILE
    if extradata[0] == 1 and len(extradata) >= 4:  # avcC: profile, compatibility, level
        return extradata[1:4].hex()
    for nal in _nal_units(extradata):
        if nal and nal[0] & 0x1F == 7 and len(nal) >= 4:
            return nal[1:4].hex()
    return DEFAULT_PROFILE


def _nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (without start codes)."""
    starts: list[int] = []
    index = data.find(b"\x00\x00\x01")
    while index != -1:
        starts.append(index + 3)
        index = data.find(b"\x00\x00\x01", index + 3)
    return [
        data[start : (starts[i + 1] - 3 if i + 1 < len(starts) else len(data))]
        for i, start in enumerate(starts)
    ]


def _has_sps(data: bytes) -> bool:
    return any(nal and nal[0] & 0x1F == 7 for nal in _nal_units(data))


# --- camera feed ------------------------------------------------------------------------------


class ViewerTrack(MediaStreamTrack):
    """One viewer's copy of a camera feed: H.264 packets from a key frame on."""

    kind = "video"

    def __init__(self, feed: CameraFeed) -> None:
        super().__init__()
        self._feed: CameraFeed | None = feed
        self._queue: asyncio.Queue[AnyPacket | None] = asyncio.Queue(VIEWER_BACKLOG + 1)
        self._synced = False
        self.resyncs = 0

    def push(self, packet: AnyPacket) -> None:
        """Queue ``packet``; a viewer too far behind drops its backlog and waits for a key frame."""
        if self._queue.full():
            self._drain()
            self._synced = False
            self.resyncs += 1
        if not self._synced:
            if not packet.is_keyframe:
                return
            self._synced = True
        self._queue.put_nowait(packet)

    def end(self) -> None:
        """The feed ended: `recv` raises once the queue is read."""
        if self._queue.full():
            self._drain()
        self._queue.put_nowait(None)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def recv(self) -> AnyPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.unsubscribe(self)


def _reason(exc: BaseException) -> str:
    """Why the camera failed, without its URL (PyAV's messages include the file name)."""
    if isinstance(exc, av.error.ExitError):  # PyAV's timeout interrupted FFmpeg
        return REASONS[Problem.TIMEOUT]
    if isinstance(exc, av.FFmpegError):
        text = exc.strerror or type(exc).__name__
        problem = diagnose_line(text)
        return REASONS[problem] if problem is not None else text
    return type(exc).__name__


class CameraFeed:
    """One RTSP session read by a thread (demux only), fanned out to viewer tracks."""

    def __init__(
        self, camera_id: str, container: InputContainer, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.camera_id = camera_id
        self._container = container
        self._stream = container.streams.video[0]
        self._loop = loop
        context = self._stream.codec_context
        self.codec = context.name
        self._extradata = context.extradata or b""
        self.profile = profile_level_id(self._extradata)
        self._annexb = self._extradata[:1] != b"\x01"
        self.viewers: set[ViewerTrack] = set()
        self.ended = False
        self.end_reason = ""
        self.unsupported = False
        """The feed ended because WebRTC cannot carry the stream (`end_reason` says why)."""
        self.on_idle: list[Callable[[CameraFeed], None]] = []
        """Run when the last viewer leaves or the feed ends."""
        self._quit = threading.Event()
        self._thread = threading.Thread(
            target=self._read, name=f"webrtc-feed:{camera_id}", daemon=True
        )

    @classmethod
    async def open(cls, camera_id: str, url: str) -> CameraFeed:
        """Connect to the camera (off the event loop); `CameraUnreachable` when it fails."""
        loop = asyncio.get_running_loop()
        try:
            container = await asyncio.to_thread(
                av.open,
                url,
                format="rtsp",
                options=dict(RTSP_OPTIONS),
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except Exception as exc:
            reason = _reason(exc)
            logger.info("webrtc.camera_unreachable", camera=camera_id, reason=reason)
            raise CameraUnreachable(
                f"camera not reachable: {reason}", headers={"Retry-After": str(RETRY_AFTER_S)}
            ) from exc
        if not isinstance(container, InputContainer) or not container.streams.video:
            container.close()
            raise WebRtcUnsupported("the camera sends no video stream")
        feed = cls(camera_id, container, loop)
        if feed.codec != "h264":
            container.close()
            raise WebRtcUnsupported(
                f"the camera sends {feed.codec}, which WebRTC cannot pass through (only H.264)"
            )
        feed._thread.start()
        logger.info("webrtc.camera_opened", camera=camera_id, profile=feed.profile)
        return feed

    def subscribe(self) -> ViewerTrack:
        track = ViewerTrack(self)
        self.viewers.add(track)
        if self.ended:
            track.end()
        return track

    def unsubscribe(self, track: ViewerTrack) -> None:
        self.viewers.discard(track)
        if not self.viewers:
            for callback in list(self.on_idle):
                callback(self)

    def _read(self) -> None:
        reason = "stopped"
        last_pts: int | None = None
        try:
            for packet in self._container.demux(self._stream):
                if self._quit.is_set():
                    break
                if packet.size == 0:  # the flush packet at the end of the stream
                    reason = REASONS[Problem.STREAM_ENDED]
                    break
                if packet.pts is None:
                    continue
                if last_pts is not None and 0 < last_pts - packet.pts < REORDER_WINDOW:
                    # Browsers drop frames that arrive after a later one: no passthrough.
                    self.unsupported = True
                    reason = B_FRAMES
                    break
                last_pts = packet.pts
                self._call(self._deliver, self._with_parameter_sets(packet))
            else:
                reason = REASONS[Problem.STREAM_ENDED]
        except Exception as exc:
            reason = _reason(exc)
        finally:
            with contextlib.suppress(Exception):
                self._container.close()
            self._call(self._end, reason)

    def _with_parameter_sets(self, packet: AnyPacket) -> AnyPacket:
        """Key frames carry SPS/PPS in-band, so a viewer can start at any of them."""
        if not packet.is_keyframe or not self._annexb or not self._extradata:
            return packet
        data = bytes(packet)
        if _has_sps(data):
            return packet
        fixed: AnyPacket = Packet(self._extradata + data)
        fixed.pts, fixed.dts, fixed.time_base = packet.pts, packet.dts, packet.time_base
        fixed.is_keyframe = True
        return fixed

    def _call(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
            self._loop.call_soon_threadsafe(callback, *args)

    def _deliver(self, packet: AnyPacket) -> None:
        for viewer in list(self.viewers):
            viewer.push(packet)

    def _end(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        if not self._quit.is_set():
            logger.info("webrtc.camera_lost", camera=self.camera_id, reason=reason)
        for viewer in list(self.viewers):
            viewer.end()
        for callback in list(self.on_idle):
            callback(self)

    async def close(self) -> None:
        """Stop reading and wait for the thread (at most the read timeout)."""
        self._quit.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, READ_TIMEOUT_S + 1)
        self._end("stopped")


# --- hub --------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Peer:
    camera_id: str
    pc: RTCPeerConnection
    feed: CameraFeed
    track: ViewerTrack
    watchdog: asyncio.Task[None] | None = None
    closed: bool = field(default=False)


class WebRtcHub:
    """Camera feeds, their viewers' peer connections, and the limits on both."""

    def __init__(
        self,
        *,
        peer_limit: int = PEER_LIMIT,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        linger_s: float = LINGER_S,
        ice_servers: Sequence[RTCIceServer] = (),
    ) -> None:
        self.peer_limit = peer_limit
        self.connect_timeout_s = connect_timeout_s
        self.linger_s = linger_s
        self.ice_servers = list(ice_servers)
        self._feeds: dict[tuple[str, str], CameraFeed] = {}
        self._opening: dict[tuple[str, str], asyncio.Task[CameraFeed]] = {}
        self._lingering: dict[CameraFeed, asyncio.TimerHandle] = {}
        self._refused: dict[tuple[str, str], tuple[float, str]] = {}
        self._peers: set[_Peer] = set()
        self._pending = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def peer_count(self) -> int:
        return len(self._peers)

    @property
    def camera_count(self) -> int:
        """Cameras this hub holds open."""
        return len(self._feeds)

    async def offer(self, camera_id: str, url: str, sdp: str, type: str) -> RTCSessionDescription:
        """Answer a viewer's offer for the camera at ``url`` (which may carry credentials)."""
        plan = parse_offer(sdp, type)
        refused = self._refused.get((camera_id, url))
        if refused is not None:
            if refused[0] > time.monotonic():
                raise WebRtcUnsupported(refused[1])
            del self._refused[(camera_id, url)]
        if self._closed:
            raise ServiceUnavailable("live view is shutting down")
        if len(self._peers) + self._pending >= self.peer_limit:
            raise WebRtcBusy(
                f"this server already serves {self.peer_limit} live viewers; use HLS",
                headers={"Retry-After": str(RETRY_AFTER_S)},
                extra={"fallback": "hls"},
            )
        self._pending += 1
        try:
            feed = await self._feed(camera_id, url)
            return await self._connect(camera_id, feed, plan)
        finally:
            self._pending -= 1

    async def _feed(self, camera_id: str, url: str) -> CameraFeed:
        key = (camera_id, url)
        feed = self._feeds.get(key)
        if feed is not None and not feed.ended:
            return feed
        opening = self._opening.get(key)
        if opening is None:
            opening = asyncio.create_task(CameraFeed.open(camera_id, url))
            self._opening[key] = opening
            opening.add_done_callback(lambda task: self._opened(key, task))
        return await asyncio.shield(opening)

    def _opened(self, key: tuple[str, str], task: asyncio.Task[CameraFeed]) -> None:
        self._opening.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        feed = task.result()
        if self._closed:
            self._spawn(feed.close())
            return
        self._feeds[key] = feed
        feed.on_idle.append(lambda idle: self._idle(key, idle))
        self._idle(key, feed)  # closes it after the grace period unless a viewer comes

    def _idle(self, key: tuple[str, str], feed: CameraFeed) -> None:
        """The feed lost its last viewer or ended: close it now or after the grace period."""
        if feed.ended:
            if feed.unsupported and key not in self._refused:
                self._refused[key] = (time.monotonic() + REFUSE_S, feed.end_reason)
                logger.warning("webrtc.camera_unsupported", camera=feed.camera_id)
            self._retire(key, feed)
            for peer in [p for p in self._peers if p.feed is feed]:
                self._spawn(self._drop(peer, "camera lost"))
        elif not feed.viewers and feed not in self._lingering:
            loop = asyncio.get_running_loop()
            self._lingering[feed] = loop.call_later(self.linger_s, self._expire, key, feed)

    def _expire(self, key: tuple[str, str], feed: CameraFeed) -> None:
        self._lingering.pop(feed, None)
        if not feed.viewers:
            self._retire(key, feed)

    def _retire(self, key: tuple[str, str], feed: CameraFeed) -> None:
        if handle := self._lingering.pop(feed, None):
            handle.cancel()
        if self._feeds.get(key) is feed:
            del self._feeds[key]
            logger.info("webrtc.camera_closed", camera=feed.camera_id)
        self._spawn(feed.close())

    async def _connect(
        self, camera_id: str, feed: CameraFeed, plan: _Plan
    ) -> RTCSessionDescription:
        if feed.ended:
            if feed.unsupported:
                raise WebRtcUnsupported(feed.end_reason)
            raise CameraUnreachable(f"camera not reachable: {feed.end_reason}")
        chosen = choose_codec(plan, feed.profile)
        offer = offer_for_aiortc(plan, chosen)
        if handle := self._lingering.pop(feed, None):
            handle.cancel()
        track = feed.subscribe()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        peer = _Peer(camera_id, pc, feed, track)

        @pc.on("connectionstatechange")
        def _changed() -> None:
            state = pc.connectionState
            if state == "connected":
                if peer.watchdog is not None:
                    peer.watchdog.cancel()
                logger.info("webrtc.peer_connected", camera=camera_id, peers=len(self._peers))
            elif state in ("failed", "closed"):
                self._spawn(self._drop(peer, state))

        try:
            await self._negotiate(pc, plan, offer, track)
        except BaseException:
            peer.closed = True
            track.stop()
            await pc.close()
            raise
        self._peers.add(peer)
        peer.watchdog = self._spawn(self._watch(peer))
        local = pc.localDescription
        return RTCSessionDescription(sdp=answer_for_browser(local.sdp, chosen), type=local.type)

    async def _negotiate(
        self, pc: RTCPeerConnection, plan: _Plan, offer: str, track: ViewerTrack
    ) -> None:
        """Apply the offer and make the answer; whatever aiortc objects to is a bad offer."""
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            ours = self._video_transceiver(pc, plan.video.rtp.muxId)
            ours.sender.replaceTrack(track)
            ours.direction = "sendonly"
            for transceiver in pc.getTransceivers():
                if transceiver is not ours:
                    transceiver.direction = "inactive"  # we send nothing else, receive nothing
            await pc.setLocalDescription(await pc.createAnswer())
        except OrinError:
            raise
        except Exception as exc:
            raise MalformedOffer(f"the offer was refused ({type(exc).__name__}: {exc})") from exc

    @staticmethod
    def _video_transceiver(pc: RTCPeerConnection, mid: str | None) -> RTCRtpTransceiver:
        videos = [t for t in pc.getTransceivers() if t.kind == "video"]
        for transceiver in videos:
            if mid is not None and transceiver.mid == mid:
                return transceiver
        if videos:
            return videos[0]
        raise MalformedOffer("the offer has no video section")

    async def _watch(self, peer: _Peer) -> None:
        await asyncio.sleep(self.connect_timeout_s)
        if peer.pc.connectionState != "connected":
            await self._drop(peer, "connect timeout")

    async def _drop(self, peer: _Peer, reason: str) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._peers.discard(peer)
        current = asyncio.current_task()
        if peer.watchdog is not None and peer.watchdog is not current:
            peer.watchdog.cancel()
        peer.track.stop()
        await peer.pc.close()
        logger.info("webrtc.peer_closed", camera=peer.camera_id, reason=reason)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Close every peer connection and camera feed."""
        self._closed = True
        for task in list(self._opening.values()):
            task.cancel()
        for peer in list(self._peers):
            await self._drop(peer, "shutdown")
        for handle in self._lingering.values():
            handle.cancel()
        self._lingering.clear()
        feeds, self._feeds = list(self._feeds.values()), {}
        await asyncio.gather(*(feed.close() for feed in feeds), return_exceptions=True)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


_default: WebRtcHub | None = None
_default_loop: asyncio.AbstractEventLoop | None = None


def default_hub() -> WebRtcHub:
    """This process's hub, made on first use (in the running event loop)."""
    global _default, _default_loop
    loop = asyncio.get_running_loop()
    if _default is None or _default_loop is not loop or _default._closed:
        _default, _default_loop = WebRtcHub(), loop
    return _default


async def close_default_hub() -> None:
    """Close the process's hub if one was made (call it when the API stops)."""
    global _default, _default_loop
    hub, _default, _default_loop = _default, None, None
    if hub is not None:
        await hub.close()
