// The local run of the demo: one 127.0.0.1 origin that serves
//   /www/…   → www/  (the chat page, the <hf-chat> embed page)
//   /pkg/…   → pkg/  (the built package; the page's import map points at /pkg/browser.js)
//   /vendor/markdown-it/…, /vendor/highlight/… → the renderer's libraries, from node_modules
//   (static files carry `Access-Control-Allow-Origin: *`: the embed loads them cross-origin)
//   /        → 302 /www/
//   /health  → the proxy's health plus `offline: true|false` (the page shows offline mode)
//   the rest → the auth proxy (`createProxy`, served by `hf-inference-wasm/node`)
//
// With HF_TOKEN set, the proxy holds it and talks to the Hugging Face router (HF_ROUTER_URL
// to use another OpenAI-compatible server; models limited to DEMO_MODELS, comma-separated, or
// a small default list; other origins allowed only when named in DEMO_ALLOWED_ORIGINS), and
// the token is checked once at start against the Hub's whoami-v2 (HF_HUB_URL). Without it, the
// proxy talks to the local simulator (tests/fixture-server/demo-simulator.mjs: simulated
// models, varied replies, paced like a real model), allows any origin, and the page says it
// is offline. Either way the browser never sees a token.
//
//   node scripts/demo-server.mjs [--port 8080] [--host 127.0.0.1]     (or PORT=8080)
//
// `startDemoServer` is also what the browser tests drive; with `prefixUpstreams` a path such as
// `/pace/40/v1/chat/completions` goes through a proxy whose upstream is `{upstream}/pace/40`, so
// a test can pick a fixture scenario while still going through the real proxy.

import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { createProxy } from "hf-inference-wasm/proxy";
import { toNodeListener } from "hf-inference-wasm/node";

