// Vite builds the app into dist/ (served by `orin api`); `npm run dev` proxies the API.
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.ORIN_DEV_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: {
    target: "es2022",
    // Vite's module-preload polyfill is an inline-free helper, but modern Chromium,
    // Firefox and Safari all support modulepreload: leave it out.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false, ws: true },
      "/healthz": api,
    },
  },
});
