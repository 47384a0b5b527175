// One WebSocket to /api/v1/ws per signed-in tab (docs/realtime.md): subscribe to the user's
// spaces, keep TanStack Query's caches fresh, and announce new catches with a toast.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { getAccessToken, refreshSession, sessionEnded, type Schemas } from "../api/client";
import { spacesQuery } from "./queries";
import { useToast } from "./toast";

type Link = "connecting" | "live" | "down";
const LinkContext = createContext<Link>("down");

interface Update {
  type: string;
  space_id?: string;
  camera_id?: string | null;
  data?: Record<string, unknown>;
}

const UNAUTHORIZED = 4401;

export function RealtimeProvider({ children }: { children: ReactNode }) {
  const queries = useQueryClient();
  const { show } = useToast();
  const spaces = useQuery(spacesQuery);
  const [link, setLink] = useState<Link>("connecting");
  const spaceIds = (spaces.data?.items ?? []).map((space) => space.id).join(",");

  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let retry = 0;
    let watchdog = 0;
    let pingEvery = 30_000;

    const refetchAll = () => {
      void queries.invalidateQueries({ queryKey: ["events"] });
      void queries.invalidateQueries({ queryKey: ["cameras"] });
      void queries.invalidateQueries({ queryKey: ["guards"] });
    };
    const arm = () => {
      window.clearTimeout(watchdog);
      // No ping for two intervals: the link is silently dead; reconnect.
      watchdog = window.setTimeout(() => socket?.close(), pingEvery * 2 + 5_000);
    };
    const schedule = () => {
      if (stopped) return;
      setLink("down");
      const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      retry = window.setTimeout(() => void open(), delay);
    };

    const onUpdate = (update: Update) => {
      if (update.type === "event.created" || update.type === "event.updated") {
        void queries.invalidateQueries({ queryKey: ["events"] });
        void queries.invalidateQueries({ queryKey: ["stats"] });
        const event = update.data as Schemas["EventOut"] | undefined;
        if (update.type === "event.created" && event?.kind === "catch") {
          show(`New catch: ${event.label ?? "something"}${event.zone ? ` in ${event.zone}` : ""}`, "catch", `/events/${event.id}`);
        }
      } else if (update.type === "camera.status") {
        void queries.invalidateQueries({ queryKey: ["cameras"] });
      } else if (update.type === "guard.updated") {
        void queries.invalidateQueries({ queryKey: ["guards"] });
      }
    };

    const open = async () => {
      if (stopped) return;
      let token = getAccessToken();
      if (!token) token = (await refreshSession().catch(() => null))?.access_token ?? null;
      if (!token || stopped) return schedule();
      setLink("connecting");
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${window.location.host}/api/v1/ws`, [
        "orin.v1",
        `bearer.${token}`,
      ]);
      socket = ws;
      ws.onmessage = (message) => {
        let update: Update & { ping_interval_s?: number };
        try {
          update = JSON.parse(String(message.data)) as Update & { ping_interval_s?: number };
        } catch {
          return;
        }
        if (update.type === "ready") {
          attempt = 0;
          pingEvery = (update.ping_interval_s ?? 30) * 1000;
          arm();
          const ids = spaceIds ? spaceIds.split(",") : [];
          ws.send(JSON.stringify({ type: "subscribe", spaces: ids, cameras: [] }));
        } else if (update.type === "subscribed") {
          setLink("live");
        } else if (update.type === "ping") {
          arm();
          ws.send(JSON.stringify({ type: "pong" }));
        } else if (update.type === "resync") {
          refetchAll();
        } else {
          onUpdate(update);
        }
      };
      ws.onclose = (close) => {
        window.clearTimeout(watchdog);
        if (socket !== ws || stopped) return;
        socket = null;
        if (close.code === UNAUTHORIZED) {
          // An expired access token gets a new one; a session signed out elsewhere (or an
          // account gone) has none to get: the app goes back to sign-in at once.
          void refreshSession()
            .then((pair) => {
              if (pair) return void open();
              setLink("down");
              sessionEnded();
            })
            .catch(schedule);
          return;
        }
        refetchAll();
        schedule();
      };
      // A failed connection also fires `close`; nothing else to do on `error`.
      ws.onerror = () => {};
    };

    void open();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      window.clearTimeout(watchdog);
      socket?.close(1000, "page closed");
      socket = null;
    };
  }, [queries, show, spaceIds]);

  return <LinkContext.Provider value={link}>{children}</LinkContext.Provider>;
}

export function useRealtimeLink(): Link {
  return useContext(LinkContext);
}
