// ORIN's service worker: the app shell offline, and Web Push notifications.
//
// - Pages (navigations): network first; when the network fails, the cached shell
//   (index.html), whose app then shows its "offline" state because the API cannot be reached.
// - /assets/*: content-hashed by Vite, so cache first (and cached as they are first used).
// - /api/*: never cached or intercepted; live data must be live.
// - push: shows the notification from the JSON ORIN sends ({title, body, url, key, image?}).
// - notificationclick: focuses a tab already showing the URL, else opens it.
const SHELL = "orin-shell-v1";
const ASSETS = "orin-assets-v1";
const API_PATHS = /^\/(api\/|docs|redoc|openapi\.json|metrics|healthz|readyz)/;
const SHELL_FILES = ["/", "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/icon-512.png"];

async function cacheShell() {
  const cache = await caches.open(SHELL);
  await cache.addAll(SHELL_FILES);
  // The entry script and styles the shell names, so the first offline load works.
  const html = await (await cache.match("/")).text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]);
  const assetCache = await caches.open(ASSETS);
  await assetCache.addAll(assets);
}

self.addEventListener("install", (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== SHELL && name !== ASSETS) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(SHELL);
      await cache.put("/", response.clone());
    }
    return response;
  } catch {
    const cached = await caches.match("/", { cacheName: SHELL });
    return cached ?? new Response("ORIN is offline.", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}

async function asset(request) {
  const cache = await caches.open(ASSETS);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || API_PATHS.test(url.pathname)) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/assets/")) {
    event.respondWith(asset(request));
  } else if (SHELL_FILES.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: SHELL }).then((hit) => hit ?? fetch(request)));
  }
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "ORIN";
  const options = {
    body: data.body || "",
    tag: data.key || undefined,
    renotify: Boolean(data.key),
    icon: "/icon-192.png",
    badge: "/icon-192.png",
    data: { url: data.url || "/events" },
    requireInteraction: data.severity === "critical",
  };
  if (data.image) options.image = data.image;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || "/", self.location.origin);
  // Only this app's own pages are opened from a notification.
  const url = target.origin === self.location.origin ? target.href : self.location.origin + "/events";
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      for (const client of windows) {
        if ("navigate" in client && "focus" in client) {
          await client.focus();
          return client.navigate(url);
        }
      }
      return self.clients.openWindow(url);
    })(),
  );
});
