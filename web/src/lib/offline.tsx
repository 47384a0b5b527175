// Whether the API can be reached: the browser's own flag, corrected by real requests
// (a failed fetch means offline until /healthz answers again).
import { onlineManager } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";

let reachable = navigator.onLine;
const listeners = new Set<() => void>();
let probe = 0;

function set(value: boolean): void {
  if (value === reachable) return;
  reachable = value;
  onlineManager.setOnline(value);
  listeners.forEach((listener) => listener());
  window.clearTimeout(probe);
  if (!value) probe = window.setTimeout(check, 3000);
}

async function check(): Promise<void> {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    set(response.ok);
  } catch {
    set(false);
  }
  if (!reachable) probe = window.setTimeout(check, 5000);
}

window.addEventListener("online", () => void check());
window.addEventListener("offline", () => set(false));

/** Report a network failure seen by any request. */
export function reportNetworkFailure(): void {
  set(false);
}

export function useReachable(): boolean {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => reachable,
  );
}
