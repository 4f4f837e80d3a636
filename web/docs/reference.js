// The API reference at /docs: Scalar's standalone bundle, served by us, reading our own
// OpenAPI document. Every option that would reach another origin is off: no web fonts
// from Scalar's CDN, no telemetry, no AI agent or MCP, no request proxy ("try it" sends
// the request straight to this origin with the reader's API key), no developer toolbar.
import { createApiReference } from "/docs/scalar/standalone.esm.js";

// One tab per language the reader is most likely to use; the rest stay under "More".
const clients = [
  "shell/curl", "js/fetch", "node/fetch", "python/requests", "ruby/native", "php/guzzle",
  "java/okhttp", "csharp/httpclient", "swift/nsurlsession", "go/native",
];

createApiReference("#reference", {
  url: "/v1/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  externalUrls: { dashboardUrl: "", registryUrl: "", proxyUrl: "", apiBaseUrl: "" },
  hideClientButton: true, // its "Open API Client" link leads to Scalar's site
  documentDownloadType: "json",
  featuredClients: clients,
  defaultHttpClient: { targetKey: "shell", clientKey: "curl" },
  authentication: { preferredSecurityScheme: "bearer" },
  persistAuth: false,
  hideModels: false,
  favicon: "/favicon.svg",
  metaData: { title: "Utio API reference" },
});
