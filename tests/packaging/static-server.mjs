// A tiny static file server for the packaging tests: serves directories under URL
// prefixes on 127.0.0.1 with the content types a browser insists on (`text/javascript`
// for module scripts, `application/wasm` for streaming compilation). Node built-ins
// only. Every response is logged in `requests` so a test can see what a page loaded.

import http from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

export const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/**
 * Start a static server.
 * @param {Record<string, string>} mounts URL prefix (e.g. "/pkg/") → directory on disk.
 * @returns {Promise<{ url: string, requests: Array<{path: string, status: number, type: string}>, close(): Promise<void> }>}
 */
export async function startStaticServer(mounts, { port = 0 } = {}) {
  const table = Object.entries(mounts).map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : prefix + "/", path.resolve(dir)]);
  const requests = [];
  const sockets = new Set();

  const server = http.createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const entry = { path: pathname, status: 404, type: "" };
    requests.push(entry);
    const send = (status, type, body) => {
      entry.status = status;
      entry.type = type;
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed");
    const mount = table.find(([prefix]) => pathname.startsWith(prefix));
    if (!mount) return send(404, "text/plain", "not found");
    const [prefix, dir] = mount;
    const file = path.resolve(dir, "." + path.posix.normalize("/" + pathname.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + path.sep)) return send(403, "text/plain", "forbidden");
    try {
      const st = await stat(file);
      if (!st.isFile()) return send(404, "text/plain", "not a file");
      const type = CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream";
      send(200, type, await readFile(file));
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
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
