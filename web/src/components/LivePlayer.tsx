// A camera's live view: WebRTC first (the camera's H.264 passed through, well under a second
// behind), HLS whenever WebRTC cannot play: no RTCPeerConnection in this browser, the API
// answers 422/503 (codec, viewer limit, camera unreachable), the connection fails, or no frame
// shows within WEBRTC_FIRST_FRAME_MS. The player says which it uses in ``data-transport``.
import { useEffect, useRef, useState } from "react";
import { api, unwrap } from "../api/client";
import { HlsPlayer, type Source } from "./HlsPlayer";

const WEBRTC_FIRST_FRAME_MS = 10_000;
const ICE_GATHERING_MS = 3_000;

function gathered(pc: RTCPeerConnection): Promise<void> {
  // No trickle ICE: the offer goes out once gathering completes (host candidates: instant).
  return new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    const timer = window.setTimeout(done, ICE_GATHERING_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        window.clearTimeout(timer);
        done();
      }
    });
  });
}

function WebRtcVideo({
  cameraId,
  label,
  controls,
  onFail,
}: {
  cameraId: string;
  label: string;
  controls: boolean;
  onFail: () => void;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [playing, setPlaying] = useState(false);
  const fail = useRef(onFail);
  fail.current = onFail;

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    let stopped = false;
    let shown = false;
    const pc = new RTCPeerConnection({ iceServers: [] });
    const giveUp = () => {
      if (stopped) return;
      stopped = true;
      pc.close();
      fail.current();
    };
    const watchdog = window.setTimeout(() => shown || giveUp(), WEBRTC_FIRST_FRAME_MS);
    const onPlaying = () => {
      shown = true;
      setPlaying(true);
    };
    element.addEventListener("playing", onPlaying);
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      element.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      element.play().catch(() => {
        /* autoplay refused: muted inline video normally plays; the controls remain */
      });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") giveUp();
    };
    const negotiate = async () => {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      if (stopped || !pc.localDescription) return;
      const answer = await unwrap(
        api.POST("/api/v1/cameras/{camera_id}/webrtc", {
          params: { path: { camera_id: cameraId } },
          body: { sdp: pc.localDescription.sdp, type: "offer" },
        }),
      );
      if (stopped) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    };
    negotiate().catch(giveUp);
    return () => {
      stopped = true;
      window.clearTimeout(watchdog);
      element.removeEventListener("playing", onPlaying);
      element.srcObject = null;
      pc.close();
    };
  }, [cameraId]);

  return (
    <div className="relative overflow-hidden rounded-lg bg-black" data-transport="webrtc">
      <video
        ref={video}
        muted
        playsInline
        autoPlay
        controls={controls}
        aria-label={label}
        data-live
        className="aspect-video w-full bg-black object-contain"
      />
      {playing ? null : (
        <p className="pointer-events-none absolute inset-0 flex items-center justify-center text-sm text-slate-300">
          Connecting…
        </p>
      )}
    </div>
  );
}

export function LivePlayer({
  cameraId,
  label,
  hls,
  controls = false,
}: {
  cameraId: string;
  label: string;
  /** Gets a (fresh) signed HLS playlist URL, for the fallback. */
  hls: () => Promise<Source>;
  controls?: boolean;
}) {
  const [transport, setTransport] = useState<"webrtc" | "hls">(
    typeof RTCPeerConnection === "function" ? "webrtc" : "hls",
  );
  if (transport === "webrtc") {
    return <WebRtcVideo cameraId={cameraId} label={label} controls={controls} onFail={() => setTransport("hls")} />;
  }
  return (
    <div data-transport="hls">
      <HlsPlayer load={hls} label={label} controls={controls} />
    </div>
  );
}
