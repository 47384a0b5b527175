// The typed API client: openapi-fetch over the generated schema (schema.d.ts, `make web-client`).
//
// The access token lives in memory only (never in storage a script could read later); the
// refresh token is the API's httpOnly cookie. A 401 triggers one refresh (shared by every
// request that hit it at once, and serialised across tabs with the Web Locks API, since the
// refresh token rotates and a reused one revokes the whole session), then the request is
// retried once.
import createClient, { type Middleware } from "openapi-fetch";
import { reportNetworkFailure } from "../lib/offline";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problemText(problem) || `Request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

export interface Problem {
  type?: string;
  title?: string;
  detail?: string | { msg?: string; loc?: (string | number)[] }[];
  status?: number;
  suggestions?: string[];
  reasons?: { code: string; message: string }[];
  errors?: { msg?: string; loc?: (string | number)[] }[];
  [key: string]: unknown;
}

/** A person-readable sentence from a problem+json body (or FastAPI's 422 shape). */
export function problemText(problem: Problem): string {
  const parts: string[] = [];
  if (typeof problem.detail === "string") parts.push(problem.detail);
  const items = Array.isArray(problem.detail) ? problem.detail : (problem.errors ?? []);
  for (const item of items) {
    const where = item.loc?.filter((part) => part !== "body").join(".");
    if (item.msg) parts.push(where ? `${where}: ${item.msg}` : item.msg);
  }
  if (!parts.length && problem.title) parts.push(problem.title);
  return parts.join(" ");
}

let accessToken: string | null = null;
let onSignedOut: () => void = () => {};

export function setAccessToken(token: string | null): void {
  accessToken = token;
}
export function getAccessToken(): string | null {
  return accessToken;
}
export function onSessionEnded(callback: () => void): void {
  onSignedOut = callback;
}
/** Tell the app its session is over (the server said so some other way than a 401). */
export function sessionEnded(): void {
  onSignedOut();
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return null;
}

type TokenPair = Schemas["TokenPair"];
let refreshing: Promise<TokenPair | null> | null = null;

async function refreshOnce(): Promise<TokenPair | null> {
  const csrf = readCookie("orin_csrf");
  if (!csrf) return null;
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
    body: "{}",
  });
  if (!response.ok) return null;
  const pair = (await response.json()) as TokenPair;
  accessToken = pair.access_token;
  return pair;
}

/** Exchange the refresh cookie for a new access token; null when the session is over.
 * Rejects (with a TypeError) when the API cannot be reached at all. */
export function refreshSession(): Promise<TokenPair | null> {
  if (!refreshing) {
    const run = (): Promise<TokenPair | null> => refreshOnce();
    const locked: Promise<TokenPair | null> =
      "locks" in navigator ? (navigator.locks.request("orin-refresh", run) as unknown as Promise<TokenPair | null>) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// A wrong two-step code is a 401 too: the answer to show, not an expired access token.
const NO_REFRESH = ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/register", "/api/v1/auth/mfa/verify"];

// A copy of each request's body is kept so a request refused with 401 can be sent again.
const copies = new WeakMap<Request, Request>();

const auth: Middleware = {
  onRequest({ request }) {
    if (accessToken) request.headers.set("Authorization", `Bearer ${accessToken}`);
    copies.set(request, request.clone());
    return request;
  },
  async onResponse({ request, response, options }) {
    const path = new URL(request.url).pathname;
    if (response.status !== 401 || NO_REFRESH.includes(path) || request.headers.get("X-Retried")) {
      return response;
    }
    const pair = await refreshSession().catch(() => undefined);
    if (pair === undefined) return response;
    if (!pair) {
      onSignedOut();
      return response;
    }
    const retry = copies.get(request) ?? request;
    retry.headers.set("Authorization", `Bearer ${pair.access_token}`);
    retry.headers.set("X-Retried", "1");
    return options.fetch(retry);
  },
};

async function watchedFetch(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "AbortError")) reportNetworkFailure();
    throw error;
  }
}

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "same-origin",
  fetch: watchedFetch,
});
api.use(auth);

/** The data of an openapi-fetch result, or an ApiError for its problem. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    const problem = (typeof error === "object" && error !== null ? error : {}) as Problem;
    throw new ApiError(response.status, problem);
  }
  return data as T;
}

/** A URL the API made, as a path on this origin when it points at this API (signed media
 * URLs are built from the server's configured public URL, which may name another host:port
 * than the one the app was loaded from). */
export function sameOrigin(url: string): string {
  try {
    const parsed = new URL(url, window.location.origin);
    if (parsed.pathname.startsWith("/api/")) return parsed.pathname + parsed.search;
    return parsed.toString();
  } catch {
    return url;
  }
}

/** GET an authorised binary (a snapshot) as an object URL the caller must revoke. */
export async function fetchBlobUrl(path: string, signal?: AbortSignal): Promise<string> {
  const go = () =>
    fetch(path, {
      headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
      signal: signal ?? null,
    });
  let response = await go();
  if (response.status === 401 && (await refreshSession().catch(() => null))) response = await go();
  if (!response.ok) {
    let problem: Problem = {};
    try {
      problem = (await response.json()) as Problem;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, problem);
  }
  return URL.createObjectURL(await response.blob());
}