import { findMount, mountTable, serveFile } from "./static-files.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The models the live demo lets a browser spend the operator's token on. */
export const DEFAULT_LIVE_MODELS = ["meta-llama/Llama-3.3-70B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "deepseek-ai/DeepSeek-V3-0324", "openai/gpt-oss-120b"];

/** What the page needs, URL prefix → directory: the page, the package, and the two
 *  browser libraries the Markdown renderer loads (pinned dev dependencies, from node_modules). */
export const DEMO_MOUNTS = {
  "/www/": path.join(ROOT, "www"),
  "/pkg/": path.join(ROOT, "pkg"),
  "/vendor/markdown-it/": path.join(ROOT, "node_modules", "markdown-it", "dist", "browser"),
  "/vendor/highlight/": path.join(ROOT, "node_modules", "@highlightjs", "cdn-assets", "es"),
};

// Static files are public: any page may load them (the README's embed snippet loads
// hf-chat.js, the package and its .wasm from this server into a page of another origin).
const STATIC_CORS = { "access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin" };

/**
 * Start the page + proxy server.
 * @param {{ upstream?: string, token?: string, offline: boolean, port?: number, host?: string,
 *   proxyOptions?: object, prefixUpstreams?: boolean, mounts?: Record<string,string>,
 *   handler?: { fetch(request: Request): Promise<Response> } }} o
 *   `handler` replaces the in-process proxy (the Workers dev run forwards to workerd). In
 *   offline mode the proxy allows any origin (there is no token to protect) unless
 *   `proxyOptions.allowedOrigins` says otherwise.
 * @returns {Promise<{ url: string, requests: object[], close(): Promise<void> }>}
 */
export async function startDemoServer({ upstream, token, offline, port = 0, host = "127.0.0.1", proxyOptions = {}, prefixUpstreams = false, mounts, handler } = {}) {
  const table = mountTable(mounts ?? DEMO_MOUNTS);
  const proxies = new Map(); // upstream prefix → { proxy, listener }
  const proxyFor = (prefix) => {
    if (!proxies.has(prefix)) {
      const proxy = handler ?? createProxy({ upstream: upstream + prefix, token, ...(offline ? { allowedOrigins: "*" } : {}), ...proxyOptions });
      proxies.set(prefix, { proxy, listener: toNodeListener(proxy) });
    }
    return proxies.get(prefix);
  };
  proxyFor(""); // options are checked now, not on the first request
  const requests = [];
  const sockets = new Set();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const entry = { method: req.method, path: url.pathname, status: 0, type: "", proxied: false };
    requests.push(entry);
    res.on("finish", () => {
      entry.status ||= res.statusCode;
      entry.type ||= String(res.getHeader("content-type") ?? "");
    });
    res.on("close", () => {
      if (!res.writableFinished && entry.status === 0) entry.status = -1;
    });
    const send = (status, type, body, headers = {}) => {
      entry.status = status;
      entry.type = type;
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
      res.end(body);
    };

    if (url.pathname === "/" || url.pathname === "/www") return send(302, "text/plain", "", { location: "/www/" + url.search });
    if (url.pathname === "/health" && req.method === "GET") {
      const inner = await proxyFor("")
        .proxy.fetch(new Request("http://demo.local/health"), {}, {})
        .then((r) => r.json())
        .catch(() => ({}));
      return send(200, "application/json", JSON.stringify({ ...inner, ok: inner.status === "ok", offline }), STATIC_CORS);
    }
    if (!findMount(table, url.pathname)) {
      entry.proxied = true;
      let prefix = "";
      let rest = req.url;
      if (prefixUpstreams) {
        const m = url.pathname.match(/^((?:\/[^/]+)*?)(\/v1(?:\/.*)?)$/);
        if (m && m[1]) {
          prefix = m[1];
          rest = m[2] + url.search;
        }
      }
      req.url = rest;
      res.on("finish", () => {
        entry.status = res.statusCode;
        entry.type = String(res.getHeader("content-type") ?? "");
      });
      return proxyFor(prefix).listener(req, res);
    }

    return serveFile(table, url.pathname, req.method, (status, type, body) => send(status, type, body, STATIC_CORS));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    url: `http://${host}:${server.address().port}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const list = (v) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/**
 * Check HF_TOKEN once at start: `GET {hub}/api/whoami-v2`, the Hub's token check, bounded by
 * `timeoutMs`. Resolves to `{ ok: true, name }`, `{ ok: false, status }` when the token was
 * refused (401/403), or `{ ok: undefined, reason }` when it could not be checked.
 */
export async function checkToken(token, { hubUrl = "https://huggingface.co", timeoutMs = 5_000 } = {}) {
  try {
    const res = await fetch(new URL("/api/whoami-v2", hubUrl), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401 || res.status === 403) return { ok: false, status: res.status };
    if (!res.ok) return { ok: undefined, reason: `HTTP ${res.status}` };
    const body = await res.json().catch(() => ({}));
    return { ok: true, name: typeof body?.name === "string" ? body.name : undefined };
  } catch (err) {
    return { ok: undefined, reason: err?.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (err?.cause?.code ?? err?.message ?? String(err)) };
  }
}

/**
 * The live demo's settings from the environment (HF_TOKEN set): upstream, models, the origins
 * allowed to embed the chat, and the lines to print at start.
 */
export function liveOptionsFromEnv(env) {
  const models = list(env.DEMO_MODELS);
  const origins = list(env.DEMO_ALLOWED_ORIGINS);
  const allowedModels = models.length ? models : DEFAULT_LIVE_MODELS;
  return {
    upstream: env.HF_ROUTER_URL || "https://router.huggingface.co",
    token: env.HF_TOKEN.trim(),
    offline: false,
    proxyOptions: { allowedModels, maxTokensCap: 1024, ...(origins.length ? { allowedOrigins: origins } : {}) },
    lines: [
      `LIVE: the proxy holds HF_TOKEN and calls ${env.HF_ROUTER_URL ? env.HF_ROUTER_URL : "the Hugging Face router"} (models: ${allowedModels.join(", ")}).`,
      origins.length
        ? `embedding: pages on ${origins.join(", ")} may use this proxy (DEMO_ALLOWED_ORIGINS).`
        : "embedding: only pages of this server may use the proxy; set DEMO_ALLOWED_ORIGINS=https://site.example,… to allow others.",
    ],
  };
}

// CLI: the demo, offline (simulator) or live (HF_TOKEN), until SIGINT/SIGTERM.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const port = Number(arg("--port", process.env.PORT || 8080));
  const host = arg("--host", "127.0.0.1");
  const token = process.env.HF_TOKEN?.trim();
  let fx;
  let options;
  const lines = [];
  if (token) {
    const { lines: liveLines, ...live } = liveOptionsFromEnv(process.env);
    options = live;
    lines.push(...liveLines);
    // A bad token would only show as failed replies in the page: say it now.
    const hubUrl = process.env.HF_HUB_URL || (process.env.HF_ROUTER_URL ? undefined : "https://huggingface.co");
    if (hubUrl) {
      const check = await checkToken(token, { hubUrl, timeoutMs: 5_000 });
      if (check.ok === false) {
        lines.push(
          `TOKEN REFUSED: ${hubUrl} answered HTTP ${check.status} to HF_TOKEN: it is wrong, expired or revoked.`,
          "  Every reply will fail until you restart with a valid token (https://huggingface.co/settings/tokens),",
          "  or without HF_TOKEN for the offline simulator.",
        );
      } else if (check.ok) lines.push(`token: OK${check.name ? ` (${check.name})` : ""}.`);
      else lines.push(`token: could not be checked (${check.reason}); starting anyway.`);
    }
  } else {
    const { startFixtureServer } = await import("../tests/fixture-server/server.mjs");
    fx = await startFixtureServer({ port: 0 });
    // The simulated models (varied replies), ~28 tokens/s like a mid-size model on a busy provider.
    options = { upstream: `${fx.url}/pace/35/demo/varied`, token: "hf_offline_simulator_not_a_real_token", offline: true, proxyOptions: { allowedModels: "*" } };
    lines.push(
      "OFFLINE: no HF_TOKEN set, so the proxy talks to the local simulator (set HF_TOKEN for live replies).",
      "embedding: any origin may use this proxy in offline mode (no token to protect).",
    );
  }
  let web;
  try {
    web = await startDemoServer({ ...options, port, host });
  } catch (err) {
    await fx?.close();
    if (err?.code === "EADDRINUSE") console.error(`demo: port ${port} is in use; set PORT= to another port (e.g. PORT=8081 make demo).`);
    else if (err?.code === "EACCES") console.error(`demo: not allowed to listen on port ${port}; set PORT= to a port above 1024.`);
    else console.error(`demo: could not start: ${err?.message ?? err}`);
    process.exit(1);
  }
  for (const line of lines) console.log(line);
  console.log(`demo page:  ${web.url}/www/`);
  console.log(`embed page: ${web.url}/www/embed.html`);
  console.log(`proxy:      ${web.url}/v1/chat/completions  (OpenAI-compatible; /v1/models, /health)`);
  const stop = async () => {
    await web.close();
    await fx?.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
