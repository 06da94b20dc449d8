// The local run of the demo: one 127.0.0.1 origin that serves
//   /www/…   → www/  (the chat page, the <hf-chat> embed page)
//   /pkg/…   → pkg/  (the built package; the page's import map points at /pkg/browser.js)
//   /        → 302 /www/
//   /health  → the proxy's health plus `offline: true|false` (the page shows offline mode)
//   the rest → the auth proxy (`createProxy`, served by `hf-inference-wasm/node`)
//
// With HF_TOKEN set, the proxy holds it and talks to the Hugging Face router (models limited
// to DEMO_MODELS, comma-separated, or a small default list). Without it, the proxy talks to
// the project's local OpenAI-compatible simulator (the fixture server's chat mode, paced like
// a real model) and the page says it is offline. Either way the browser never sees a token.
//
//   node scripts/demo-server.mjs [--port 8080] [--host 127.0.0.1]
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

/**
 * Start the page + proxy server.
 * @param {{ upstream: string, token: string, offline: boolean, port?: number, host?: string,
 *   proxyOptions?: object, prefixUpstreams?: boolean, mounts?: Record<string,string> }} o
 * @returns {Promise<{ url: string, requests: object[], close(): Promise<void> }>}
 */
export async function startDemoServer({ upstream, token, offline, port = 0, host = "127.0.0.1", proxyOptions = {}, prefixUpstreams = false, mounts } = {}) {
  const table = mountTable(mounts ?? { "/www/": path.join(ROOT, "www"), "/pkg/": path.join(ROOT, "pkg") });
  const proxies = new Map(); // upstream prefix → { proxy, listener }
  const proxyFor = (prefix) => {
    if (!proxies.has(prefix)) {
      const proxy = createProxy({ upstream: upstream + prefix, token, ...proxyOptions });
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
      return send(200, "application/json", JSON.stringify({ ...inner, ok: inner.status === "ok", offline }));
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

    return serveFile(table, url.pathname, req.method, send);
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

// CLI: the demo, offline (simulator) or live (HF_TOKEN), until SIGINT/SIGTERM.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const port = Number(arg("--port", process.env.PORT ?? 8080));
  const host = arg("--host", "127.0.0.1");
  const token = process.env.HF_TOKEN?.trim();
  let fx;
  let options;
  if (token) {
    const models = process.env.DEMO_MODELS?.split(",").map((s) => s.trim()).filter(Boolean) ?? DEFAULT_LIVE_MODELS;
    options = { upstream: process.env.HF_ROUTER_URL ?? "https://router.huggingface.co", token, offline: false, proxyOptions: { allowedModels: models, maxTokensCap: 1024 } };
  } else {
    const { startFixtureServer } = await import("../tests/fixture-server/server.mjs");
    fx = await startFixtureServer({ port: 0 });
    // ~28 tokens/s, like a mid-size model on a busy provider.
    options = { upstream: `${fx.url}/pace/35`, token: "hf_offline_simulator_not_a_real_token", offline: true, proxyOptions: { allowedModels: "*" } };
  }
  const web = await startDemoServer({ ...options, port, host });
  console.log(
    token
      ? `LIVE: the proxy holds HF_TOKEN and calls the Hugging Face router (models: ${options.proxyOptions.allowedModels.join(", ")}).`
      : "OFFLINE: no HF_TOKEN set, so the proxy talks to the local simulator (set HF_TOKEN for live replies).",
  );
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
