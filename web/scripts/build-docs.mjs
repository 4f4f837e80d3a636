// Builds /docs into web/dist/docs after `vite build`: the API reference page (Scalar's
// standalone browser bundle, copied from node_modules, with our own configuration file),
// the guides (docs/guides/*.md rendered with markdown-it), and a Postman collection
// converted from the OpenAPI document (build/openapi.json, written by `make web`).
// Everything is a file of our origin: nothing is fetched from a CDN at run time.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import MarkdownIt from "markdown-it";
import converter from "openapi-to-postmanv2";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(web, "..");
const out = join(web, "dist", "docs");
const guidesDir = join(root, "docs", "guides");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "scalar", "chunks"), { recursive: true });

// Scalar's ESM standalone bundle and the chunks it imports lazily (no source maps).
const scalar = join(web, "node_modules", "@scalar", "api-reference", "dist", "browser");
cpSync(join(scalar, "standalone.esm.js"), join(out, "scalar", "standalone.esm.js"));
for (const name of readdirSync(join(scalar, "chunks"))) {
  if (name.endsWith(".js")) cpSync(join(scalar, "chunks", name), join(out, "scalar", "chunks", name));
}
for (const name of ["index.html", "reference.js", "docs.css"]) {
  cpSync(join(web, "docs", name), join(out, name));
}

// The guides: one page each at /docs/guides/<name>, in the order of their file names.
const slugify = (text) =>
  text.toLowerCase().replace(/<[^>]+>/g, "").replace(/[^\p{L}\p{N}\s-]/gu, "").trim()
    .replace(/\s+/g, "-");
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.core.ruler.push("heading_ids", (state) => {
  const seen = new Map();
  state.tokens.forEach((token, i) => {
    if (token.type !== "heading_open") return;
    let id = slugify(state.tokens[i + 1].content);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    if (n) id = `${id}-${n}`;
    token.attrSet("id", id);
  });
});
// Links between guides are written as `other.md#part` so they also work in the repository.
const link = md.renderer.rules.link_open ?? ((t, i, o, e, s) => s.renderToken(t, i, o));
md.renderer.rules.link_open = (tokens, i, options, env, self) => {
  const href = tokens[i].attrGet("href") ?? "";
  const guide = href.match(/^(?:\.\/)?([\w-]+)\.md(#.*)?$/);
  if (guide) tokens[i].attrSet("href", `/docs/guides/${guide[1].replace(/^\d+-/, "")}${guide[2] ?? ""}`);
  else if (/^https?:/.test(href)) tokens[i].attrSet("rel", "noopener");
  return link(tokens, i, options, env, self);
};

const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const guides = readdirSync(guidesDir).filter((f) => f.endsWith(".md")).sort().map((file) => {
  const text = readFileSync(join(guidesDir, file), "utf8");
  const title = (text.match(/^#\s+(.+)$/m) ?? [, file])[1].trim();
  return { file, slug: file.replace(/\.md$/, "").replace(/^\d+-/, ""), title, text };
});
const nav = (current) =>
  guides.map((g) => `<li><a href="/docs/guides/${g.slug}"${g.slug === current ? ' aria-current="page"' : ""}>${escape(g.title)}</a></li>`).join("\n");
const page = (title, current, body) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Utio docs</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/docs/docs.css">
</head>
<body>
<header class="top"><a class="brand" href="/docs/guides">Utio docs</a>
<nav aria-label="Documentation"><a href="/docs">API reference</a> <a href="/docs/guides">Guides</a> <a href="/docs/utio.postman_collection.json" download>Postman collection</a></nav></header>
<div class="layout">
<nav class="guides" aria-label="Guides"><ul>
${nav(current)}
</ul></nav>
<main>
${body}
</main>
</div>
</body>
</html>
`;
for (const g of guides) {
  mkdirSync(join(out, "guides", g.slug), { recursive: true });
  writeFileSync(join(out, "guides", g.slug, "index.html"), page(g.title, g.slug, md.render(g.text)));
}
const list = guides.map((g) => {
  const intro = (g.text.split(/\n\n/).find((p) => p.trim() && !p.startsWith("#")) ?? "").replace(/\n/g, " ");
  return `<li><a href="/docs/guides/${g.slug}">${escape(g.title)}</a><p>${md.renderInline(intro)}</p></li>`;
}).join("\n");
mkdirSync(join(out, "guides"), { recursive: true });
writeFileSync(join(out, "guides", "index.html"), page("Guides", "", `<h1>Guides</h1>
<p>Written for someone who has never used a WhatsApp API. Start with the quick start; the
<a href="/docs">API reference</a> has every endpoint with code in ten languages and a live tester.</p>
<ul class="guide-list">
${list}
</ul>`));

// The Postman collection, one folder per tag, with the document's examples as bodies.
const openapi = readFileSync(join(root, "build", "openapi.json"), "utf8");
const convert = promisify(converter.convert);
const result = await convert({ type: "string", data: openapi },
  { folderStrategy: "Tags", requestParametersResolution: "Example", exampleParametersResolution: "Example" });
if (!result.result) throw new Error(`Postman conversion failed: ${result.reason}`);
const collection = result.output[0].data;
// The converter leaves the server relative ("/"): point it at `make dev`, and declare the
// API key variable its bearer auth uses, for the reader to fill in.
const given = Object.fromEntries((collection.variable ?? []).map((v) => [v.key, v]));
collection.variable = Object.values({
  ...given,
  baseUrl: { key: "baseUrl", value: "http://127.0.0.1:8080", type: "string" },
  bearerToken: { key: "bearerToken", value: "", type: "string", description: "Your Utio API key" },
});
writeFileSync(join(out, "utio.postman_collection.json"), JSON.stringify(collection, null, 1) + "\n");
console.log(`docs: reference, ${guides.length} guides, Postman collection in dist/docs`);
