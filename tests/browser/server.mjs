// A stand-in for the proxy's local run, for the browser tests and for looking at the
// demo page before the proxy exists: one 127.0.0.1 origin that serves
//   /www/…  → www/           (the demo page, the embed page, <hf-chat>)
//   /pkg/…  → pkg/           (the built package; the import map points at /pkg/browser.js)
//   /       → 302 /www/
//   /health → {"ok":true,"offline":true}  (answered here)
//   any path with a `/v1/` segment (`/v1/chat/completions`, `/pace/40/v1/models`,
//   `/status/429/v1/chat/completions`, …) → piped as is to the fixture server, so a page
//   pointed at `?base=/pace/40/v1` reaches the simulator's paced route, same-origin.
// Node built-ins only. Bodies are piped both ways without buffering, and a browser that
// goes away (Stop) destroys the upstream request, as the real proxy does.
//
//   node tests/browser/server.mjs [--port 8080]   # starts a fixture server too; prints the URL

import http from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer", "host"]);

/**
 * Start the server.
 * @param {{ upstream: string, port?: number, health?: object, mounts?: Record<string,string> }} options
 *   `upstream`: the fixture server's URL; `health`: the `/health` JSON.
 * @returns {Promise<{ url: string, requests: Array<{method:string,path:string,status:number,type:string,proxied:boolean}>, close(): Promise<void> }>}
 */
export async function startWebServer({ upstream, port = 0, health = { ok: true, offline: true }, mounts } = {}) {
  const table = Object.entries(mounts ?? { "/www/": path.join(ROOT, "www"), "/pkg/": path.join(ROOT, "pkg") }).map(([prefix, dir]) => [prefix, path.resolve(dir)]);
  const up = new URL(upstream);
  const requests = [];
  const sockets = new Set();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const entry = { method: req.method, path: url.pathname, status: 0, type: "", proxied: false };
    requests.push(entry);
    const send = (status, type, body, headers = {}) => {
      entry.status = status;
      entry.type = type;
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
      res.end(body);
    };

    if (url.pathname === "/health") return send(200, "application/json", JSON.stringify(health));
    if (url.pathname === "/" || url.pathname === "/www") return send(302, "text/plain", "", { location: "/www/" + url.search });

    if (/(^|\/)v1(\/|$)/.test(url.pathname) && !table.some(([prefix]) => url.pathname.startsWith(prefix))) {
      entry.proxied = true;
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
      const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers });
      out.on("response", (r) => {
        entry.status = r.statusCode;
        entry.type = r.headers["content-type"] ?? "";
        const h = { ...r.headers };
        for (const k of HOP_BY_HOP) delete h[k];
        res.writeHead(r.statusCode, h);
        res.flushHeaders();
        r.pipe(res);
        r.on("error", () => res.destroy());
      });
      // A transparent pipe: when the upstream connection fails (the fixture's
      // `/fault/reset-before-headers`), the browser's connection fails too.
      out.on("error", () => {
        entry.status = -1;
        res.destroy();
      });
      // The browser went away (Stop, navigation): cancel the upstream request too.
      res.on("close", () => {
        if (!res.writableFinished) out.destroy();
      });
      req.pipe(out);
      return;
    }

    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed");
    const mount = table.find(([prefix]) => url.pathname.startsWith(prefix));
    if (!mount) return send(404, "text/plain", "not found");
    const [prefix, dir] = mount;
    let rel;
    try {
      rel = decodeURIComponent(url.pathname.slice(prefix.length));
    } catch {
      return send(400, "text/plain", "bad path");
    }
    if (rel === "" || rel.endsWith("/")) rel += "index.html";
    const file = path.resolve(dir, "." + path.posix.normalize("/" + rel));
    if (file !== dir && !file.startsWith(dir + path.sep)) return send(403, "text/plain", "forbidden");
    try {
      const st = await stat(file);
      if (!st.isFile()) return send(404, "text/plain", "not a file");
      send(200, TYPES[path.extname(file)] ?? "application/octet-stream", req.method === "HEAD" ? undefined : await readFile(file));
    } catch {
      send(404, "text/plain", "not found");
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// CLI: a fixture server plus this server, until SIGINT/SIGTERM.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { startFixtureServer } = await import("../fixture-server/server.mjs");
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const fx = await startFixtureServer({ port: 0 });
  const web = await startWebServer({ upstream: fx.url, port });
  console.log(`demo page: ${web.url}/www/   (embed: ${web.url}/www/embed.html; paced: ${web.url}/www/?base=/pace/40/v1)`);
  const stop = async () => {
    await web.close();
    await fx.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
