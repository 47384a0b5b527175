// A muted, inline video playing an HLS playlist with hls.js (native HLS where MSE is missing).
// Live playlists keep one segment of latency (liveSyncDurationCount: 1); the signed URL is
// fetched again before it expires and after fatal errors (a camera coming online, a restart).
import Hls from "hls.js/light";
import { useEffect, useRef, useState } from "react";

export interface Source {
  url: string;
  /** When the signed URL stops working (ms since the epoch), to fetch a new one in time. */
  expiresAt?: number;
}

export function HlsPlayer({
  load,
  live = true,
  label,
  controls = false,
  className = "",
}: {
  /** Gets a (fresh) playlist URL. */
  load: () => Promise<Source>;
  live?: boolean;
  label: string;
  controls?: boolean;
  className?: string;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<"loading" | "playing" | "waiting">("loading");
  const loader = useRef(load);
  loader.current = load;

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    let hls: Hls | null = null;
    let stopped = false;
    let timer = 0;

    const retryLater = (ms: number) => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void start(), ms);
    };
    const start = async () => {
      if (stopped) return;
      let source: Source;
      try {
        source = await loader.current();
      } catch {
        setState("waiting");
        return retryLater(5000);
      }
      if (stopped) return;
      hls?.destroy();
      hls = null;
      if (source.expiresAt) {
        // Fetch a new signed URL a minute before this one expires (at least 10 s from now).
        retryLater(Math.max(10_000, source.expiresAt - Date.now() - 60_000));
      }
      if (Hls.isSupported()) {
        const player = new Hls({
          enableWorker: false, // the worker would come from a blob: URL, which the CSP forbids
          liveSyncDurationCount: 1,
          liveMaxLatencyDurationCount: 4,
          lowLatencyMode: false,
          manifestLoadingMaxRetry: 2,
        });
        hls = player;
        player.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal || stopped) return;
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
            player.recoverMediaError();
            return;
          }
          setState("waiting");
          retryLater(3000);
        });
        player.on(Hls.Events.MANIFEST_PARSED, () => {
          element.play().catch(() => {
            /* autoplay refused: the controls remain */
          });
        });
        player.loadSource(source.url);
        player.attachMedia(element);
      } else if (element.canPlayType("application/vnd.apple.mpegurl")) {
        element.src = source.url;
        element.play().catch(() => {});
      } else {
        setState("waiting");
      }
    };
    const playing = () => setState("playing");
    const stalled = () => setState((current) => (current === "playing" ? "loading" : current));
    element.addEventListener("playing", playing);
    element.addEventListener("waiting", stalled);
    void start();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      element.removeEventListener("playing", playing);
      element.removeEventListener("waiting", stalled);
      hls?.destroy();
    };
  }, []);

  return (
    <div className={`relative overflow-hidden rounded-lg bg-black ${className}`}>
      <video
        ref={video}
        muted
        playsInline
        autoPlay
        controls={controls}
        aria-label={label}
        data-live={live}
        className="aspect-video w-full bg-black object-contain"
      />
      {state !== "playing" ? (
        <p className="pointer-events-none absolute inset-0 flex items-center justify-center text-sm text-slate-300">
          {state === "loading" ? "Connecting…" : "Waiting for video…"}
        </p>
      ) : null}
    </div>
  );
}
