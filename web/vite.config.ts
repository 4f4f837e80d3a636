import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

// The app is served on the API's own origin (locally by the api process, in production
// by the load balancer), so every request it makes is same-origin: /v1/... for the API.
// `npm run dev` serves it with hot reload and forwards /v1 to a running `make dev`, and
// the Auth emulator's paths too (the API's origin forwards them to the emulator:
// functions/web_static.py EMULATOR_PREFIXES), or signing in finds no emulator here.
const api = `http://127.0.0.1:${process.env.UTIO_API_PORT ?? "8080"}`;
const proxied = ["/v1", "/identitytoolkit.googleapis.com", "/securetoken.googleapis.com", "/emulator"];

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // No inline <script> or data: URLs: the Content-Security-Policy allows only files of
    // our origin.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: Object.fromEntries(proxied.map((prefix) => [prefix, api])) },
});
